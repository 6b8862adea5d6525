"""Arriving: HELLO, a login, a guest back with its token, another session; WELCOME and replay.

How this works: :class:`Arrival` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation` — the hub's state, none of its own.

- A HELLO without a password is :meth:`Arrival._hello`: a new guest (it gets a ``token``, its
  secret, and a key derived from it, :func:`guest_key`), or a guest back with its token. A HELLO
  with a password never gets there: the core checks the password and calls
  :meth:`Arrival.login` with the verdict (so does an AUTH, which only notes the account for the
  next HELLO: hub/authentication.py).
- Either ends in :meth:`Arrival._arrive` — the user comes online: the default rooms (unless
  ``autojoin`` is off), an account's rooms, the HELLO's rooms (each refused quietly when the
  user may not enter); WELCOME, then each room's JOINED and PRESENCE (``_enter``,
  hub/membership.py), read markers, watchers, metadata, a replay — or in
  :meth:`Arrival._attach` — another session of a user already online: it alone gets WELCOME and
  the JOINEDs, nobody else is told.
- :meth:`Arrival._replay` turns the HELLO's ``since`` (and an account's marks: where it stopped
  reading each direct conversation) into :class:`~palaver.hub.effects.ReplayRange` entries, each up
  to the last msg_id assigned so far; the core reads them from the store and sends them ahead of
  anything live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final

from palaver.hub.effects import Deliver, Effect, Replay, ReplayRange, SessionId
from palaver.hub.interest import Interest
from palaver.hub.lookalikes import LookalikeIndex
from palaver.hub.metadata import check_metadata
from palaver.hub.names import check_nick, check_room, fold
from palaver.hub.profile import check_profile, set_profile
from palaver.hub.state import Room, Session, User, guest_key
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import PROTOCOL_VERSION, Authenticate, Hello, Joined, Welcome
from palaver.store.base import StoredMarker, dm_conversation

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig

MIN_TOKEN: Final = 16  # a guest's token shorter than this is no secret: it gets a new one


class Arrival:
    """Mixed into the hub: needs its users, accounts, rooms, counters and many of its helpers."""

    if TYPE_CHECKING:
        config: HubConfig
        _new_token: Callable[[], str]
        _sessions: dict[SessionId, Session]
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _guests: dict[str, User]  # guest key -> the guest online
        _accounts: dict[str, str]
        _pending_accounts: set[str]
        interest: Interest | None
        _rooms: dict[str, Room]
        _account_rooms: dict[str, dict[str, str]]
        _dm_index: dict[str, set[str]]
        _last_id: dict[str, int]
        _known_nicks: dict[str, str]
        _lookalikes: LookalikeIndex

        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...
        def _peer_key(self, nick: str) -> str | None: ...
        def _known(self, user: User) -> None: ...
        def _refuse_lookalike(self, nick: str, folded: str, mine: tuple[str, ...]) -> None: ...
        def _authenticated(self, sid: SessionId, msg: Authenticate, *, verified: bool,
                           marks: Mapping[str, int], read_markers: Sequence[StoredMarker],
                           account: str | None = None) -> list[Effect]: ...
        def _hello_authenticated(self, session: Session, msg: Hello, now: float
                                 ) -> list[Effect]: ...
        def _wearing(self, key: str, nick: str) -> str: ...
        def _check_entry(self, user: User, name: str, *, quietly: bool = False,
                         room_key: str | None = None) -> bool: ...
        def _enter(self, user: User, sid: SessionId, name: str, request_id: str | None,
                   now: float) -> list[Effect]: ...
        def _joined(self, room: Room, request_id: str | None, user: User | None = None
                    ) -> Joined: ...
        def _joined_for(self, sid: SessionId, room: Room, user: User,
                        request_id: str | None = None) -> Joined: ...
        def _seen_online(self) -> None: ...
        def _came_online(self, user: User) -> list[Effect]: ...
        def _markers_arrive(self, user: User, stored: Iterable[StoredMarker] = ()) -> None: ...
        def _markers_on_arrival(self, user: User, sid: SessionId, hello: Hello
                                ) -> list[Effect]: ...
        def _dm_markers(self, user: User, sid: SessionId) -> list[Effect]: ...
        def _levels_on_arrival(self, user: User, sid: SessionId, hello: Hello
                               ) -> list[Effect]: ...
        def _levels_to_session(self, user: User, sid: SessionId) -> list[Effect]: ...
        def _metadata_arrive(self, user: User, sid: SessionId, hello: Hello) -> list[Effect]: ...
        def _metadata_synced(self, sid: SessionId, rooms: Iterable[Room]) -> list[Effect]: ...
        def _welcome_metadata(self, user: User, hello: Hello) -> dict[str, str] | None: ...

    def login(
        self, sid: SessionId, hello: Hello | Authenticate, *, verified: bool,
        marks: Mapping[str, int], now: float, read_markers: Sequence[StoredMarker] = (),
        account: str | None = None,
    ) -> list[Effect]:
        """Finish a HELLO with a password, which the caller has checked (``verified``);
        ``read_markers``: the account's, from the store. The same for an AUTH, which is only
        noted (hub/authentication.py); ``account``: the one an AUTH proved, whose HELLO names
        the nick to wear."""
        if isinstance(hello, Authenticate):
            return self._authenticated(sid, hello, verified=verified, marks=marks,
                                       read_markers=read_markers, account=account)
        session = self._sessions.get(sid)
        if session is None:
            return []
        try:
            self._check_hello(session, hello)
            key = fold(hello.nick) if account is None else account
            if not verified or key not in self._accounts:
                raise PeerError(ErrorCode.AUTH_FAILED, "wrong nick or password")
            user = self._online_accounts.get(key)
            if user is not None:
                return self._attach(session, user, hello, marks, now)
            if key in self._online:  # cannot happen (guests may not wear account nicks): refuse
                raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {hello.nick} is in use")
            nick = self._accounts[key] if account is None else self._wearing(key, hello.nick)
            user = User(key, nick, account=True)
            user.signon = user.active = now
            self._online_accounts[key] = user
            self._markers_arrive(user, read_markers)
            return self._arrive(session, user, hello, marks, now)
        except PeerError as error:
            return [self.error_effect(sid, error.with_request_id(hello.id))]

    def _check_hello(self, session: Session, msg: Hello) -> None:
        if session.user is not None:
            raise PeerError(ErrorCode.ALREADY_REGISTERED, "you already said HELLO")
        if msg.version != PROTOCOL_VERSION:
            raise PeerError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol version {PROTOCOL_VERSION}",
            )
        check_nick(msg.nick)
        check_profile(msg)
        check_metadata(msg.metadata)
        for room in msg.rooms or ():
            check_room(room)

    def _hello(self, session: Session, msg: Hello, now: float) -> list[Effect]:
        self._check_hello(session, msg)
        if msg.password is None and session.auth is not None:  # AUTH proved an account
            return self._hello_authenticated(session, msg, now)
        if msg.password is not None:  # the core routes these to login(); never guess here
            raise PeerError(ErrorCode.AUTH_FAILED, "wrong nick or password")
        if msg.token is not None:
            holder = self._guests.get(guest_key(msg.token))
            if holder is not None:  # the same guest, on another (or a new) connection
                return self._attach(session, holder, msg, None, now, token=msg.token)
        folded = fold(msg.nick)
        if folded in self._accounts or folded in self._pending_accounts:
            raise PeerError(ErrorCode.NICK_REGISTERED,
                            f"{msg.nick} is a registered account: log in with its password")
        if folded in self._online:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {msg.nick} is taken")
        self._refuse_lookalike(msg.nick, folded, ())
        # A token is the guest's secret; one too short to be a secret is replaced by a new one.
        token = msg.token if msg.token and len(msg.token) >= MIN_TOKEN else self._new_token()
        user = User(guest_key(token), msg.nick, account=False)
        user.signon = user.active = now
        self._guests[user.key] = user
        return self._arrive(session, user, msg, None, now, token=token)

    def _arrive(
        self, session: Session, user: User, msg: Hello, marks: Mapping[str, int] | None,
        now: float, *, token: str | None = None,
    ) -> list[Effect]:
        """A user comes online: the default rooms (unless ``autojoin`` is off), their rooms,
        presence for the others, then a replay. ``token``: a guest's (told in WELCOME)."""
        user.sessions += (session.sid,)
        session.user = user
        session.member_pages = msg.member_pages
        set_profile(user, msg)
        arrived = self._metadata_arrive(user, session.sid, msg)  # before WELCOME tells it
        self._online[user.folded_nick] = user
        if self.interest is not None and len(user.sessions) == 1:  # (hub/interest.py)
            self.interest.user(user.key, True)
        self._seen_online()
        self._lookalikes.add(user.folded_nick, user.nick)
        self._known(user)
        names: dict[str, str] = {}
        defaults = self.config.default_rooms if msg.autojoin else ()
        for room in [*defaults, *self._account_rooms.get(user.key, {}).values(),
                     *(msg.rooms or ())]:
            if not self._check_entry(user, room, quietly=True):
                continue  # banned, or no longer invited: not a word about it
            names.setdefault(fold(room), self._rooms[fold(room)].name
                             if fold(room) in self._rooms else room)
        effects: list[Effect] = [Deliver(self._welcome(user, msg, tuple(names.values()), token),
                                         (session.sid,))]
        for name in names.values():
            effects.extend(self._enter(user, session.sid, name, None, now))
        effects.extend(self._markers_on_arrival(user, session.sid, msg))  # hub/markers.py
        effects.extend(self._levels_on_arrival(user, session.sid, msg))  # hub/notify.py
        effects.extend(self._came_online(user))  # to its watchers (hub/watch.py)
        effects.extend(arrived)
        effects.extend(self._replay(session.sid, user, msg, marks))
        return effects

    def _attach(
        self, session: Session, user: User, msg: Hello, marks: Mapping[str, int] | None,
        now: float, *, token: str | None = None,
    ) -> list[Effect]:
        """Another session for a user already online: it is told the state, nobody else is."""
        user.sessions += (session.sid,)
        session.user = user
        session.member_pages = msg.member_pages
        arrived = self._metadata_arrive(user, session.sid, msg)  # before WELCOME tells it
        current = list(user.rooms.values())
        for room in current:
            room.changed()
        joins: list[Effect] = []
        for name in msg.rooms or ():
            if fold(name) not in user.rooms and self._check_entry(user, name, quietly=True):
                # JOINED to all the user's sessions, presence
                joins.extend(self._enter(user, session.sid, name, None, now))
        rooms = tuple(room.name for room in user.rooms.values())
        effects: list[Effect] = [Deliver(self._welcome(user, msg, rooms, token), (session.sid,))]
        effects.extend(Deliver(self._joined_for(session.sid, room, user), (session.sid,))
                       for room in current)
        effects.extend(self._metadata_synced(session.sid, current))  # as a JOIN would
        effects.extend(arrived)
        effects.extend(joins)
        effects.extend(self._dm_markers(user, session.sid))
        effects.extend(self._levels_to_session(user, session.sid))  # hub/notify.py
        effects.extend(self._replay(session.sid, user, msg, marks))
        return effects

    def _welcome(self, user: User, msg: Hello, rooms: tuple[str, ...],
                 token: str | None) -> Welcome:
        return Welcome(id=msg.id, version=PROTOCOL_VERSION, nick=user.nick,
                       server=self.config.server_name, rooms=rooms, motd=self.config.motd,
                       account=user.account, token=token,
                       metadata=self._welcome_metadata(user, msg))

    def _replay(
        self, sid: SessionId, user: User, msg: Hello, marks: Mapping[str, int] | None
    ) -> list[Effect]:
        """What this session missed: rooms it names in ``since``; direct conversations it names,
        and, for an account logging in, every other one since its marks."""
        since = {fold(k): v for k, v in (msg.since or {}).items()}
        ranges: list[ReplayRange] = []
        # A node of a cluster counts up to where each is told when the replay starts (the core
        # sets ``upto`` then: hub/remote.py), so it asks for every conversation named.
        later = self.config.store_assigns_ids
        for room in user.rooms.values():
            after = since.get(room.key)
            upto = self._last_id.get(room.key, 0)
            if after is not None and (upto > after or later):
                ranges.append(ReplayRange(room.key, after, upto, room=room.name))
        dm_since: dict[str, int] = {}
        for name, after in since.items():
            peer = self._peer_key(name[1:]) if name.startswith("@") else None
            if peer is not None:
                dm_since[dm_conversation(user.key, peer)] = after
        resuming = msg.since is not None
        for conversation in sorted(self._dm_index.get(user.key, ())):
            after_dm = dm_since.get(conversation)
            if after_dm is None and marks is not None:
                after_dm = marks.get(conversation, 0)
            elif after_dm is None and resuming:  # one the client has not heard of: all of it
                after_dm = 0
            upto = self._last_id.get(conversation, 0)
            if after_dm is not None and (upto > after_dm or later):
                peer_nick = self._known_nicks.get(_other_end(conversation, user.key))
                ranges.append(ReplayRange(conversation, after_dm, upto, peer=peer_nick))
        return [Replay(sid, tuple(ranges))] if ranges else []


def _other_end(conversation: str, key: str) -> str:
    first, second = conversation[1:].split(",")
    return second if first == key else first
