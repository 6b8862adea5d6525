"""TLS client certificates bound to accounts (docs/tls.md): a server with ``client_ca`` asks
for them on its TLS ports; CERT binds one to an account (JSON and IRC); AUTH with the
certificate (JSON) and SASL EXTERNAL (IRC) log in with it; a certificate no configured CA
issued never gets past the handshake. Real sockets on 127.0.0.1, certificates made by
``palaver cert``'s own code."""

from __future__ import annotations

import asyncio
import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from palaver.certs import (
    WrittenClientCert,
    write_client_ca,
    write_client_cert,
    write_self_signed,
)
from palaver.client import Client
from palaver.client.connection import ServerError
from palaver.protocol.messages import (
    Authenticate,
    Authenticated,
    CertificateList,
    Hello,
    ManageCertificates,
    Register,
    Welcome,
)
from palaver.server.app import Server
from palaver.tls import client_context
from tests.integration.conftest import ServerFactory

WAIT = 15.0
PASSWORD = "correct horse"


@dataclass
class Pki:
    server_cert: Path
    alice: WrittenClientCert
    bob: WrittenClientCert  # same CA, bound to nobody
    stranger: WrittenClientCert  # another CA's

    def context(self, who: WrittenClientCert | None = None) -> ssl.SSLContext:
        if who is None:
            return client_context(self.server_cert)
        return client_context(self.server_cert, certificate=who.cert_file, key=who.key_file)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    server = write_self_signed(tmp_path / "server")
    write_client_ca(tmp_path / "ca")
    write_client_ca(tmp_path / "other")
    return Pki(server.cert_file,
               write_client_cert(tmp_path / "ca", "alice", tmp_path / "me"),
               write_client_cert(tmp_path / "ca", "bob", tmp_path / "me"),
               write_client_cert(tmp_path / "other", "mallory", tmp_path / "them"))


@pytest.fixture
async def server(start_server: ServerFactory, pki: Pki, tmp_path: Path) -> Server:
    server = await start_server(tls_cert=str(pki.server_cert),
                                tls_key=str(pki.server_cert.parent / "key.pem"),
                                client_ca=str(tmp_path / "ca" / "ca.pem"),
                                tls_port=0, irc_tls_port=0)
    await server.open_tls(0)
    await server.open_irc_tls(0)
    return server


async def tls_client(server: Server, pki: Pki, who: WrittenClientCert | None) -> Client:
    assert server.tls_port is not None
    return await Client.connect("localhost", server.tls_port, ssl=pki.context(who))


async def alice_account(server: Server, pki: Pki) -> Client:
    """alice registers over TLS with her certificate and binds it with CERT add."""
    alice = await tls_client(server, pki, pki.alice)
    await alice.hello("alice")
    await alice.request(Register(nick="alice", password=PASSWORD))
    listed = await alice.request(ManageCertificates(action="add"))
    assert isinstance(listed, CertificateList)
    assert listed == CertificateList(id=listed.id, account="alice",
                                     fingerprints=(pki.alice.fingerprint,),
                                     added=pki.alice.fingerprint, current=pki.alice.fingerprint)
    return alice


async def test_a_bound_certificate_logs_in_over_json_lines(server: Server, pki: Pki) -> None:
    alice = await alice_account(server, pki)
    again = await tls_client(server, pki, pki.alice)
    try:
        proved = await again.request(Authenticate(mechanism="certificate"))
        assert isinstance(proved, Authenticated) and proved.account == "alice"
        welcome = await again.request(Hello(version=1, nick="alice", autojoin=False))
        assert isinstance(welcome, Welcome) and welcome.account
        listed = await again.request(ManageCertificates())
        assert isinstance(listed, CertificateList)
        assert listed.fingerprints == (pki.alice.fingerprint,) and listed.added is None
        removed = await again.request(ManageCertificates(
            action="remove", fingerprint=pki.alice.fingerprint.upper()))
        assert isinstance(removed, CertificateList)
        assert (removed.fingerprints, removed.removed) == ((), pki.alice.fingerprint)
    finally:
        await again.close()
        await alice.close()
    third = await tls_client(server, pki, pki.alice)  # unbound now: no login
    try:
        with pytest.raises(ServerError) as refused:
            await third.request(Authenticate(mechanism="certificate"))
        assert refused.value.error.code == "auth_failed"
    finally:
        await third.close()


