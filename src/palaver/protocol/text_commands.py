"""What one line from a plain-text client means: pure parsing, no state of its own.

Checked in this order (first match wins):

1. The USER|/MSG|/DIR dialect: ``USER|bob`` chooses a nickname (or changes it, once chosen),
   ``MSG|text`` says ``text`` in the lobby, ``DIR`` lists who is online.
2. The command dialect: ``get_time``, ``echo <text>``, ``calculate_sum <numbers>`` — the first
   word exactly as written, so a line starting with a space is chat.
3. The text door's own slash commands — ``/style plain|classic``, ``/help``, ``/login nick
   password`` (instead of a nickname, for an account), ``/register password`` — then every other
   slash command of ``palaver chat`` (:func:`palaver.client.commands.parse_line`). Before a
   nickname is chosen, ``/nick name`` chooses it and only the server commands and ``/quit`` are
   allowed.
4. Any other line: the nickname while none is chosen, else chat in the current room
   (``//text`` says ``/text``).

The result is a :class:`Request` (a hub command and how its reply is to be shown), a :class:`Show`
(lines for the client only, maybe a style change), a :class:`FetchFile` (``/download ID``: two
requests, one answer), or ``None`` (a blank line).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, cast

from palaver.client.commands import (
    DownloadFile,
    LocalError,
    Send,
    ShowHelp,
    UploadFile,
    parse_line,
    parse_number,
)
from palaver.client.render import error_line, info_line
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    ClientMessage,
    Hello,
    ListUsers,
    Quit,
    Register,
    RunCommand,
    Say,
    SetNick,
)
from palaver.protocol.text_render import PROMPT, TEXT_HELP, Style


class Kind(enum.Enum):
    """How the reply to a request is shown."""

    CHAT = "chat"  # as palaver chat shows it
    NICK = "nick"  # the nickname typed at the prompt: an error asks again
    SEED_USER = "user"  # USER|name -> USER_OK, and the classic style
    SEED_MSG = "msg"  # MSG|text -> MSG_OK
    SEED_DIR = "dir"  # DIR -> Users logged in: ...
    SEED_CMD = "cmd"  # get_time / echo / calculate_sum -> the bare result

    @property
    def seed(self) -> bool:
        return self in _SEED_KINDS


_SEED_KINDS: Final = frozenset({Kind.SEED_USER, Kind.SEED_MSG, Kind.SEED_DIR, Kind.SEED_CMD})


@dataclass(frozen=True, slots=True)
class Request:
    """Send ``message`` to the hub (the dialect gives it a request id)."""

    message: ClientMessage
    kind: Kind


@dataclass(frozen=True, slots=True)
class Show:
    """Show ``lines`` to this client, after switching to ``style`` if it is given."""

    lines: tuple[str, ...]
    style: Style | None = None


@dataclass(frozen=True, slots=True)
class FetchFile:
    """``/download ID``: a link of one's own to the file of message ``msg_id`` of ``room`` (or
    of the direct conversation with ``peer``): HISTORY and FILE_KEY (text.py)."""

    room: str | None
    peer: str | None
    msg_id: int


Parsed = Request | Show | FetchFile | None

_BEFORE_NICK: Final = (RunCommand, Quit)  # slash commands that work without a nickname
_STYLE_USAGE: Final = "usage: /style plain|classic"


def parse(
    line: str, *, chosen: bool, room: str | None, me: str = "", lobby: str = "#lobby"
) -> Parsed:
    """The meaning of ``line`` (no line end). ``chosen``: a nickname was sent (the hub may still
    refuse it); ``room``: the current room; ``me``: my nick; ``lobby``: where ``MSG|`` goes."""
    if not line.strip():
        return None
    seed = _seed(line, chosen, lobby)
    if seed is not None:
        return seed
    if line.startswith("/") and not line.startswith("//"):
        word, _, rest = line[1:].partition(" ")
        if word.lower() == "style":
            return _style(rest)
        if word.lower() == "help":
            return Show(TEXT_HELP)
        if word.lower() == "login":
            return _login(rest, chosen)
        if word.lower() == "register":
            return _register(rest, chosen, me)
    elif not chosen:
        return Request(_hello(line.strip()), Kind.NICK)
    action = parse_line(line, room)
    if action is None:
        return None
    if isinstance(action, LocalError):
        return Show((error_line(action.message),))
    if isinstance(action, ShowHelp):
        return Show(TEXT_HELP)
    if isinstance(action, UploadFile):  # a file goes over HTTP: palaver chat or the web client
        return Show((error_line("/upload: send files with palaver chat or the web client; "
                                "their links show here"),))
    if isinstance(action, DownloadFile):  # the link, with a key of one's own (text.py)
        if not chosen:
            return Show((error_line("choose a nickname first"), PROMPT))
        return FetchFile(action.room, action.peer, action.msg_id)
    return _slash(action, chosen)


def _seed(line: str, chosen: bool, lobby: str) -> Parsed:
    if line.startswith("USER|"):
        name = line[5:].strip()
        return Request(SetNick(nick=name) if chosen else _hello(name), Kind.SEED_USER)
    if line.startswith("MSG|"):
        return Request(Say(room=lobby, text=line[4:]), Kind.SEED_MSG)
    if line.rstrip() == "DIR":
        return Request(ListUsers(), Kind.SEED_DIR)
    word, _, rest = line.partition(" ")
    if word == "get_time":
        if rest.strip():
            return Show(("ERROR get_time takes no arguments",))
        return Request(RunCommand(name="time"), Kind.SEED_CMD)
    if word == "echo":
        return Request(RunCommand(name="echo", args=(rest,)), Kind.SEED_CMD)
    if word == "calculate_sum":
        numbers = tuple(parse_number(w) for w in rest.split())
        return Request(RunCommand(name="sum", args=numbers), Kind.SEED_CMD)
    return None


def _style(rest: str) -> Show:
    words = rest.split()
    if len(words) != 1:
        return Show((error_line(_STYLE_USAGE),))
    try:
        style = Style(words[0].lower())
    except ValueError:
        return Show((error_line(_STYLE_USAGE),))
    example = "[12:00] <alice> text" if style is Style.PLAIN else "alice: text"
    return Show((info_line(f"style {style.value}: messages look like {example}"),), style)


def _login(rest: str, chosen: bool) -> Show | Request:
    if chosen:
        return Show((error_line("you have a nickname already; reconnect to log in"),))
    nick, _, password = rest.strip().partition(" ")
    if not nick or not password:
        return Show((error_line("usage: /login nick password"), PROMPT))
    return Request(Hello(version=PROTOCOL_VERSION, nick=nick, password=password), Kind.NICK)


def _register(rest: str, chosen: bool, me: str) -> Show | Request:
    if not chosen:
        return Show((error_line("choose a nickname first"), PROMPT))
    if not rest.strip():
        return Show((error_line("usage: /register password"),))
    return Request(Register(nick=me, password=rest), Kind.CHAT)


def _slash(action: Send, chosen: bool) -> Parsed:
    message = action.message
    if chosen:
        return Request(cast(ClientMessage, message), Kind.CHAT)  # parse_line makes no other
    if isinstance(message, SetNick):
        return Request(_hello(message.nick), Kind.NICK)
    if isinstance(message, _BEFORE_NICK):
        return Request(cast(ClientMessage, message), Kind.CHAT)
    return Show((error_line("choose a nickname first"), PROMPT))


def _hello(nick: str) -> Hello:
    return Hello(version=PROTOCOL_VERSION, nick=nick)
