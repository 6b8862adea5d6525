"""IRC registration and the connection itself: PASS, NICK, USER, CAP, PING, PONG, QUIT; and the
events that answer them (WELCOME, REGISTERED, BYE).

Registration is the state machine of :mod:`palaver.protocol.irc.state`: when NICK and USER are
both given outside a CAP negotiation, the HELLO goes to the hub; WELCOME completes it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from palaver import __version__
from palaver.hub.profile import MAX_AWAY, MAX_REALNAME, MAX_USERNAME
from palaver.hub.rules import MAX_KEY
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import monitor
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import SUPPORTED_CAPS, hostmask
from palaver.protocol.irc.rooms import CHANMODES, CHANNEL_MODES, CHANNEL_PARAM_MODES, MAX_KICKS
from palaver.protocol.irc.state import Phase, Step
from palaver.protocol.irc.wire import IrcLine, one_line, strip_formatting
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Goodbye,
    Hello,
    Quit,
    Registered,
    SetNick,
    Welcome,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

MAX_TARGETS: Final = 4  # targets of one PRIVMSG/NOTICE
_USERNAME_JUNK: Final = re.compile(r"[^A-Za-z0-9_.~-]", re.ASCII)  # what a username cannot hold
ISUPPORT: Final = (
    f"AWAYLEN={MAX_AWAY}", "CASEMAPPING=ascii", "CHANLIMIT=#:", f"CHANMODES={CHANMODES}",
    "CHANNELLEN=50", "CHANTYPES=#", "ELIST=MNU", f"KEYLEN={MAX_KEY}", "MODES=4",
    "NETWORK=palaver", "NICKLEN=32", "PREFIX=(ov)@+",
    f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},JOIN:,PART:,NAMES:,KICK:{MAX_KICKS}",
    "TOPICLEN=300", "WHOX",
    monitor.ISUPPORT_TOKEN,
)


def isupport(irc: IrcDialect, me: str | None = None) -> bytes:
    return irc.num("005", *ISUPPORT, "are supported by this server", me=me)


def maybe_register(irc: IrcDialect, out: list[Inbound]) -> None:
    """Sends the HELLO once NICK and USER are both in, outside a CAP negotiation."""
    if irc.phase is Phase.START and irc.nick is not None and irc.user is not None:
        irc.step(Step.COMPLETE)
        username, realname = irc.user
        out.append(irc.request(Hello, Pending("hello", irc.nick), version=PROTOCOL_VERSION,
                               nick=irc.nick, password=irc.password,
                               username=username, realname=realname, autojoin=False))


# ---------------------------------------------------------------------- commands


def on_pass(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    if not irc.step(Step.PASS):
        out.append(irc.num("462", "You may not reregister"))
    else:
        irc.password = " ".join(line.params)  # a password with spaces, sent without ":"
        maybe_register(irc, out)


def on_nick(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    nick = line.params[0]
    if not nick:
        out.append(irc.num("431", "No nickname given"))
        return
    irc.step(Step.NICK)  # allowed in every phase
    if irc.phase in (Phase.START, Phase.CAP):
        irc.nick = nick
        maybe_register(irc, out)
    elif nick == (irc.nick_of() or irc.nick):
        return  # our nick already (exactly): nothing changes, nothing to say
    else:
        out.append(irc.request(SetNick, Pending("nick", nick), nick=nick))


def on_user(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    if not line.params[0] or not line.params[3]:
        out.append(irc.need_more("USER"))  # an empty username or realname too
    elif not irc.step(Step.USER):
        out.append(irc.num("462", "You may not reregister"))
    else:
        username = _USERNAME_JUNK.sub("", line.params[0])[:MAX_USERNAME] or None
        irc.user = (username, one_line(line.params[3], MAX_REALNAME))
        maybe_register(irc, out)


def on_cap(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper()
    me = irc.me()
    if sub == "LS":
        irc.step(Step.CAP_BEGIN)
        out.append(irc.line("CAP", me, "LS", " ".join(SUPPORTED_CAPS)))
    elif sub == "LIST":
        out.append(irc.line("CAP", me, "LIST", " ".join(sorted(irc.caps))))
    elif sub == "REQ":
        irc.step(Step.CAP_BEGIN)
        wanted = line.params[1] if len(line.params) > 1 else ""
        caps = set(irc.caps)
        for name in filter(None, wanted.split(" ")):
            removing = name.startswith("-")
            cap = name[1:] if removing else name
            if cap not in SUPPORTED_CAPS:
                out.append(irc.line("CAP", me, "NAK", wanted))
                return
            if removing:
                caps.discard(cap)
            else:
                caps.add(cap)
        irc.set_caps(frozenset(caps))
        out.append(irc.line("CAP", me, "ACK", wanted))
    elif sub == "END":
        irc.step(Step.CAP_END)
        maybe_register(irc, out)
    else:
        out.append(irc.num("410", sub, "Invalid CAP command"))


def on_ping(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.line("PONG", irc.server, line.params[0]))


def on_pong(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    return  # any traffic keeps the connection alive; the transport notes it


def on_quit(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    reason = strip_formatting(line.params[0]) if line.params else None
    out.append(irc.request(Quit, Pending("quit", reason or ""), reason=reason or None))


# ---------------------------------------------------------------------- events


def welcome(irc: IrcDialect, event: Welcome, pending: Pending | None) -> bytes:
    irc.step(Step.WELCOME)
    irc.nick = me = event.nick
    irc.motd = event.motd
    lines = [
        irc.num("001", f"Welcome to the palaver IRC network, {hostmask(me)}", me=me),
        irc.num("002", f"Your host is {irc.server}, running version {__version__}", me=me),
        irc.num("003", "This server speaks palaver's protocol v1 and IRC", me=me),
        irc.num("004", irc.server, f"palaver-{__version__}", "iow", CHANNEL_MODES,
                CHANNEL_PARAM_MODES, me=me),
        isupport(irc, me),
        irc.renderer.motd(me, irc.motd),
    ]
    if irc.modes:
        lines.append(irc.line("MODE", me, "+" + "".join(sorted(irc.modes)),
                              source=hostmask(me)))
    return b"".join(lines)


def registered(irc: IrcDialect, event: Registered, pending: Pending | None) -> bytes:
    return irc.renderer.notice(
        irc.me(), f"{event.nick} is now an account: log in with PASS <password>")


def goodbye(irc: IrcDialect, event: Goodbye, pending: Pending | None) -> bytes:
    reason = event.reason
    if pending is not None and pending.kind == "quit":
        reason = f"Quit: {pending.arg}" if pending.arg else "Quit"
    return irc.line("ERROR", f"Closing link: {irc.me()} ({reason})", source=None)
