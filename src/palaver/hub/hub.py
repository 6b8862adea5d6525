"""The hub: every rule about users, rooms and routing, as a pure state machine.

How this works: a transport opens a session (:meth:`Hub.open_session`), hands every decoded client
message to :meth:`Hub.handle` together with the current time, and tells the hub when the connection
is gone (:meth:`Hub.close_session`). Each call returns a list of effects — deliver this event to
these sessions, close that one — which the composition root carries out in order. The hub never
touches a socket, a clock or a database, so every rule is testable with plain function calls.

Users vs sessions: a user (a nick) owns one or more sessions (connections). Room membership belongs
to the user; events go to all of a user's sessions, and a direct reply (carrying the request ``id``)
goes only to the session that asked.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from palaver import __version__
from palaver.hub.commands import COMMANDS, CommandContext, CommandRegistry
from palaver.hub.effects import Close, Deliver, Effect, SessionId
from palaver.hub.names import check_nick, check_room, check_text, fold
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    ClientMessage,
    Error,
    Hello,
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
    Result,
    RoomInfo,
    RoomList,
    RunCommand,
    Say,
    SendDirect,
    ServerMessage,
    SetNick,
    Users,
    Welcome,
)

MAX_QUIT_REASON: Final = 200


@dataclass(frozen=True, slots=True)
class HubConfig:
    server_name: str = f"palaver/{__version__}"
    motd: str = "Welcome to palaver. Type /help for commands."
    default_room: str = "#lobby"


class _User:
    __slots__ = ("key", "nick", "rooms", "sessions")

    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.key = fold(nick)
        self.sessions: list[SessionId] = []
        self.rooms: dict[str, _Room] = {}


class _Room:
    __slots__ = ("_targets", "key", "members", "name", "topic")

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = fold(name)
        self.topic = ""
        self.members: dict[str, _User] = {}
        self._targets: tuple[SessionId, ...] | None = None

    def targets(self) -> tuple[SessionId, ...]:
        """Every session of every member; cached until membership changes."""
        if self._targets is None:
            self._targets = tuple(s for user in self.members.values() for s in user.sessions)
        return self._targets

    def changed(self) -> None:
        self._targets = None

    def nicks(self) -> tuple[str, ...]:
        return tuple(user.nick for user in self.members.values())


class _Session:
    __slots__ = ("sid", "user")

    def __init__(self, sid: SessionId) -> None:
        self.sid = sid
        self.user: _User | None = None


_BEFORE_HELLO: Final = (Hello, Ping, Pong, Quit)


def format_ts(now: float) -> str:
    """``2026-11-20T12:00:00.123Z``: UTC with milliseconds."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class Hub:
    def __init__(
        self,
        config: HubConfig | None = None,
        *,
        rng: random.Random | None = None,
        commands: CommandRegistry = COMMANDS,
    ) -> None:
        self.config = config or HubConfig()
        self._rng = rng or random.Random()
        self._commands = commands
        self._sessions: dict[SessionId, _Session] = {}
        self._users: dict[str, _User] = {}
        self._rooms: dict[str, _Room] = {}
        self._next_room_id: dict[str, int] = {}
        self._next_dm_id: dict[tuple[str, str], int] = {}
        self._handlers: dict[type[Any], Callable[[_Session, Any, float], list[Effect]]] = {
            Hello: self._hello,
            Join: self._join,
            Leave: self._leave,
            Say: self._say,
            SendDirect: self._send_direct,
            SetNick: self._set_nick,
            ListUsers: self._list_users,
            ListRooms: self._list_rooms,
            RunCommand: self._run_command,
            Ping: self._ping,
            Pong: self._pong,
            Quit: self._quit,
        }

    # ------------------------------------------------------------------ the public surface

    def open_session(self, sid: SessionId) -> None:
        if sid in self._sessions:
            raise ValueError(f"session {sid} is already open")
        self._sessions[sid] = _Session(sid)

    def handle(self, sid: SessionId, message: ClientMessage, now: float) -> list[Effect]:
        session = self._sessions.get(sid)
        if session is None:
            return []
        try:
            if session.user is None and not isinstance(message, _BEFORE_HELLO):
                raise PeerError(ErrorCode.HANDSHAKE_REQUIRED, "send HELLO first")
            return self._handlers[type(message)](session, message, now)
        except PeerError as error:
            return [self.error_effect(sid, error.with_request_id(message.id))]

    def close_session(self, sid: SessionId, reason: str) -> list[Effect]:
        """The connection is gone (or going). Idempotent."""
        session = self._sessions.pop(sid, None)
        if session is None or session.user is None:
            return []
        user = session.user
        user.sessions.remove(sid)
        for room in user.rooms.values():
            room.changed()
        if user.sessions:
            return []
        del self._users[user.key]
        for room in user.rooms.values():
            del room.members[user.key]
        audience = self._audience(user.rooms.values())
        for room in user.rooms.values():
            self._forget_if_empty(room)
        user.rooms.clear()
        return [Deliver(Presence(nick=user.nick, event="quit", reason=reason), audience)]

    @staticmethod
    def error_effect(sid: SessionId, error: PeerError) -> Deliver:
        event = Error(id=error.request_id, code=error.code.value, message=error.message,
                      field=error.field)
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
        return len(self._users)

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    # ------------------------------------------------------------------ handlers

    def _hello(self, session: _Session, msg: Hello, now: float) -> list[Effect]:
        if session.user is not None:
            raise PeerError(ErrorCode.ALREADY_REGISTERED, "you already said HELLO")
        if msg.version != PROTOCOL_VERSION:
            raise PeerError(
                ErrorCode.UNSUPPORTED_VERSION,
                f"this server speaks protocol version {PROTOCOL_VERSION}",
            )
        nick = check_nick(msg.nick)
        if fold(nick) in self._users:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {nick} is taken")
        user = _User(nick)
        user.sessions.append(session.sid)
        session.user = user
        self._users[user.key] = user
        lobby = self.config.default_room
        welcome = Welcome(
            id=msg.id,
            version=PROTOCOL_VERSION,
            nick=nick,
            server=self.config.server_name,
            rooms=(lobby,),
            motd=self.config.motd,
        )
        return [Deliver(welcome, (session.sid,)), *self._enter(user, session.sid, lobby, None)]

    def _join(self, session: _Session, msg: Join, now: float) -> list[Effect]:
        return self._enter(self._user(session), session.sid, check_room(msg.room), msg.id)

    def _enter(
        self, user: _User, sid: SessionId, name: str, request_id: str | None
    ) -> list[Effect]:
        key = fold(name)
        room = self._rooms.get(key)
        if room is None:
            room = self._rooms[key] = _Room(name)
        if key in user.rooms:  # already a member: confirm, tell nobody
            return [Deliver(self._joined(room, request_id), (sid,))]
        audience = room.targets()
        room.members[user.key] = user
        room.changed()
        user.rooms[key] = room
        effects = self._to_user(user, sid, self._joined(room, None), request_id)
        effects.append(Deliver(Presence(nick=user.nick, event="join", room=room.name), audience))
        return effects

    @staticmethod
    def _joined(room: _Room, request_id: str | None) -> Joined:
        return Joined(id=request_id, room=room.name, members=room.nicks(), topic=room.topic)

    def _leave(self, session: _Session, msg: Leave, now: float) -> list[Effect]:
        user = self._user(session)
        room = self._member_room(user, msg.room)
        del room.members[user.key]
        del user.rooms[room.key]
        room.changed()
        effects = self._to_user(user, session.sid, Left(room=room.name), msg.id)
        effects.append(
            Deliver(Presence(nick=user.nick, event="leave", room=room.name), room.targets())
        )
        self._forget_if_empty(room)
        return effects

    def _say(self, session: _Session, msg: Say, now: float) -> list[Effect]:
        user = self._user(session)
        room = self._member_room(user, msg.room)
        text = check_text(msg.text)
        msg_id = self._next_room_id.get(room.key, 1)
        self._next_room_id[room.key] = msg_id + 1
        event = Message(msg_id=msg_id, ts=format_ts(now), sender=user.nick, room=room.name,
                        text=text)
        if msg.id is None:
            return [Deliver(event, room.targets())]
        acknowledgement = msgspec.structs.replace(event, id=msg.id)
        return [Deliver(acknowledgement, (session.sid,)),
                Deliver(event, room.targets(), skip=session.sid)]

    def _send_direct(self, session: _Session, msg: SendDirect, now: float) -> list[Effect]:
        user = self._user(session)
        target = self._users.get(fold(msg.to))
        if target is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.to[:40]!r} is online")
        text = check_text(msg.text)
        pair = (user.key, target.key) if user.key <= target.key else (target.key, user.key)
        msg_id = self._next_dm_id.get(pair, 1)
        self._next_dm_id[pair] = msg_id + 1
        event = Message(msg_id=msg_id, ts=format_ts(now), sender=user.nick, to=target.nick,
                        text=text)
        effects = self._to_user(user, session.sid, event, msg.id)
        if target is not user:
            effects.append(Deliver(event, tuple(target.sessions)))
        return effects

    def _set_nick(self, session: _Session, msg: SetNick, now: float) -> list[Effect]:
        user = self._user(session)
        new = check_nick(msg.nick)
        new_key = fold(new)
        holder = self._users.get(new_key)
        if holder is not None and holder is not user:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {new} is taken")
        event = Presence(nick=user.nick, event="nick", new_nick=new)
        if new == user.nick:  # nothing changes: confirm to the asker, tell nobody
            return self._to_user(user, session.sid, event, msg.id)
        mine = set(user.sessions)
        audience = tuple(s for s in self._audience(user.rooms.values()) if s not in mine)
        del self._users[user.key]
        old_key, user.nick, user.key = user.key, new, new_key
        self._users[new_key] = user
        for room in user.rooms.values():
            members = room.members
            del members[old_key]
            members[new_key] = user
        effects = self._to_user(user, session.sid, event, msg.id)
        effects.append(Deliver(event, audience))
        return effects

    def _list_users(self, session: _Session, msg: ListUsers, now: float) -> list[Effect]:
        if msg.room is None:
            users = tuple(sorted((u.nick for u in self._users.values()), key=str.lower))
            return [Deliver(Users(id=msg.id, users=users), (session.sid,))]
        room = self._rooms.get(fold(check_room(msg.room)))
        if room is None:
            raise PeerError(ErrorCode.NO_SUCH_ROOM, f"there is no room {msg.room}")
        event = Users(id=msg.id, room=room.name, users=room.nicks())
        return [Deliver(event, (session.sid,))]

    def _list_rooms(self, session: _Session, msg: ListRooms, now: float) -> list[Effect]:
        rooms = tuple(
            RoomInfo(room=r.name, members=len(r.members), topic=r.topic)
            for _, r in sorted(self._rooms.items())
        )
        return [Deliver(RoomList(id=msg.id, rooms=rooms), (session.sid,))]

    def _run_command(self, session: _Session, msg: RunCommand, now: float) -> list[Effect]:
        user = self._user(session)
        context = CommandContext(nick=user.nick, now=now, rng=self._rng,
                                 registry=self._commands)
        result = self._commands.run(msg.name, context, msg.args)
        return [Deliver(Result(id=msg.id, name=msg.name, result=result), (session.sid,))]

    def _ping(self, session: _Session, msg: Ping, now: float) -> list[Effect]:
        return [Deliver(Pong(id=msg.id), (session.sid,))]

    def _pong(self, session: _Session, msg: Pong, now: float) -> list[Effect]:
        return []  # liveness is the transport's business: any traffic counts

    def _quit(self, session: _Session, msg: Quit, now: float) -> list[Effect]:
        reason = _quit_reason(msg.reason)
        return [*self.close_session(session.sid, reason), Close(session.sid, "bye", msg.id)]

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _user(session: _Session) -> _User:
        assert session.user is not None  # handle() refuses unregistered sessions
        return session.user

    @staticmethod
    def _member_room(user: _User, name: str) -> _Room:
        room = user.rooms.get(fold(check_room(name)))
        if room is None:
            raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {name}")
        return room

    @staticmethod
    def _to_user(
        user: _User, sid: SessionId, event: ServerMessage, request_id: str | None
    ) -> list[Effect]:
        """``event`` to all of ``user``'s sessions; the asking session's copy carries the id."""
        if request_id is None:
            return [Deliver(event, tuple(user.sessions))]
        effects: list[Effect] = [Deliver(msgspec.structs.replace(event, id=request_id), (sid,))]
        if len(user.sessions) > 1:
            effects.append(Deliver(event, tuple(user.sessions), skip=sid))
        return effects

    @staticmethod
    def _audience(rooms: Iterable[_Room]) -> tuple[SessionId, ...]:
        """Each session in any of ``rooms``, once (rooms' cached session tuples, no per-member
        work: this runs for every quit and nick change)."""
        rooms = list(rooms)
        if len(rooms) == 1:
            return rooms[0].targets()
        return tuple(dict.fromkeys(s for room in rooms for s in room.targets()))

    def _forget_if_empty(self, room: _Room) -> None:
        if not room.members:
            del self._rooms[room.key]


def _quit_reason(reason: str | None) -> str:
    if not reason:
        return "quit"
    try:
        return check_text(reason[:MAX_QUIT_REASON])
    except PeerError:
        return "quit"

