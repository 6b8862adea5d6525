"""What one line typed into ``palaver chat`` means: pure parsing, no I/O.

:func:`parse_line` turns a line into an action for the terminal loop: :class:`Send` a protocol
message (``/quit`` is a :class:`Send` of :class:`Quit`), :class:`ShowHelp`, a :class:`LocalError`
to print without sending anything, or ``None`` for a line to ignore. A plain line is said in the
current room; ``//text`` says the literal ``/text``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from palaver.protocol.messages import (
    Ban,
    ChangePassword,
    Delete,
    DeleteAccount,
    Edit,
    GrantOperator,
    Invite,
    Join,
    Kick,
    Leave,
    ListEdits,
    ListRooms,
    ListUsers,
    ManageCertificates,
    NotifyLevelName,
    Number,
    Quit,
    React,
    Register,
    ResetPassword,
    RevokeOperator,
    RunCommand,
    Say,
    Search,
    SendDirect,
    SetNick,
    SetNotifyLevel,
    SetRoomMode,
    SetTopic,
    Unban,
    Wire,
)


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``message`` to the server (the terminal gives it a request id)."""

    message: Wire


@dataclass(frozen=True, slots=True)
class ShowHelp:
    """Print :data:`HELP`."""


@dataclass(frozen=True, slots=True)
class LocalError:
    """Print ``message`` as an error line; nothing is sent."""

    message: str


@dataclass(frozen=True, slots=True)
class UploadFile:
    """Send the file at ``path`` to ``room`` — or to ``peer`` (UPLOAD, then its bytes over
    HTTP)."""

    path: str
    room: str | None
    peer: str | None = None


@dataclass(frozen=True, slots=True)
class DownloadFile:
    """Fetch the file of message ``msg_id`` of ``room`` (or of the direct conversation with
    ``peer``) into ``path`` (``None``: its name, in the current directory)."""

    room: str | None
    peer: str | None
    msg_id: int
    path: str | None = None


Action = Send | ShowHelp | LocalError | UploadFile | DownloadFile | None

HELP: Final = (
    "Commands:",
    "  /join #room        join a room and talk there",
    "  /leave [#room]     leave a room (default: the current one)",
    "  /msg nick text     send a direct message",
    "  /who [#room]       who is online, or who is in a room (a big room: a page of it)",
    "  /who [#room] more  the next page of a big room's members",
    "  /rooms             list the rooms",
    "  /nick name         change your nickname",
    "  /register password make your nickname an account (then: --password)",
    "  /password OLD NEW  change your account's password (your other sessions end)",
    "  /resetpassword NICK TOKEN NEW  set a password with an operator's reset token",
    "  /deleteaccount PASSWORD  delete your account (this ends every session of it)",
    "  /cert [add [FP] | remove FP]  your account's TLS client certificates (add alone: the",
    "                     one this connection presented; docs/tls.md)",
    "  /upload PATH       send a file to the current room (its link shows for everyone)",
    "  /download ID [PATH] save the file of message ID ([file 41] …; #room/41, @nick/41)",
    "  /topic [#room] text set the topic (/topic - clears it)",
    "  /op, /deop [#room] nick   make someone an operator of the room, or not",
    "  /kick [#room] nick [why]  put someone out of the room",
    "  /ban, /unban [#room] nick keep someone out of the room, or let them back",
    "  /invite [#room] nick      invite someone (to an invite-only room too)",
    "  /mode [#room] [+i|-i|+s|-s] invite-only, private (unlisted); alone: the state",
    "  /time              the server's time",
    "  /joke              a programming joke",
    "  /echo text         the server says the text back",
    "  /sum 1 2 3         add up numbers",
    "  /search [#room|@nick] words  find messages holding every word (3+ letters each)",
    "  /notify [#room|@nick] [all|mentions|none]  what may notify you there (alone: ask)",
    "  /reply ID text     answer message ID (41; #room/41, @nick/41 elsewhere)",
    "  /react ID emoji    react to message ID (/unreact ID emoji takes it back)",
    "  /edit ID text      change the text of your message ID (/edits ID: its texts)",
    "  /delete ID [why]   delete your message ID (an operator: anyone's in the room)",
    "  /help              this help",
    "  /quit [reason]     leave the chat",
    "  //text             say a line that starts with /",
    "Any other line is said in the current room.",
)

