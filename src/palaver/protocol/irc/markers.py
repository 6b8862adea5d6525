"""IRC's ``draft/read-marker`` onto palaver's read markers (MARK_READ; hub/markers.py).

``MARKREAD <target> timestamp=<time>`` moves the user's marker of a channel or of the direct
conversation with a nick (``MARK_READ`` with ``ts``); ``MARKREAD <target>`` asks where it is.
Either way the answer is ``MARKREAD <target> timestamp=<time>`` (``*``: nothing read), and when
the marker moved, each of the user's other connections with the capability gets it too. With
the capability, joining a channel says where its marker is before the end of NAMES (366).
No parameter is ``FAIL MARKREAD NEED_MORE_PARAMS``; a second parameter that is not
``timestamp=`` and a time (``*`` included), or a target palaver refuses, is ``FAIL MARKREAD
INVALID_PARAMS``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import Joined, MarkRead, ReadMarker

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

CAP: Final = "draft/read-marker"
_INVALID: Final = ("FAIL", "MARKREAD", "INVALID_PARAMS", "{arg}")
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("markread", code): _INVALID
    for code in (ErrorCode.INVALID_FIELD, ErrorCode.INVALID_ROOM, ErrorCode.NOT_IN_ROOM,
                 ErrorCode.NO_SUCH_USER, ErrorCode.NO_SUCH_ROOM)
}


def on_markread(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    if not line.params or not line.params[0]:
        out.append(irc.line("FAIL", "MARKREAD", "NEED_MORE_PARAMS", "MARKREAD needs a target"))
        return
    target = line.params[0]
    where = {"room": target} if target.startswith("#") else {"peer": target}
    if len(line.params) == 1:
        out.append(irc.request(MarkRead, Pending("markread", target), **where))
        return
    given = line.params[1]
    if not given.startswith("timestamp="):
        out.append(irc.line("FAIL", "MARKREAD", "INVALID_PARAMS", target,
                            "MARKREAD takes timestamp=<ISO 8601 UTC time>"))
        return
    out.append(irc.request(MarkRead, Pending("markread", target), ts=given[10:], **where))


# ---------------------------------------------------------------------- events


def read_marker(irc: IrcDialect, event: ReadMarker, pending: Pending | None) -> bytes:
    if pending is None and CAP not in irc.caps:
        return b""  # another session moved it: only for clients that asked for markers
    target = pending.arg if pending is not None else (event.room or event.peer or "*")
    return _markread(irc, target, event.ts)


def on_join(irc: IrcDialect, event: Joined) -> bytes:
    """The MARKREAD that goes before the end of NAMES when we join a channel."""
    if CAP not in irc.caps:
        return b""
    return _markread(irc, event.room, event.read_ts)


def _markread(irc: IrcDialect, target: str, ts: str | None) -> bytes:
    return irc.line("MARKREAD", target, f"timestamp={ts}" if ts else "*", trailing=False)
