"""TLS contexts for every door and every client: the one place that says how palaver does TLS.

How this works: the server builds one :func:`server_context` from ``tls_cert``/``tls_key`` at
start and hands the same :class:`ssl.SSLContext` to each TLS listener (``create_server(ssl=)``
for JSON lines/text and IRC, aiohttp's ``TCPSite(ssl_context=)`` for HTTPS/WSS). Clients use
:func:`client_context`: the system's trusted CAs, or one file of them (``--ca``), with the
certificate and the host name always checked. Both sides refuse anything older than TLS 1.2;
ciphers are OpenSSL's defaults (which already leave out the weak ones). :func:`describe_failure`
turns a failed handshake into one sentence a user can act on.
"""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Final

MINIMUM_VERSION: Final = ssl.TLSVersion.TLSv1_2
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH, _EMAIL_MISMATCH and _IP_ADDRESS_MISMATCH
NAME_MISMATCH: Final = frozenset({62, 63, 64})


class TlsSetupError(Exception):
    """A certificate, key or CA file cannot be used; the message says which and why."""


def server_context(cert_file: str | Path, key_file: str | Path | None = None,
                   client_ca: str | Path | None = None) -> ssl.SSLContext:
    """A server-side context with the certificate chain in ``cert_file`` and its private key
    (in ``key_file``, or in ``cert_file`` too when ``key_file`` is None). With ``client_ca``
    (a PEM bundle of CA certificates) it asks each client for a certificate: one is optional,
    but one that those CAs did not issue fails the handshake (SASL EXTERNAL, docs/tls.md)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    try:
        context.load_cert_chain(cert_file, key_file)
    except FileNotFoundError as exc:
        raise TlsSetupError(f"TLS file not found: {exc.filename}") from None
    except PermissionError as exc:
        raise TlsSetupError(f"TLS file not readable: {exc.filename}") from None
    except ssl.SSLError as exc:
        what = f"{cert_file}" + (f" / {key_file}" if key_file is not None else "")
        raise TlsSetupError(
            f"cannot use the TLS certificate and key {what}: {_reason(exc)} "
            "(are both PEM files, and is the key the certificate's own?)") from None
    except OSError as exc:
        raise TlsSetupError(f"cannot read a TLS file: {exc.strerror or exc}") from None
    if client_ca is not None:
        _load_client_ca(context, client_ca)
    return context


def _load_client_ca(context: ssl.SSLContext, client_ca: str | Path) -> None:
    try:
        context.load_verify_locations(cafile=client_ca)
    except FileNotFoundError:
        raise TlsSetupError(f"client CA file not found: {client_ca}") from None
    except PermissionError:
        raise TlsSetupError(f"client CA file not readable: {client_ca}") from None
    except ssl.SSLError as exc:
        raise TlsSetupError(f"client CA file {client_ca} holds no usable certificate: "
                            f"{_reason(exc)}") from None
    except OSError as exc:
        raise TlsSetupError(f"cannot read client CA file {client_ca}: {exc.strerror or exc}"
                            ) from None
    context.verify_mode = ssl.CERT_OPTIONAL


def peer_fingerprint(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> str | None:
    """The SHA-256 fingerprint (64 lowercase hex digits) of the certificate the peer of a TLS
    connection presented, or None (no TLS, or no certificate)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


def client_context(cafile: str | Path | None = None, *, certificate: str | Path | None = None,
                   key: str | Path | None = None) -> ssl.SSLContext:
    """A client-side context that verifies the server's certificate and host name against the
    system's CAs, or only against the certificates in ``cafile`` (e.g. a self-signed one);
    with ``certificate`` (and its ``key``, else in the same file) it presents that client
    certificate when the server asks for one."""
    try:
        context = ssl.create_default_context(cafile=cafile)
    except FileNotFoundError:
        raise TlsSetupError(f"CA file not found: {cafile}") from None
    except PermissionError:
        raise TlsSetupError(f"CA file not readable: {cafile}") from None
    except ssl.SSLError as exc:
        raise TlsSetupError(f"CA file {cafile} holds no usable certificate: {_reason(exc)}"
                            ) from None
    except OSError as exc:
        raise TlsSetupError(f"cannot read CA file {cafile}: {exc.strerror or exc}") from None
    context.minimum_version = MINIMUM_VERSION
    if certificate is not None:
        try:
            context.load_cert_chain(certificate, key)
        except FileNotFoundError as exc:
            raise TlsSetupError(f"client certificate file not found: {exc.filename}") from None
        except PermissionError as exc:
            raise TlsSetupError(f"client certificate file not readable: {exc.filename}"
                                ) from None
        except (ssl.SSLError, OSError) as exc:
            raise TlsSetupError(f"cannot use the client certificate {certificate}: "
                                f"{_reason(exc) if isinstance(exc, ssl.SSLError) else exc}"
                                ) from None
    return context


def describe_failure(exc: ssl.SSLError) -> str:
    """One line for a failed TLS handshake (no OpenSSL error codes, no traceback)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = (exc.verify_message or _reason(exc)).rstrip(".")
        if exc.verify_code in NAME_MISMATCH:
            hint = "connect with a host name the certificate is for"
        else:
            hint = "for a self-signed certificate, pass its file with --ca"
        return f"the server's certificate could not be verified ({detail}); {hint}"
    reason = _reason(exc)
    if "wrong version number" in reason or "record layer failure" in reason:
        return f"TLS handshake failed ({reason}): is this the server's TLS port?"
    if "protocol version" in reason:
        return f"TLS handshake failed ({reason}): the other side needs TLS 1.2 or newer"
    return f"TLS handshake failed ({reason})"


def _reason(exc: ssl.SSLError) -> str:
    """OpenSSL's reason in words: ``certificate verify failed``, not ``[SSL: ...] ... (_ssl.c)``."""
    reason = exc.reason
    if isinstance(reason, str) and reason:
        return reason.lower().replace("_", " ")
    return exc.strerror or str(exc) or type(exc).__name__
