"""IRCv3 SASL (version 3.1/3.2) onto palaver accounts: ``AUTHENTICATE PLAIN``.

How this works: after ``CAP REQ :sasl``, ``AUTHENTICATE PLAIN`` is answered ``AUTHENTICATE +``;
the client then sends ``authzid NUL authcid NUL password`` in base64, in chunks of 400 bytes
(a shorter chunk, or ``+``, ends it). The door sends the hub an ``AUTH`` with the account (the
authcid) and password — the same check as a HELLO with a password, throttled the same way — and
its answer becomes ``900`` + ``903`` (logged in: the HELLO that registers the connection then
logs in to that account, with the nick NICK gave) or ``904``. ``AUTHENTICATE *`` aborts
(``906``); another mechanism is ``908`` + ``904``; a chunk over 400 bytes, or data past
:data:`MAX_SASL`, is ``905``; SASL after registration, or once logged in, is ``907``.
``AUTHENTICATE EXTERNAL`` (offered only on the TLS port of a server with ``client_ca``, where
``CAP LS 302`` says ``sasl=PLAIN,EXTERNAL``) is answered ``AUTHENTICATE +`` too; the client's
``+`` (or an authorization identity in base64: the account's name) becomes an ``AUTH`` with
``mechanism`` ``certificate``: the account the connection's client certificate is bound to
(``CERT ADD``, irc/certificates.py) logs in — ``900`` + ``903`` — or ``904`` (no certificate,
or one bound to no account, or another account named).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import hostmask
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import Authenticate, Authenticated, Error

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

MECHANISMS: Final = ("PLAIN", "EXTERNAL")  # EXTERNAL only where the door offers it
CHUNK: Final = 400  # bytes of base64 per AUTHENTICATE line
MAX_SASL: Final = 4 * CHUNK * 3  # base64 bytes of one exchange (a 1,024-character password fits)


def on_authenticate(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    arg = line.params[0]
    reg = irc.reg
    if reg is None or irc.account is not None:  # registered, or logged in already
        out.append(irc.num("907", "You have already authenticated using SASL"))
        return
    if "sasl" not in irc.caps:
        out.append(irc.num("904", "SASL authentication failed"))
        return
    if arg == "*":
        reg.sasl = None
        out.append(irc.num("906", "SASL authentication aborted"))
        return
    if reg.sasl is None:  # the mechanism
        if arg.upper() in irc.door.mechanisms:
            reg.sasl, reg.mechanism = "", arg.upper()
            out.append(irc.line("AUTHENTICATE", "+", source=None, trailing=False))
        else:
            out.append(irc.num("908", ",".join(irc.door.mechanisms),
                               "are available SASL mechanisms"))
            out.append(irc.num("904", "SASL authentication failed"))
        return
    if len(arg) > CHUNK or len(reg.sasl) + len(arg) > MAX_SASL:
        reg.sasl = None
        out.append(irc.num("905", "SASL message too long"))
        return
    if arg != "+":
        reg.sasl += arg
        if len(arg) == CHUNK:
            return  # more to come
    data, reg.sasl = reg.sasl, None
    if reg.mechanism == "EXTERNAL":
        authzid = _external(data)
        if authzid is None:
            out.append(irc.num("904", "SASL authentication failed"))
            return
        out.append(irc.request(Authenticate, Pending("sasl", authzid or "*"), nick=authzid,
                               mechanism="certificate"))
        return
    credentials = _plain(data)
    if credentials is None:
        out.append(irc.num("904", "SASL authentication failed"))
        return
    account, password = credentials
    out.append(irc.request(Authenticate, Pending("sasl", account), nick=account,
                           password=password))


def _plain(data: str) -> tuple[str, str] | None:
    """PLAIN's account and password (RFC 4616), or None if malformed or the authorization
    identity is someone else."""
    try:
        raw = base64.b64decode(data, validate=True)
        authzid, authcid, password = raw.decode("utf-8").split("\0")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not authcid or not password or (authzid and authzid.lower() != authcid.lower()):
        return None
    return authcid, password


def _external(data: str) -> str | None:
    """EXTERNAL's authorization identity (RFC 4422: empty, or the account to log in to), or
    None if malformed."""
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------- events


def authenticated(irc: IrcDialect, event: Authenticated, pending: Pending | None) -> bytes:
    irc.account = event.account
    nick = irc.nick or "*"
    return (irc.num("900", hostmask(nick), event.account,
                    f"You are now logged in as {event.account}")
            + irc.num("903", "SASL authentication successful"))


def auth_refused(irc: IrcDialect, event: Error, pending: Pending) -> bytes:
    """The hub refused the AUTH (a wrong password, too many attempts, no such account)."""
    return irc.num("904", "SASL authentication failed")
