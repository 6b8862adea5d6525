"""IRC registration and the connection itself: PASS, NICK, USER, CAP, PING, PONG, QUIT; and the
events that answer them (WELCOME, REGISTERED, BYE).

Registration is the state machine of :mod:`palaver.protocol.irc.state`: when NICK and USER are
both given outside a CAP negotiation, the HELLO goes to the hub (``autojoin`` off: IRC clients
join only what they ask for); WELCOME completes it. With the door's server password
(``irc_password``), PASS must give it: registering without it is ``464`` and ``ERROR``, and
accounts log in with SASL (:mod:`.sasl`); without one, PASS logs in to the account NICK.

CAP (IRCv3 capability negotiation, version 302): ``LS`` lists :data:`SUPPORTED_CAPS` (with
values, and on several lines when long, only for a client that said ``302``; such a client has
``cap-notify`` on and cannot turn it off); ``REQ`` takes or refuses a list as a whole (``-cap``
removes one); ``LIST``, ``END``; any other subcommand is ``410``.
"""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING, Final

from palaver import __version__
from palaver.hub.profile import MAX_AWAY, MAX_REALNAME, MAX_USERNAME
from palaver.hub.rules import MAX_KEY
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import history, metadata, monitor
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import CAP_VALUES, SUPPORTED_CAPS, hostmask
from palaver.protocol.irc.rooms import CHANMODES, CHANNEL_MODES, CHANNEL_PARAM_MODES, MAX_KICKS
from palaver.protocol.irc.state import Closing, Phase, Step
from palaver.protocol.irc.wire import MAX_LINE, IrcLine, one_line, strip_formatting
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
    "CHANNELLEN=50", "CHANTYPES=#", "ELIST=MNU", "EXTBAN=,m", "INVEX=I", f"KEYLEN={MAX_KEY}",
    "MODES=4", "NETWORK=palaver", "NICKLEN=32", "PREFIX=(ov)@+",
    f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},JOIN:,PART:,NAMES:,KICK:{MAX_KICKS}",
    "TOPICLEN=300", "WHOX", "BOT=B",
    "STATUSMSG=@+", "UTF8ONLY",  # PRIVMSG @#room (messaging.py); nothing but UTF-8 is read
    *history.ISUPPORT_TOKENS,  # CHATHISTORY=100 MSGREFTYPES=msgid,timestamp
    monitor.ISUPPORT_TOKEN,
)


ISUPPORT_PER_LINE: Final = 12  # tokens of one 005 (13 at most, and the line within 512 bytes)
USER_MODES: Final = "Biow"  # RPL_MYINFO's user modes: B (bot), i, o, w (irc/operators.py)


def isupport(irc: IrcDialect, me: str | None = None) -> bytes:
    """RPL_ISUPPORT, on as many 005 lines as the tokens need."""
    return b"".join(irc.num("005", *ISUPPORT[i:i + ISUPPORT_PER_LINE],
                            "are supported by this server", me=me)
                    for i in range(0, len(ISUPPORT), ISUPPORT_PER_LINE))


def maybe_register(irc: IrcDialect, out: list[Inbound]) -> None:
    """Sends the HELLO once NICK and USER are both in, outside a CAP negotiation; without the
    door's password, ``464`` and the close instead."""
    reg = irc.reg
    if reg is None or reg.phase is not Phase.START or irc.nick is None or irc.realname is None:
        return
    expected = irc.door.password
    if expected is not None and not _same(reg.password, expected):
        reg.closing = Closing("Password incorrect")  # nothing more read, only ERROR sent
        out.append(irc.num("464", "Password incorrect"))
        out.append(irc.request(Quit, Pending("refused", "Password incorrect")))
        return
    irc.step(Step.COMPLETE)
    # A server password is the door's; an account logged in with SASL needs none either.
    password = None if irc.door.password is not None or irc.account else reg.password
    out.append(irc.request(Hello, Pending("hello", irc.nick), version=PROTOCOL_VERSION,
                           nick=irc.nick, password=password,
                           username=reg.username, realname=irc.realname or None,
                           autojoin=False,
                           metadata=metadata.hello_metadata(irc, reg)))  # before-connect


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


# ---------------------------------------------------------------------- commands