async def test_certificate_refusals_over_json_lines(server: Server, pki: Pki) -> None:
    alice = await alice_account(server, pki)
    bare = await tls_client(server, pki, None)  # TLS without a certificate
    bob = await tls_client(server, pki, pki.bob)
    try:
        with pytest.raises(ServerError) as refused:
            await bare.request(Authenticate(mechanism="certificate"))
        assert refused.value.error.code == "certificate_required"
        with pytest.raises(ServerError) as refused:  # bound to nobody
            await bob.request(Authenticate(mechanism="certificate"))
        assert refused.value.error.code == "auth_failed"
        await bob.hello("bob")
        with pytest.raises(ServerError) as refused:  # a guest
            await bob.request(ManageCertificates(action="add"))
        assert refused.value.error.code == "not_an_account"
        await bob.request(Register(nick="bob", password=PASSWORD))
        with pytest.raises(ServerError) as refused:
            await bob.request(ManageCertificates(action="add",
                                                 fingerprint=pki.alice.fingerprint))
        assert refused.value.error.code == "certificate_taken"
        with pytest.raises(ServerError) as refused:
            await bob.request(ManageCertificates(action="remove",
                                                 fingerprint=pki.alice.fingerprint))
        assert refused.value.error.code == "no_such_certificate"
    finally:
        for client in (alice, bare, bob):
            await client.close()


class RawIrc:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, context: ssl.SSLContext | None) -> RawIrc:
        return cls(*await asyncio.open_connection(
            "localhost" if context else "127.0.0.1", port, ssl=context))

    def send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\r\n")

    async def until(self, part: str) -> str:
        async with asyncio.timeout(WAIT):
            while True:
                line = (await self.reader.readline()).decode()
                assert line, f"closed before {part!r}"
                if part in line:
                    return line.rstrip("\r\n")

    async def lines_until(self, part: str) -> list[str]:
        """Every line up to and with the first that holds ``part``."""
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while not out or part not in out[-1]:
                line = (await self.reader.readline()).decode()
                assert line, f"closed before {part!r}"
                out.append(line.rstrip("\r\n"))
        return out

    def close(self) -> None:
        self.writer.close()


async def test_sasl_external_over_irc_tls(server: Server, pki: Pki) -> None:
    assert server.irc_tls_port is not None
    # Register the account over JSON lines; bind the certificate from IRC with CERT ADD.
    owner = await Client.connect("127.0.0.1", server.port, "alice")
    await owner.request(Register(nick="alice", password=PASSWORD))
    await owner.close()
    irc = await RawIrc.open(server.irc_tls_port, pki.context(pki.alice))
    plain = base64.b64encode(f"\0alice\0{PASSWORD}".encode()).decode()
    irc.send("CAP REQ :sasl")
    irc.send("AUTHENTICATE PLAIN")
    await irc.until("AUTHENTICATE +")
    irc.send(f"AUTHENTICATE {plain}")
    await irc.until(" 903 ")
    irc.send("NICK alice\r\nUSER a 0 * :Alice\r\nCAP END")
    await irc.until(" 001 alice ")
    irc.send("CERT ADD")
    assert (await irc.until("CERT: added")).endswith(
        f"NOTICE alice :CERT: added {pki.alice.fingerprint}; it logs in to alice with "
        "SASL EXTERNAL")
    irc.close()

    irc = await RawIrc.open(server.irc_tls_port, pki.context(pki.alice))
    irc.send("CAP LS 302")
    assert "sasl=PLAIN,EXTERNAL" in (await irc.until(" LS ")).split()
    irc.send("CAP REQ :sasl")
    irc.send("AUTHENTICATE EXTERNAL")
    await irc.until("AUTHENTICATE +")
    irc.send("AUTHENTICATE +")
    assert (await irc.until(" 900 ")).endswith(":You are now logged in as alice")
    await irc.until(" 903 ")
    irc.send("NICK al\r\nUSER a 0 * :Alice\r\nCAP END")
    await irc.until(" 001 al ")
    irc.send("WHOIS al")
    assert (await irc.until(" 330 ")).split()[3:5] == ["al", "alice"]
    assert (await irc.until(" 671 ")).endswith(" 671 al al :is using a secure connection")
    await irc.until(" 318 ")
    plain = await RawIrc.open(await server.open_irc(0), None)  # WHOIS 671: TLS users only
    plain.send("NICK pete\r\nUSER p 0 * :P")
    await plain.until(" 001 pete ")
    irc.send("WHOIS pete")
    whois = await irc.lines_until(" 318 ")
    assert any(" 311 al pete " in line for line in whois)
    assert not any(" 671 " in line for line in whois)
    plain.close()
    irc.close()


