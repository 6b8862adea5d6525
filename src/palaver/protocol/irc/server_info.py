"""IRC's questions about the server: MOTD, TIME, VERSION, LUSERS, INFO, LINKS; and the events
that answer them (RESULT for TIME, SERVER_STATS for LUSERS).

palaver is one server, so LINKS lists only itself and a question for another server (``INFO
<server>``) is ``402``. The counts of LUSERS are the hub's (STATS → SERVER_STATS): users online,
invisible ones and operators among them, connections not registered yet, channels (rooms;
private ones are not counted) and the most users online at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver import __version__
from palaver.hub.names import fold
from palaver.hub.whowas import mask_matcher
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.registration import isupport
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import GetStats, Result, RunCommand, ServerStats

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

INFO_LINES: Final = (
    f"palaver {__version__}",
    "A chat server: JSON lines, plain text, IRC and the web, one hub behind them all.",
    "Rooms, direct messages, accounts, history and resume are the same on every door.",
)


def _names_us(irc: IrcDialect, target: str) -> bool:
    """Whether a server argument (a name or a mask) names this server. A nick does too: every
    user is on this server."""
    if "." not in target and "*" not in target and "?" not in target:
        return True  # a nick (or a server name without a dot: ours, as far as we know)
    return mask_matcher(fold(target))(fold(irc.server))


# ---------------------------------------------------------------------- commands


def on_motd(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.renderer.motd(irc.me(), irc.door.motd))


def on_time(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.request(RunCommand, Pending("time"), name="time"))


def on_version(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.num("351", f"palaver-{__version__}", irc.server, "IRC door"))
    out.append(isupport(irc))


def on_lusers(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.request(GetStats, Pending("lusers")))


def on_info(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    if line.params and not _names_us(irc, line.params[0]):
        out.append(irc.num("402", line.params[0], "No such server"))
        return
    out.append(b"".join(irc.num("371", text) for text in INFO_LINES)
               + irc.num("374", "End of /INFO list"))


def on_links(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``LINKS [[<server>] <mask>]``: this server, if it matches the mask."""
    mask = line.params[-1] if line.params else "*"
    lines = []
    if mask_matcher(fold(mask))(fold(irc.server)):
        lines.append(irc.num("364", irc.server, irc.server, f"0 {irc.info}"))
    lines.append(irc.num("365", mask, "End of /LINKS list"))
    out.append(b"".join(lines))


# ---------------------------------------------------------------------- events


def result(irc: IrcDialect, event: Result, pending: Pending | None) -> bytes:
    if pending is not None and pending.kind == "time":
        return irc.num("391", irc.server, event.result)
    return irc.renderer.notice(irc.me(), event.result)


def server_stats(irc: IrcDialect, event: ServerStats, pending: Pending | None) -> bytes:
    users, most = str(event.users), str(event.max_users)
    return b"".join((
        irc.num("251", f"There are {event.users - event.invisible} users and "
                f"{event.invisible} invisible on 1 servers"),
        irc.num("252", str(event.operators), "operator(s) online"),
        irc.num("253", str(event.unregistered), "unknown connection(s)"),
        irc.num("254", str(event.rooms), "channels formed"),
        irc.num("255", f"I have {event.users} clients and 0 servers"),
        irc.num("265", users, most, f"Current local users {users}, max {most}"),
        irc.num("266", users, most, f"Current global users {users}, max {most}"),
    ))
