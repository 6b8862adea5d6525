"""A node of a cluster: members on other nodes shown here, their rooms' rules and kicks.

How this works: mixed into :class:`~palaver.hub.hub.Hub`. Members on other nodes (the roster,
roster/base.py) are shown in the rooms open here as users without sessions — "ghosts":
listed in JOINED, WHO and NAMES, counted for big rooms, never sent anything — and their joins,
leaves and nick changes are told (:meth:`RemoteMembers.set_remote_members`). Operators here act
on them: a KICK is told here and carried out on their node (:class:`KickElsewhere`). Rules
changed on another node replace this node's and what changed is told
(:meth:`RemoteMembers.rules_replaced`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import msgspec

from palaver.hub.effects import Deliver, Effect, KickElsewhere, SessionId
from palaver.hub.names import fold
from palaver.hub.profile import joining
from palaver.hub.rules import RoomRules
from palaver.hub.state import Room, User
from palaver.protocol.messages import Presence, RoomChange, RoomInfo, RoomUpdated
from palaver.roster.base import Member
from palaver.store.base import RoomSettings


class RemoteMembers:
    if TYPE_CHECKING:
        _rooms: dict[str, Room]
        _accounts: dict[str, str]
        _rules: dict[str, RoomRules]

        def _crowd_arrives(self, room: Room, user: User) -> bool: ...
        def _crowd_departs(self, room: Room, user: User, size: int) -> bool: ...
        def _put_out(self, target: User, room: Room, by: str, reason: str, sid: SessionId,
                     request_id: str | None) -> list[Effect]: ...
        def _nick_of(self, key: str, fallback: str) -> str: ...
        def _may_see(self, user: User | None, key: str) -> bool: ...
        def _room_info(self, room: Room, asker: User | None) -> RoomInfo: ...
        def _updated(self, key: str, change: RoomChange, by: str | None, nick: str | None,
                     request_id: str | None = None) -> RoomUpdated: ...

    # room key -> user key -> member elsewhere; the users standing for them in the rooms open
    # here; how many of a room's members are such; (room, user) a kick here changed the showing of
    _roster: dict[str, dict[str, Member]]
    _ghosts: dict[str, User]
    _ghost_counts: dict[str, int]
    _resync: set[tuple[str, str]]

    def _init_remote_members(self) -> None:
        self._roster = {}
        self._ghosts = {}
        self._ghost_counts = {}
        self._resync = set()

    def _ghosts_in(self, room: Room) -> int:
        return self._ghost_counts.get(room.key, 0)

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
            ghost = self._ghosts[key] = User(key, member.nick, account=member.account)
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
