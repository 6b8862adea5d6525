"""CERT: an account's TLS client certificates, and what a connection's certificate proves.

How this works: :class:`Certificates` is a mixin of :class:`~palaver.hub.hub.Hub`. A transport
that speaks TLS tells the hub, when the session opens, the SHA-256 fingerprint of the
certificate the client presented (``Session.certificate``; the server only accepts
certificates its ``client_ca`` issued, docs/tls.md). Bindings live in the store only (the one
source of truth): CERT is checked here (only accounts; a well-formed fingerprint, or this
connection's own for an ``add`` without one) and becomes :class:`ChangeCertificates`, which the
core carries out in the store, in its turn, and hands back to
:meth:`Certificates.certificates_changed` for the answer (CERTIFICATES, or an error).

Logging in with a certificate (AUTH ``mechanism`` ``certificate``, IRC's SASL EXTERNAL) is an
AUTH whose verdict the core gets from the store (the account the fingerprint is bound to) and
hands to :meth:`Hub.login`, as for a password (hub/authentication.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.effects import ChangeCertificates, Deliver, Effect
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import CertificateList, ManageCertificates

if TYPE_CHECKING:
    from palaver.hub.effects import SessionId

_FINGERPRINT: Final = re.compile(r"[0-9a-f]{64}")


def normalize_fingerprint(text: str) -> str | None:
    """``text`` as a fingerprint (64 lowercase hex digits; colons, spaces and case ignored),
    or None when it is not one."""
    digits = text.replace(":", "").replace(" ", "").lower()
    return digits if _FINGERPRINT.fullmatch(digits) else None


class Certificates:
    """Mixed into the hub: needs its sessions and a few of its helpers."""

    if TYPE_CHECKING:
        _sessions: dict[SessionId, Session]

        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...

    def certificate_handlers(self) -> dict[type[Any], Any]:
        return {ManageCertificates: self._manage_certificates}

    def certificate_of(self, sid: SessionId) -> str | None:
        """The fingerprint of the client certificate session ``sid`` presented, or None."""
        session = self._sessions.get(sid)
        return session.certificate if session is not None else None

    def _manage_certificates(self, session: Session, msg: ManageCertificates,
                             now: float) -> list[Effect]:
        user = self._user(session)
        if not user.account:
            raise PeerError(ErrorCode.NOT_AN_ACCOUNT,
                            "only accounts have certificates: REGISTER first")
        fingerprint: str | None = None
        if msg.fingerprint is not None:
            fingerprint = normalize_fingerprint(msg.fingerprint)
            if fingerprint is None:
                raise PeerError(ErrorCode.INVALID_FINGERPRINT,
                                "a fingerprint is the certificate's SHA-256: 64 hex digits",
                                field="fingerprint")
        elif msg.action == "add":
            fingerprint = session.certificate
            if fingerprint is None:
                raise PeerError(ErrorCode.CERTIFICATE_REQUIRED,
                                "this connection presented no client certificate: name one "
                                "by its fingerprint", field="fingerprint")
        elif msg.action == "remove":
            raise PeerError(ErrorCode.INVALID_FINGERPRINT, "which certificate? give its "
                            "fingerprint", field="fingerprint")
        if msg.action == "list":
            fingerprint = None
        return [ChangeCertificates(session.sid, msg.id, user.key, user.nick, msg.action,
                                   fingerprint)]

    def certificates_changed(self, effect: ChangeCertificates, fingerprints: list[str], *,
                             done: bool) -> list[Effect]:
        """The store did ``effect`` (``done``; false: the fingerprint is another account's, for
        an add, or not this account's, for a remove) and now binds ``fingerprints``."""
        sid = effect.session
        if not done:
            error = (PeerError(ErrorCode.CERTIFICATE_TAKEN,
                               "that certificate is bound to another account", effect.request_id,
                               field="fingerprint")
                     if effect.action == "add" else
                     PeerError(ErrorCode.NO_SUCH_CERTIFICATE,
                               "that certificate is not bound to your account",
                               effect.request_id, field="fingerprint"))
            return [self.error_effect(sid, error)]
        event = CertificateList(
            id=effect.request_id, account=effect.nick, fingerprints=tuple(fingerprints),
            added=effect.fingerprint if effect.action == "add" else None,
            removed=effect.fingerprint if effect.action == "remove" else None,
            current=self.certificate_of(sid))
        return [Deliver(event, (sid,))]
