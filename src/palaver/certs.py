"""``palaver cert``: a self-signed certificate and its key, for trying TLS locally.

The certificate names every host given (DNS names and IP addresses as SubjectAltName entries;
default ``localhost``, ``127.0.0.1`` and ``::1``), is marked for server authentication only
(not a CA), and is valid from a minute ago for ``days`` days. The key is ECDSA P-256, written
unencrypted with mode 0600 so only its owner can read it. Clients trust the certificate by being
given the certificate file itself as their CA (``palaver chat --tls --ca cert.pem``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

DEFAULT_HOSTS: Final = ("localhost", "127.0.0.1", "::1")
DEFAULT_DAYS: Final = 365
CERT_FILE: Final = "cert.pem"
KEY_FILE: Final = "key.pem"


@dataclass(frozen=True)
class WrittenCert:
    cert_file: Path
    key_file: Path
    hosts: tuple[str, ...]
    not_after: datetime.datetime


def write_self_signed(
    out_dir: str | Path,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    days: int = DEFAULT_DAYS,
    *,
    overwrite: bool = False,
) -> WrittenCert:
    """Write ``cert.pem`` and ``key.pem`` (0600) into ``out_dir``; refuses to replace existing
    files unless ``overwrite``. Raises ValueError for bad hosts/days, OSError for the files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if days < 1:
        raise ValueError("days must be at least 1")
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):  # keep the order, drop repeats
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not host or any(c.isspace() or c in "/\\@" for c in host):
                raise ValueError(f"not a host name or IP address: {host!r}") from None
            names.append(x509.DNSName(host))
    if not names:
        raise ValueError("at least one host is needed")

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "palaver self-signed"),
    ])
    now = datetime.datetime.now(datetime.UTC)
    not_after = now + datetime.timedelta(days=days)
    key_id = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False),
            critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(key_id, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(key_id),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = out / CERT_FILE, out / KEY_FILE
    if not overwrite:
        for path in (cert_file, key_file):
            if path.exists():
                raise FileExistsError(f"{path} already exists (use --force to replace it)")
    _write(key_file, key_pem, 0o600)
    _write(cert_file, cert_pem, 0o644)
    return WrittenCert(cert_file, key_file, tuple(dict.fromkeys(hosts)), not_after)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file that has ``mode`` from its first byte on."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # the umask may have taken bits away from a 0644 file


def cert_command(out_dir: str, hosts: Sequence[str] | None, days: int, *, force: bool) -> int:
    """``palaver cert``: write the files, say where and how to use them; the exit status."""
    import sys

    try:
        written = write_self_signed(out_dir, hosts or DEFAULT_HOSTS, days, overwrite=force)
    except ValueError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"palaver: cannot write the certificate: {exc.strerror or exc}"
              + (f": {exc.filename}" if exc.filename else ""), file=sys.stderr)
        return 1
    cert, key = written.cert_file, written.key_file
    print(f"wrote {cert} (self-signed, for {', '.join(written.hosts)}; "
          f"valid until {written.not_after:%Y-%m-%d})")
    print(f"wrote {key} (private key, mode 0600)")
    print(f"serve: palaver serve --tls-cert {cert} --tls-key {key}")
    print(f"chat:  palaver chat --tls --ca {cert}")
    return 0
