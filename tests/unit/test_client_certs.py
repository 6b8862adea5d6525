"""``palaver cert --client-ca`` / ``--client NAME --ca DIR`` (palaver.certs) and the contexts
that ask for and present client certificates (palaver.tls, docs/tls.md)."""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from palaver.certs import write_client_ca, write_client_cert, write_self_signed
from palaver.server.config import ConfigError, load_settings
from palaver.tls import TlsSetupError, client_context, peer_fingerprint, server_context


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext
               ) -> tuple[ssl.SSLObject, ssl.SSLObject]:
    """Pump a handshake between two in-memory ends; raises what either end raises."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out, server_hostname="localhost")
    s = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"c": False, "s": False}
    for _ in range(10):
        for name, end in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            # TLS 1.3: the server judges the client's certificate after the client is done;
            # a read on the client surfaces the server's alert.
            with contextlib.suppress(ssl.SSLWantReadError):
                c.read(1)
            return c, s
    raise AssertionError("handshake did not finish")


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    write_self_signed(tmp_path / "server")
    write_client_ca(tmp_path / "ca")
    return tmp_path


def test_the_client_ca_is_a_ca_and_its_key_is_private(pki: Path) -> None:
    cert = x509.load_pem_x509_certificate((pki / "ca" / "ca.pem").read_bytes())
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert stat.S_IMODE((pki / "ca" / "ca-key.pem").stat().st_mode) == 0o600
    with pytest.raises(FileExistsError, match="--force"):
        write_client_ca(pki / "ca")


def test_a_client_certificate_is_for_client_authentication_and_has_its_fingerprint(
    pki: Path,
) -> None:
    written = write_client_cert(pki / "ca", "alice", pki / "me")
    assert written.cert_file == pki / "me" / "alice.pem"
    assert stat.S_IMODE(written.key_file.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(written.cert_file.read_bytes())
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    der = ssl.PEM_cert_to_DER_cert(written.cert_file.read_text())
    assert written.fingerprint == hashlib.sha256(der).hexdigest()
    with pytest.raises(ValueError, match="name"):
        write_client_cert(pki / "ca", "../evil", pki / "me")
    with pytest.raises(FileNotFoundError):
        write_client_cert(pki / "nowhere", "bob", pki / "me")


def test_the_server_reads_the_fingerprint_of_a_certificate_its_ca_issued(pki: Path) -> None:
    written = write_client_cert(pki / "ca", "alice", pki / "me")
    server = server_context(pki / "server" / "cert.pem", pki / "server" / "key.pem",
                            client_ca=pki / "ca" / "ca.pem")
    assert server.verify_mode == ssl.CERT_OPTIONAL
    trust = pki / "server" / "cert.pem"
    _, s = _handshake(client_context(trust, certificate=written.cert_file,
                                     key=written.key_file), server)
    assert peer_fingerprint(s) == written.fingerprint
    _, s = _handshake(client_context(trust), server)  # a certificate is optional
    assert peer_fingerprint(s) is None


def test_a_certificate_from_another_ca_fails_the_handshake(pki: Path) -> None:
    write_client_ca(pki / "other")
    stranger = write_client_cert(pki / "other", "mallory", pki / "them")
    server = server_context(pki / "server" / "cert.pem", pki / "server" / "key.pem",
                            client_ca=pki / "ca" / "ca.pem")
    with pytest.raises(ssl.SSLError):
        _handshake(client_context(pki / "server" / "cert.pem",
                                  certificate=stranger.cert_file, key=stranger.key_file), server)


def test_bad_client_ca_and_certificate_files_are_refused_clearly(pki: Path) -> None:
    cert, key = pki / "server" / "cert.pem", pki / "server" / "key.pem"
    with pytest.raises(TlsSetupError, match="client CA file not found"):
        server_context(cert, key, client_ca=pki / "missing.pem")
    junk = pki / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(TlsSetupError, match="client CA file"):
        server_context(cert, key, client_ca=junk)
    with pytest.raises(TlsSetupError, match="client certificate file not found"):
        client_context(cert, certificate=pki / "missing.pem")


def test_client_ca_needs_tls_cert() -> None:
    with pytest.raises(ConfigError, match="client_ca needs tls_cert"):
        load_settings(environ={}, client_ca="ca.pem")


def test_the_cli_writes_a_ca_and_issues_a_client_certificate(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "palaver.cli", "cert", *args],
                              capture_output=True, text=True, check=False)

    made = cli("--client-ca", "--out", str(tmp_path / "ca"))
    assert made.returncode == 0, made.stderr
    assert "--client-ca" in made.stdout
    issued = cli("--client", "alice", "--ca", str(tmp_path / "ca"), "--out", str(tmp_path))
    assert issued.returncode == 0, issued.stderr
    der = ssl.PEM_cert_to_DER_cert((tmp_path / "alice.pem").read_text())
    assert f"fingerprint (SHA-256): {hashlib.sha256(der).hexdigest()}" in issued.stdout
    again = cli("--client", "alice", "--ca", str(tmp_path / "ca"), "--out", str(tmp_path))
    assert again.returncode == 1 and "--force" in again.stderr
    alone = cli("--ca", str(tmp_path / "ca"))
    assert alone.returncode == 2 and "--client" in alone.stderr