_COMMAND: Final = re.compile(r"/(\S*)(?:\s(.*))?", re.DOTALL)
_INT: Final = re.compile(r"[+-]?[0-9]+")
_FLOAT: Final = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT64: Final = 2**63


def parse_line(
    line: str, room: str | None, me: str = "", *, pages: Mapping[str, str] | None = None
) -> Action:
    """The action for ``line``; ``room`` is the current room (``None`` when in no room), ``me``
    my nick (``/register`` registers it), ``pages`` where the next page of a big room's members
    starts, by folded room name (JOINED's ``members_next``, USERS' ``next``: ``/who more``)."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return None
    if line.startswith("//"):
        return _say(line[1:], room)
    if not line.startswith("/"):
        return _say(line, room)
    match = _COMMAND.fullmatch(line)
    assert match is not None  # the pattern matches every line starting with "/"
    name, rest = match.group(1).lower(), match.group(2) or ""
    if name == "register":
        return _register(rest, me)
    if name == "who":
        return _who(rest, room, pages or {})
    handler = _HANDLERS.get(name)
    if handler is None:
        return LocalError(f"unknown command /{name}; type /help for the list")
    return handler(rest, room)


def parse_number(word: str) -> str | Number:
    """``word`` as a JSON number when it is one (a finite one in range), else the word itself."""
    if _INT.fullmatch(word):
        value = int(word)
        return value if -_INT64 <= value < _INT64 else word
    if _FLOAT.fullmatch(word):
        number = float(word)
        return number if math.isfinite(number) else word
    return word


def room_name(word: str) -> str:
    """``dev`` and ``#dev`` both name the room ``#dev``."""
    return word if word.startswith("#") else f"#{word}"


# --------------------------------------------------------------------------- one per command


def _say(text: str, room: str | None) -> Action:
    if room is None:
        return LocalError("you are not in a room; /join #room first")
    return Send(Say(room=room, text=text))


def _join(rest: str, room: str | None) -> Action:
    words = rest.split()
    if len(words) != 1:
        return LocalError("usage: /join #room")
    return Send(Join(room=room_name(words[0])))


def _leave(rest: str, room: str | None) -> Action:
    words = rest.split()
    if len(words) > 1:
        return LocalError("usage: /leave [#room]")
    if words:
        return Send(Leave(room=room_name(words[0])))
    if room is None:
        return LocalError("you are not in a room")
    return Send(Leave(room=room))


def _msg(rest: str, room: str | None) -> Action:
    nick, _, text = rest.lstrip().partition(" ")
    if not nick or not text.strip():
        return LocalError("usage: /msg nick text")
    return Send(SendDirect(to=nick, text=text))


def _who(rest: str, room: str | None, pages: Mapping[str, str]) -> Action:
    """``/who``, ``/who #room``; ``/who [#room] more``: the next page of a big room's members,
    from where the last one ended (``pages``)."""
    words = rest.split()
    more = bool(words) and words[-1].lower() == "more"
    if more:
        words.pop()
    if len(words) > 1:
        return LocalError("usage: /who [#room] [more]")
    target = room_name(words[0]) if words else None
    if not more:
        return Send(ListUsers(room=target))
    target = target or room
    if target is None or target.startswith("@"):
        return LocalError("usage: /who #room more (you are not in a room)")
    after = pages.get(target.lower())
    if after is None:
        return LocalError(f"no further page of {target}'s members (/who {target} lists them "
                          "from the start)")
    return Send(ListUsers(room=target, after=after))


def _nick(rest: str, room: str | None) -> Action:
    words = rest.split()
    if len(words) != 1:
        return LocalError("usage: /nick name")
    return Send(SetNick(nick=words[0]))


