"""``palaver cert`` (palaver.certs), the TLS settings and the contexts' rules (palaver.tls)."""

from __future__ import annotations

import ipaddress
import ssl
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from palaver.certs import write_self_signed
from palaver.server.config import ConfigError, load_settings
from palaver.tls import client_context, server_context


def test_cert_names_its_hosts_and_the_key_is_private(tmp_path: Path) -> None:
    written = write_self_signed(tmp_path, days=30)
    assert stat.S_IMODE(written.key_file.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(written.cert_file.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 30


def test_cert_refuses_to_overwrite_and_bad_input(tmp_path: Path) -> None:
    write_self_signed(tmp_path)
    with pytest.raises(FileExistsError, match="--force"):
        write_self_signed(tmp_path)
    write_self_signed(tmp_path, overwrite=True)
    with pytest.raises(ValueError, match="not a host"):
        write_self_signed(tmp_path / "x", hosts=["bad host"])
    with pytest.raises(ValueError, match="days"):
        write_self_signed(tmp_path / "y", days=0)


def test_cert_verifies_under_strict_x509_rules(tmp_path: Path) -> None:
    """Python 3.13 turns on VERIFY_X509_STRICT by default: the certificate must pass it."""
    written = write_self_signed(tmp_path)
    server = server_context(written.cert_file, written.key_file)
    client = client_context(written.cert_file)
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    # Pump the handshake between two in-memory ends.
    c_in_bio, s_in_bio = ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(c_in_bio, c_out_bio := ssl.MemoryBIO(), server_hostname="localhost")
    s = server.wrap_bio(s_in_bio, s_out_bio := ssl.MemoryBIO(), server_side=True)
    done = {"c": False, "s": False}
    for _ in range(10):
        for name, end in (("c", c), ("s", s)):
            if not done[name]:
                try:
                    end.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
        s_in_bio.write(c_out_bio.read())
        c_in_bio.write(s_out_bio.read())
        if all(done.values()):
            break
    assert all(done.values())
    assert c.version() in ("TLSv1.2", "TLSv1.3")


def test_contexts_refuse_anything_below_tls_1_2(tmp_path: Path) -> None:
    written = write_self_signed(tmp_path)
    assert server_context(written.cert_file, written.key_file).minimum_version == (
        ssl.TLSVersion.TLSv1_2)
    assert client_context().minimum_version == ssl.TLSVersion.TLSv1_2
    assert client_context().verify_mode == ssl.CERT_REQUIRED
    assert client_context().check_hostname


def test_tls_settings_need_a_certificate() -> None:
    with pytest.raises(ConfigError, match="need tls_cert"):
        load_settings(tls_key="key.pem")
    with pytest.raises(ConfigError, match="need tls_cert"):
        load_settings(tls_only=True)
    settings = load_settings(tls_cert="cert.pem")
    assert (settings.tls_port, settings.irc_tls_port, settings.tls_only) == (8443, 6697, False)


def test_palaver_cert_and_serve_with_a_missing_key(tmp_path: Path) -> None:
    made = subprocess.run(
        [sys.executable, "-m", "palaver.cli", "cert", "--out", str(tmp_path), "--host", "chat.test",
         "--days", "7"], capture_output=True, text=True, timeout=30, check=False)
    assert made.returncode == 0, made.stderr
    assert "palaver serve --tls-cert" in made.stdout
    assert (tmp_path / "cert.pem").exists() and (tmp_path / "key.pem").exists()
    served = subprocess.run(
        [sys.executable, "-m", "palaver.cli", "serve", "--data-dir", str(tmp_path / "data"),
         "--port", "0", "--web-port", "0", "--irc-port", "0",
         "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "nope.pem")],
        capture_output=True, text=True, timeout=30, check=False)
    assert served.returncode == 2
    assert "Traceback" not in served.stderr
    assert "TLS file not found" in served.stderr
