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

import ssl
from pathlib import Path
from typing import Final

MINIMUM_VERSION: Final = ssl.TLSVersion.TLSv1_2
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH, _EMAIL_MISMATCH and _IP_ADDRESS_MISMATCH
NAME_MISMATCH: Final = frozenset({62, 63, 64})


class TlsSetupError(Exception):
    """A certificate, key or CA file cannot be used; the message says which and why."""


def server_context(cert_file: str | Path, key_file: str | Path | None = None) -> ssl.SSLContext:
    """A server-side context with the certificate chain in ``cert_file`` and its private key
    (in ``key_file``, or in ``cert_file`` too when ``key_file`` is None)."""
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
    return context


def client_context(cafile: str | Path | None = None) -> ssl.SSLContext:
    """A client-side context that verifies the server's certificate and host name against the
    system's CAs, or only against the certificates in ``cafile`` (e.g. a self-signed one)."""
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