def _register(password: str, me: str) -> Action:
    if not password.strip():
        return LocalError("usage: /register password")
    return Send(Register(nick=me, password=password))


def _quit(rest: str, room: str | None) -> Action:
    return Send(Quit(reason=rest.strip() or None))


def _echo(rest: str, room: str | None) -> Action:
    if not rest:
        return LocalError("usage: /echo text")
    return Send(RunCommand(name="echo", args=(rest,)))


def _sum(rest: str, room: str | None) -> Action:
    return Send(RunCommand(name="sum", args=tuple(parse_number(w) for w in rest.split())))


def _room_and_rest(rest: str, room: str | None) -> tuple[str | None, list[str]]:
    """An optional leading ``#room`` (else the current room), then the other words."""
    words = rest.split()
    if words and words[0].startswith("#"):
        return words[0], words[1:]
    return room, words


def _topic(rest: str, room: str | None) -> Action:
    target, _ = _room_and_rest(rest, room)
    text = rest.strip()
    if text.startswith("#"):
        text = text.partition(" ")[2].strip()
    if target is None or not text:
        return LocalError("usage: /topic [#room] text (/topic - clears it)")
    return Send(SetTopic(room=target, topic="" if text == "-" else text))


def _on_nick(make: Callable[[str, str], Wire], usage: str) -> Callable[[str, str | None], Action]:
    """``/op``, ``/deop``, ``/ban``, ``/unban``, ``/invite``: ``[#room] nick``."""

    def handler(rest: str, room: str | None) -> Action:
        target, words = _room_and_rest(rest, room)
        if len(words) == 2 and words[1].startswith("#") and target == room:  # /invite bob #r
            target, words = words[1], words[:1]
        if target is None or len(words) != 1:
            return LocalError(f"usage: {usage}")
        return Send(make(target, words[0]))

    return handler


def _kick(rest: str, room: str | None) -> Action:
    target, words = _room_and_rest(rest, room)
    if target is None or not words:
        return LocalError("usage: /kick [#room] nick [reason]")
    return Send(Kick(room=target, nick=words[0], reason=" ".join(words[1:]) or None))


def _mode(rest: str, room: str | None) -> Action:
    target, words = _room_and_rest(rest, room)
    flags: dict[str, bool | None] = {"invite_only": None, "private": None}
    for word in words:
        adding = True
        for char in word:
            if char in "+-":
                adding = char == "+"
            elif char in "is":
                flags["invite_only" if char == "i" else "private"] = adding
            else:
                return LocalError("usage: /mode [#room] [+i|-i] [+s|-s]")
    if target is None:
        return LocalError("usage: /mode [#room] [+i|-i] [+s|-s]")
    return Send(SetRoomMode(room=target, invite_only=flags["invite_only"],
                            private=flags["private"]))


def _search(rest: str, room: str | None) -> Action:
    """``/search [#room|@nick] [before:CURSOR] words``: every room and direct conversation
    one may read, or one of them; ``before:`` is the cursor a page of results ends with."""
    usage = "usage: /search [#room|@nick] [before:N] words"
    words = rest.split()
    target, peer = None, None
    if words and words[0].startswith("#"):
        target = words.pop(0)
    elif words and words[0].startswith("@") and len(words[0]) > 1:
        peer = words.pop(0)[1:]
    before = None
    if words and words[0].startswith("before:"):
        before = words.pop(0)[7:]
    if not words or before == "":
        return LocalError(usage)
    return Send(Search(query=" ".join(words), room=target, peer=peer, before=before))


def message_ref(word: str, room: str | None) -> tuple[str | None, str | None, int] | None:
    """A message as the line commands name it: ``41`` (of the current room), ``#room/41`` or
    ``@nick/41`` (of a direct conversation): (room, nick, msg_id), or None if it is not one."""
    where, _, number = word.rpartition("/")
    if not number.isascii() or not number.isdigit() or len(number) > 18:
        return None
    if not where:
        return (room, None, int(number)) if room is not None else None
    if where.startswith("#") and len(where) > 1:
        return where, None, int(number)
    if where.startswith("@") and len(where) > 1:
        return None, where[1:], int(number)
    return None


