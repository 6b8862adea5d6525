"""The plain-text door (telnet, nc, and three older line programs), sans-I/O.

How this works: input is split into lines (``\\n`` or ``\\r\\n``, at most ``max_frame`` bytes);
each line is parsed (:mod:`palaver.protocol.text_commands`) into a hub command, which leaves with a
fresh request id, or into lines only for this client. Those local lines also travel through the
hub — as a PING with an id, answered by a PONG with that id — so they come out in the order the
lines came in, behind replies still waiting for a commit. The dialect remembers, per request id,
how the reply is to be shown: ``USER|bob`` answers ``USER_OK``, a ``/who`` answers ``* 2 online:
...``, and so on (:meth:`TextDialect.encode`). ``/download ID`` is two requests — HISTORY (the
message) and FILE_KEY (a key of this user's) — whose answers make one line: the file's URL with
``?key=``, or why not.

What a line means depends on the state: before a nickname is chosen a plain line is the nickname;
afterwards it is chat in the current room. The state is updated optimistically when a line is
parsed (``/join #dev`` makes ``#dev`` current at once, so the next line of the same read goes
there) and confirmed or undone when the hub's reply is rendered. Rendering depends on the state too
(my nick, the current room, the style), so each connection renders for itself: ``encode_key`` is
the dialect object.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final, cast

import msgspec

from palaver.client.render import (
    error_line,
    info_line,
    render,
    same_name,
    sanitize,
    sanitize_lines,
)
from palaver.hub.names import is_valid_room
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import FrameTooLarge
from palaver.protocol.file_text import FileAsk
from palaver.protocol.framing import DEFAULT_MAX_FRAME, LineFramer
from palaver.protocol.messages import (
    AccountDeleted,
    ClientMessage,
    Error,
    GetFileKey,
    Hello,
    History,
    Join,
    Joined,
    Leave,
    Left,
    Message,
    PasswordChanged,
    Ping,
    Pong,
    Presence,
    Registered,
    Result,
    ServerMessage,
    Users,
    Welcome,
    Wire,
)
from palaver.protocol.text_commands import FetchFile, Kind, Request, Show, parse
from palaver.protocol.text_render import (
    GREETING,
    PROMPT,
    Style,
    chat_error,
    message_lines,
    registered_line,
    seed_error,
    to_bytes,
    users_line,
    view,
)

_NOT_UTF8: Final = Show(("! a line must be UTF-8 text",))


class LineTooLong(FrameTooLarge):
    """A line over the limit; reported, then the connection is closed."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.message = f"line exceeds the limit of {limit} bytes"
        self.args = (self.message,)


class Phase(enum.Enum):
    PROMPT = "prompt"  # no nickname chosen: a plain line is the nickname
    CHOSEN = "chosen"  # a HELLO went out (or was accepted): a plain line is chat


@dataclass(frozen=True, slots=True)
class _Pending:
    """What a request id stands for: how to show its reply, and what to undo if refused."""

    kind: Kind | Show
    message: ClientMessage | None = None
    previous_room: str | None = None
    ask: FileAsk | None = None  # one of the two requests of a /download


