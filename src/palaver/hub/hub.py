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

This module holds the :class:`Hub` itself — its state, its dispatch table, sessions and their
end, and the small helpers every part shares. The rules are mixins sharing that state, one
concept each: arriving (HELLO, login, WELCOME, replay: hub/arrival.py), messages (CHAT, DM,
resends, HISTORY: hub/messaging.py), rooms a user is in (JOIN, LEAVE, LIST: hub/membership.py),
accounts and nicks (REGISTER, NICK: hub/accounts.py), AUTH (hub/authentication.py), room rules
(hub/moderation.py), and the others named in the dispatch table below.
"""

from __future__ import annotations

import random
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec

from palaver import __version__
from palaver.hub.account_management import AccountManagement
from palaver.hub.accounts import Accounts
from palaver.hub.arrival import Arrival
from palaver.hub.authentication import Authentication
from palaver.hub.certificates import Certificates
from palaver.hub.commands import COMMANDS, CommandContext, CommandRegistry
from palaver.hub.conversations import Conversations
from palaver.hub.crowds import Crowds
from palaver.hub.deletion import Deleting
from palaver.hub.directory import Directory
from palaver.hub.editing import Editing
from palaver.hub.effects import Close, Deliver, Effect, Remember, SessionId
from palaver.hub.files import Files
from palaver.hub.lookalikes import LookalikeIndex
from palaver.hub.markers import ReadMarkers
from palaver.hub.membership import Membership
from palaver.hub.messaging import Messaging
from palaver.hub.messaging import as_message as as_message  # re-exported, as guest_key
from palaver.hub.messaging import format_ts as format_ts  # (the mixins import it from here)
from palaver.hub.metadata import Metadata
from palaver.hub.moderation import Moderation
from palaver.hub.names import check_text, fold
from palaver.hub.notify import NotifyLevels
from palaver.hub.operators import Operators
from palaver.hub.profile import Profile
from palaver.hub.reactions import Reactions
from palaver.hub.relay import Relay
from palaver.hub.remote import Remote
from palaver.hub.remote_members import RemoteMembers
from palaver.hub.search import Searching
from palaver.hub.state import Room, Session, User
from palaver.hub.state import guest_key as guest_key  # re-exported: the hub's public names
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
    Leave,
    ListRooms,
    ListUsers,
    Ping,
    Pong,
    Presence,
    Quit,
    Register,
    ResetPassword,
    Result,
    RunCommand,
    Say,
    SendDirect,
    ServerMessage,
    SetNick,
    SubscribeMetadata,
)
from palaver.store.base import RoomSettings, StoredMessage

MAX_QUIT_REASON: Final = 200


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
    edit_window: float = 86_400.0  # seconds a message may be edited after it is sent; 0: ever
    # A deleted account's messages: "keep" (as from deleted-user) or "erase" (tombstones)
    deleted_account_messages: Literal["keep", "erase"] = "keep"
    # Rooms with more members than this get joins, leaves and quits in batches (hub/crowds.py)
    presence_limit: int = 250
    member_page: int = 500  # member lists longer than this go in pages (to who takes them)
    # A node of a cluster: the store assigns msg_ids; a post's is a guess (hub/remote.py)
    store_assigns_ids: bool = False


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
_BEFORE_HELLO: Final = (Hello, Authenticate, Ping, Pong, Quit, RunCommand, SubscribeMetadata,
                        ResetPassword)


class Hub(Arrival, Messaging, Membership, Accounts, Authentication, Moderation, Profile,
          Certificates,
          Directory, Operators, WatchLists, ReadMarkers, NotifyLevels, Deleting, Editing,
          Reactions, Relay, Remote, RemoteMembers,
          Metadata,
          Conversations, Files, Searching, AccountManagement, Crowds):
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
        self._init_crowds()
        self._init_remote_members()  # members on other nodes of a cluster
        self._online: dict[str, User] = {}  # folded nick -> user
        self._online_accounts: dict[str, User] = {}  # account key -> user
        self._guests: dict[str, User] = {}  # guest key -> the guest online
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
            **self.certificate_handlers(),  # CERT (hub/certificates.py)
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
            **self.notify_handlers(),  # NOTIFY (hub/notify.py)
            **self.deletion_handlers(),  # DELETE (hub/deletion.py)
            **self.editing_handlers(),  # EDIT, EDITS (hub/editing.py)
            **self.files_handlers(),  # UPLOAD, FILE_KEY (hub/files.py)
            **self.reaction_handlers(),  # REACT (hub/reactions.py)
            **self.relay_handlers(),  # TAGMSG (hub/relay.py)
            **self.conversation_handlers(),  # CONVERSATIONS (hub/conversations.py)
            **self.search_handlers(),  # SEARCH (hub/search.py)
            **self.account_management_handlers(),  # PASSWORD, ... (hub/account_management.py)
            **self.metadata_handlers(stored.metadata),  # METADATA_* (hub/metadata.py)
        }
        self._default_keys = frozenset(fold(room) for room in self.config.default_rooms)
        self._load_rules(stored.rooms)
        self.history = NickHistory(self.config.whowas_entries)
        self.peak_users = 0

    # ------------------------------------------------------------------ the public surface

    def open_session(self, sid: SessionId, *, certificate: str | None = None,
                     secure: bool = False) -> None:
        """A connection opened; ``secure``: over TLS, where its client presented the
        certificate whose SHA-256 fingerprint is ``certificate`` (hub/certificates.py)."""
        if sid in self._sessions:
            raise ValueError(f"session {sid} is already open")
        self._sessions[sid] = Session(sid, certificate=certificate, secure=secure)

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
        user.sessions = tuple(s for s in user.sessions if s != sid)
        for room in user.rooms.values():
            room.changed()
        if user.sessions:
            return []
        self.history.note(user, format_ts(now if now is not None else user.active))
        del self._online[user.folded_nick]
        if self.interest is not None:
            self.interest.user(user.key, False)
        self._lookalikes.discard(user.folded_nick)
        effects: list[Effect] = []
        if user.account:
            del self._online_accounts[user.key]
            effects.append(self._marks(user))
        else:
            del self._guests[user.key]
        told = []  # the rooms told of the quit now; big rooms hear of it in a batch
        for room in user.rooms.values():
            if not self._crowd_departs(room, user, len(room.members)):
                told.append(room)
            del room.members[user.key]
            room.changed()
        audience = self._audience(told) if told else ()
        for room in user.rooms.values():
            self._forget_if_empty(room)
        user.rooms.clear()
        effects.insert(0, Deliver(Presence(nick=user.nick, event="quit", reason=reason),
                                  audience))
        self._markers_leave(user)
        self._levels_leave(user)  # hub/notify.py
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

    # ------------------------------------------------------------------ commands and liveness

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

    def _peer_key(self, nick: str) -> str | None:
        """The identity behind ``nick``: whoever is online with it, else the account."""
        folded = fold(nick)
        user = self._online.get(folded)
        if user is not None:
            return user.key
        if folded in self._accounts:
            return folded
        return self._remote_key(folded)  # a guest on another node of a cluster

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


def _quit_reason(reason: str | None) -> str:
    if not reason:
        return "quit"
    try:
        return check_text(reason[:MAX_QUIT_REASON])
    except PeerError:
        return "quit"