def _reply(rest: str, room: str | None) -> Action:
    parts = rest.split(None, 1)
    ref = message_ref(parts[0], room) if parts else None
    if ref is None or len(parts) < 2 or not parts[1].strip():
        return LocalError("usage: /reply ID text (ID: 41, #room/41 or @nick/41)")
    target, peer, msg_id = ref
    if peer is not None:
        return Send(SendDirect(to=peer, text=parts[1], reply_to=msg_id))
    assert target is not None
    return Send(Say(room=target, text=parts[1], reply_to=msg_id))


def _reaction(remove: bool) -> Callable[[str, str | None], Action]:
    def handler(rest: str, room: str | None) -> Action:
        words = rest.split()
        ref = message_ref(words[0], room) if len(words) == 2 else None
        if ref is None:
            name = "unreact" if remove else "react"
            return LocalError(f"usage: /{name} ID emoji (ID: 41, #room/41 or @nick/41)")
        target, peer, msg_id = ref
        return Send(React(room=target, peer=peer, msg_id=msg_id, reaction=words[1],
                          remove=remove))

    return handler


def _edit(rest: str, room: str | None) -> Action:
    parts = rest.split(None, 1)
    ref = message_ref(parts[0], room) if parts else None
    if ref is None or len(parts) < 2 or not parts[1].strip():
        return LocalError("usage: /edit ID text (ID: 41, #room/41 or @nick/41)")
    target, peer, msg_id = ref
    return Send(Edit(room=target, peer=peer, msg_id=msg_id, text=parts[1]))


def _edits(rest: str, room: str | None) -> Action:
    words = rest.split()
    ref = message_ref(words[0], room) if len(words) == 1 else None
    if ref is None:
        return LocalError("usage: /edits ID (ID: 41, #room/41 or @nick/41)")
    target, peer, msg_id = ref
    return Send(ListEdits(room=target, peer=peer, msg_id=msg_id))


def _delete(rest: str, room: str | None) -> Action:
    parts = rest.split(None, 1)
    ref = message_ref(parts[0], room) if parts else None
    if ref is None:
        return LocalError("usage: /delete ID [why] (ID: 41, #room/41 or @nick/41)")
    target, peer, msg_id = ref
    reason = parts[1].strip() if len(parts) == 2 and parts[1].strip() else None
    return Send(Delete(room=target, peer=peer, msg_id=msg_id, reason=reason))


_LEVELS: Final[dict[str, NotifyLevelName]] = {"all": "all", "mentions": "mentions",
                                              "none": "none"}


def _notify(rest: str, room: str | None) -> Action:
    """``/notify [#room|@nick] [all|mentions|none]``: the notification level of the current
    room (or of another one, or of the direct conversation with a nick); no level: ask."""
    usage = "usage: /notify [#room|@nick] [all|mentions|none]"
    words = rest.split()
    target, peer = room, None
    if words and words[0].startswith("#"):
        target = words.pop(0)
    elif words and words[0].startswith("@") and len(words[0]) > 1:
        target, peer = None, words.pop(0)[1:]
    level = _LEVELS.get(words[0].lower()) if words else None
    if len(words) > 1 or (words and level is None):
        return LocalError(usage)
    if target is None and peer is None:
        return LocalError("you are not in a room; " + usage.removeprefix("usage: "))
    return Send(SetNotifyLevel(room=target, peer=peer, level=level))


def _no_args(make: Callable[[], Wire], usage: str) -> Callable[[str, str | None], Action]:
    def handler(rest: str, room: str | None) -> Action:
        return LocalError(f"usage: {usage}") if rest.strip() else Send(make())

    return handler


