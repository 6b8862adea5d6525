"""IRC's MONITOR (IRCv3 monitor) onto palaver's watch lists (WATCH; hub/watch.py).

``MONITOR + a,b`` adds nicks (``WATCH`` with ``add``; answered 730 RPL_MONONLINE for those
online, 731 RPL_MONOFFLINE for the others), ``MONITOR - a,b`` removes them and ``MONITOR C``
clears the list (nothing in answer), ``MONITOR L`` lists it (732 RPL_MONLIST, 733
RPL_ENDOFMONLIST) and ``MONITOR S`` says who on it is online (730/731): both are a ``WATCH``
that changes nothing. A target that is no valid nick (a mask) is 432 and goes no further; a
list that would pass ``MONITOR=`` (ISUPPORT) nicks is 734 ERR_MONLISTFULL and changes nothing.
The hub's ``ONLINE``/``OFFLINE`` become 730/731 — numerics, so rendered for each watcher.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from palaver.hub.names import is_valid_nick
from palaver.hub.watch import MAX_WATCH
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import hostmask
from palaver.protocol.irc.wire import MAX_LINE, IrcLine
from palaver.protocol.messages import Offline, Online, Watch, Watching

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

ISUPPORT_TOKEN: Final = f"MONITOR={MAX_WATCH}"
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("monitor+", ErrorCode.WATCH_LIST_FULL): ("734", str(MAX_WATCH), "{arg}",
                                              "Monitor list is full."),
    ("monitor+", ErrorCode.INVALID_NICK): ("432", "{arg}", "Erroneous nickname"),
}


def on_monitor(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper()
    if sub in ("+", "-"):
        if len(line.params) < 2:
            out.append(irc.need_more("MONITOR"))
            return
        targets = [t for t in line.params[1].split(",") if t]
        if sub == "-":
            out.append(irc.request(Watch, Pending("monitor-"), remove=tuple(targets)))
            return
        for target in targets:
            if not is_valid_nick(target):
                out.append(irc.num("432", target, "Erroneous nickname"))
        nicks = tuple(t for t in targets if is_valid_nick(t))
        if nicks:
            out.append(irc.request(Watch, Pending("monitor+", ",".join(nicks)), add=nicks))
    elif sub == "C":
        out.append(irc.request(Watch, Pending("monitor-"), clear=True))
    elif sub in ("L", "S"):
        out.append(irc.request(Watch, Pending(f"monitor-{sub}")))
    else:
        out.append(irc.line("FAIL", "MONITOR", "INVALID_PARAMS", sub,
                            "MONITOR takes +, -, C, L or S"))


# ---------------------------------------------------------------------- events


def watching(irc: IrcDialect, event: Watching, pending: Pending | None) -> bytes:
    kind = pending.kind if pending is not None else ""
    if kind == "monitor-L":
        return (_listed(irc, "732", [*event.online, *event.offline])
                + irc.num("733", "End of MONITOR list"))
    if kind in ("monitor+", "monitor-S"):
        return (_listed(irc, "730", [hostmask(n) for n in event.online])
                + _listed(irc, "731", event.offline))
    return b""  # MONITOR - and C answer nothing


def online(irc: IrcDialect, event: Online, pending: Pending | None) -> bytes:
    return irc.num("730", hostmask(event.nick))


def offline(irc: IrcDialect, event: Offline, pending: Pending | None) -> bytes:
    return irc.num("731", event.nick)


def _listed(irc: IrcDialect, code: str, items: Iterable[str]) -> bytes:
    """``code`` numerics listing ``items``, comma-separated, as many lines as they need."""
    budget = MAX_LINE - 2 - len(f":{irc.server} {code} {irc.me()} :".encode())
    lines: list[bytes] = []
    chunk: list[str] = []
    size = 0
    for item in items:
        extra = len(item) + (1 if chunk else 0)
        if chunk and size + extra > budget:
            lines.append(irc.num(code, ",".join(chunk)))
            chunk, size, extra = [], 0, len(item)
        chunk.append(item)
        size += extra
    if chunk:
        lines.append(irc.num(code, ",".join(chunk)))
    return b"".join(lines)
