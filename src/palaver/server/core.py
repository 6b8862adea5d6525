"""The server core: carries out the hub's effects on live connections and the store.

How this works: every transport (one per front door) registers its connections here. A decoded
message goes to :meth:`ServerCore.receive`, which asks the hub for effects and hands them to the
:class:`CommitPipeline`: messages are stored first (group commit) and everything behind them waits
its turn. A released :class:`Deliver` encodes its event once per dialect and appends the same
bytes to each recipient's outbox — nobody is awaited — and the outboxes are flushed together, one
write per connection, at the next turn of the event loop. A connection whose queue passes the
limit is cut off, so a slow reader never slows its room-mates. Every other released effect goes
to its handler in one table (effect type -> method, built once; Deliver and Persist, the hot
paths, are checked before it). Work that needs I/O (a login, an account, a page of history, a
replay) runs in its own task, or in its place in the pipeline's queue, and feeds its result back.

That work lives in small modules of functions taking the core:

- server/login_work.py: password and certificate logins, OPER's password, new accounts;
- server/account_work.py: managing and erasing accounts, and ending locked accounts' sessions;
- server/store_asks.py: the pipeline's store questions (read markers, deletions, edits,
  reactions, history, search, activity, certificates);
- server/notify_work.py: notification levels;
- server/cluster_steps.py: what a node of a cluster claims or reads before the hub sees a
  message.

The core keeps the connections, the table of effects, delivery, BYEs, the replay task, the
liveness sweep (server/liveness.py judges) and shutdown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Hashable, Iterable, Sequence
from typing import Any, Final, Protocol, TypeVar

import msgspec

from palaver.hub import Hub
from palaver.hub.effects import (
    AckResend,
    Answer,
    CheckOperator,
    Close,
    CreateAccount,
    Deliver,
    Effect,
    EraseAccount,
    KickElsewhere,
    ManageAccount,
    Persist,
    Released,
    Remember,
    Replay,
    SaveMetadata,
    SaveRoom,
    SessionId,
)
from palaver.hub.hub import as_message
from palaver.hub.names import fold
from palaver.protocol.errors import ErrorCode, FrameTooLarge, PeerError
from palaver.protocol.messages import (
    BecomeOperator,
    ClientMessage,
    Goodbye,
    Joined,
    Ping,
    Welcome,
    Wire,
)
from palaver.server.account_work import close_locked, erase_account, manage_account
from palaver.server.admission import Admission, address_key
from palaver.server.audiences import GROUPED_MIN, Audiences
from palaver.server.cluster import ClusterLink, renumbered
from palaver.server.cluster_steps import (
    claim_then_receive,
    claims_nick,
    learn_then_receive,
    learns_first,
)
from palaver.server.decoration import quote_replies
from palaver.server.limits import Limits
from palaver.server.liveness import Timeouts, Verdict, judge
from palaver.server.login_throttle import LoginThrottle
from palaver.server.login_work import check_operator, create_account, start_login
from palaver.server.metrics import ServerMetrics, door_of
from palaver.server.nick_claims import NickClaims
from palaver.server.notify_work import notify_asks
from palaver.server.passwords import Passwords
from palaver.server.pipeline import CommitPipeline, Outcome
from palaver.server.replay import replay_frames
from palaver.server.shared_throttle import SharedThrottle
from palaver.server.store_asks import store_asks
from palaver.store.base import Store, StoredMessage

log = logging.getLogger("palaver.server")

# After a flush, writing waits this many times as long as it took (at most write_coalesce).
FLUSH_PAUSE: Final = 4


class Connection(Protocol):
    """What the core needs from a transport's connection object."""

    sid: SessionId
    opened_at: float
    last_seen: float
    pinged: bool

    @property
    def peer(self) -> str:
        """Where it comes from ("host:port"), for the logs."""

    @property
    def encode_key(self) -> Hashable:
        """Connections with equal keys render an event to the same bytes."""

    @property
    def resends(self) -> bool:
        """Are request ids on this connection the client's own (idempotency keys)?"""

    def encode(self, event: Wire) -> bytes: ...
    def send(self, data: bytes) -> None: ...
    def send_each(self, conns: Sequence[Connection], data: bytes,
                  skip: Connection | None) -> int:
        """:meth:`send` ``data`` to each of ``conns`` but ``skip`` (connections of one kind,
        ``self`` among them) at a fraction of the cost of a call each; how many."""
    def flush(self) -> None: ...
    def close(self, farewell: bytes | None) -> None: ...
    def abort(self) -> None: ...
    def hold(self) -> None:
        """Queue what is sent from now on behind what :meth:`release` will put first."""
    def release(self, first: list[bytes]) -> None: ...
    def pause(self) -> None:
        """Stop handing decoded messages to the core (and stop reading) until :meth:`resume`."""
    def resume(self) -> None: ...
    def stop_reading(self) -> None:
        """Hand the core nothing more, ever (the server is shutting down); keep sending."""


