"""The cluster link: one node's messages told to the others, theirs released here in id order.

How this works (docs/architecture.md, "A cluster of nodes"): every node stores into one
PostgreSQL, which assigns each conversation's ids. When this node's message is stored, the core
hands it here (:meth:`ClusterLink.committed`): it is published on the bus — on the room's
channel, or for a direct message on each end's user channel — and offered to the
:class:`~palaver.bus.sequencer.Sequencer` with the deliveries the hub made for it. Other nodes'
messages come from the bus (:meth:`ClusterLink.bus_message`) and are offered too. The sequencer
releases each conversation's ids in order, once each: the node's own as the hub made them,
others' to the users here who should see them (``Hub.remote_message``). An id missing for
100 ms is read from the store; every ``check_interval`` (and whenever a bus shard comes back up)
the store's last ids are compared with what has been released, so a message whose broadcast the
bus lost still arrives — the bus is a hint, the store the truth. A conversation nobody here
follows is moved to the store's last id without reading it.

The node subscribes only to what its users need (hub/interest.py): the rooms with a member here
and a channel per user online here. It follows every conversation's ids, though, so that what a
JOINED or a replay says is the last id is always what has been released here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

import msgspec

from palaver.bus.base import Bus
from palaver.bus.sequencer import Hole, Sequencer
from palaver.hub import Hub
from palaver.hub.effects import Deliver, Effect, KickElsewhere, Released
from palaver.hub.interest import Interest
from palaver.hub.messaging import as_message
from palaver.hub.names import fold
from palaver.protocol.messages import Deleted, Edited, Message, Reacted
from palaver.roster.base import Member, RoomMembers, Roster
from palaver.server.cluster_wire import (
    ROSTER_CHANNEL,
    BusMessage,
    BusUpdate,
    Kicked,
    RosterMoved,
    RulesSaved,
    channel_name,
    channels_of,
    decode,
    encode,
)
from palaver.server.metrics import Buckets
from palaver.store.base import Store, StoredMessage

log = logging.getLogger("palaver.server.cluster")

CHECK_INTERVAL: Final = 1.0  # seconds between comparisons of released ids with the store's
LAG_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                      10.0)
READ_LIMIT: Final = 500  # messages read from the store for one hole at a time
ROSTER_DELAY: Final = 0.05  # seconds the members' changes are gathered before they are written


class _Seen(msgspec.Struct, frozen=True):
    """This node's own update: told here already (where it was asked for); only its id."""


class _Local(msgspec.Struct, frozen=True):
    """This node's message: the deliveries the hub made for it when it was posted (the
    sender's ack included), and the session that posted it."""

    then: tuple[Deliver, ...]
    session: int


Item = _Local | BusMessage | BusUpdate | _Seen


