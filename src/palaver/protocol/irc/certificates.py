"""``CERT``: an account's TLS client certificates from IRC (CERT; hub/certificates.py).

palaver has no services, so where ergo has ``/msg NickServ CERT ADD``, the IRC door has a
command of its own (most clients send an unknown ``/cert ...`` as it is, or with ``/quote``):

- ``CERT`` or ``CERT LIST``: the fingerprints bound to one's account;
- ``CERT ADD``: bind the certificate this connection presented; ``CERT ADD <fingerprint>``:
  bind that one (SHA-256, 64 hex digits; colons and case do not matter);
- ``CERT DEL <fingerprint>`` (or ``REMOVE``): unbind it.

The answer is server NOTICEs, one line each: what was added or removed, then every fingerprint
bound (the one this connection presented marked), so it reads well in any client. Refusals are
standard replies, ``FAIL CERT <CODE> :<why>`` (codes: NOT_AN_ACCOUNT, CERTIFICATE_REQUIRED,
CERTIFICATE_TAKEN, NO_SUCH_CERTIFICATE, INVALID_FINGERPRINT, UNKNOWN_SUBCOMMAND). A bound
certificate logs in with SASL EXTERNAL (irc/sasl.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import CertificateList, ManageCertificates

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

_ACTIONS: Final = {"LIST": "list", "ADD": "add", "DEL": "remove", "REMOVE": "remove"}
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("cert", code): ("FAIL", "CERT", code.value.upper())
    for code in (ErrorCode.NOT_AN_ACCOUNT, ErrorCode.CERTIFICATE_REQUIRED,
                 ErrorCode.CERTIFICATE_TAKEN, ErrorCode.NO_SUCH_CERTIFICATE,
                 ErrorCode.INVALID_FINGERPRINT, ErrorCode.UNAVAILABLE)
}


def on_cert(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper() if line.params else "LIST"
    action = _ACTIONS.get(sub)
    if action is None:
        out.append(irc.line("FAIL", "CERT", "UNKNOWN_SUBCOMMAND", sub,
                            "CERT takes LIST, ADD [fingerprint] or DEL <fingerprint>"))
        return
    fingerprint = line.params[1] if len(line.params) > 1 and action != "list" else None
    out.append(irc.request(ManageCertificates, Pending("cert", sub), action=action,
                           fingerprint=fingerprint))


# ---------------------------------------------------------------------- events


def certificate_list(irc: IrcDialect, event: CertificateList, pending: Pending | None) -> bytes:
    me = irc.me()
    notes: list[str] = []
    if event.added is not None:
        notes.append(f"CERT: added {event.added}; it logs in to {event.account} "
                     "with SASL EXTERNAL")
    if event.removed is not None:
        notes.append(f"CERT: removed {event.removed}")
    count = len(event.fingerprints)
    notes.append(f"CERT: {event.account} has {count} certificate{'' if count == 1 else 's'}"
                 + (":" if count else ""))
    notes.extend(f"CERT: {fp}" + (" (this connection's)" if fp == event.current else "")
                 for fp in event.fingerprints)
    if event.current is not None and event.current not in event.fingerprints:
        notes.append(f"CERT: this connection's certificate is {event.current} (not bound: "
                     "CERT ADD binds it)")
    return b"".join(irc.renderer.notice(me, note) for note in notes)
