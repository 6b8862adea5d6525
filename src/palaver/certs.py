"""``palaver cert``: a self-signed certificate and its key, for trying TLS locally.

The certificate names every host given (DNS names and IP addresses as SubjectAltName entries;
default ``localhost``, ``127.0.0.1`` and ``::1``), is marked for server authentication only
(not a CA), and is valid from a minute ago for ``days`` days. The key is ECDSA P-256, written
unencrypted with mode 0600 so only its owner can read it. Clients trust the certificate by being
given the certificate file itself as their CA (``palaver chat --tls --ca cert.pem``).

Client certificates (SASL EXTERNAL, docs/tls.md): ``palaver cert --client-ca`` writes a small
certificate authority (``ca.pem``, ``ca-key.pem``) for the server's ``client_ca`` setting, and
``palaver cert --client NAME --ca DIR`` issues a client certificate from it (``NAME.pem`` and
``NAME-key.pem``, marked for client authentication only) and prints its SHA-256 fingerprint,
the one an account binds (``/cert add``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

DEFAULT_HOSTS: Final = ("localhost", "127.0.0.1", "::1")
DEFAULT_DAYS: Final = 365
CERT_FILE: Final = "cert.pem"
KEY_FILE: Final = "key.pem"
CA_FILE: Final = "ca.pem"
CA_KEY_FILE: Final = "ca-key.pem"


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


@dataclass(frozen=True)
class WrittenClientCert:
    cert_file: Path
    key_file: Path
    fingerprint: str  # SHA-256 of the certificate (DER), 64 lowercase hex digits
    not_after: datetime.datetime


def write_client_ca(out_dir: str | Path, days: int = 10 * DEFAULT_DAYS, *,
                    overwrite: bool = False) -> WrittenCert:
    """Write ``ca.pem`` and ``ca-key.pem`` (0600): a CA that only issues client certificates
    (the server's ``client_ca`` setting names ``ca.pem``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    if days < 1:
        raise ValueError("days must be at least 1")
    out = Path(out_dir)
    cert_file, key_file = out / CA_FILE, out / CA_KEY_FILE
    _refuse_existing((cert_file, key_file), overwrite)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "palaver client CA"),
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
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=True, crl_sign=True, encipher_only=False,
                          decipher_only=False),
            critical=True)
        .add_extension(key_id, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_pair(out, cert_file, key_file, cert, key)
    return WrittenCert(cert_file, key_file, (), not_after)


def write_client_cert(ca_dir: str | Path, name: str, out_dir: str | Path,
                      days: int = DEFAULT_DAYS, *, overwrite: bool = False) -> WrittenClientCert:
    """Issue a client certificate for ``name`` from the CA in ``ca_dir`` (``ca.pem``,
    ``ca-key.pem``): ``NAME.pem`` and ``NAME-key.pem`` (0600) in ``out_dir``."""
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if days < 1:
        raise ValueError("days must be at least 1")
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name) \
            or name.startswith("."):
        raise ValueError(f"not a usable certificate name (letters, digits, - _ .): {name!r}")
    ca_path = Path(ca_dir)
    ca_cert = x509.load_pem_x509_certificate((ca_path / CA_FILE).read_bytes())
    ca_key = serialization.load_pem_private_key((ca_path / CA_KEY_FILE).read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_path / CA_KEY_FILE} is not a key `palaver cert` wrote")
    out = Path(out_dir)
    cert_file, key_file = out / f"{name}.pem", out / f"{name}-key.pem"
    _refuse_existing((cert_file, key_file), overwrite)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=False, crl_sign=False, encipher_only=False,
                          decipher_only=False),
            critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_pair(out, cert_file, key_file, cert, key)
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return WrittenClientCert(cert_file, key_file, fingerprint, not_after)


def _refuse_existing(paths: Sequence[Path], overwrite: bool) -> None:
    if not overwrite:
        for path in paths:
            if path.exists():
                raise FileExistsError(f"{path} already exists (use --force to replace it)")


def _write_pair(out: Path, cert_file: Path, key_file: Path, cert: Any, key: Any) -> None:
    from cryptography.hazmat.primitives import serialization

    out.mkdir(parents=True, exist_ok=True)
    _write(key_file, key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()), 0o600)
    _write(cert_file, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to a new file that has ``mode`` from its first byte on."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)  # the umask may have taken bits away from a 0644 file


def cert_command(out_dir: str, hosts: Sequence[str] | None, days: int | None, *, force: bool,
                 client_ca: bool = False, client: str | None = None,
                 ca_dir: str | None = None) -> int:
    """``palaver cert``: write the files, say where and how to use them; the exit status.
    ``client_ca``: write a client CA instead; ``client``: issue a client certificate of that
    name from the CA in ``ca_dir``."""
    import sys

    if client_ca or client is not None:
        return _client_command(out_dir, days, force=force, client=client, ca_dir=ca_dir)
    days = DEFAULT_DAYS if days is None else days
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


def _client_command(out_dir: str, days: int | None, *, force: bool, client: str | None,
                    ca_dir: str | None) -> int:
    import sys

    try:
        if client is None:
            ca = write_client_ca(out_dir, 10 * DEFAULT_DAYS if days is None else days,
                                 overwrite=force)
            print(f"wrote {ca.cert_file} (a CA for client certificates; valid until "
                  f"{ca.not_after:%Y-%m-%d})")
            print(f"wrote {ca.key_file} (its private key, mode 0600: keep it away from the "
                  "server)")
            print(f"serve:  palaver serve --tls-cert ... --client-ca {ca.cert_file}")
            print(f"client: palaver cert --client NAME --ca {Path(out_dir)}")
            return 0
        written = write_client_cert(ca_dir or out_dir, client, out_dir,
                                    DEFAULT_DAYS if days is None else days, overwrite=force)
    except ValueError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"palaver: cannot {'read the CA or ' if client else ''}write the certificate: "
              f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        return 1
    print(f"wrote {written.cert_file} (client certificate for {client}; valid until "
          f"{written.not_after:%Y-%m-%d})")
    print(f"wrote {written.key_file} (private key, mode 0600)")
    print(f"fingerprint (SHA-256): {written.fingerprint}")
    print(f"bind it to your account: /cert add {written.fingerprint}  (palaver chat), "
          f"CERT ADD {written.fingerprint}  (IRC)")
    print(f"chat: palaver chat --tls --cert {written.cert_file} --key {written.key_file}")
    return 0
