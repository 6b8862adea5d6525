"""A node of a cluster: other nodes' messages and members, told here in order.

How this works: mixed into :class:`~palaver.hub.hub.Hub`. In a cluster the store assigns ids
(``HubConfig.store_assigns_ids``): a post's msg_id is only the hub's guess, and ``_last_id``
moves when an id is *released* here (a :class:`~palaver.hub.effects.Released` effect, carried
out in order with every other effect) — the node's own once stored, other nodes' once the
server's cluster link (server/cluster.py) has them in order. So ``_last_id`` says how far the
users here have been told, and a JOINED or a replay counts up to it *when it goes out* (the
core reads it then): a message released before it is in the replay or before the JOINED's
last id, one released after it is told live. Who is told live is decided when the message
enters the effects (:meth:`Remote.audience`), as for a post on a single server.

Members on other nodes (the roster, roster/base.py) are shown in the rooms open here as users
without sessions (:meth:`Remote.set_remote_members`): listed, counted, never sent anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import msgspec

from palaver.hub.effects import Deliver, Effect, KickElsewhere, Released, SessionId
from palaver.hub.names import check_room, fold
from palaver.hub.profile import joining
from palaver.hub.rules import RoomRules
from palaver.hub.state import Room, User
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import (
    Message,
    Presence,
    RoomChange,
    RoomInfo,
    RoomUpdated,
)
from palaver.roster.base import Member
from palaver.store.base import RoomSettings

if TYPE_CHECKING:
    from palaver.hub.interest import Interest
    from palaver.hub.lookalikes import LookalikeIndex
    from palaver.hub.state import Session


class Remote:
    if TYPE_CHECKING:
        _rooms: dict[str, Room]
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _last_id: dict[str, int]
        _committed: dict[str, int]
        _dm_index: dict[str, set[str]]
        _known_nicks: dict[str, str]
        _sessions: dict[SessionId, Session]
        _accounts: dict[str, str]
        _lookalikes: LookalikeIndex
        _rules: dict[str, RoomRules]
        _default_keys: frozenset[str]

        def _crowd_arrives(self, room: Room, user: User) -> bool: ...
        def _put_out(self, target: User, room: Room, by: str, reason: str, sid: SessionId,
                     request_id: str | None) -> list[Effect]: ...
        def _nick_of(self, key: str, fallback: str) -> str: ...
        def _may_see(self, user: User | None, key: str) -> bool: ...
        def _room_info(self, room: Room, asker: User | None) -> RoomInfo: ...
        def _updated(self, key: str, change: RoomChange, by: str | None, nick: str | None,
                     request_id: str | None = None) -> RoomUpdated: ...
        def _crowd_departs(self, room: Room, user: User, size: int) -> bool: ...

    interest: Interest | None = None  # set by a node of a cluster (hub/interest.py)
    # Members on other nodes (roster/base.py): room key -> user key -> member; and the users
    # standing for them in the rooms open here (no sessions: nothing is sent to them here).
    _roster: dict[str, dict[str, Member]]
    _ghosts: dict[str, User]

    _ghost_counts: dict[str, int]  # room key -> how many of its members are ghosts

    def _init_remote(self) -> None:
        self._resync: set[tuple[str, str]] = set()
        self._roster = {}
        self._ghosts = {}
        self._ghost_counts = {}

    def _ghosts_in(self, room: Room) -> int:
        return self._ghost_counts.get(room.key, 0)

    def remote_message(self, conversation: str, event: Message, sender_key: str = "",
                       member: Member | None = None) -> list[Effect]:
        """Another node stored ``event`` in ``conversation``, and every id before it has been
        released here: it counts as told from where these effects are carried out, to those
        here who should see it now. ``member``: its sender is a member of the room there (key
        ``sender_key``) — shown joining first here if it is not shown yet (the roster would
        tell it later than its message)."""
        audience = self.audience(conversation)
        effects: list[Effect] = [Released(conversation, event.msg_id)]
        room = self._rooms.get(conversation)
        if member is not None and room is not None and sender_key not in room.members:
            self._roster.setdefault(conversation, {})[sender_key] = member
            ghost = self._ghost_enters(room, sender_key, member)
            if audience and not self._crowd_arrives(room, ghost):
                effects.append(Deliver(Presence(nick=ghost.nick, event="join", room=room.name,
                                                **joining(ghost, self._accounts)), audience))
        return [*effects, Deliver(event, audience)] if audience else effects

    def member_here(self, conversation: str, key: str) -> Member | None:
        """``key`` as a member of the room ``conversation`` on this node, if it is one."""
        room = self._rooms.get(conversation)
        user = room.members.get(key) if room is not None else None
        return Member(user.nick, user.account) if user is not None and user.sessions else None

    def audience(self, conversation: str) -> tuple[SessionId, ...]:
        """Who here is told a message of ``conversation`` now: the room's members here, or
        both ends of a direct conversation."""
        if not conversation.startswith("@"):
            room = self._rooms.get(conversation)
            return room.targets() if room is not None else ()
        sessions: list[SessionId] = []
        for key in conversation[1:].split(","):
            self._dm_index.setdefault(key, set()).add(conversation)
            user = self._here_by_key(key)
            if user is not None:
                sessions.extend(user.sessions)
        return tuple(sessions)

    def released(self, conversation: str, msg_id: int) -> None:
        """Id ``msg_id`` of ``conversation`` is stored and told here."""
        if msg_id > self._last_id.get(conversation, 0):
            self._last_id[conversation] = msg_id
        if msg_id > self._committed.get(conversation, 0):
            self._committed[conversation] = msg_id

    def skip_to(self, conversation: str, msg_id: int) -> None:
        """The store goes up to ``msg_id`` in a conversation nobody here follows."""
        self.released(conversation, msg_id)

    def follows(self, conversation: str) -> bool:
        """Does anyone here need ``conversation``'s messages (a member of the room, or one end
        of the direct conversation, online here)?"""
        if not conversation.startswith("@"):
            return conversation in self._rooms
        return any(self._here_by_key(key) is not None for key in conversation[1:].split(","))

    def last_id_of(self, conversation: str) -> int:
        """How far ``conversation`` has been released here (0: nothing yet)."""
        return self._last_id.get(conversation, 0)

    def last_ids(self) -> dict[str, int]:
        """How far each conversation has been released here (a copy)."""
        return dict(self._last_id)

    def knows_nick(self, nick: str) -> bool:
        """Is ``nick`` someone here, or an account this node knows?"""
        folded = fold(nick)
        return folded in self._online or folded in self._accounts

    def _here_by_key(self, key: str) -> User | None:
        """The user online here with identity ``key``, if any."""
        user = self._online_accounts.get(key)
        if user is not None or not key.startswith("~"):
            return user
        nick = self._known_nicks.get(key)
        user = self._online.get(fold(nick)) if nick is not None else None
        return user if user is not None and user.key == key else None

    # ------------------------------------------------------------------ nicks across nodes

    def nick_in_use(self, folded: str) -> bool:
        """Is a user online here under the folded nick ``folded``?"""
        return folded in self._online

    def key_of(self, sid: SessionId) -> str | None:
        """The identity of ``sid``'s user, once registered."""
        session = self._sessions.get(sid)
        return session.user.key if session is not None and session.user is not None else None

    def is_guest(self, sid: SessionId) -> bool:
        """Is ``sid`` a registered session of a guest (not an account)?"""
        session = self._sessions.get(sid)
        return session is not None and session.user is not None and not session.user.account

    def room_open(self, name: str) -> bool:
        """Has the room ``name`` a member here?"""
        return fold(name) in self._rooms

    def learn_rules(self, stored: Iterable[RoomSettings]) -> None:
        """The rooms' rules as the store has them now (other nodes change them): taken for the
        rooms not open here (an open room's rules are the ones its members here go by)."""
        for settings in stored:
            key = fold(settings.room)
            if key not in self._rooms:
                self._rules[key] = RoomRules.from_settings(settings)

    def new_room_rules(self, sid: SessionId, name: str, now: float) -> RoomSettings | None:
        """The rules a JOIN of ``sid`` would make for the room ``name`` if it is new (none
        known, not a default room): the joiner its operator. A node of a cluster stores them
        only if no other node has made the room first (``Store.save_room(new=True)``)."""
        from palaver.hub.hub import format_ts  # the hub imports this module

        session = self._sessions.get(sid)
        try:
            key = fold(check_room(name))
        except PeerError:
            return None
        if (session is None or session.user is None or key in self._rules
                or key in self._default_keys or key in self._rooms):
            return None
        return RoomRules(name, operators={session.user.key},
                         created_at=format_ts(now)).settings()

    def learn_account(self, key: str, nick: str) -> None:
        """Another node made the account ``key`` (``nick``): its nick is taken here too."""
        if key not in self._accounts:
            self._accounts[key] = nick
            self._lookalikes.add(key, nick)
            self._known_nicks.setdefault(key, nick)

    # ------------------------------------------------------------------ members on other nodes

    def local_members(self, room_key: str) -> dict[str, Member]:
        """The members of ``room_key`` online here (none if the room is not open here)."""
        room = self._rooms.get(room_key)
        if room is None:
            return {}
        return {key: Member(user.nick, user.account) for key, user in room.members.items()
                if user.sessions}

    def set_remote_members(self, room_key: str, members: Mapping[str, Member]
                           ) -> list[Effect]:
        """Room ``room_key``'s members on other nodes are now ``members``: shown in its member
        lists here, their joins, leaves and nick changes told to its members here."""
        if members:
            self._roster[room_key] = dict(members)
        else:
            self._roster.pop(room_key, None)
        room = self._rooms.get(room_key)
        if room is None:  # nobody here to tell; shown when the room opens here
            return []
        effects: list[Effect] = []
        shown = {key: user for key, user in room.members.items() if not user.sessions}
        for key, ghost in shown.items():
            if key not in members:
                batched = self._crowd_departs(room, ghost, len(room.members))
                self._ghost_leaves(room, ghost)
                if not batched:
                    effects.append(Deliver(Presence(nick=ghost.nick, event="leave",
                                                    room=room.name), room.targets()))
        for key, member in members.items():
            shown_as = shown.get(key)
            if shown_as is not None:
                if shown_as.nick != member.nick:
                    effects.extend(self._ghost_renamed(shown_as, member.nick))
                continue
            if key in room.members:  # online here too: shown once, as here
                continue
            audience = room.targets()
            ghost = self._ghost_enters(room, key, member)
            if not self._crowd_arrives(room, ghost):
                effects.append(Deliver(Presence(nick=ghost.nick, event="join", room=room.name,
                                                **joining(ghost, self._accounts)), audience))
        return effects

    def _remote_rooms(self, asker: User | None) -> list[RoomInfo]:
        """LIST's entries for the rooms with members on other nodes only."""
        found = []
        for key, members in self._roster.items():
            if key in self._rooms or not members or not self._may_see(asker, key):
                continue
            rules = self._rules.get(key)
            room = Room(rules.name if rules is not None else key)
            room.topic = rules.topic if rules is not None else ""
            info = self._room_info(room, asker)
            found.append(msgspec.structs.replace(info, members=len(members)))
        return found

    def _show_remote_members(self, room: Room) -> None:
        """Room ``room`` has just opened here: its members elsewhere are in it (no news)."""
        for key, member in self._roster.get(room.key, {}).items():
            if key not in room.members:
                self._ghost_enters(room, key, member)

    def _ghost_enters(self, room: Room, key: str, member: Member) -> User:
        ghost = self._ghosts.get(key)
        if ghost is None:
            ghost = self._ghosts[key] = User(key, member.nick, account=member.account,
                                             token=None)
        room.members[key] = ghost
        ghost.rooms[room.key] = room
        self._ghost_counts[room.key] = self._ghost_counts.get(room.key, 0) + 1
        room.changed()
        return ghost

    def _ghost_leaves(self, room: Room, ghost: User) -> None:
        if room.members.get(ghost.key) is ghost:
            del room.members[ghost.key]
            left = self._ghost_counts.pop(room.key, 1) - 1
            if left:
                self._ghost_counts[room.key] = left
        ghost.rooms.pop(room.key, None)
        room.changed()
        if not ghost.rooms:
            self._ghosts.pop(ghost.key, None)

    def _ghost_renamed(self, ghost: User, nick: str) -> list[Effect]:
        audience: dict[SessionId, None] = {}
        for room in ghost.rooms.values():
            audience.update(dict.fromkeys(room.targets()))
        event = Presence(nick=ghost.nick, event="nick", new_nick=nick)
        ghost.nick = nick
        for room in ghost.rooms.values():
            room.changed()
        return [Deliver(event, tuple(audience))] if audience else []

    def _forget_ghosts(self, room: Room) -> None:
        """Room ``room`` closes here: the members elsewhere shown in it go with it."""
        for user in [u for u in room.members.values() if not u.sessions]:
            self._ghost_leaves(room, user)

    # ------------------------------------------------------------------ kicks across nodes

    def _remote_key(self, folded: str) -> str | None:
        """The identity of the user on another node whose nick folds to ``folded`` (one in a
        room, by the roster), if any: whom a direct message to that nick goes to."""
        if not self._roster:
            return None
        return next((key for members in self._roster.values()
                     for key, member in members.items() if fold(member.nick) == folded), None)

    def _remote_nick(self, key: str) -> str | None:
        """The nick of ``key``, a user on another node (by the roster), if any."""
        return next((members[key].nick for members in self._roster.values() if key in members),
                    None)

    def _remote_named(self, folded: str) -> User | None:
        """The member on another node shown here as ``folded`` (a folded nick), if any."""
        return next((g for g in self._ghosts.values() if g.folded_nick == folded), None)

    def _put_out_elsewhere(self, target: User, room: Room, by: str, reason: str,
                           sid: SessionId, request_id: str | None) -> list[Effect]:
        """KICK of a member on another node: told here, shown no more, and put out there."""
        event = Presence(nick=target.nick, event="kick", room=room.name, by=by, reason=reason)
        audience = room.targets()
        effects: list[Effect] = [Deliver(msgspec.structs.replace(event, id=request_id), (sid,)),
                                 Deliver(event, audience, skip=sid)]
        self._ghost_leaves(room, target)
        self._resync.add((room.key, target.key))  # shown again if it comes back
        return [*effects, KickElsewhere(room.key, target.key, by, reason)]

    def take_resync(self) -> set[tuple[str, str]]:
        """(room, user) whose showing here this hub changed on its own (a kick of a member
        elsewhere): the cluster link gives the room again once that member's node has
        written its members since, changed or not."""
        kicked, self._resync = self._resync, set()
        return kicked

    def kicked_here(self, room_key: str, user_key: str, by: str, reason: str) -> list[Effect]:
        """Another node's operator put ``user_key`` out of ``room_key``: if it is a member
        here, it is put out as by a KICK here."""
        room = self._rooms.get(room_key)
        target = room.members.get(user_key) if room is not None else None
        if room is None or target is None or not target.sessions:
            return []
        return self._put_out(target, room, by, reason, 0, None)

    # ------------------------------------------------------------------ rules changed elsewhere

    def rules_replaced(self, settings: RoomSettings) -> list[Effect]:
        """Another node changed the rules of a room (``settings``: as stored now): taken here,
        and what changed told to the room's members here as ROOM_UPDATED."""
        key = fold(settings.room)
        old = self._rules.get(key)
        new = self._rules[key] = RoomRules.from_settings(settings)
        room = self._rooms.get(key)
        if room is None or old is None:
            return []
        room.topic = new.topic
        changes: list[tuple[RoomChange, str | None, str | None]] = []
        if (old.topic, old.topic_by) != (new.topic, new.topic_by):
            changes.append(("topic", new.topic_by, None))
        for field, added, removed in _KEY_SETS:  # identities: operators, voiced
            before, after = getattr(old, field), getattr(new, field)
            changes.extend((added, None, self._key_nick(k)) for k in sorted(after - before))
            changes.extend((removed, None, self._key_nick(k)) for k in sorted(before - after))
        for field, added, removed in _NICK_LISTS:  # folded nicks: bans, allowed, muted
            was, now = getattr(old, field), getattr(new, field)
            changes.extend((added, now[n].by, n) for n in sorted(now.keys() - was.keys()))
            changes.extend((removed, None, n) for n in sorted(was.keys() - now.keys()))
        if any(getattr(old, flag) != getattr(new, flag) for flag in _MODE_FLAGS):
            changes.append(("modes", None, None))
        audience = room.targets()
        effects: list[Effect] = [Deliver(self._updated(key, change, by, nick), audience)
                                 for change, by, nick in changes] if audience else []
        for folded in new.bans.keys() - old.bans.keys():  # banned there: put out here too
            ban = new.bans[folded]
            for user in [u for u in room.members.values() if u.sessions and (
                    u.folded_nick == folded or u.key == ban.key)]:
                effects.extend(self._put_out(user, room, ban.by or "", "banned", 0, None))
        return effects

    def _key_nick(self, key: str) -> str:
        ghost = self._ghosts.get(key)
        return ghost.nick if ghost is not None else self._nick_of(key, key)


_KEY_SETS: tuple[tuple[str, RoomChange, RoomChange], ...] = (
    ("operators", "op", "deop"), ("voiced", "voice", "devoice"))
_NICK_LISTS: tuple[tuple[str, RoomChange, RoomChange], ...] = (
    ("bans", "ban", "unban"), ("allowed", "allow", "disallow"), ("muted", "mute", "unmute"))
_MODE_FLAGS = ("invite_only", "private", "moderated", "outside_messages", "open_topic", "limit",
               "key")