def on_pass(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    reg = irc.reg
    if reg is None or not irc.step(Step.PASS):
        out.append(irc.num("462", "You may not reregister"))
    else:
        reg.password = " ".join(line.params)  # a password with spaces, sent without ":"
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
    reg = irc.reg
    if not line.params[0] or not line.params[3]:
        out.append(irc.need_more("USER"))  # an empty username or realname too
    elif reg is None or not irc.step(Step.USER):
        out.append(irc.num("462", "You may not reregister"))
    else:
        reg.username = _USERNAME_JUNK.sub("", line.params[0])[:MAX_USERNAME] or None
        irc.realname = one_line(line.params[3], MAX_REALNAME) or ""  # "": given, but empty
        maybe_register(irc, out)


def on_cap(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper()
    if sub == "LS":
        irc.step(Step.CAP_BEGIN)
        version = line.params[1] if len(line.params) > 1 else ""
        if version.isdigit() and int(version) >= 302 and irc.cap_version < 302:
            irc.set_caps(irc.caps | {"cap-notify"}, cap_version=302)  # implied, for good
        values = irc.cap_version >= 302
        out.append(_cap_reply(irc, "LS", [
            f"sasl={','.join(irc.door.mechanisms)}" if values and cap == "sasl"  # irc/sasl.py
            else f"{cap}={CAP_VALUES[cap]}" if values and cap in CAP_VALUES else cap
            for cap in SUPPORTED_CAPS]))
    elif sub == "LIST":
        out.append(_cap_reply(irc, "LIST", sorted(irc.caps)))
    elif sub == "REQ":
        irc.step(Step.CAP_BEGIN)
        wanted = line.params[1] if len(line.params) > 1 else ""
        caps = _requested(irc, wanted)
        if caps is None:
            out.append(irc.line("CAP", irc.me(), "NAK", wanted))
        else:
            irc.set_caps(caps)
            out.append(irc.line("CAP", irc.me(), "ACK", wanted))
    elif sub == "END":
        irc.step(Step.CAP_END)
        reg = irc.reg
        if reg is not None and reg.phase is Phase.START and reg.sasl is not None:
            reg.sasl = None  # registering: SASL is over
            out.append(irc.num("906", "SASL authentication aborted"))
        maybe_register(irc, out)
    else:
        out.append(irc.num("410", sub, "Invalid CAP command"))


def _requested(irc: IrcDialect, wanted: str) -> frozenset[str] | None:
    """The capabilities after a ``CAP REQ`` of ``wanted``, or None if it is refused (as a
    whole: an unknown one, or turning ``cap-notify`` off after ``CAP LS 302``)."""
    caps = set(irc.caps)
    for name in wanted.split():
        removing = name.startswith("-")
        cap = name[1:] if removing else name
        if cap not in SUPPORTED_CAPS or (removing and cap == "cap-notify"
                                         and irc.cap_version >= 302):
            return None
        if removing:
            caps.discard(cap)
        else:
            caps.add(cap)
    return frozenset(caps)


def _cap_reply(irc: IrcDialect, sub: str, items: list[str]) -> bytes:
    """``CAP <me> LS|LIST :items`` — on several lines, each but the last marked ``*``, when
    they do not fit one and the client said ``CAP LS 302`` (else on one line, as 301 wants)."""
    me = irc.me()
    if irc.cap_version < 302:
        return irc.line("CAP", me, sub, " ".join(items))
    budget = MAX_LINE - 2 - len(f":{irc.server} CAP {me} {sub} * :".encode())
    chunks: list[list[str]] = [[]]
    for item in items:
        if chunks[-1] and len(" ".join([*chunks[-1], item]).encode()) > budget:
            chunks.append([])
        chunks[-1].append(item)
    return b"".join(irc.line("CAP", me, sub, *(["*"] if i < len(chunks) - 1 else []),
                             " ".join(chunk)) for i, chunk in enumerate(chunks))


def on_ping(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.line("PONG", irc.server, line.params[0]))


def on_pong(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    return  # any traffic keeps the connection alive; the transport notes it


def on_quit(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    reason = strip_formatting(line.params[0]) if line.params else None
    out.append(irc.request(Quit, Pending("quit", reason or ""), reason=reason or None))


# ---------------------------------------------------------------------- events


def welcome(irc: IrcDialect, event: Welcome, pending: Pending | None) -> bytes:
    irc.step(Step.WELCOME)  # registered: what only registering needed is let go
    irc.nick = me = event.nick
    if event.account and irc.account is None:  # logged in with PASS: the account is the nick
        irc.account = me
    lines = [
        irc.num("001", f"Welcome to the palaver IRC network, {hostmask(me)}", me=me),
        irc.num("002", f"Your host is {irc.server}, running version {__version__}", me=me),
        irc.num("003", "This server speaks palaver's protocol v1 and IRC", me=me),
        irc.num("004", irc.server, f"palaver-{__version__}", USER_MODES, CHANNEL_MODES,
                CHANNEL_PARAM_MODES, me=me),
        isupport(irc, me),
        metadata.burst(irc, event, me),  # draft/metadata-3: one's own, before the MOTD
        irc.renderer.motd(me, event.motd),
    ]
    return b"".join(lines)


def registered(irc: IrcDialect, event: Registered, pending: Pending | None) -> bytes:
    return irc.renderer.notice(
        irc.me(), f"{event.nick} is now an account: log in with PASS <password>")


def goodbye(irc: IrcDialect, event: Goodbye, pending: Pending | None) -> bytes:
    reason = event.reason
    if pending is not None and pending.kind == "quit":
        reason = f"Quit: {pending.arg}" if pending.arg else "Quit"
    elif pending is not None and pending.kind == "refused":  # the door's own refusal
        reason = pending.arg
    return irc.line("ERROR", f"Closing link: {irc.me()} ({reason})", source=None)
