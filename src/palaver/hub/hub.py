"""The hub: every rule about users, rooms, routing, history and resume, as a pure state machine.

How this works: a transport opens a session (:meth:`Hub.open_session`), hands every decoded client
message to :meth:`Hub.handle` together with the current time, and tells the hub when the connection
is gone (:meth:`Hub.close_session`). Each call returns a list of effects — persist this message and
then deliver it to these sessions, replay what that session missed, close that one — which the
server core carries out in order. Work that needs I/O before the hub can decide (checking a
password, creating an account) is done by the core, which then calls :meth:`Hub.login` or
:meth:`Hub.account_created`. The hub never touches a socket, a clock or a database.

Identities: a user (online, with one or more sessions) has a ``key`` — an account's folded nick, or
``~<random>`` for a guest. Messages, idempotency and direct conversations are keyed by it, so a
guest who later takes a departed guest's nick is someone else, and an account keeps its direct
conversations when it changes its display nick.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from palaver import __version__
from palaver.hub.authentication import Authentication
from palaver.hub.commands import COMMANDS, CommandContext, CommandRegistry
from palaver.hub.conversations import Conversations, history_times
from palaver.hub.deletion import Deleting
from palaver.hub.directory import Directory
from palaver.hub.effects import (
    AckResend,
    Close,
    CreateAccount,
    Deliver,
    Effect,
    FetchHistory,
    Persist,
    Remember,
    Replay,
    ReplayRange,
    SessionId,
)
from palaver.hub.lookalikes import LookalikeIndex
from palaver.hub.markers import ReadMarkers
from palaver.hub.metadata import Metadata, check_metadata
from palaver.hub.moderation import Moderation
from palaver.hub.names import check_nick, check_room, check_text, fold
from palaver.hub.operators import Operators
from palaver.hub.profile import (
    Profile,
    check_profile,
    joining,
    part_reason,
    sender_fields,
    set_profile,
)
from palaver.hub.relay import Relay, live_fields, with_live
from palaver.hub.state import Room, Session, User
from palaver.hub.watch import WatchLists
from palaver.hub.whowas import NickHistory
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Authenticate,
    ClientMessage,
    Error,
    Hello,
    History,
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    ListUsers,
    Message,
    Ping,
    Pong,
    Presence,
    Quit,
    Register,
    Registered,
    Result,
    RoomList,
    RunCommand,
    Say,
    SendDirect,
    ServerMessage,
    SetNick,
    SubscribeMetadata,
    Welcome,
)
from palaver.store.base import RoomSettings, StoredMarker, StoredMessage, dm_conversation

MAX_QUIT_REASON: Final = 200
MIN_PASSWORD: Final = 8
MAX_PASSWORD: Final = 1_024
MIN_TOKEN: Final = 16


@dataclass(frozen=True, slots=True)
class HubConfig:
    server_name: str = f"palaver/{__version__}"
    motd: str = "Welcome to palaver. Type /help for commands."
    # Rooms every HELLO joins unless it says autojoin=false (the IRC door: IRC clients join what
    # they ask for). Nobody is their creator: server operators appoint their operators.
    default_rooms: tuple[str, ...] = ("#lobby",)
    recent_ids: int = 65_536  # request ids remembered in memory (the store remembers them all)
    known_guests: int = 10_000  # guest nicks remembered (to name direct conversations)
    server_operators: frozenset[str] = frozenset()  # folded account nicks (docs/rooms.md)
    # OPER: operator name -> Argon2id hash of its password (hub/operators.py)
    operator_logins: Mapping[str, str] = field(default_factory=dict)
    whowas_entries: int = 1_000  # nicks remembered for WHOWAS (hub/whowas.py)
    server_info: str = "palaver chat server"  # the server's description (IRC: WHOIS, LINKS)


@dataclass(frozen=True, slots=True)
class StoredState:
    """What the store knows when the server starts."""

    last_ids: Mapping[str, int] = field(default_factory=dict)
    accounts: Mapping[str, str] = field(default_factory=dict)  # key -> nick
    memberships: Mapping[str, Sequence[str]] = field(default_factory=dict)  # key -> rooms
    rooms: Sequence[RoomSettings] = ()  # rooms' rules (docs/rooms.md)
    # target (account key or folded room) -> key -> value (hub/metadata.py)
    metadata: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


# Allowed before HELLO. Server commands need no identity: the older line dialects let a client
# ask for the time or a sum before it chooses a nickname. Metadata subscriptions are the
# session's (IRC's before-connect).
_BEFORE_HELLO: Final = (Hello, Authenticate, Ping, Pong, Quit, RunCommand, SubscribeMetadata)


def format_ts(now: float) -> str:
    """``2026-11-20T12:00:00.123Z``: UTC with milliseconds."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def as_message(record: StoredMessage, request_id: str | None = None) -> Message:
    return Message(id=request_id, msg_id=record.msg_id, ts=record.ts, sender=record.sender,
                   text=record.text, room=record.room, to=record.to, notice=record.notice,
                   deleted=record.deleted)


