"""IRC's ``draft/message-redaction`` onto palaver's message deletion (DELETE; hub/deletion.py).

``REDACT <target> <msgid> [:reason]`` deletes the message whose ``msgid`` tag the client saw
(:func:`~palaver.protocol.irc.render.message_id`: ``#room/41``, ``dm/alice,bob/7``; ``.2``…
for the further lines of a split message) — one's own, or, for a channel operator, anyone's in
the channel. Everyone who sees the channel (both ends of a direct conversation) with the
capability gets ``:deleter REDACT <target> <msgid> [:reason]``; the redacter always does;
the others get a NOTICE from the deleter (``* deleted a message of alice: spam``).
Refusals are standard replies: ``FAIL REDACT INVALID_TARGET`` (a channel one is not in, a nick
nobody has), ``UNKNOWN_MSGID`` (no such message there, or a msgid that names none, such as a
TAGMSG's, which is not stored), ``REDACT_FORBIDDEN`` (someone else's message, not an operator).
A deleted message is left out when history is replayed to an IRC client.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from palaver.hub.deletion import MAX_DELETE_REASON
from palaver.hub.names import fold
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import clean, conversation_msgid, hostmask
from palaver.protocol.irc.wire import IrcLine, one_line
from palaver.protocol.messages import Delete, Deleted

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

CAP: Final = "draft/message-redaction"
DELETED_PREFIX: Final = "* deleted "
_MSGID: Final = re.compile(r"(#[^/\s]+|dm/[^/\s,]+,[^/\s,]+)/([0-9]{1,19})(?:\.[0-9]+)?",
                           re.ASCII)
_TARGET: Final = ("FAIL", "REDACT", "INVALID_TARGET", "{arg}")
_MSG: Final = ("FAIL", "REDACT", "UNKNOWN_MSGID", "{arg}", "{text}")
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("redact", ErrorCode.NOT_IN_ROOM): _TARGET,
    ("redact", ErrorCode.INVALID_ROOM): _TARGET,
    ("redact", ErrorCode.NO_SUCH_ROOM): _TARGET,
    ("redact", ErrorCode.NO_SUCH_USER): _TARGET,
    ("redact", ErrorCode.NO_SUCH_MESSAGE): _MSG,
    ("redact", ErrorCode.INVALID_FIELD): _MSG,
    ("redact", ErrorCode.NOT_OPERATOR): ("FAIL", "REDACT", "REDACT_FORBIDDEN", "{arg}",
                                         "{text}"),
    ("redact", ErrorCode.INVALID_TEXT): ("FAIL", "REDACT", "INVALID_PARAMS", "{arg}",
                                         "{text}"),
}


def msg_id_of(target: str, msgid: str) -> int:
    """The msg_id ``msgid`` names in the conversation ``target`` names; 0 if none."""
    match = _MSGID.fullmatch(msgid)
    if match is None:
        return 0
    where, number = match[1], int(match[2])
    if target.startswith("#"):
        return number if fold(where) == fold(target) else 0
    ends = where[3:].split(",")
    return number if where.startswith("dm/") and fold(target) in ends else 0


def on_redact(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, msgid = line.params[0], line.params[1]
    reason = one_line(line.params[2], MAX_DELETE_REASON) if len(line.params) > 2 else None
    where = {"room": target} if target.startswith("#") else {"peer": target}
    number = min(msg_id_of(target, msgid), 2**63 - 1)
    out.append(irc.request(Delete, Pending("redact", target, text=msgid), msg_id=number,
                           reason=reason or None, **where))


# ---------------------------------------------------------------------- events


def deleted(irc: IrcDialect, event: Deleted, pending: Pending | None) -> bytes:
    if pending is None and CAP not in irc.caps:
        return _deleted_notice(irc, event)  # never REDACT to a client that does not know it
    if pending is not None:  # ours: the target and msgid as we wrote them
        target, msgid = pending.arg, pending.text
    else:
        target = event.room or event.to or "*"
        msgid = conversation_msgid(event.room, event.sender or "", event.to, event.msg_id)
    params = [target, msgid] if not event.reason else [target, msgid, event.reason]
    return irc.line("REDACT", *params, source=hostmask(event.by),
                    trailing=event.reason is not None)


def _deleted_notice(irc: IrcDialect, event: Deleted) -> bytes:
    """What a client without the capability reads instead of REDACT: a NOTICE from the
    deleter, where the message was (``* deleted a message of alice: spam``), so that a line
    still on its screen is known to be gone."""
    sender = event.sender or event.by
    if event.room is not None:
        target = event.room
    elif sender.lower() == irc.me().lower():  # ours, deleted from another client of ours
        target = event.to or "*"
    else:
        target = irc.me()
    whose = "their own message" if fold(sender) == fold(event.by) else f"a message of {sender}"
    text = f"{DELETED_PREFIX}{whose}" + (f": {event.reason}" if event.reason else "")
    return irc.line("NOTICE", target, clean(text).replace("\n", " "),
                    source=hostmask(event.by), trailing=True)
