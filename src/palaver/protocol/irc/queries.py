"""IRC's questions about users and the server: WHO, WHOIS, ISON, USERHOST, MOTD, TIME, VERSION;
and the events that answer them (USERS, RESULT).

Every question about users is one WHO request to the hub (``details`` when the answer needs
usernames, realnames or away messages); the pending entry says which IRC reply to make of it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from palaver import __version__
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.channels import prefixed
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.registration import isupport
from palaver.protocol.irc.render import HOST
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import ListUsers, Result, RunCommand, UserInfo, Users

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

MAX_USERHOST: Final = 5  # nicks one USERHOST asks about
_About = Callable[[str], UserInfo]  # what is known of an online nick


# ---------------------------------------------------------------------- commands


def on_who(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    mask = line.params[0] if line.params else "*"
    room = mask if mask.startswith("#") else None
    out.append(irc.request(ListUsers, Pending("who", mask), room=room, details=True))


def on_whois(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    nick = line.params[-1].split(",")[0]
    out.append(irc.request(ListUsers, Pending("whois", nick), details=True))


def on_ison(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.request(ListUsers, Pending("ison", " ".join(line.params))))


def on_userhost(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    asked = " ".join(line.params[:MAX_USERHOST])
    out.append(irc.request(ListUsers, Pending("userhost", asked), details=True))


def on_motd(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.renderer.motd(irc.me(), irc.motd))


def on_time(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.request(RunCommand, Pending("time"), name="time"))


def on_version(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.num("351", f"palaver-{__version__}", irc.server, "IRC door"))
    out.append(isupport(irc))


# ---------------------------------------------------------------------- events


def users(irc: IrcDialect, event: Users, pending: Pending | None) -> bytes:
    kind, arg = (pending.kind, pending.arg) if pending else ("who", event.room or "*")
    if kind == "names":
        return irc.renderer.names(irc.me(), event.room or arg,
                                  prefixed(event.users, event.operators))
    if kind == "ison":
        online = {n.lower(): n for n in event.users}
        present = [online[n.lower()] for n in arg.split(" ") if n.lower() in online]
        return irc.num("303", " ".join(present))
    info = {i.nick.lower(): i for i in event.info}  # filled when we asked for details

    def about(nick: str) -> UserInfo:
        return info.get(nick.lower()) or UserInfo(nick=nick)

    if kind == "userhost":  # RPL_USERHOST: nick=+user@host, "-" when away
        online = {n.lower(): n for n in event.users}
        asked = [about(online[n.lower()]) for n in arg.split(" ") if n.lower() in online]
        return irc.num("302", " ".join(
            f"{u.nick}={'-' if u.away else '+'}{u.username or u.nick}@{HOST}" for u in asked))
    if kind == "whois":
        return _whois(irc, event, arg, about)
    return _who(irc, event, arg, about)


def _whois(irc: IrcDialect, event: Users, arg: str, about: _About) -> bytes:
    whom = [n for n in event.users if n.lower() == arg.lower()]
    if not whom:
        return irc.num("401", arg, "No such nick") + irc.num("318", arg, "End of /WHOIS list")
    user = about(whom[0])
    nick = user.nick
    lines = [irc.num("311", nick, user.username or nick, HOST, "*", user.realname or nick),
             irc.num("312", nick, irc.server, "palaver")]
    if user.away:
        lines.append(irc.num("301", nick, user.away))
    lines.append(irc.num("318", nick, "End of /WHOIS list"))
    return b"".join(lines)


def _who(irc: IrcDialect, event: Users, arg: str, about: _About) -> bytes:
    """WHO: a channel's members, or the online users matching a mask."""
    channel = event.room or "*"
    nicks = event.users if event.room else [
        n for n in event.users if fnmatch.fnmatchcase(n.lower(), arg.lower())]
    ops = {n.lower() for n in event.operators}
    who: list[bytes] = []
    for n in nicks:
        user = about(n)
        flags = ("G" if user.away else "H") + ("@" if n.lower() in ops else "")
        who.append(irc.num("352", channel, user.username or n, HOST, irc.server, n, flags,
                           f"0 {user.realname or n}"))
    who.append(irc.num("315", arg, "End of /WHO list"))
    return b"".join(who)


def result(irc: IrcDialect, event: Result, pending: Pending | None) -> bytes:
    if pending is not None and pending.kind == "time":
        return irc.num("391", irc.server, event.result)
    return irc.renderer.notice(irc.me(), event.result)