class ClusterLink:
    def __init__(self, bus: Bus, store: Store, hub: Hub,
                 carry_out: Callable[[Effect], None],
                 submit: Callable[[Iterable[Effect]], None],
                 *, node: str = "node", roster: Roster | None = None,
                 check_interval: float = CHECK_INTERVAL, read_limit: int = READ_LIMIT,
                 hole_timeout: float | None = None) -> None:
        self.bus = bus
        self.store = store
        self.hub = hub
        self.node = node
        self.roster = roster
        self._carry_out = carry_out  # an effect, now (in its place among the effects)
        self._submit = submit  # effects, after those waiting (server/pipeline.py)
        self.check_interval = check_interval
        self.read_limit = read_limit
        self._loop = asyncio.get_running_loop()
        self.sequencer: Sequencer[Item] = (Sequencer() if hole_timeout is None
                                           else Sequencer(hole_timeout=hole_timeout))
        self._tasks: set[asyncio.Task[Any]] = set()
        self._holes_at: asyncio.TimerHandle | None = None
        self._holes_when: float | None = None
        self._check_timer: asyncio.TimerHandle | None = None
        self._checking = False
        self._subscribed: set[str] = set()
        self._closed = False
        # Counters (metrics, tests): messages published, not published (bus down), read from
        # the store to fill holes, and store checks made.
        self.waiting = 0  # Released effects submitted, not yet carried out
        # (conversation, msg_id) -> answers to resends of it, sent once it is told here
        self._acks: dict[tuple[str, int], list[Deliver]] = {}
        self.shards_up: dict[int, bool] = {}  # what the bus last said of each shard
        self.lag = Buckets(LAG_BUCKETS)  # other nodes' messages: posted there -> released here
        self.published = 0
        self.unpublished = 0
        self.filled = 0
        self.checks = 0
        # The roster (roster/base.py): rooms whose members here changed since written, what
        # was last written of each, other nodes' members and the versions they were read at.
        self._roster_dirty: set[str] = set()
        self._written: dict[str, dict[str, Member]] = {}
        self._writing = self._write_again = False
        self._remote: dict[str, RoomMembers] = {}
        self._versions: dict[str, int] = {}
        self._reading = self._read_again = False
        # node -> rooms to give the hub again when that node's version moves (a kick there)
        self._resync: dict[str, set[str]] = {}
        self._force_write = False  # a kick here: write (move the version) even if nothing changed

    async def start(self) -> None:
        """Follow every conversation from where the hub is, subscribe to what the users here
        need from now on, and start the store checks."""
        for conversation, last_id in self.hub.last_ids().items():
            self.sequencer.expect(conversation, last_id)
        self.hub.interest = Interest(self._interest_noted)
        if self.roster is not None:
            await self.roster.open()
            await self.roster.reset(self.node)
        await self.bus.open(self)
        if self.roster is not None:
            self._subscribed.add(ROSTER_CHANNEL)
            await self.bus.subscribe(ROSTER_CHANNEL)
        self._check_timer = self._loop.call_later(self.check_interval, self._check_now)

    async def close(self) -> None:
        self._closed = True
        for handle in (self._holes_at, self._check_timer):
            if handle is not None:
                handle.cancel()
        await self.bus.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks))
        if self.roster is not None:
            try:  # the others drop this node's members now, not when its lease runs out
                await self.roster.retire(self.node)
            except Exception:
                log.exception("could not take this node's members out of the roster")
            await self.roster.close()

    # ------------------------------------------------------------------ this node's messages

    def committed(self, record: StoredMessage, then: tuple[Deliver, ...],
                  session: int) -> None:
        """This node stored ``record`` (under the id the store assigned; ``session`` posted
        it) and the hub made ``then`` for it: release them in order, and tell the other
        nodes. Called in the message's place among the effects: if it is next in its
        conversation it is told there, as the hub made it."""
        conversation, msg_id = record.conversation, record.msg_id
        self._follow(conversation)
        mark = self.sequencer.mark(conversation)
        local = _Local(then, session)
        if mark is not None and msg_id <= mark:
            # Released already, read from the store before this answer came back: only the
            # sender's acknowledgement is still owed.
            self._submit([d for d in then if d.event.id is not None])
        elif not self.sequencer.supersede(conversation, msg_id, local):
            released = self.sequencer.offer(conversation, msg_id, local, self._loop.time())
            if released and released[0][0] == msg_id and not self.waiting:
                # Next, and nothing released before it still waits among the effects: told
                # in its place, as the hub made it.
                self.hub.released(conversation, msg_id)
                for delivery in (*then, *self._acks.pop((conversation, msg_id), ())):
                    self._carry_out(delivery)
                released = released[1:]
            self._release(conversation, released)
        self._holes_later()
        others = next((d.event for d in then if type(d.event) is Message), None)
        if others is None:
            return
        payload = encode(BusMessage(conversation, replace_id(others), record.sender_key,
                                     self.hub.member_here(conversation, record.sender_key)))
        for channel in channels_of(conversation):
            self._spawn(self._publish(channel, msg_id, payload))

    def ack_when_told(self, conversation: str, msg_id: int, ack: Deliver) -> None:
        """The answer to a resend (the original, stored as ``msg_id``, perhaps by another
        node): after the ids before it here — now if ``msg_id`` is told here already, else
        right after it is."""
        self._follow(conversation)
        mark = self.sequencer.mark(conversation)
        if mark is not None and msg_id <= mark:
            self._submit([ack])
        else:
            self._acks.setdefault((conversation, msg_id), []).append(ack)

    def updated(self, conversation: str, effects: Iterable[Effect]) -> None:
        """This node stored an edit, deletion or reaction in ``conversation`` and the hub
        made ``effects`` for it (told here where it was asked for): its id is released in
        order, and the other nodes are told."""
        event = next((d.event for d in effects if type(d) is Deliver
                      and type(d.event) in (Edited, Deleted, Reacted) and d.event.id is None
                      and d.event.seq is not None), None)  # type: ignore[union-attr]
        if event is None:
            return
        assert isinstance(event, Edited | Deleted | Reacted) and event.seq is not None
        self._follow(conversation)
        self._release(conversation, self.sequencer.offer(conversation, event.seq, _Seen(),
                                                        self._loop.time()))
        self._holes_later()
        payload = encode(BusUpdate(conversation, event))
        for channel in channels_of(conversation):
            self._spawn(self._publish(channel, event.seq, payload))

    async def _publish(self, channel: str, msg_id: int, payload: bytes) -> None:
        if await self.bus.publish(channel, msg_id, payload):
            self.published += 1
        else:
            self.unpublished += 1  # the store has it: the other nodes' checks will find it

    # ------------------------------------------------------------------ the bus (BusReceiver)

    def bus_message(self, conversation: str, msg_id: int, payload: bytes) -> None:
        try:
            message = decode(payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            log.warning("a bus message on %s that is not one: dropped", conversation)
            return
        if type(message) is RosterMoved:
            if message.node != self.node:
                self._read_roster_soon()
            return
        if type(message) is RulesSaved:
            if message.node != self.node:
                self._spawn(self._read_rules(message.room))
            return
        if type(message) is BusUpdate:
            if message.event.seq != msg_id:
                log.warning("a bus update on %s with two ids: dropped", conversation)
                return
            self._follow(message.conversation)
            self._release(message.conversation, self.sequencer.offer(
                message.conversation, msg_id, message, self._loop.time()))
            self._holes_later()
            return
        if type(message) is Kicked:
            if message.node != self.node:
                self._submit(self.hub.kicked_here(message.room, message.user, message.by,
                                                  message.reason))
                self._force_write = True  # the kicker's node waits for this node's version
                self._write_roster_soon()
            return
        assert isinstance(message, BusMessage)
        if message.event.msg_id != msg_id:
            log.warning("a bus message on %s with two ids: dropped", conversation)
            return
        self._follow(message.conversation)
        self._release(message.conversation, self.sequencer.offer(
            message.conversation, msg_id, message, self._loop.time()))
        self._holes_later()

    def bus_state(self, shard: int, up: bool) -> None:
        self.shards_up[shard] = up
        if up:  # what was published while it was down is gone: ask the store
            self._check_now()
            self._spawn(self._read_rules(None))  # rules changed meanwhile, hints lost
        else:
            log.warning("bus shard %d is down: messages from other nodes come from the store "
                        "for now", shard, extra={"event": "bus_down", "shard": shard})

    # ------------------------------------------------------------------ release

    def _follow(self, conversation: str) -> None:
        if not self.sequencer.following(conversation):
            self.sequencer.expect(conversation, self.hub.last_id_of(conversation))

    def _release(self, conversation: str, released: Iterable[tuple[int, Item]]) -> None:
        """Messages the sequencer let through (not in a post's place): told after the effects
        waiting, to whoever here should see them now (hub/remote.py)."""
        effects: list[Effect] = []
        for msg_id, item in released:
            if type(item) is _Local:  # late (it waited for another node's): the ack, the rest
                others = next(d.event for d in item.then if type(d.event) is Message)
                audience = self.hub.audience(conversation)
                ack = [d for d in item.then if d.event.id is not None]
                effects.append(Released(conversation, msg_id))
                effects.extend(ack)
                if audience:
                    effects.append(Deliver(replace_id(others), audience,
                                           skip=item.session if ack else None))
            elif type(item) is BusMessage:
                self._lag(item.event.ts)
                effects.extend(self.hub.remote_message(conversation, item.event,
                                                       item.sender_key, item.member))
            elif type(item) is BusUpdate:  # another node's edit, deletion or reaction
                effects.append(Released(conversation, msg_id))
                audience = self.hub.audience(conversation)
                if audience:
                    effects.append(Deliver(item.event, audience))
            else:  # this node's own update: told where it was asked for
                effects.append(Released(conversation, msg_id))
            effects.extend(self._acks.pop((conversation, msg_id), ()))  # resends' answers
        if effects:
            self.waiting += sum(type(e) is Released for e in effects)
            self._submit(effects)

    def _lag(self, ts: str) -> None:
        """How long ago (wall clock) the message was posted on its node: what the metric
        ``palaver_cluster_lag_seconds`` shows (nodes' clocks should agree: NTP)."""
        try:
            posted = datetime.fromisoformat(ts).timestamp()
        except ValueError:
            return
        self.lag.observe(max(0.0, time.time() - posted))

    def told(self) -> None:
        """A :class:`Released` this link submitted has been carried out."""
        self.waiting -= 1

    # ------------------------------------------------------------------ holes and checks

    def _holes_later(self) -> None:
        """Make sure :meth:`_holes` runs when the sequencer next may have some."""
        when = self.sequencer.next_deadline()
        if when is None or self._closed:
            return
        if self._holes_when is not None and self._holes_when <= when:
            return
        if self._holes_at is not None:
            self._holes_at.cancel()
        self._holes_when = when
        self._holes_at = self._loop.call_at(max(when, self._loop.time()), self._holes)

    def _holes(self) -> None:
        self._holes_at = self._holes_when = None
        for hole in self.sequencer.holes(self._loop.time()):
            if self.hub.follows(hole.conversation):
                self._spawn(self._fill(hole))
            else:  # nobody here needs them: on to where the store is
                self._release(hole.conversation, self.sequencer.fill(
                    hole.conversation, (), through=hole.last))
                self.hub.skip_to(hole.conversation, hole.last)
                skipped = [k for k in self._acks if k[0] == hole.conversation
                           and k[1] <= hole.last]  # a resend's answer waits for none of them
                self._submit([ack for k in skipped for ack in self._acks.pop(k)])
        self._holes_later()

    async def _fill(self, hole: Hole) -> None:
        """Read ``hole`` from the store and release what it lets through."""
        count = min(hole.last - hole.first + 1, self.read_limit)
        try:
            page = await self.store.page(hole.conversation, after=hole.first - 1, limit=count)
        except Exception:  # asked again after the sequencer's retry time
            log.exception("could not read %s %d-%d from the store", hole.conversation,
                          hole.first, hole.last)
            self._holes_later()
            return
        found = [m for m in page.messages if m.msg_id <= hole.last]
        # Ids up to the last one read are all there is: those absent are not messages
        # (edits, reactions and deletions take ids too) and never will be.
        read_to = page.messages[-1].msg_id if page.messages else hole.last
        through = hole.last if not page.more or read_to >= hole.last else read_to
        self.filled += len(found)
        self._release(hole.conversation, self.sequencer.fill(
            hole.conversation, [(m.msg_id, _stored(m)) for m in found], through=through,
            start=hole.first))
        self._holes_later()

    def _check_now(self) -> None:
        if self._check_timer is not None:
            self._check_timer.cancel()
        if self._closed:
            return
        if not self._checking:
            self._spawn(self._check())
        self._check_timer = self._loop.call_later(self.check_interval, self._check_now)

    async def _check(self) -> None:
        """Compare every conversation's released id with the store's last id."""
        self._checking = True
        try:
            last = await self.store.last_ids()
        except Exception:
            log.exception("could not read the store's last ids")
            return
        finally:
            self._checking = False
        self.checks += 1
        now = self._loop.time()
        for conversation, last_id in last.items():
            self._follow(conversation)
            self.sequencer.stored(conversation, last_id, now)
        self._holes_later()
        self._read_roster_soon()

    # ------------------------------------------------------------------ room rules

    def kick_elsewhere(self, kick: KickElsewhere) -> None:
        """Tell the room's other nodes to put a member of theirs out (a hint: a lost one
        leaves the member in the room there)."""
        self._spawn(self.bus.publish(kick.room, 0, encode(Kicked(
            kick.room, kick.user, kick.by, kick.reason, self.node))))

    def rules_saved(self, room: str) -> None:
        """This node stored new rules for ``room``: the nodes where it is open read them."""
        self._spawn(self.bus.publish(room, 0, encode(RulesSaved(room, self.node))))

    async def _read_rules(self, room: str | None) -> None:
        """Take ``room``'s rules (None: every room open here) as stored now."""
        try:
            stored = [s for s in await self.store.room_settings()
                      if (fold(s.room) == room if room is not None
                          else self.hub.room_open(s.room))]
        except Exception:  # the room goes on with the rules it has (docs/architecture.md)
            log.exception("could not read the rules of %s", room or "the rooms open here")
            return
        for settings in stored:
            self._submit(self.hub.rules_replaced(settings))

    # ------------------------------------------------------------------ the roster

    def _write_roster_soon(self) -> None:
        if self.roster is None or self._closed:
            return
        if self._writing:
            self._write_again = True
        else:
            self._writing = True
            self._loop.call_later(ROSTER_DELAY, lambda: self._spawn(self._write_roster()))

    async def _write_roster(self) -> None:
        """Write what changed among this node's room members; hint the others."""
        assert self.roster is not None
        if self._closed:  # a write that was due when the node stopped: retire says it all
            self._writing = False
            return
        try:
            dirty, self._roster_dirty = self._roster_dirty, set()
            changes: dict[tuple[str, str], Member | None] = {}
            now: dict[str, dict[str, Member]] = {}
            for room in dirty:
                here, before = self.hub.local_members(room), self._written.get(room, {})
                now[room] = here
                changes.update(((room, key), None) for key in before.keys() - here.keys())
                changes.update(((room, key), member) for key, member in here.items()
                               if before.get(key) != member)
            if changes or self._force_write:
                self._force_write = False
                try:
                    await self.roster.apply(self.node, changes)
                except Exception:  # tried again at the next change or check
                    log.exception("could not write this node's room members")
                    self._roster_dirty |= dirty
                    return
                for room, members in now.items():
                    if members:
                        self._written[room] = members
                    else:
                        self._written.pop(room, None)
                await self.bus.publish(ROSTER_CHANNEL, 0, encode(RosterMoved(self.node)))
        finally:
            self._writing = False
            if self._write_again or self._roster_dirty:
                self._write_again = False
                self._write_roster_soon()

    def _read_roster_soon(self) -> None:
        if self.roster is None or self._closed:
            return
        if self._reading:
            self._read_again = True
        else:
            self._reading = True
            self._spawn(self._read_roster())

    async def _read_roster(self) -> None:
        """Read the members of the nodes whose version moved; show them here."""
        assert self.roster is not None
        try:
            versions = await self.roster.versions()
            versions.pop(self.node, None)
            for room, user in self.hub.take_resync():  # kicked: once its node wrote since
                node = next((n for n, rooms in self._remote.items()
                             if user in rooms.get(room, {})), None)
                if node is not None:
                    self._resync.setdefault(node, set()).add(room)
            changed: set[str] = set()
            for node in [n for n in self._remote if n not in versions]:  # gone
                changed.update(self._remote.pop(node))
                self._versions.pop(node, None)
            for node, version in versions.items():
                if self._versions.get(node) == version:
                    continue
                changed |= self._resync.pop(node, set())
                members = await self.roster.members(node)
                before = self._remote.get(node, {})
                changed.update(room for room in members.keys() | before.keys()
                               if members.get(room) != before.get(room))
                self._remote[node] = members
                self._versions[node] = version
            for room in changed:
                merged: dict[str, Member] = {}
                for members in self._remote.values():
                    merged.update(members.get(room, {}))
                self._submit(self.hub.set_remote_members(room, merged))
        except Exception:
            log.exception("could not read the other nodes' room members")
        finally:
            self._reading = False
            if self._read_again:
                self._read_again = False
                self._read_roster_soon()

    # ------------------------------------------------------------------ subscriptions

    def _interest_noted(self) -> None:
        self._loop.call_soon(self._sync_interest)

    def _sync_interest(self) -> None:
        interest = self.hub.interest
        if interest is None or self._closed:
            return
        rooms = interest.take_rooms()
        if rooms:
            self._roster_dirty |= rooms
            self._write_roster_soon()
        for channel, wanted in interest.take().items():
            name = channel_name(channel)
            if wanted and name not in self._subscribed:
                self._subscribed.add(name)
                self._spawn(self.bus.subscribe(name))
            elif not wanted and name in self._subscribed:
                self._subscribed.discard(name)
                self._spawn(self.bus.unsubscribe(name))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = self._loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("cluster work failed", exc_info=task.exception())


def replace_id(event: Message) -> Message:
    return event if event.id is None else msgspec.structs.replace(event, id=None)


def _stored(record: StoredMessage) -> BusMessage:
    return BusMessage(record.conversation, as_message(record))


def renumbered(then: tuple[Deliver, ...], msg_id: int) -> tuple[Deliver, ...]:
    """``then`` with its messages' ``msg_id`` the one the store assigned."""
    return tuple(
        replace(d, event=msgspec.structs.replace(d.event, msg_id=msg_id))
        if type(d.event) is Message else d for d in then)