class TextDialect:
    """Plain text as a :class:`~palaver.protocol.dialect.Dialect` (plus :meth:`greeting`)."""

    __slots__ = ("_framer", "_ids", "_lobby", "_me", "_pending", "_phase", "_room", "_rooms",
                 "_style")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME, lobby: str = "#lobby") -> None:
        self._framer = LineFramer(max_frame)
        self._ids = (f"t{n}" for n in itertools.count(1))
        self._pending: dict[str, _Pending] = {}
        self._lobby = lobby
        self._phase = Phase.PROMPT
        self._me = ""
        self._rooms: list[str] = []
        self._room: str | None = None
        self._style = Style.PLAIN

    # ------------------------------------------------------------------ what the transport calls

    @property
    def encode_key(self) -> Hashable:
        return self  # rendering depends on this connection's state

    @property
    def at_prompt(self) -> bool:
        """Nothing typed yet but (maybe) blank lines: still asking for a nickname."""
        return self._phase is Phase.PROMPT and not self._pending and not self._framer.buffered

    @property
    def resends(self) -> bool:
        return False  # "t1", "t2", ... only route answers back: never idempotency keys

    @property
    def style(self) -> Style:
        return self._style

    @staticmethod
    def greeting() -> bytes:
        return to_bytes([GREETING])

    def receive_data(self, data: bytes) -> list[Inbound]:
        lines, overflow = self._framer.receive_data(data)
        out = [item for line in lines for item in self._line(line)]
        if overflow is not None:
            out.append(LineTooLong(overflow.limit))
        return out

    def receive_eof(self) -> list[Inbound]:
        last = self._framer.receive_eof()
        return [] if last is None else self._line(last)

    def encode(self, event: Wire) -> bytes:
        pending = self._pending.pop(event.id, None) if event.id is not None else None
        return to_bytes(self._render(event, pending))

    # ------------------------------------------------------------------ lines in

    def _line(self, raw: bytes) -> list[Inbound]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return [self._local(_NOT_UTF8)]
        parsed = parse(line, chosen=self._phase is Phase.CHOSEN, room=self._room, me=self._me,
                       lobby=self._lobby)
        if parsed is None:
            return []
        if isinstance(parsed, Show):
            return [self._local(parsed)]
        if isinstance(parsed, FetchFile):
            return self._fetch_file(parsed)
        return [self._request(parsed)]

    def _fetch_file(self, fetch: FetchFile) -> list[Inbound]:
        """``/download ID``: the message (HISTORY: the page after ID - 1, one long) and a key
        of this user's (FILE_KEY); the link is shown when both have come back."""
        ask = FileAsk(fetch.msg_id, fetch.room if fetch.room is not None else f"@{fetch.peer}")
        if fetch.msg_id < 1:
            return [self._local(Show((error_line(f"/download: there is no message "
                                                 f"{fetch.msg_id} in {ask.where}",
                                                 "no_such_message"),)))]
        out: list[Inbound] = []
        for message in (History(room=fetch.room, peer=fetch.peer, after=fetch.msg_id - 1,
                                limit=1), GetFileKey()):
            request_id = next(self._ids)
            self._pending[request_id] = _Pending(Kind.CHAT, message, ask=ask)
            out.append(_with_id(message, request_id))
        return out

    def _local(self, show: Show) -> Ping:
        request_id = next(self._ids)
        self._pending[request_id] = _Pending(show)
        return Ping(id=request_id)

    def _request(self, request: Request) -> ClientMessage:
        request_id = next(self._ids)
        message = request.message
        previous = self._room
        if isinstance(message, Hello):
            self._phase = Phase.CHOSEN
            self._enter(self._lobby, current=self._room is None)
        elif isinstance(message, Join) and is_valid_room(message.room):
            self._enter(message.room, current=True)
        elif isinstance(message, Leave):
            self._exit(message.room)
        self._pending[request_id] = _Pending(request.kind, message, previous)
        return _with_id(message, request_id)

    # ------------------------------------------------------------------ state

    def _enter(self, room: str, *, current: bool) -> None:
        if not any(same_name(room, r) for r in self._rooms):
            self._rooms.append(room)
        if current or self._room is None:
            self._room = room

    def _exit(self, room: str) -> bool:
        """Forget ``room``; true if it was the current one."""
        self._rooms = [r for r in self._rooms if not same_name(r, room)]
        if same_name(room, self._room):
            self._room = self._rooms[-1] if self._rooms else None
            return True
        return False

    # ------------------------------------------------------------------ events out

    def _render(self, event: Wire, pending: _Pending | None) -> list[str]:
        kind = pending.kind if pending is not None else None
        if isinstance(kind, Show):  # the PONG carrying lines for this client only
            if kind.style is not None:
                self._style = kind.style
            return list(kind.lines)
        if pending is not None and pending.ask is not None:  # a /download's: once both are in
            ask = pending.ask
            if not ask.take(event):
                return []
            if ask.refusal is not None:
                return [error_line(f"/download: {ask.refusal[1]}", ask.refusal[0])]
            return [info_line(ask.link())]
        if isinstance(event, Error):
            return self._refused(event, pending)
        if isinstance(event, Message):
            if kind is Kind.SEED_MSG:
                return ["MSG_OK"]
            return message_lines(event, view(self._me, self._room), self._style)
        if isinstance(event, Welcome):
            self._phase = Phase.CHOSEN
            self._me = event.nick
            for room in event.rooms:
                self._enter(room, current=False)
            if kind is Kind.SEED_USER:
                self._style = Style.CLASSIC
                return ["USER_OK"]
        elif isinstance(event, Joined):
            self._enter(event.room, current=pending is not None)
            if pending is None and self._style is Style.CLASSIC:
                return []  # the classic programs said nothing about the lobby
        elif isinstance(event, Left):
            was_current = self._exit(event.room)
            lines = render(event, view(self._me, self._room))
            if was_current or pending is not None:
                lines.append(info_line(f"now talking in {sanitize(self._room)}") if self._room
                             else info_line("you are in no room now; /join #room to talk"))
            return lines
        elif isinstance(event, Presence):
            if event.event == "kick" and event.room and same_name(event.nick, self._me):
                self._exit(event.room)  # put out of the room: talk elsewhere
            if event.event == "nick" and event.new_nick and same_name(event.nick, self._me):
                self._me = event.new_nick
                if kind is Kind.SEED_USER:
                    self._style = Style.CLASSIC
                    return ["USER_OK"]
        elif isinstance(event, Users) and kind is Kind.SEED_DIR:
            return [users_line(event)]
        elif isinstance(event, Result) and kind is Kind.SEED_CMD:
            return sanitize_lines(event.result)
        elif isinstance(event, Registered):
            return [registered_line(event)]
        elif isinstance(event, PasswordChanged):
            return [f"* the password of {event.account} is changed"]
        elif isinstance(event, AccountDeleted):
            return [f"* the account {event.account} is deleted (its messages {event.messages})"]
        elif isinstance(event, Ping | Pong):
            return []  # nobody at a terminal answers PING: see MainPortConnection
        return render(cast(ServerMessage, event), view(self._me, self._room))

    def _refused(self, event: Error, pending: _Pending | None) -> list[str]:
        message = pending.message if pending is not None else None
        if isinstance(message, Hello):  # the nickname was refused: ask again
            self._phase = Phase.PROMPT
            self._rooms, self._room = [], None
        elif isinstance(message, Join):  # undo the optimistic switch
            self._exit(message.room)
            if pending is not None and pending.previous_room is not None:
                self._enter(pending.previous_room, current=True)
        kind = pending.kind if pending is not None else None
        if isinstance(kind, Kind) and kind.seed:
            return [seed_error(event)]
        if kind is Kind.NICK:
            return [chat_error(event), PROMPT]
        return [chat_error(event)]


def _with_id(message: ClientMessage, request_id: str) -> ClientMessage:
    return msgspec.structs.replace(message, id=request_id)