class ServerCore:
    def __init__(
        self,
        hub: Hub,
        store: Store,
        passwords: Passwords,
        *,
        timeouts: Timeouts,
        send_queue_limit: int,
        replay_cap: int = 1_000,
        log_messages: bool = False,
        wall_clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
        lock_check_interval: float = 30.0,
        presence_interval: float = 1.0,
        write_coalesce: float = 0.0,
    ) -> None:
        self.hub = hub
        self.store = store
        self.passwords = passwords
        self.timeouts = timeouts
        self.send_queue_limit = send_queue_limit
        self.replay_cap = replay_cap
        self.log_messages = log_messages
        self._wall_clock = wall_clock
        self._loop = asyncio.get_running_loop()
        self._connections: dict[SessionId, Connection] = {}
        self._next_sid = 1
        self._dirty: list[Connection] = []
        self._audiences = Audiences()  # big audiences' connections, grouped (_deliver)
        # Coalesced writes (mark_dirty): the next flush waits until then (time.perf_counter)
        self._coalesce = write_coalesce
        self._flush_after = 0.0
        self._perf_counter = time.perf_counter  # (a test's clock instead: test_core.py)
        self._closed = asyncio.Event()
        self._closed.set()
        self._shutting_down = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: dict[SessionId, int] = {}  # sessions' reads and writes under way
        self._closing_after: dict[SessionId, Close] = {}  # BYEs waiting for those
        self.metrics = ServerMetrics()  # server/metrics.py; served at /metrics
        # What _release does with each kind of effect (but Deliver and Persist: the hot paths)
        self._handlers = dict((
            _handler(KickElsewhere, self._kick_elsewhere),
            _handler(Released, self._released),
            _handler(Answer, self._send_answer),
            _handler(Close, self._close_after_reads),
            _handler(AckResend, self._ack_resend),
            _handler(Replay, self._start_replay),
            # In a task; the session's BYE waits for these (see _finished)
            _handler(CheckOperator, lambda e: self.spawn(check_operator(self, e), e.session)),
            _handler(CreateAccount, lambda e: self.spawn(create_account(self, e), e.session)),
            _handler(ManageAccount, lambda e: self.spawn(manage_account(self, e), e.session)),
            # In a task nobody waits for: a failure is logged (see _finished)
            _handler(SaveRoom, lambda e: self.spawn(self._save_room(e))),
            _handler(SaveMetadata,
                     lambda e: self.spawn(self.store.save_metadata(e.target, e.values))),
            _handler(Remember, lambda e: self.spawn(self._remember(e))),
        ))
        self.pipeline = CommitPipeline(store, self._release, self.metrics, asks={
            **store_asks(self),  # answered in order (server/pipeline.py, server/store_asks.py)
            EraseAccount: lambda effect: erase_account(self, effect),  # DELETE_ACCOUNT
            **notify_asks(self),  # NOTIFY (server/notify_work.py)
        }, settle=lambda batch: quote_replies(store, batch))
        self.limits = limits or Limits()  # docs/limits.md
        self.admission = Admission(self.limits.admission)
        self.logins = LoginThrottle(self.limits.logins)
        self.pending_logins = 0  # password checks queued or running (server/login_work.py)
        self.login_started: dict[SessionId, float] = {}  # when each was counted
        self._sweeper = self._loop.call_later(timeouts.sweep_interval(), self._sweep)
        # Locked accounts online are looked for this often (server/account_work.py; 0: never)
        self.lock_check_interval = lock_check_interval
        self._lock_poll = (self._loop.call_later(lock_check_interval, self._poll_locks)
                           if lock_check_interval > 0 else None)
        # Big rooms' joins and leaves, told in batches this often (hub/crowds.py)
        self.presence_interval = presence_interval
        self._presence = self._loop.call_later(presence_interval, self._tell_presence)
        self.cluster: ClusterLink | None = None  # a node of a cluster (server/cluster.py)
        self.nick_claims: NickClaims | None = None  # its guests' nicks (server/nick_claims.py)
        # Wrong passwords counted across the nodes too (server/shared_throttle.py)
        self.shared_throttle: SharedThrottle | None = None

    # ------------------------------------------------------------------ transports call these

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's loop, for the transports' timers (rather than asking asyncio for the
        running loop each time: a getpid system call each)."""
        return self._loop

    def monotonic(self) -> float:
        return self._loop.time()

    def wall_clock(self) -> float:
        return self._wall_clock()

    def connection(self, sid: SessionId) -> Connection | None:
        return self._connections.get(sid)

    @staticmethod
    def address_of(conn: Connection | None) -> str:
        """Where ``conn`` comes from, as the login throttle counts it ("" if gone)."""
        return host_of(conn.peer) if conn is not None else ""

    def _poll_locks(self) -> None:
        """End the sessions of accounts locked since (server/account_work.py)."""
        self.spawn(close_locked(self))
        self._lock_poll = self._loop.call_later(self.lock_check_interval, self._poll_locks)

    def _tell_presence(self) -> None:
        self.pipeline.submit(self.hub.flush_presence())
        self._presence = self._loop.call_later(self.presence_interval, self._tell_presence)

    def attach(self, conn: Connection, *, certificate: str | None = None,
               secure: bool = False) -> SessionId:
        """A new connection; ``secure``: over TLS, where its client presented the certificate
        whose SHA-256 fingerprint is ``certificate`` (if any)."""
        sid = self._next_sid
        self._next_sid += 1
        self._connections[sid] = conn  # (a new session is in no audience kept: ids are new)
        self._closed.clear()
        self.hub.open_session(sid, certificate=certificate, secure=secure)
        log.debug("connection %d from %s", sid, conn.peer)
        return sid

    def admit(self, host: str) -> str | None:
        """May a connection from ``host`` open? None, or why not (docs/limits.md)."""
        return self.admission.admit(host, self.monotonic())

    def release_address(self, host: str) -> None:
        """A connection that :meth:`admit` let in has ended."""
        self.admission.release(host)

    def cut_off(self, conn: Connection, reason: str) -> None:
        """Close ``conn`` with a BYE giving ``reason``, after what is already on its way."""
        log.info("closing connection %d (%s): %s", conn.sid, conn.peer, reason)
        self.pipeline.submit([Close(conn.sid, reason)])

    def receive(self, conn: Connection, message: ClientMessage) -> None:
        if self.nick_claims is not None and claims_nick(self, conn.sid, message):
            conn.pause()  # what follows waits for the claim (server/cluster_steps.py)
            self.spawn(claim_then_receive(self, conn, message), conn.sid)  # type: ignore[arg-type]
            return
        if self.cluster is not None and learns_first(self, message):
            conn.pause()  # what other nodes may have changed is read first (the store knows)
            self.spawn(learn_then_receive(self, conn, message), conn.sid)
            return
        if self.hub.needs_login(conn.sid, message):
            start_login(self, conn, message)  # a password or certificate (server/login_work.py)
            return
        try:
            effects = self.hub.handle(conn.sid, message, self._wall_clock(),
                                      resends=conn.resends)
            if type(message) is BecomeOperator and any(type(e) is CheckOperator
                                                       for e in effects):
                conn.pause()  # what follows an OPER waits for its password check
        except Exception:  # we broke it: log it, tell the peer no more than that
            log.exception("failed to handle %s from connection %d", type(message).__name__,
                          conn.sid)
            error = PeerError(ErrorCode.INTERNAL_ERROR, "the server could not handle this request",
                              message.id)
            effects = [self.hub.error_effect(conn.sid, error)]
        self.pipeline.submit(effects)

    def answer(self, conn: Connection, data: bytes) -> None:
        """Bytes the door made itself: sent in order with the answers to earlier commands."""
        self.pipeline.submit((Answer(conn.sid, data),))

    def reject(self, conn: Connection, error: PeerError) -> None:
        """A frame the protocol layer refused: report it; a frame over the limit also closes."""
        effects: list[Effect] = [self.hub.error_effect(conn.sid, error)]
        if isinstance(error, FrameTooLarge):  # after what came before it, acks included
            log.info("closing connection %d: %s", conn.sid, error.message)
            effects.append(Close(conn.sid, "frame too large", goodbye=False))
        self.pipeline.submit(effects)

    def detach(self, conn: Connection, reason: str) -> None:
        """The connection is gone. Idempotent."""
        if self._connections.pop(conn.sid, None) is None:
            return
        self._audiences.changed()
        if not self._connections:
            self._closed.set()
        if self._shutting_down:  # everyone is leaving: nobody left to tell
            return
        nick = self.hub.nick_of(conn.sid)
        self.pipeline.submit(self.hub.close_session(conn.sid, reason, self._wall_clock()))
        if nick is not None and self.nick_claims is not None:
            self.nick_claims.release_unless_used(nick)
        if nick is not None:
            log.info("%s left (%s)", nick, reason,
                     extra={"event": "leave", "nick": nick, "reason": reason, "session": conn.sid})

    def rekeyed(self) -> None:
        """A connection's ``encode_key`` changed (IRC capabilities, the main port's choice of
        text or JSON): big audiences are grouped again (server/audiences.py)."""
        self._audiences.changed()

    def mark_dirty(self, conn: Connection) -> None:
        """``conn`` has queued bytes; flush it (with every other) at the next loop turn — or,
        right after a long flush, a little later (see :meth:`_flush`)."""
        if not self._dirty:
            self._schedule_flush()
        self._dirty.append(conn)

    def mark_all_dirty(self, conns: list[Connection]) -> None:
        """:meth:`mark_dirty` for each of ``conns``."""
        if not self._dirty:
            self._schedule_flush()
        self._dirty.extend(conns)

    def _schedule_flush(self) -> None:
        wait = self._flush_after - self._perf_counter()
        if wait > 0.001:  # (the loop's timers count whole milliseconds)
            self._loop.call_later(wait, self._flush)
        else:
            self._loop.call_soon(self._flush)

    def overflowed(self, conn: Connection, why: str = "") -> None:
        """``conn`` broke the send-queue rule (``why``: how; docs/limits.md): reset it at once,
        without a farewell, and free what waits for it.

        Safe inside a fan-out: a delivery iterates its own tuple of recipients, and a detached
        connection is simply skipped.
        """
        log.warning("closing connection %d (%s): send queue exceeded%s", conn.sid, conn.peer,
                    f" ({why})" if why else "",
                    extra={"event": "send_queue_exceeded", "session": conn.sid, "peer": conn.peer,
                           "why": why})
        self.metrics.send_queue_dropped(door_of(conn))
        conn.abort()
        self.detach(conn, "send queue exceeded")

    # ------------------------------------------------------------------ effects

    def _release(self, effect: Effect, outcome: Outcome) -> None:
        """Carry out ``effect``, whose turn has come (server/pipeline.py): a Deliver here, a
        Persist's outcome by :meth:`_stored`, any other by its handler (``_handlers``)."""
        kind = type(effect)
        if kind is Deliver:
            if self.cluster is not None and type(effect.event) is Joined:  # type: ignore[union-attr]
                effect = self._joined_now(effect)  # type: ignore[arg-type]
            self._deliver(effect)  # type: ignore[arg-type]
        elif kind is Persist:
            self._stored(effect, outcome)  # type: ignore[arg-type]
        else:
            handler = self._handlers.get(kind)
            if handler is not None:
                handler(effect)

    def _kick_elsewhere(self, effect: KickElsewhere) -> None:
        """A node of a cluster: the member's own node puts it out (server/cluster.py)."""
        if self.cluster is not None:
            self.cluster.kick_elsewhere(effect)

    def _released(self, effect: Released) -> None:
        """A node of a cluster: the id is told here from now on (hub/remote.py)."""
        assert self.cluster is not None
        self.hub.released(effect.conversation, effect.msg_id)
        self.cluster.told()

    def _send_answer(self, effect: Answer) -> None:
        """Bytes the door made itself (:meth:`answer`), in their place."""
        conn = self._connections.get(effect.session)
        if conn is not None:
            conn.send(effect.data)

    def _close_after_reads(self, effect: Close) -> None:
        """A BYE waits for the session's reads under way (:meth:`spawn`)."""
        if self._busy.get(effect.session):  # answers still being read: close after them
            self._closing_after[effect.session] = effect
        else:
            self._close(effect)

    def _ack_resend(self, effect: AckResend) -> None:
        """A resend whose original was in a batch: the original now, if it was stored."""
        original = self.hub.stored_original(effect.sender_key, effect.client_id)
        if original is not None:
            self._resent(original, Deliver(as_message(original, effect.client_id),
                                           (effect.session,)))
        else:
            error = PeerError(ErrorCode.UNAVAILABLE, "the message could not be stored; "
                              "resend it", effect.client_id)
            self._deliver(self.hub.error_effect(effect.session, error))

    def _resent(self, original: StoredMessage, ack: Deliver) -> None:
        """The answer to a resend: the original. A node of a cluster sends it once the
        original's id is told here, not before the ids ahead of it (server/cluster.py)."""
        if self.cluster is not None:
            self.cluster.ack_when_told(original.conversation, original.msg_id, ack)
        else:
            self._deliver(ack)

    def _start_replay(self, effect: Replay) -> None:
        """Hold what comes for the session behind the stored messages it missed (read in a
        task: :meth:`_replay`)."""
        conn = self._connections.get(effect.session)
        if self.cluster is not None:
            effect = self._replay_now(effect)
        if conn is not None and effect.ranges:
            conn.hold()
            self.spawn(self._replay(conn, effect), effect.session)

    def _joined_now(self, effect: Deliver) -> Deliver:
        """A node of a cluster: a JOINED's last id is how far the room is told when it goes
        out (hub/remote.py), not when it was made."""
        event = effect.event
        assert isinstance(event, Joined)
        last_id = self.hub.last_id_of(fold(event.room))
        return effect if last_id == event.last_id else dataclasses.replace(
            effect, event=msgspec.structs.replace(event, last_id=last_id))

    def _replay_now(self, effect: Replay) -> Replay:
        """A node of a cluster: a replay goes up to how far each conversation is told when it
        starts (what is told after it comes live, after it)."""
        ranges = tuple(dataclasses.replace(r, upto=self.hub.last_id_of(r.conversation))
                       for r in effect.ranges)
        return Replay(effect.session, tuple(r for r in ranges if r.upto > r.after))

    def _close(self, effect: Close) -> None:
        conn = self._connections.get(effect.session)
        if effect.nick is not None and self.nick_claims is not None:
            self.nick_claims.release_unless_used(effect.nick)
        if effect.nick is not None:  # a BYE: the hub has let the user go already
            log.info("%s left (%s)", effect.nick, "quit", extra={
                "event": "leave", "nick": effect.nick, "reason": "quit",
                "session": effect.session})
        if conn is not None:
            goodbye = Goodbye(id=effect.request_id, reason=effect.reason)
            farewell = conn.encode(goodbye) if effect.goodbye else None
            self._drop(conn, effect.reason, farewell=farewell)

    def _stored(self, effect: Persist, outcome: Outcome) -> None:
        record, then = effect.message, effect.then
        if type(outcome) is int:  # the store assigned another id (server/cluster.py)
            record = msgspec.structs.replace(record, msg_id=outcome)
            then = renumbered(then, outcome)
            outcome = None
        self.hub.persisted(record, stored=not isinstance(outcome, Exception),
                           original=outcome if isinstance(outcome, StoredMessage) else None)
        if outcome is None:
            if record.room is None:
                self.metrics.direct_messages += 1
            else:
                self.metrics.room_messages += 1
            if self.cluster is not None:  # released in id order with the other nodes'
                self.cluster.committed(record, then, effect.session)
            else:
                for delivery in then:
                    self._deliver(delivery)
            if self.log_messages:
                log.info("message %s <%s> %r", record.room or f"@{record.to}", record.sender,
                         record.text, extra={"event": "message", "room": record.room,
                                             "to": record.to, "sender": record.sender,
                                             "text": record.text})
        elif isinstance(outcome, StoredMessage):  # a resend: the original, to the sender only
            self._resent(outcome, Deliver(as_message(outcome, effect.request_id),
                                          (effect.session,)))
        else:
            error = PeerError(ErrorCode.UNAVAILABLE, "the message could not be stored; resend it",
                              effect.request_id)
            self._deliver(self.hub.error_effect(effect.session, error))

    def carry_out(self, effect: Effect) -> None:
        """Carry out ``effect`` now, in the place of the effect being released (the cluster
        link's, for a message stored by this node: server/cluster.py)."""
        self._release(effect, None)

    def _deliver(self, effect: Deliver) -> None:
        event = effect.event
        connections = self._connections
        skip = effect.skip
        to = effect.to
        groups = (self._audiences.groups(to, connections)
                  if type(to) is tuple and len(to) >= GROUPED_MIN else None)
        if groups is not None:  # a big room's audience, seen before: no per-session lookups
            skipped = None if skip is None else connections.get(skip)
            sent = 0
            for conns in groups:
                first = conns[0]
                if first is skipped:  # rendered by a recipient (encoding may note things)
                    if len(conns) == 1:
                        continue
                    first = conns[1]
                sent += first.send_each(conns, first.encode(event), skipped)
        else:
            encoded: dict[Hashable, bytes] = {}
            sent = len(to)  # counted down for the rare recipient skipped: nothing per send
            for sid in to:
                if sid == skip:
                    sent -= 1
                    continue
                conn = connections.get(sid)
                if conn is None:
                    sent -= 1
                    continue
                key = conn.encode_key
                data = encoded.get(key)
                if data is None:
                    data = encoded[key] = conn.encode(event)
                conn.send(data)
        self.metrics.deliveries += sent
        if type(event) is Welcome:
            peer = _peer_of(connections, effect.to)
            log.info("%s joined from %s", event.nick, peer,
                     extra={"event": "join", "nick": event.nick, "peer": peer})
            for sid in effect.to:  # registered: no handshake deadline, let its float go
                welcomed = connections.get(sid)
                if welcomed is not None:
                    welcomed.opened_at = 0.0

    def _drop(self, conn: Connection, reason: str, farewell: bytes | None) -> None:
        conn.close(farewell)
        self.detach(conn, reason)

    def _flush(self) -> None:
        """Write every dirty connection's queue (one system call each).

        A big room's message makes every member's connection dirty, and writing to a
        connection costs a system call whatever the size; a flush that took a while (many
        connections) is followed by a pause ``FLUSH_PAUSE`` times as long, at most
        ``write_coalesce`` seconds, before the next: what the following messages add then goes
        out in the same calls. Idle, or after a short flush, nothing waits. (Measured with the
        fan-out sweep, docs/benchmarks.md §7: less CPU per delivery and lower latency under
        load, the machine less busy.)"""
        dirty, self._dirty = self._dirty, []
        start = self._perf_counter()
        for conn in dirty:
            conn.flush()
        if self._coalesce:
            end = self._perf_counter()
            self._flush_after = end + min(self._coalesce, FLUSH_PAUSE * (end - start))

    # ------------------------------------------------------------------ work that needs I/O

    def spawn(self, work: Coroutine[Any, Any, None], session: SessionId | None = None) -> None:
        """Run ``work`` in the background (for the work modules too); :meth:`settled` and
        :meth:`shutdown` wait for it, and if it answers ``session``, that session's BYE does."""
        task = self._loop.create_task(work)
        self._tasks.add(task)
        if session is not None:
            self._busy[session] = self._busy.get(session, 0) + 1
        task.add_done_callback(lambda done: self._finished(done, session))

    def _finished(self, task: asyncio.Task[None], session: SessionId | None) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work failed", exc_info=task.exception())
        if session is None:
            return
        left = self._busy.pop(session, 1) - 1
        if left:
            self._busy[session] = left
        else:
            close = self._closing_after.pop(session, None)
            if close is not None:
                self._close(close)

    async def _save_room(self, effect: SaveRoom) -> None:
        await self.store.save_room(effect.settings)
        if self.cluster is not None:  # the room's other nodes read them (server/cluster.py)
            self.cluster.rules_saved(fold(effect.settings.room))

    async def _remember(self, effect: Remember) -> None:
        if effect.marks is not None:
            await self.store.save_marks(effect.account, dict(effect.marks))
        elif effect.room is not None:
            await self.store.set_membership(effect.account, effect.room, effect.member)

    async def _replay(self, conn: Connection, effect: Replay) -> None:
        """Stored messages and updates first (server/replay.py), then whatever arrived for
        ``conn`` meanwhile (held)."""
        conn.release(await replay_frames(self.store, effect.ranges, self.replay_cap,
                                         conn.encode, conn.sid))

    # ------------------------------------------------------------------ liveness and shutdown

    def _sweep(self) -> None:
        now = self._loop.time()
        for conn in list(self._connections.values()):
            verdict = judge(
                registered=self.hub.is_registered(conn.sid),
                opened_at=conn.opened_at,
                last_seen=conn.last_seen,
                pinged=conn.pinged,
                now=now,
                timeouts=self.timeouts,
            )
            if verdict is Verdict.PING:
                conn.pinged = True
                conn.send(conn.encode(Ping()))
            elif verdict is not Verdict.OK:
                log.info("closing connection %d (%s): %s", conn.sid, conn.peer, verdict.value)
                self._drop(conn, verdict.value, conn.encode(Goodbye(reason=verdict.value)))
        self._sweeper = self._loop.call_later(self.timeouts.sweep_interval(), self._sweep)

    async def shutdown(self, grace: float) -> None:
        """Stop cleanly, in this order (docs/operations.md): read nothing more on any
        connection; finish the commits in flight and answer them (acks, deliveries); say BYE to
        everyone and give them ``grace`` seconds to go, then cut the rest; let background writes
        finish. The store is then no longer in use and may be closed.

        Commits in flight are waited for even past ``grace`` (with a warning): closing the
        store under a commit would lose messages that were accepted."""
        self._sweeper.cancel()
        self._presence.cancel()
        if self._lock_poll is not None:
            self._lock_poll.cancel()
        for conn in list(self._connections.values()):
            conn.stop_reading()  # nothing more is accepted: the pipeline can only drain now
        self.pipeline.submit(self.hub.farewell())
        idle = self._loop.create_task(self.pipeline.wait_idle())
        if not (await asyncio.wait({idle}, timeout=grace))[0]:
            log.warning("shutting down with messages still being stored: waiting for the "
                        "store", extra={"event": "shutdown_store_wait"})
            await idle
        self._shutting_down = True
        self._flush()  # the acks of the last commits
        for conn in list(self._connections.values()):
            conn.close(conn.encode(Goodbye(reason="server shutting down")))
        try:
            await asyncio.wait_for(self._closed.wait(), grace)
        except TimeoutError:
            for conn in list(self._connections.values()):
                conn.abort()
                self.detach(conn, "server shutting down")
        if self._tasks:  # background writes (marks, memberships) finish before the store closes
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in unfinished:
                task.cancel()

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def connections(self) -> list[Connection]:
        """The open connections (a copy; for metrics and diagnostics)."""
        return list(self._connections.values())

    async def settled(self) -> None:
        """Until the work started so far in the background (history pages, logins, accounts,
        replays) has finished and delivered its answers (for tests and diagnostics)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))


E = TypeVar("E")


def _handler(kind: type[E], handler: Callable[[E], None]
             ) -> tuple[type[Any], Callable[[Any], None]]:
    """An entry of the core's table of effects: ``kind`` and what carries it out (the type
    checker sees that they agree)."""
    return kind, handler


def host_of(peer: str) -> str:
    """The address part of a connection's ``peer`` ("host:port"), grouped as admission does."""
    host = peer.rpartition(":")[0] or peer
    return address_key(host) or host


def _peer_of(connections: dict[SessionId, Connection], sids: Iterable[SessionId]) -> str:
    for sid in sids:
        conn = connections.get(sid)
        if conn is not None:
            return conn.peer
    return "?"