def _upload(rest: str, room: str | None) -> Action:
    if not rest.strip():
        return LocalError("usage: /upload PATH")
    if room is None:
        return LocalError("join a room first: /join #room")
    return UploadFile(path=rest.strip(), room=room)


def _download(rest: str, room: str | None) -> Action:
    """``/download ID [PATH]``: the path is the rest of the line (it may hold spaces)."""
    parts = rest.strip().split(None, 1)
    ref = message_ref(parts[0], room) if parts else None
    if ref is None:
        return LocalError("usage: /download ID [PATH] (ID: 41, #room/41 or @nick/41)")
    target, peer, msg_id = ref
    return DownloadFile(room=target, peer=peer, msg_id=msg_id,
                        path=parts[1].strip() if len(parts) == 2 else None)


def _help(rest: str, room: str | None) -> Action:
    return ShowHelp()


def _password(rest: str, room: str | None) -> Action:
    words = rest.split()
    if len(words) != 2:
        return LocalError("usage: /password OLD NEW (passwords without spaces)")
    return Send(ChangePassword(old=words[0], new=words[1]))


def _reset_password(rest: str, room: str | None) -> Action:
    words = rest.split()
    if len(words) != 3:
        return LocalError("usage: /resetpassword NICK TOKEN NEW")
    return Send(ResetPassword(nick=words[0], token=words[1], new=words[2]))


def _cert(rest: str, room: str | None) -> Action:
    words = rest.split()
    verb, fingerprints = (words[0].lower() if words else "list"), words[1:]
    if verb == "list" and not fingerprints:
        return Send(ManageCertificates(action="list"))
    if verb == "add" and len(fingerprints) <= 1:
        return Send(ManageCertificates(action="add",
                                       fingerprint=fingerprints[0] if fingerprints else None))
    if verb in ("remove", "del") and len(fingerprints) == 1:
        return Send(ManageCertificates(action="remove", fingerprint=fingerprints[0]))
    return LocalError("usage: /cert, /cert add [FINGERPRINT], /cert remove FINGERPRINT")


def _delete_account(rest: str, room: str | None) -> Action:
    if not rest.strip():
        return LocalError("usage: /deleteaccount PASSWORD")
    return Send(DeleteAccount(password=rest.strip()))


_HANDLERS: Final[dict[str, Callable[[str, str | None], Action]]] = {
    "join": _join,
    "leave": _leave,
    "msg": _msg,
    "rooms": _no_args(ListRooms, "/rooms"),
    "nick": _nick,
    "time": _no_args(lambda: RunCommand(name="time"), "/time"),
    "joke": _no_args(lambda: RunCommand(name="joke"), "/joke"),
    "echo": _echo,
    "sum": _sum,
    "help": _help,
    "password": _password,  # accounts that can be managed (hub/account_management.py)
    "resetpassword": _reset_password,
    "deleteaccount": _delete_account,
    "cert": _cert,  # client certificates (hub/certificates.py)
    "notify": _notify,  # notification levels (hub/notify.py)
    "quit": _quit,
    "topic": _topic,
    "op": _on_nick(lambda r, n: GrantOperator(room=r, nick=n), "/op [#room] nick"),
    "deop": _on_nick(lambda r, n: RevokeOperator(room=r, nick=n), "/deop [#room] nick"),
    "kick": _kick,
    "ban": _on_nick(lambda r, n: Ban(room=r, nick=n), "/ban [#room] nick"),
    "unban": _on_nick(lambda r, n: Unban(room=r, nick=n), "/unban [#room] nick"),
    "invite": _on_nick(lambda r, n: Invite(room=r, nick=n), "/invite [#room] nick"),
    "mode": _mode,
    "search": _search,
    "reply": _reply,  # replies and reactions (hub/replies.py, hub/reactions.py)
    "react": _reaction(remove=False),
    "unreact": _reaction(remove=True),
    "edit": _edit,  # edits (hub/editing.py)
    "edits": _edits,
    "delete": _delete,  # deletion (hub/deletion.py)
    "upload": _upload,  # files (client/transfers.py)
    "download": _download,
}
