"""``FILE``: a link of one's own to the file a message carries (palaver's own command).

A file reaches IRC as a line after its message's text, ``[file 41] cat.png (48.2 kB, image/png)
URL`` (protocol/file_text.py), but the URL needs ``?key=`` a FILE_KEY, which only JSON and web
sessions ask for. ``FILE <target> <msgid>`` — the channel (or the nick at the other end of a
direct conversation) and the message: its ``msgid`` tag (``#a/41``, ``dm/alice,bob/7``) or its
number as the line shows it (``41``) — asks the hub for the message (HISTORY: the page after
``msgid - 1``, one long; only a member of the channel may read it) and for a key of this user's
(FILE_KEY). Both requests carry one :class:`~palaver.protocol.file_text.FileAsk`; when both
answers are in, a server NOTICE: ``FILE #a 41: cat.png (48.2 kB, image/png), a link for you
alone until 2026-11-21 15:04 UTC: http://…/files/…/cat.png?key=…`` (``FILE <target> <msgid>:``
as it was asked).

Refusals are standard replies: ``FAIL FILE INVALID_TARGET <target>`` (a channel one is not in, a
nick nobody has), ``FAIL FILE UNKNOWN_MSGID <target> <msgid>`` (no such message there, a
deleted one, one without a file), any other with its code (``FAIL FILE UNAVAILABLE``).
``draft/filehost`` (uploads from IRC clients) is not offered: an upload needs UPLOAD's one-time
token first, which IRC has no way to ask for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.file_text import FileAsk
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.redaction import msg_id_of
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import MAX_MSG_ID, FileKey, GetFileKey, History, Wire

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

KIND: Final = "file"  # the Pending kind of both requests
_TARGET_CODES: Final = frozenset({ErrorCode.NO_SUCH_ROOM, ErrorCode.NOT_IN_ROOM,
                                  ErrorCode.INVALID_ROOM, ErrorCode.NO_SUCH_USER,
                                  ErrorCode.INVALID_NICK})
_MSGID_CODES: Final = frozenset({ErrorCode.NO_SUCH_MESSAGE, ErrorCode.MESSAGE_DELETED,
                                 ErrorCode.INVALID_FIELD})


def file_msg_id(target: str, msgid: str) -> int:
    """The msg_id ``msgid`` names in ``target``: a msgid tag of it, or a bare number; 0: none."""
    if msgid.isascii() and msgid.isdigit():
        return min(int(msgid), MAX_MSG_ID) if len(msgid) <= 19 else 0
    return min(msg_id_of(target, msgid), MAX_MSG_ID)


def on_file(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, msgid = line.params[0], line.params[1]
    number = file_msg_id(target, msgid)
    if number < 1:
        out.append(irc.fail("FILE", "UNKNOWN_MSGID", target, msgid,
                            text=f"there is no message {msgid} in {target}"))
        return
    ask = FileAsk(number, target)
    where = {"room": target} if target.startswith("#") else {"peer": target}
    pending = Pending(KIND, target, text=msgid, detail=ask)
    out.append(irc.request(History, pending, after=number - 1, limit=1, **where))
    out.append(irc.request(GetFileKey, pending))


# ---------------------------------------------------------------------- events


def file_answer(irc: IrcDialect, event: Wire, pending: Pending | None) -> bytes:
    """One of the two answers of a FILE (its HISTORY_PAGE, its FILE_KEY, or an ERROR for
    either): nothing until both are in, then the NOTICE or the FAIL."""
    ask = pending.detail if pending is not None else None
    if pending is None or not isinstance(ask, FileAsk):
        return b""  # a FILE_KEY nobody here asked for
    if not ask.take(event):
        return b""
    target, msgid = pending.arg, pending.text
    if ask.refusal is None:
        return irc.renderer.notice(irc.me(), f"FILE {target} {msgid}: {ask.link()}")
    code, message = ask.refusal
    if code in _TARGET_CODES:
        return irc.fail("FILE", "INVALID_TARGET", target, text=message)
    if code in _MSGID_CODES:
        return irc.fail("FILE", "UNKNOWN_MSGID", target, msgid, text=message)
    return irc.fail("FILE", code.upper(), target, msgid, text=message)


def file_key(irc: IrcDialect, event: FileKey, pending: Pending | None) -> bytes:
    return file_answer(irc, event, pending)