async def test_sasl_external_refusals_over_irc(server: Server, pki: Pki) -> None:
    assert server.irc_tls_port is not None
    for who in (None, pki.bob):  # no certificate; one bound to no account
        irc = await RawIrc.open(server.irc_tls_port, pki.context(who))
        irc.send("CAP REQ :sasl")
        irc.send("AUTHENTICATE EXTERNAL")
        await irc.until("AUTHENTICATE +")
        irc.send("AUTHENTICATE +")
        assert (await irc.until(" 904 ")).endswith(":SASL authentication failed")
        irc.send("NICK guest\r\nUSER g 0 * :G\r\nCAP END")  # registration goes on
        await irc.until(" 001 guest ")
        irc.close()
    # The plain IRC port cannot carry a certificate: EXTERNAL is not offered there.
    plain_port = await server.open_irc(0)
    irc = await RawIrc.open(plain_port, None)
    irc.send("CAP LS 302")
    caps = (await irc.until(" LS ")).split()
    assert "sasl=PLAIN" in caps and "sasl=PLAIN,EXTERNAL" not in caps
    irc.close()


async def test_a_certificate_from_another_ca_is_refused_at_the_handshake(
    server: Server, pki: Pki,
) -> None:
    for port in (server.irc_tls_port, server.tls_port):
        assert port is not None
        try:
            reader, writer = await asyncio.open_connection(
                "localhost", port, ssl=pki.context(pki.stranger))
        except (ssl.SSLError, ConnectionError):
            continue  # TLS 1.2: refused during the handshake itself
        # TLS 1.3: the client finishes first; the server's refusal (its alert and the close)
        # comes with the first read: an error or the end of the stream, never an answer.
        try:
            writer.write(b"CAP LS 302\r\n" if port == server.irc_tls_port else b'{"type":"PING"}\n')
            async with asyncio.timeout(WAIT):
                data = await reader.read(1024)
        except (ssl.SSLError, ConnectionError):
            data = b""
        finally:
            writer.close()
        assert data == b"", f"the server answered: {data!r}"
    # The same server answers a certificate its CA issued.
    irc = await RawIrc.open(server.irc_tls_port, pki.context(pki.bob))
    irc.send("CAP LS 302")
    await irc.until(" LS ")
    irc.close()


async def test_a_locked_account_does_not_log_in_with_its_certificate(
    server: Server, pki: Pki,
) -> None:
    alice = await alice_account(server, pki)
    await alice.close()
    assert server.store is not None
    assert await server.store.set_locked("alice", True)
    again = await tls_client(server, pki, pki.alice)
    try:
        with pytest.raises(ServerError) as refused:
            await again.request(Authenticate(mechanism="certificate"))
        assert refused.value.error.code == "account_locked"
    finally:
        await again.close()
