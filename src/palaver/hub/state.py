"""The hub's in-memory state: users (identities), their sessions, rooms."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from palaver.hub.effects import SessionId
from palaver.hub.names import fold

if TYPE_CHECKING:
    from palaver.store.base import StoredMarker


class User:
    """Someone online: a guest or an account, with one or more sessions.

    ``key`` is the identity the store knows them by: an account's folded nick, or a guest's
    :func:`guest_key` (so a later guest with the same nick is someone else). A guest's token is
    not kept: the key is derived from it, and a HELLO's token is checked against the key.
    """

    __slots__ = ("_rooms", "_sessions", "account", "active", "away", "bot", "invisible", "key",
                 "nick", "oper", "realname", "signon", "username", "wallops")

    def __init__(self, key: str, nick: str, *, account: bool) -> None:
        self.key = key
        self.nick = nick
        self.account = account
        # Its sessions: nearly always one, kept as that id (no tuple of one); see sessions.
        self._sessions: SessionId | tuple[SessionId, ...] = ()
        self._rooms: tuple[Room, ...] | dict[str, Room] = ()  # (what UserRooms shows)
        # What it said of itself (hub/profile.py): "" when not said; away: None when here.
        self.username = ""
        self.realname = ""
        self.away: str | None = None
        # User modes (hub/operators.py): the operator login it used (None: not one that way),
        # hidden from WHO of strangers, receives WALLOPS. When it came online and last spoke.
        self.oper: str | None = None
        self.invisible = False
        self.wallops = False
        self.bot = False  # a bot (IRC's +B): WHO, WHOIS and its messages say so
        self.signon = 0.0
        self.active = 0.0

    @property
    def folded_nick(self) -> str:
        return fold(self.nick)

    @property
    def sessions(self) -> tuple[SessionId, ...]:
        """Its sessions, in the order they came (a user online has at least one)."""
        sessions = self._sessions
        return sessions if type(sessions) is tuple else (sessions,)  # type: ignore[return-value]

    @sessions.setter
    def sessions(self, sessions: tuple[SessionId, ...]) -> None:
        self._sessions = sessions[0] if len(sessions) == 1 else sessions

    @property
    def rooms(self) -> UserRooms:
        """Its rooms by key: a view made when asked (the user holds only what it shows)."""
        return UserRooms(self)


SMALL: Final = 8  # rooms a user's UserRooms keeps in a tuple; past this, a dict


class UserRooms:
    """A user's rooms by key (each room's own ``key``), in the order joined: a mapping over
    what the user holds, as small as it can be. Nearly every user is in a few rooms: a dict
    per user costs ~180 bytes for one room, a tuple ~50. Past :data:`SMALL` rooms the user
    holds a dict, so that a lookup stays O(1) for a user in many. The view itself is made
    when asked (``User.rooms``) and holds nothing but the user."""

    __slots__ = ("_user",)

    def __init__(self, user: User) -> None:
        self._user = user

    def get(self, key: str) -> Room | None:
        rooms = self._user._rooms
        if type(rooms) is tuple:
            for room in rooms:
                if room.key == key:
                    return room
            return None
        return rooms.get(key)  # type: ignore[union-attr]  # (the type test above, for speed)

    def __contains__(self, key: object) -> bool:
        rooms = self._user._rooms
        if type(rooms) is tuple:
            for room in rooms:  # noqa: SIM110  # a loop, not any(): no generator per lookup
                if room.key == key:
                    return True
            return False
        return key in rooms

    def __getitem__(self, key: str) -> Room:
        room = self.get(key)
        if room is None:
            raise KeyError(key)
        return room

    def __setitem__(self, key: str, room: Room) -> None:
        assert key == room.key, "a room is kept under its own key"
        rooms = self._user._rooms
        if isinstance(rooms, dict):
            rooms[key] = room
        elif key in self:  # the same room again: its place stays
            self._user._rooms = tuple(room if r.key == key else r for r in rooms)
        elif len(rooms) < SMALL:
            self._user._rooms = (*rooms, room)
        else:
            self._user._rooms = {r.key: r for r in (*rooms, room)}

    def pop(self, key: str, default: Room | None = None) -> Room | None:
        rooms = self._user._rooms
        if isinstance(rooms, dict):
            return rooms.pop(key, default)
        room = self.get(key)
        if room is None:
            return default
        self._user._rooms = tuple(r for r in rooms if r is not room)
        return room

    def __delitem__(self, key: str) -> None:
        if self.pop(key) is None:
            raise KeyError(key)

    def clear(self) -> None:
        self._user._rooms = ()

    def values(self) -> Iterable[Room]:
        """The rooms, in the order joined: a snapshot, in both forms (so that a loop over them
        that changes them works alike for a user in 3 rooms and in 30)."""
        rooms = self._user._rooms
        return rooms if type(rooms) is tuple else tuple(rooms.values())  # type: ignore[union-attr]

    def items(self) -> Iterator[tuple[str, Room]]:
        return ((room.key, room) for room in self.values())

    def __iter__(self) -> Iterator[str]:
        return (room.key for room in self.values())

    def __len__(self) -> int:
        return len(self._user._rooms)


def guest_key(token: str) -> str:
    """A guest's identity: derived from its secret token, so the same token means the same guest
    (and its resends are recognised) even after a restart, and the key reveals nothing of it."""
    return "~" + hashlib.sha256(token.encode()).hexdigest()[:24]


def holds_token(user: User, token: str | None) -> bool:
    """``user`` is the guest whose secret ``token`` is (a guest back with its token)."""
    return not user.account and token is not None and guest_key(token) == user.key


class Room:
    __slots__ = ("_by_nick", "_nicks", "_targets", "arrived", "created_at", "departed", "key",
                 "members", "name", "observer", "topic")

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = fold(name)
        self.topic = ""
        self.created_at: str | None = None  # when this live room was made (ISO 8601 UTC)
        self.members: dict[str, User] = {}  # online members, by identity
        self._targets: tuple[SessionId, ...] | None = None
        self._nicks: tuple[str, ...] | None = None
        # A big room's presence not yet told (hub/crowds.py): who came (identities) and who
        # went (identity -> nick as it was) since the last MEMBERS_CHANGED; None: nobody.
        self.arrived: dict[str, None] | None = None
        self.departed: dict[str, str] | None = None
        self._by_nick: tuple[tuple[str, User], ...] | None = None
        # A node of a cluster: told the room's key when its members change (hub/interest.py)
        self.observer: Callable[[str], None] | None = None

    def targets(self) -> tuple[SessionId, ...]:
        """Every session of every member; cached until membership changes."""
        if self._targets is None:
            # Each user's own form (an id; a tuple past one), not a tuple made per member: one
            # pass in a comprehension, a second only if someone has several sessions.
            held = [user._sessions for user in self.members.values()]
            if tuple in set(map(type, held)):
                held = [s for h in held for s in (h if type(h) is tuple else (h,))]
            self._targets = tuple(held)  # type: ignore[arg-type]  # (ids only, by now)
        return self._targets

    def add(self, user: User) -> None:
        """``user`` becomes a member. The cached audience and nick list grow by its part (a
        copy at C speed) rather than being made again from every member at the next use: a
        crowd joining a big room costs no pass over its members per join."""
        if user.key in self.members:  # (its place in the order stays: make them again)
            self.members[user.key] = user
            self.changed()
            return
        self.members[user.key] = user
        if self._targets is not None:
            self._targets += user.sessions
        if self._nicks is not None:
            self._nicks += (user.nick,)
        self._by_nick = None
        if self.observer is not None:
            self.observer(self.key)

    def changed(self) -> None:
        self._targets = None
        self._nicks = None
        self._by_nick = None
        if self.observer is not None:
            self.observer(self.key)

    def by_nick(self) -> tuple[tuple[str, User], ...]:
        """(folded nick, user) of every member, sorted by the former (unique among users
        online): member pages are cut from it. Cached until membership changes; a nick change
        calls :meth:`changed` too."""
        if self._by_nick is None:
            self._by_nick = tuple(sorted(((u.folded_nick, u) for u in self.members.values()),
                                         key=_first))
        return self._by_nick

    def nicks(self) -> tuple[str, ...]:
        """Every member's nick, in the order they joined; cached like :meth:`targets`."""
        if self._nicks is None:
            self._nicks = tuple(user.nick for user in self.members.values())
        return self._nicks


def _first(entry: tuple[str, User]) -> str:
    return entry[0]


class Session:
    __slots__ = ("auth", "certificate", "member_pages", "secure", "sid", "user")

    def __init__(self, sid: SessionId, *, certificate: str | None = None,
                 secure: bool = False) -> None:
        self.sid = sid
        self.user: User | None = None
        # The connection is over TLS (``secure``); the SHA-256 fingerprint of the client
        # certificate it presented, if any (hub/certificates.py).
        self.secure = secure
        self.certificate = certificate
        self.member_pages = False  # takes big rooms' member lists in pages (HELLO)
        # Before HELLO, what a right AUTH proved (hub/authentication.py): the account's key,
        # its direct conversations' marks and its read markers, for the HELLO that logs in.
        self.auth: tuple[str, Mapping[str, int], Sequence[StoredMarker]] | None = None
