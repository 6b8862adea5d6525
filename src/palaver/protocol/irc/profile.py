"""What IRC users see of each other changing: SETNAME, and the capabilities that carry the
hub's USER_UPDATED and a join's details — away-notify, setname, account-notify, extended-join.

How this works: the hub tells a user's room-mates when its away status, realname or account
changes (``USER_UPDATED``); :func:`user_updated` makes the line a client asked for with its
capabilities (``AWAY``, ``SETNAME``, ``ACCOUNT``) or nothing, from the event alone, so the
bytes are shared by every connection with the same capabilities. A join's PRESENCE carries
the joiner's realname, account and away message: the renderer makes the extended JOIN
(``JOIN #room account :realname``) and, for away-notify, the ``AWAY`` after it
(:meth:`~palaver.protocol.irc.render.IrcRenderer.presence`). Our own JOIN is extended too,
from what this connection knows of itself (:func:`own_join`). SETNAME is the
hub's REALNAME; a realname it cannot keep is ``FAIL SETNAME INVALID_REALNAME``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from palaver.hub.profile import MAX_REALNAME
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import clean, hostmask
from palaver.protocol.irc.wire import IrcLine, format_line, strip_formatting
from palaver.protocol.messages import Error, SetRealname, UserUpdated

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect


# ---------------------------------------------------------------------- commands


def on_setname(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    realname = strip_formatting(line.params[0]).strip()
    if not realname or len(realname) > MAX_REALNAME:
        out.append(irc.fail("SETNAME", "INVALID_REALNAME", text="Realname is not valid"))
        return
    out.append(irc.request(SetRealname, Pending("setname", realname), realname=realname))


# ---------------------------------------------------------------------- events


def user_updated(irc: IrcDialect, event: UserUpdated, pending: Pending | None) -> bytes:
    if pending is not None and pending.kind == "setname" and irc.realname is not None:
        irc.realname = event.realname  # ours, as the hub now has it
    caps = irc.caps
    if event.watched and "extended-monitor" not in caps:
        return b""  # we MONITOR it and share no channel with it (irc/monitor.py)
    source = hostmask(event.nick)
    if event.change == "away" and "away-notify" in caps:
        if event.away:
            return format_line("AWAY", clean(event.away), source=source)
        return format_line("AWAY", source=source)
    if event.change == "realname" and "setname" in caps:
        return format_line("SETNAME", clean(event.realname), source=source)
    if event.change == "account" and "account-notify" in caps and event.account:
        return format_line("ACCOUNT", event.account, source=source, trailing=False)
    return b""


def setname_refused(irc: IrcDialect, event: Error, pending: Pending) -> bytes:
    return irc.fail("SETNAME", "INVALID_REALNAME", text="Realname is not valid")


def own_join(irc: IrcDialect, room: str) -> bytes:
    """Our own JOIN: extended too, with our account (SASL or PASS) and realname (USER, then
    SETNAME)."""
    me = irc.me()
    if "extended-join" not in irc.caps:
        return irc.line("JOIN", room, source=hostmask(me), trailing=False)
    realname = irc.realname or me
    return irc.line("JOIN", room, irc.account or "*", realname, source=hostmask(me))