class Hub(Authentication, Moderation, Profile,
          Directory, Operators, WatchLists, ReadMarkers, Deleting, Relay, Metadata,
          Conversations):
    def __init__(
        self,
        config: HubConfig | None = None,
        *,
        stored: StoredState | None = None,
        rng: random.Random | None = None,
        commands: CommandRegistry = COMMANDS,
        new_token: Callable[[], str] = lambda: secrets.token_urlsafe(12),
    ) -> None:
        self.config = config or HubConfig()
        stored = stored or StoredState()
        self._rng = rng or random.Random()
        self._commands = commands
        self._new_token = new_token
        self._sessions: dict[SessionId, Session] = {}
        self._online: dict[str, User] = {}  # folded nick -> user
        self._online_accounts: dict[str, User] = {}  # account key -> user
        self._guests_by_token: dict[str, User] = {}
        self._rooms: dict[str, Room] = {}
        self._last_id: dict[str, int] = dict(stored.last_ids)
        self._accounts: dict[str, str] = dict(stored.accounts)
        self._pending_accounts: set[str] = set()
        self._lookalikes = LookalikeIndex(self._accounts.items())  # accounts + online nicks
        self._account_rooms: dict[str, dict[str, str]] = {
            key: {fold(r): r for r in rooms} for key, rooms in stored.memberships.items()
        }
        self._dm_index: dict[str, set[str]] = {}
        for conversation in self._last_id:
            if conversation.startswith("@"):
                for key in conversation[1:].split(","):
                    self._dm_index.setdefault(key, set()).add(conversation)
        # identity -> nick, oldest first (a plain dict keeps insertion order and is lighter
        # than an OrderedDict: one entry per user online)
        self._known_nicks: dict[str, str] = dict(stored.accounts)
        self._recent: OrderedDict[tuple[str, str], StoredMessage] = OrderedDict()
        self._in_flight: set[tuple[str, str]] = set()  # in _recent, not yet committed
        self._committed: dict[str, int] = dict(stored.last_ids)  # highest stored msg_id
        # Messages that are stored: their id may be an idempotency key (see handle()).
        self._posts: dict[type[Any], Callable[[Session, Any, float, bool], list[Effect]]] = {
            Say: self._say,
            SendDirect: self._send_direct,
            **self.profile_posts(),  # DM wrapped: the target's AWAY back (hub/profile.py)
        }
        self._handlers: dict[type[Any], Callable[[Session, Any, float], list[Effect]]] = {
            Hello: self._hello,
            **self.authentication_handlers(),  # AUTH after HELLO (hub/authentication.py)
            Join: self._join,
            Leave: self._leave,
            SetNick: self._set_nick,
            ListUsers: self._list_users,
            ListRooms: self._list_rooms,
            RunCommand: self._run_command,
            Ping: self._ping,
            Pong: self._pong,
            Quit: self._quit,
            Register: self._register,
            History: self._history,
            **self.moderation_handlers(),
            **self.profile_handlers(),  # AWAY, BANS (hub/profile.py)
            **self.directory_handlers(),  # WHO, WHOWAS, STATS (hub/directory.py)
            **self.operator_handlers(),  # OPER, USER_MODE, KILL, WALLOPS (hub/operators.py)
            **self.watch_handlers(),  # WATCH (hub/watch.py)
            **self.marker_handlers(),  # MARK_READ (hub/markers.py)
            **self.deletion_handlers(),  # DELETE (hub/deletion.py)
            **self.relay_handlers(),  # TAGMSG (hub/relay.py)
            **self.conversation_handlers(),  # CONVERSATIONS (hub/conversations.py)
            **self.metadata_handlers(stored.metadata),  # METADATA_* (hub/metadata.py)
        }
        self._default_keys = frozenset(fold(room) for room in self.config.default_rooms)
        self._load_rules(stored.rooms)
        self.history = NickHistory(self.config.whowas_entries)
        self.peak_users = 0

    # ------------------------------------------------------------------ the public surface

    def open_session(self, sid: SessionId) -> None:
        if sid in self._sessions:
            raise ValueError(f"session {sid} is already open")
        self._sessions[sid] = Session(sid)

    def handle(
        self, sid: SessionId, message: ClientMessage, now: float, *, resends: bool = True
    ) -> list[Effect]:
        """Carry out ``message``. ``resends`` says whether its ``id`` was chosen by a client
        that resends (the JSON and WebSocket doors): only then is it an idempotency key. A door
        that numbers requests itself (text, IRC) passes False: its ids only route the answer
        back to the connection, are never stored, and a repeated one is a new message."""
        session = self._sessions.get(sid)
        if session is None:
            return []
        try:
            if session.user is None and not isinstance(message, _BEFORE_HELLO):
                raise PeerError(ErrorCode.HANDSHAKE_REQUIRED, "send HELLO first")
            post = self._posts.get(type(message))
            if post is not None:
                if session.user is not None:
                    session.user.active = now  # not idle (WHOIS)
                return post(session, message, now, resends)
            return self._handlers[type(message)](session, message, now)
        except PeerError as error:
            return [self.error_effect(sid, error.with_request_id(message.id))]

    def needs_login(self, sid: SessionId, message: ClientMessage) -> bool:
        """A HELLO with a password (or an AUTH) that only the password can decide: the caller
        checks it, then calls :meth:`login`. (A second HELLO, or one of another protocol
        version, is refused by :meth:`handle` without the cost of hashing.)"""
        if type(message) is Authenticate:
            return not self.is_registered(sid)
        return (type(message) is Hello and message.password is not None
                and message.version == PROTOCOL_VERSION and not self.is_registered(sid))

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
                                       read_markers=read_markers)
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
            user = User(key, nick, account=True, token=None)
            user.signon = user.active = now
            self._online_accounts[key] = user
            self._markers_arrive(user, read_markers)
            return self._arrive(session, user, hello, marks, now)
        except PeerError as error:
            return [self.error_effect(sid, error.with_request_id(hello.id))]

    def account_created(
        self, sid: SessionId, key: str, *, created: bool, request_id: str | None,
        failed: bool = False,
    ) -> list[Effect]:
        """The store has made ``key`` an account — or not: it is taken (``created`` false) or
        the store failed (``failed``)."""
        self._pending_accounts.discard(key)
        session = self._sessions.get(sid)
        user = session.user if session else None
        if failed or not created:
            error = (PeerError(ErrorCode.UNAVAILABLE, "cannot create accounts right now",
                               request_id) if failed else
                     PeerError(ErrorCode.ACCOUNT_EXISTS, "that nick is already an account",
                               request_id))
            return [self.error_effect(sid, error)] if session else []
        nick = user.nick if user is not None and user.folded_nick == key else key
        self._accounts[key] = nick
        self._lookalikes.add(key, nick)
        if user is None or user.folded_nick != key or user.account:
            return []
        guest_key = user.key
        self._become_account(user, key)
        effects = self._to_user(user, sid, Registered(nick=user.nick), request_id)
        effects.extend(self.account_noted(user))  # its room-mates (hub/profile.py)
        effects.extend(self._markers_rekeyed(guest_key, user, sid))
        effects.extend(self._metadata_rekeyed(guest_key, user))  # kept now (hub/metadata.py)
        for room in user.rooms.values():
            if room.key in self._default_keys:
                continue  # put there on arrival, not by choice: a JOIN of it would note it
            remember = self._membership(user, room, member=True)
            if remember is not None:
                effects.append(remember)
        return effects

    def persisted(
        self, record: StoredMessage, *, stored: bool, original: StoredMessage | None = None
    ) -> None:
        """The store has answered for ``record``: it stored it; or it already held ``original``
        (sent earlier with the same request id), which is what the id means from now on; or it
        failed (``stored`` false) — then the request id is forgotten, so a resend is new."""
        key = (record.sender_key, record.client_id) if record.client_id is not None else None
        if key is not None:
            self._in_flight.discard(key)
            if not stored:
                self._recent.pop(key, None)
            elif original is not None:
                self._recent[key] = original
        if stored and original is None and record.msg_id > self._committed.get(
                record.conversation, 0):
            self._committed[record.conversation] = record.msg_id

    def stored_original(self, sender_key: str, client_id: str) -> StoredMessage | None:
        """The stored message sent with this request id, if it is known to be stored."""
        key = (sender_key, client_id)
        return None if key in self._in_flight else self._recent.get(key)

    def close_session(self, sid: SessionId, reason: str, now: float | None = None
                      ) -> list[Effect]:
        """The connection is gone (or going). Idempotent. ``now``: when (for WHOWAS; None:
        its last activity)."""
        session = self._sessions.pop(sid, None)
        self._unwatch_all(sid)
        self._metadata_session_closed(sid)  # its subscriptions (hub/metadata.py)
        if session is None or session.user is None:
            return []
        user = session.user
        user.sessions.remove(sid)
        for room in user.rooms.values():
            room.changed()
        if user.sessions:
            return []
        self.history.note(user, format_ts(now if now is not None else user.active))
        del self._online[user.folded_nick]
        self._lookalikes.discard(user.folded_nick)
        effects: list[Effect] = []
        if user.account:
            del self._online_accounts[user.key]
            effects.append(self._marks(user))
        else:
            assert user.token is not None
            del self._guests_by_token[user.token]
        for room in user.rooms.values():
            del room.members[user.key]
        audience = self._audience(user.rooms.values())
        for room in user.rooms.values():
            self._forget_if_empty(room)
        user.rooms.clear()
        effects.insert(0, Deliver(Presence(nick=user.nick, event="quit", reason=reason),
                                  audience))
        self._markers_leave(user)
        self._metadata_gone(user)  # a guest's metadata dies with it (hub/metadata.py)
        effects.extend(self._went_offline(user))  # to its watchers (hub/watch.py)
        return effects

    def farewell(self) -> list[Effect]:
        """The server is stopping: note where every account online stopped reading."""
        return [self._marks(user) for user in self._online_accounts.values()]

    def _marks(self, user: User) -> Remember:
        """Per direct conversation, the last message stored — so delivered, if the user was
        online — before now. What was still being stored is replayed at the next login."""
        marks = tuple((c, self._committed.get(c, 0))
                      for c in sorted(self._dm_index.get(user.key, ())))
        return Remember(account=user.key, marks=marks)

    @staticmethod
    def error_effect(sid: SessionId, error: PeerError) -> Deliver:
        event = Error(id=error.request_id, code=error.code.value, message=error.message,
                      field=error.field, retry_after_ms=error.retry_after_ms)
        return Deliver(event, (sid,))

    def nick_of(self, sid: SessionId) -> str | None:
        session = self._sessions.get(sid)
        return session.user.nick if session and session.user else None

    def is_registered(self, sid: SessionId) -> bool:
        session = self._sessions.get(sid)
        return session is not None and session.user is not None

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    @property
    def user_count(self) -> int:
        return len(self._online)

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    # ------------------------------------------------------------------ arriving

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
            holder = self._guests_by_token.get(msg.token)
            if holder is not None:  # the same guest, on another (or a new) connection
                return self._attach(session, holder, msg, None, now)
        folded = fold(msg.nick)
        if folded in self._accounts or folded in self._pending_accounts:
            raise PeerError(ErrorCode.NICK_REGISTERED,
                            f"{msg.nick} is a registered account: log in with its password")
        if folded in self._online:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {msg.nick} is taken")
        self._refuse_lookalike(msg.nick, folded, ())
        # A token is the guest's secret; one too short to be a secret is replaced by a new one.
        token = msg.token if msg.token and len(msg.token) >= MIN_TOKEN else self._new_token()
        user = User(guest_key(token), msg.nick, account=False, token=token)
        user.signon = user.active = now
        self._guests_by_token[token] = user
        return self._arrive(session, user, msg, None, now)

    def _arrive(
        self, session: Session, user: User, msg: Hello, marks: Mapping[str, int] | None,
        now: float,
    ) -> list[Effect]:
        """A user comes online: the default rooms (unless ``autojoin`` is off), their rooms,
        presence for the others, then a replay."""
        user.sessions.append(session.sid)
        session.user = user
        set_profile(user, msg)
        arrived = self._metadata_arrive(user, session.sid, msg)  # before WELCOME tells it
        self._online[user.folded_nick] = user
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
        effects: list[Effect] = [Deliver(self._welcome(user, msg, tuple(names.values())),
                                         (session.sid,))]
        for name in names.values():
            effects.extend(self._enter(user, session.sid, name, None, now))
        effects.extend(self._markers_on_arrival(user, session.sid, msg))  # hub/markers.py
        effects.extend(self._came_online(user))  # to its watchers (hub/watch.py)
        effects.extend(arrived)
        effects.extend(self._replay(session.sid, user, msg, marks))
        return effects

    def _attach(
        self, session: Session, user: User, msg: Hello, marks: Mapping[str, int] | None,
        now: float,
    ) -> list[Effect]:
        """Another session for a user already online: it is told the state, nobody else is."""
        user.sessions.append(session.sid)
        session.user = user
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
        effects: list[Effect] = [Deliver(self._welcome(user, msg, rooms), (session.sid,))]
        effects.extend(Deliver(self._joined(room, None, user), (session.sid,))
                       for room in current)
        effects.extend(self._metadata_synced(session.sid, current))  # as a JOIN would
        effects.extend(arrived)
        effects.extend(joins)
        effects.extend(self._dm_markers(user, session.sid))
        effects.extend(self._replay(session.sid, user, msg, marks))
        return effects

    def _welcome(self, user: User, msg: Hello, rooms: tuple[str, ...]) -> Welcome:
        return Welcome(id=msg.id, version=PROTOCOL_VERSION, nick=user.nick,
                       server=self.config.server_name, rooms=rooms, motd=self.config.motd,
                       account=user.account, token=user.token,
                       metadata=self._welcome_metadata(user, msg))

    def _replay(
        self, sid: SessionId, user: User, msg: Hello, marks: Mapping[str, int] | None
    ) -> list[Effect]:
        """What this session missed: rooms it names in ``since``; direct conversations it names,
        and, for an account logging in, every other one since its marks."""
        since = {fold(k): v for k, v in (msg.since or {}).items()}
        ranges: list[ReplayRange] = []
        for room in user.rooms.values():
            after = since.get(room.key)
            upto = self._last_id.get(room.key, 0)
            if after is not None and upto > after:
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
            if after_dm is not None and upto > after_dm:
                peer_nick = self._known_nicks.get(_other_end(conversation, user.key))
                ranges.append(ReplayRange(conversation, after_dm, upto, peer=peer_nick))
        return [Replay(sid, tuple(ranges))] if ranges else []

    # ------------------------------------------------------------------ rooms

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
            opened = self._room_opened(user, room, now)
        if key in user.rooms:  # already a member: confirm, tell nobody
            return [Deliver(self._joined(room, request_id, user), (sid,))]
        audience = room.targets()
        room.members[user.key] = user
        room.changed()
        user.rooms[key] = room
        effects = self._to_user(user, sid, self._joined(room, None, user), request_id)
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
        del room.members[user.key]
        del user.rooms[room.key]
        room.changed()
        effects = self._to_user(user, session.sid, Left(room=room.name), msg.id)
        effects.append(
            Deliver(Presence(nick=user.nick, event="leave", room=room.name,
                             reason=part_reason(msg.reason)), room.targets())
        )
        self._forget_if_empty(room)
        effects.extend(self._left_room(user, room))
        remember = self._membership(user, room, member=False)
        return effects if remember is None else [*effects, remember]

    # ------------------------------------------------------------------ messages

    def _say(self, session: Session, msg: Say, now: float, resends: bool = True) -> list[Effect]:
        user = self._user(session)
        room = self._speaker_room(user, msg.room)  # a member's, or open to outside messages
        text = check_text(msg.text)
        live = live_fields(msg.tags, msg.breaks, text)  # relayed, never stored (hub/relay.py)
        if msg.only is not None:  # to the room's operators: not stored either
            return self._status_message(session, room, msg, text, live, now)
        live.update(sender_fields(user, self._accounts))  # account, bot (hub/profile.py)
        client_id = msg.id if resends else None
        resent = self._resent(user, session.sid, client_id)
        if resent is not None:
            return resent
        record = StoredMessage(
            conversation=room.key, msg_id=self._next_id(room.key), ts=format_ts(now),
            sender=user.nick, sender_key=user.key, text=text, room=room.name,
            client_id=client_id, notice=msg.notice,
        )
        self._remember_id(record)
        event = with_live(as_message(record), live)
        if msg.id is None:
            then: tuple[Deliver, ...] = (Deliver(event, room.targets()),)
        else:
            then = (Deliver(with_live(as_message(record, msg.id), live), (session.sid,)),
                    Deliver(event, room.targets(), skip=session.sid))
        return [Persist(record, then, session.sid, msg.id)]

    def _send_direct(
        self, session: Session, msg: SendDirect, now: float, resends: bool = True
    ) -> list[Effect]:
        user = self._user(session)
        target = self._online.get(fold(msg.to))
        target_key = target.key if target else self._peer_key(msg.to)
        if target_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.to[:40]!r} is here")
        if target is None:
            target = self._online_accounts.get(target_key)
        text = check_text(msg.text)
        live = live_fields(msg.tags, msg.breaks, text)  # relayed, never stored (hub/relay.py)
        live.update(sender_fields(user, self._accounts))  # account, bot (hub/profile.py)
        client_id = msg.id if resends else None
        resent = self._resent(user, session.sid, client_id)
        if resent is not None:
            return resent
        conversation = dm_conversation(user.key, target_key)
        for key in (user.key, target_key):
            self._dm_index.setdefault(key, set()).add(conversation)
        record = StoredMessage(
            conversation=conversation, msg_id=self._next_id(conversation), ts=format_ts(now),
            sender=user.nick, sender_key=user.key, text=text,
            to=target.nick if target else self._accounts[target_key], client_id=client_id,
            notice=msg.notice,
        )
        self._remember_id(record)
        event = with_live(as_message(record), live)
        then = self._to_user(user, session.sid, event, msg.id)
        if target is not None and target is not user:
            then.append(Deliver(event, tuple(target.sessions)))
        return [Persist(record, tuple(d for d in then if isinstance(d, Deliver)), session.sid,
                        msg.id)]

    def _resent(self, user: User, sid: SessionId, request_id: str | None) -> list[Effect] | None:
        """A request id this sender used before: send back the original, nothing else."""
        if request_id is None:
            return None
        key = (user.key, request_id)
        original = self._recent.get(key)
        if original is None:
            return None
        if key in self._in_flight:  # the answer waits for the original's commit
            return [AckResend(user.key, request_id, sid)]
        return [Deliver(as_message(original, request_id), (sid,))]

    def _remember_id(self, record: StoredMessage) -> None:
        if record.client_id is None:
            return
        key = (record.sender_key, record.client_id)
        self._recent[key] = record
        self._in_flight.add(key)
        while len(self._recent) > self.config.recent_ids:
            evicted, _ = self._recent.popitem(last=False)
            self._in_flight.discard(evicted)

    def _next_id(self, conversation: str) -> int:
        msg_id = self._last_id.get(conversation, 0) + 1
        self._last_id[conversation] = msg_id
        return msg_id

    def _history(self, session: Session, msg: History, now: float) -> list[Effect]:
        user = self._user(session)
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "HISTORY needs exactly one of room, with",
                            field="room")
        if msg.before is not None and msg.after is not None:
            raise PeerError(ErrorCode.INVALID_FIELD, "HISTORY takes before or after, not both",
                            field="after")
        times = history_times(msg)  # before_ts/after_ts (hub/conversations.py)
        if msg.room is not None:
            room = user.rooms.get(fold(check_room(msg.room)))
            if room is None:  # not a member: as if the room did not exist
                raise PeerError(ErrorCode.NO_SUCH_ROOM, f"there is no room {msg.room}")
            return [FetchHistory(session.sid, msg.id, room.key, msg.before, msg.after,
                                 msg.limit, room=room.name, **times)]
        assert msg.peer is not None
        peer_key = self._peer_key(msg.peer)
        if peer_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.peer[:40]!r} is here")
        return [FetchHistory(session.sid, msg.id, dm_conversation(user.key, peer_key),
                             msg.before, msg.after, msg.limit,
                             peer=self._known_nicks.get(peer_key, msg.peer), **times)]

    # ------------------------------------------------------------------ accounts and nicks

    def _register(self, session: Session, msg: Register, now: float) -> list[Effect]:
        user = self._user(session)
        if user.account:
            raise PeerError(ErrorCode.ACCOUNT_EXISTS, "you are logged in to an account already")
        key = fold(check_nick(msg.nick))
        if key != user.folded_nick:
            raise PeerError(ErrorCode.INVALID_NICK, "you can only register the nick you use")
        if key in self._accounts or key in self._pending_accounts:
            raise PeerError(ErrorCode.ACCOUNT_EXISTS, "that nick is already an account")
        if not MIN_PASSWORD <= len(msg.password) <= MAX_PASSWORD:
            raise PeerError(ErrorCode.INVALID_PASSWORD,
                            f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
        self._pending_accounts.add(key)
        return [CreateAccount(session.sid, msg.id, key, user.nick, msg.password)]

    def _become_account(self, user: User, key: str) -> None:
        assert user.token is not None
        del self._guests_by_token[user.token]
        for room in user.rooms.values():
            del room.members[user.key]
            room.members[key] = user
        user.key, user.account, user.token = key, True, None
        self._online_accounts[key] = user
        self._known(user)

    def _set_nick(self, session: Session, msg: SetNick, now: float) -> list[Effect]:
        user = self._user(session)
        new = check_nick(msg.nick)
        new_fold = fold(new)
        if user.folded_nick in self._pending_accounts and new_fold != user.folded_nick:
            raise PeerError(ErrorCode.NICK_REGISTERED, "your nick is being registered; wait")
        if new_fold in self._pending_accounts and new_fold != user.folded_nick:
            raise PeerError(ErrorCode.NICK_REGISTERED, f"{new} is being registered")
        if new_fold in self._accounts and new_fold != user.key:
            raise PeerError(ErrorCode.NICK_REGISTERED, f"{new} is another user's account")
        holder = self._online.get(new_fold)
        if holder is not None and holder is not user:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {new} is taken")
        self._refuse_lookalike(new, new_fold, (user.folded_nick, user.key))
        event = Presence(nick=user.nick, event="nick", new_nick=new)
        if new == user.nick:  # nothing changes: confirm to the asker, tell nobody
            return self._to_user(user, session.sid, event, msg.id)
        mine = set(user.sessions)
        audience = tuple(s for s in self._audience(user.rooms.values()) if s not in mine)
        self.history.note(user, format_ts(now))  # WHOWAS: the nick as it was
        del self._online[user.folded_nick]
        self._lookalikes.discard(user.folded_nick)
        user.nick = new
        self._online[new_fold] = user
        self._lookalikes.add(new_fold, new)
        self._known(user)
        effects = self._to_user(user, session.sid, event, msg.id)
        effects.append(Deliver(event, audience))
        effects.extend(self._renamed(event.nick, user))  # to watchers (hub/watch.py)
        return effects

    # ------------------------------------------------------------------ lists and commands

    def _list_rooms(self, session: Session, msg: ListRooms, now: float) -> list[Effect]:
        rooms = tuple(self._room_info(r, session.user) for key, r in sorted(self._rooms.items())
                      if r.members and self._may_see(session.user, key))
        return [Deliver(RoomList(id=msg.id, rooms=rooms), (session.sid,))]

    def _run_command(self, session: Session, msg: RunCommand, now: float) -> list[Effect]:
        nick = session.user.nick if session.user is not None else ""
        context = CommandContext(nick=nick, now=now, rng=self._rng, registry=self._commands)
        result = self._commands.run(msg.name, context, msg.args)
        return [Deliver(Result(id=msg.id, name=msg.name, result=result), (session.sid,))]

    def _ping(self, session: Session, msg: Ping, now: float) -> list[Effect]:
        return [Deliver(Pong(id=msg.id), (session.sid,))]

    def _pong(self, session: Session, msg: Pong, now: float) -> list[Effect]:
        return []  # liveness is the transport's business: any traffic counts

    def _quit(self, session: Session, msg: Quit, now: float) -> list[Effect]:
        reason = _quit_reason(msg.reason)
        nick = session.user.nick if session.user is not None else None
        return [*self.close_session(session.sid, reason, now),
                Close(session.sid, "bye", msg.id, nick=nick)]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _user(session: Session) -> User:
        assert session.user is not None  # handle() refuses unregistered sessions
        return session.user

    @staticmethod
    def _member_room(user: User, name: str) -> Room:
        room = user.rooms.get(fold(check_room(name)))
        if room is None:
            raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name}")
        return room

    def _forget_if_empty(self, room: Room) -> None:
        """A room nobody is in is dropped (its msg_id counter stays in ``_last_id``; accounts'
        memberships name it, and it is made again when one of them arrives)."""
        if not room.members:
            self._rooms.pop(room.key, None)

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

    def _peer_key(self, nick: str) -> str | None:
        """The identity behind ``nick``: whoever is online with it, else the account."""
        folded = fold(nick)
        user = self._online.get(folded)
        if user is not None:
            return user.key
        return folded if folded in self._accounts else None

    def _refuse_lookalike(self, nick: str, folded: str, mine: tuple[str, ...]) -> None:
        """Refuse a nick that looks like another's name in use (hub/lookalikes.py)."""
        other = self._lookalikes.lookalike(nick, folded, mine)
        if other is not None:
            raise PeerError(ErrorCode.NICK_CONFUSABLE,
                            f"{nick} looks too much like {other}, a nick in use")

    def _known(self, user: User) -> None:
        known = self._known_nicks
        known.pop(user.key, None)  # re-inserted last: the most recently seen
        known[user.key] = user.nick
        while len(known) > len(self._accounts) + self.config.known_guests:
            del known[next(iter(known))]

    @staticmethod
    def _to_user(
        user: User, sid: SessionId, event: ServerMessage, request_id: str | None
    ) -> list[Effect]:
        """``event`` to all of ``user``'s sessions; the asking session's copy carries the id."""
        if request_id is None:
            return [Deliver(event, tuple(user.sessions))]
        effects: list[Effect] = [Deliver(msgspec.structs.replace(event, id=request_id), (sid,))]
        if len(user.sessions) > 1:
            effects.append(Deliver(event, tuple(user.sessions), skip=sid))
        return effects

    @staticmethod
    def _audience(rooms: Iterable[Room]) -> tuple[SessionId, ...]:
        """Each session in any of ``rooms``, once (rooms' cached session tuples, no per-member
        work: this runs for every quit and nick change)."""
        rooms = list(rooms)
        if len(rooms) == 1:
            return rooms[0].targets()
        return tuple(dict.fromkeys(s for room in rooms for s in room.targets()))


def guest_key(token: str) -> str:
    """A guest's identity: derived from its secret token, so the same token means the same guest
    (and its resends are recognised) even after a restart, and the key reveals nothing of it."""
    return "~" + hashlib.sha256(token.encode()).hexdigest()[:24]


def _other_end(conversation: str, key: str) -> str:
    first, second = conversation[1:].split(",")
    return second if first == key else first


def _quit_reason(reason: str | None) -> str:
    if not reason:
        return "quit"
    try:
        return check_text(reason[:MAX_QUIT_REASON])
    except PeerError:
        return "quit"
