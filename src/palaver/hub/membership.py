"""Rooms a user is in: JOIN, LEAVE, LIST, and the JOINED that describes a room.

How this works: :class:`Membership` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation`. Room membership belongs to the user, not the
session: every session of a user in a room gets the room's events.

- :meth:`Membership._enter` is the one way in — for a JOIN, and for each room a HELLO puts its
  user in (hub/arrival.py). A room is made on first entry (``_room_opened``: its rules,
  hub/moderation.py); a member already is only answered. Otherwise the user's sessions get
  JOINED (:meth:`Membership._joined`; the asker's copy carries the request id; a big room's
  member list in pages to those who take them, hub/crowds.py), the members a ``join``
  PRESENCE (in a big room: a MEMBERS_CHANGED later, hub/crowds.py), and moderation and
  metadata add what they tell a newcomer. Who may enter is
  moderation's to say (``_check_entry``), asked by the callers before.
- LEAVE is the way out; a room nobody is in is dropped (:meth:`Membership._forget_if_empty`),
  but its msg_id counter stays in ``_last_id`` and it is made again on the next entry.
- An account's rooms outlive its sessions: :meth:`Membership._membership` notes each change in
  ``_account_rooms`` and asks the store to (``Remember``); a guest's are forgotten with it.
- LIST: the rooms with members online that the asker may see.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from palaver.hub.effects import Deliver, Effect, Remember, SessionId
from palaver.hub.interest import Interest
from palaver.hub.names import check_room, fold
from palaver.hub.profile import joining, part_reason
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    Presence,
    RoomInfo,
    RoomList,
    ServerMessage,
)


class Membership:
    """Mixed into the hub: needs its rooms, accounts, counters and a few of its helpers."""

    if TYPE_CHECKING:
        interest: Interest | None
        _rooms: dict[str, Room]
        _accounts: dict[str, str]
        _account_rooms: dict[str, dict[str, str]]
        _last_id: dict[str, int]

        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...
        def _check_entry(self, user: User, name: str, *, quietly: bool = False,
                         room_key: str | None = None) -> bool: ...
        def _may_see(self, user: User | None, key: str) -> bool: ...
        def _room_opened(self, user: User, room: Room, now: float) -> list[Effect]: ...
        def _show_remote_members(self, room: Room) -> None: ...
        def _ghost_leaves(self, room: Room, ghost: User) -> None: ...
        def _forget_ghosts(self, room: Room) -> None: ...
        def _ghosts_in(self, room: Room) -> int: ...
        def _remote_rooms(self, asker: User | None) -> list[RoomInfo]: ...
        def _entered(self, user: User, room: Room, audience: tuple[SessionId, ...]
                     ) -> list[Effect]: ...
        def _left_room(self, user: User, room: Room) -> list[Effect]: ...
        def _room_state(self, key: str) -> dict[str, Any]: ...
        def _room_info(self, room: Room, asker: User | None) -> RoomInfo: ...
        def _read_fields(self, user: User | None, key: str) -> Mapping[str, Any]: ...
        def _metadata_entered(self, user: User, room: Room, audience: tuple[SessionId, ...]
                              ) -> list[Effect]: ...
        def _crowd_arrives(self, room: Room, user: User) -> bool: ...
        def _crowd_departs(self, room: Room, user: User, size: int) -> bool: ...
        def _joined_to(self, user: User, sid: SessionId, room: Room, request_id: str | None
                       ) -> list[Effect]: ...
        def _joined_for(self, sid: SessionId, room: Room, user: User,
                        request_id: str | None = None) -> Joined: ...

    def _join(self, session: Session, msg: Join, now: float) -> list[Effect]:
        user = self._user(session)
        fresh = fold(check_room(msg.room)) not in user.rooms
        if fresh:
            self._check_entry(user, msg.room, room_key=msg.key)
        effects = self._enter(user, session.sid, msg.room, msg.id, now)
        if not fresh:  # a member already: nothing changes, nothing to note
            return effects
        remember = self._membership(user, user.rooms[fold(msg.room)], member=True)
        return effects if remember is None else [*effects, remember]

    def _enter(
        self, user: User, sid: SessionId, name: str, request_id: str | None, now: float
    ) -> list[Effect]:
        key = fold(name)
        room = self._rooms.get(key)
        opened: list[Effect] = []
        if room is None:
            room = self._rooms[key] = Room(name)
            if self.interest is not None:  # a node of a cluster hears of it now (hub/interest.py)
                self.interest.room(key, True)
                room.observer = self.interest.room_changed
                self._show_remote_members(room)  # hub/remote.py
            opened = self._room_opened(user, room, now)
        if key in user.rooms:  # already a member: confirm, tell nobody
            return [Deliver(self._joined_for(sid, room, user, request_id), (sid,))]
        shown = room.members.get(user.key)
        if shown is not None and not shown.sessions:  # shown as on another node: here now
            self._ghost_leaves(room, shown)
        audience = room.targets()
        room.add(user)
        user.rooms[room.key] = room  # the room's own key string: not a copy per member
        effects = self._joined_to(user, sid, room, request_id)
        if not self._crowd_arrives(room, user):  # a big room's joins go in batches
            effects.append(Deliver(Presence(nick=user.nick, event="join", room=room.name,
                                            **joining(user, self._accounts)), audience))
        return [*opened, *effects, *self._entered(user, room, audience),
                *self._metadata_entered(user, room, audience)]

    def _joined(self, room: Room, request_id: str | None, user: User | None = None) -> Joined:
        """JOINED for ``user`` (its read marker of the room, hub/markers.py)."""
        return Joined(id=request_id, room=room.name, members=room.nicks(), topic=room.topic,
                      last_id=self._last_id.get(room.key, 0), **self._room_state(room.key),
                      **self._read_fields(user, room.key))

    def _leave(self, session: Session, msg: Leave, now: float) -> list[Effect]:
        user = self._user(session)
        room = self._member_room(user, msg.room)
        batched = self._crowd_departs(room, user, len(room.members))
        del room.members[user.key]
        del user.rooms[room.key]
        room.changed()
        effects = self._to_user(user, session.sid, Left(room=room.name), msg.id)
        if not batched:
            effects.append(
                Deliver(Presence(nick=user.nick, event="leave", room=room.name,
                                 reason=part_reason(msg.reason)), room.targets())
            )
        self._forget_if_empty(room)
        effects.extend(self._left_room(user, room))
        remember = self._membership(user, room, member=False)
        return effects if remember is None else [*effects, remember]

    def _list_rooms(self, session: Session, msg: ListRooms, now: float) -> list[Effect]:
        rooms = tuple(sorted((
            *(self._room_info(r, session.user) for key, r in self._rooms.items()
              if r.members and self._may_see(session.user, key)),
            *self._remote_rooms(session.user)), key=lambda info: fold(info.room)))
        return [Deliver(RoomList(id=msg.id, rooms=rooms), (session.sid,))]

    @staticmethod
    def _member_room(user: User, name: str) -> Room:
        room = user.rooms.get(fold(check_room(name)))
        if room is None:
            raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name}")
        return room

    def _forget_if_empty(self, room: Room) -> None:
        """A room nobody is in is dropped (its msg_id counter stays in ``_last_id``; accounts'
        memberships name it, and it is made again when one of them arrives)."""
        if self.interest is not None:  # a cluster: members elsewhere do not keep it open here
            if len(room.members) > self._ghosts_in(room):
                return
            self._forget_ghosts(room)
        dropped = not room.members and self._rooms.pop(room.key, None) is not None
        if dropped and self.interest is not None:
            self.interest.room(room.key, False)
            self.interest.room_changed(room.key)

    def _membership(self, user: User, room: Room, *, member: bool) -> Remember | None:
        """An account's rooms outlive its sessions: note the change here and in the store (the
        default rooms too: a HELLO without autojoin, as IRC's, finds them only there)."""
        if not user.account:
            return None
        rooms = self._account_rooms.setdefault(user.key, {})
        if member:
            rooms.setdefault(room.key, room.name)
        else:
            rooms.pop(room.key, None)
        return Remember(account=user.key, room=room.name, member=member)
