"""TLS on every door (docs/tls.md): JSON lines and text, IRC, HTTPS/WSS; TLS 1.2 at least;
``palaver chat --tls`` checks the certificate and says clearly when it cannot."""

from __future__ import annotations

import asyncio
import json
import ssl
import sys
import warnings
from pathlib import Path

import aiohttp
import irc.client
import irc.client_aio
import irc.connection
import pytest

from palaver.certs import write_self_signed
from palaver.client import Client
from palaver.client.resilient import ResilientClient
from palaver.protocol.messages import Join, Message, Say
from palaver.server.app import Server
from palaver.tls import client_context, describe_failure, server_context
from tests.integration.conftest import ServerFactory

TIMEOUT = 15.0


@pytest.fixture
def cert(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1/::1 and its key, made by `palaver cert`'s
    own code."""
    written = write_self_signed(tmp_path / "tls")
    return written.cert_file, written.key_file


@pytest.fixture
async def tls_server(start_server: ServerFactory, cert: tuple[Path, Path]) -> Server:
    """A server with a certificate; its TLS doors are opened by each test on any free port."""
    return await start_server(tls_cert=str(cert[0]), tls_key=str(cert[1]), tls_port=0,
                              irc_tls_port=0)


@pytest.fixture
def trust(cert: tuple[Path, Path]) -> ssl.SSLContext:
    return client_context(cert[0])


async def message_from(client: Client, sender: str) -> Message:
    while True:
        got = await client.wait_for(Message)
        if got.sender == sender:
            return got


async def test_json_client_over_tls_chats_with_a_plain_tcp_client(
    tls_server: Server, trust: ssl.SSLContext
) -> None:
    port = await tls_server.open_tls(0)
    alice = await Client.connect("127.0.0.1", port, "alice", ssl=trust)
    bob = await Client.connect("127.0.0.1", tls_server.port, "bob")
    try:
        ssl_object = alice._writer.get_extra_info("ssl_object")
        assert ssl_object is not None and ssl_object.version() in ("TLSv1.2", "TLSv1.3")
        for client in (alice, bob):
            await client.request(Join(room="#secure"))
        await alice.send(Say(room="#secure", text="over TLS"))
        assert (await message_from(bob, "alice")).text == "over TLS"
        await bob.send(Say(room="#secure", text="in the clear"))
        assert (await message_from(alice, "bob")).text == "in the clear"
    finally:
        await alice.close()
        await bob.close()


async def test_resilient_client_over_tls(tls_server: Server, trust: ssl.SSLContext) -> None:
    port = await tls_server.open_tls(0)
    client = await ResilientClient.connect("127.0.0.1", port, "carol", ssl=trust)
    try:
        ack = await (await client.send_chat("#lobby", "resilient and encrypted"))
        assert ack.text == "resilient and encrypted"
    finally:
        await client.close()


async def test_a_text_client_over_tls_gets_the_prompt_and_chats(
    tls_server: Server, trust: ssl.SSLContext
) -> None:
    """What `openssl s_client -quiet -connect 127.0.0.1:8443` does for a person."""
    port = await tls_server.open_tls(0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=trust)
    try:
        async with asyncio.timeout(TIMEOUT):
            assert b"Choose a nickname" in await reader.readline()
            writer.write(b"dora\n")
            assert (await reader.readline()).startswith(b"* connected to palaver/")
    finally:
        writer.close()


async def test_tls_1_1_and_older_are_refused(tls_server: Server, cert: tuple[Path, Path]) -> None:
    port = await tls_server.open_tls(0)
    assert tls_server.tls is not None
    assert tls_server.tls.context.minimum_version == ssl.TLSVersion.TLSv1_2
    with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated: that is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname = False
        old.verify_mode = ssl.CERT_NONE
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 needs this to offer TLS < 1.2
        # Control: a server that allows TLS 1.1 accepts this client, so the refusal below is
        # palaver's doing, not the local OpenSSL's inability to offer TLS 1.1.
        loose = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        loose.load_cert_chain(cert[0], cert[1])
        loose.minimum_version = ssl.TLSVersion.TLSv1
        loose.set_ciphers("DEFAULT:@SECLEVEL=0")

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    control = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=loose)
    try:
        control_port = control.sockets[0].getsockname()[1]
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", control_port, ssl=old), TIMEOUT)
        except OSError:
            # This OpenSSL cannot speak TLS 1.1 at all: the minimum_version check above is all
            # that can be shown here.
            pytest.skip("the local OpenSSL cannot offer TLS 1.1; minimum_version checked")
        else:
            assert writer.get_extra_info("ssl_object").version() == "TLSv1.1"
            writer.close()
    finally:
        control.close()
        await control.wait_closed()
    # The refusal arrives as a protocol_version alert (SSLError) or, when the server drops the
    # connection right after it, as a reset.
    with pytest.raises(OSError):
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=old), TIMEOUT)
    # ...and TLS 1.2 exactly is fine.
    exactly_12 = client_context(cert[0])
    exactly_12.maximum_version = ssl.TLSVersion.TLSv1_2
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=exactly_12)
    assert writer.get_extra_info("ssl_object").version() == "TLSv1.2"
    writer.close()


async def run_chat(port: int, *args: str, script: str = "erin\n") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "chat", "--port", str(port), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(script.encode()), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_palaver_chat_tls_with_the_right_ca_chats(
    tls_server: Server, cert: tuple[Path, Path]
) -> None:
    port = await tls_server.open_tls(0)
    status, out, err = await run_chat(port, "--tls", "--ca", str(cert[0]),
                                      script="erin\nhello securely\n")
    assert status == 0, err
    assert "* connected to palaver/" in out and "<erin> hello securely" in out


async def test_palaver_chat_with_a_wrong_ca_says_so_in_one_line(
    tls_server: Server, tmp_path: Path
) -> None:
    port = await tls_server.open_tls(0)
    other = write_self_signed(tmp_path / "other").cert_file
    for args in (["--tls", "--ca", str(other)], ["--tls"]):  # another cert; the system CAs
        status, _, err = await run_chat(port, *args)
        assert status == 1
        assert "Traceback" not in err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"palaver: cannot connect to 127.0.0.1:{port}: "
                                   "the server's certificate could not be verified")
        assert "--ca" in lines[0]


async def test_palaver_chat_tls_to_a_plain_port_and_a_bad_ca_file(
    tls_server: Server, tmp_path: Path
) -> None:
    status, _, err = await run_chat(tls_server.port, "--tls")
    assert status == 1 and "Traceback" not in err
    assert "is this the server's TLS port?" in err
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    for ca, words in ((junk, "holds no usable certificate"), (tmp_path / "nope.pem", "not found")):
        status, _, err = await run_chat(tls_server.port, "--ca", str(ca))
        assert status == 2 and "Traceback" not in err
        assert err.startswith("palaver: CA file") and words in err


async def test_hostname_mismatch_is_refused(start_server: ServerFactory, tmp_path: Path) -> None:
    written = write_self_signed(tmp_path / "elsewhere", hosts=["chat.example.org"])
    server = await start_server(tls_cert=str(written.cert_file), tls_key=str(written.key_file),
                                tls_port=0, irc_tls_port=0)
    port = await server.open_tls(0)
    with pytest.raises(ssl.SSLCertVerificationError) as failed:
        await Client.connect("127.0.0.1", port, "frank", ssl=client_context(written.cert_file))
    assert describe_failure(failed.value) == (
        "the server's certificate could not be verified (IP address mismatch, certificate is "
        "not valid for '127.0.0.1'); connect with a host name the certificate is for")


class IrcUser:
    def __init__(self, reactor: irc.client_aio.AioReactor) -> None:
        self.conn = reactor.server()
        self.events: asyncio.Queue[irc.client.Event] = asyncio.Queue()
        reactor.add_global_handler("all_events", lambda c, e: self.events.put_nowait(e))

    async def expect(self, kind: str) -> irc.client.Event:
        async with asyncio.timeout(TIMEOUT):
            while True:
                event = await self.events.get()
                if event.type == kind:
                    return event


async def test_irc_over_tls_with_the_irc_package(
    tls_server: Server, trust: ssl.SSLContext, cert: tuple[Path, Path]
) -> None:
    port = await tls_server.open_irc_tls(0)
    user = IrcUser(irc.client_aio.AioReactor(loop=asyncio.get_running_loop()))
    json_client = await Client.connect("127.0.0.1", tls_server.port, "gina")
    try:
        await user.conn.connect("127.0.0.1", port, "hank",
                                connect_factory=irc.connection.AioFactory(ssl=trust))
        await user.expect("welcome")
        user.conn.join("#lobby")  # IRC clients join only what they ask for
        await user.expect("endofnames")
        await json_client.request(Join(room="#lobby"))
        user.conn.privmsg("#lobby", "irc over tls")
        assert (await message_from(json_client, "hank")).text == "irc over tls"
        await json_client.send(Say(room="#lobby", text="back to irc"))
        event = await user.expect("pubmsg")
        assert event.arguments == ["back to irc"]
    finally:
        if user.conn.connected:
            user.conn.disconnect("done")
        await json_client.close()


async def test_https_and_wss_with_aiohttp(tls_server: Server, trust: ssl.SSLContext) -> None:
    web_port = await tls_server.open_web(0)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"https://127.0.0.1:{web_port}/", ssl=trust) as page:
            assert page.status == 200
            assert "text/html" in page.headers["Content-Type"]
        ws = await http.ws_connect(f"wss://127.0.0.1:{web_port}/ws", ssl=trust)
        try:
            await ws.send_str(json.dumps({"type": "HELLO", "version": 1, "nick": "ivy",
                                          "id": "h1"}))
            async with asyncio.timeout(TIMEOUT):
                while True:
                    frame = json.loads(await ws.receive_str())
                    if frame.get("id") == "h1":
                        break
            assert frame["type"] == "WELCOME" and frame["nick"] == "ivy"
        finally:
            await ws.close()
        # The web port speaks only TLS now: plain HTTP gets no page.
        with pytest.raises(aiohttp.ClientError):
            async with http.get(f"http://127.0.0.1:{web_port}/") as plain:
                await plain.read()


async def test_tls_only_opens_no_plain_door(
    start_server: ServerFactory, cert: tuple[Path, Path], trust: ssl.SSLContext
) -> None:
    server = await start_server(tls_cert=str(cert[0]), tls_key=str(cert[1]), tls_only=True,
                                tls_port=0, irc_tls_port=0, irc_port=6667)
    port = await server.open_tls(0)
    assert server.irc_port is None  # irc_port is set, but tls_only keeps it closed
    with pytest.raises(AssertionError):
        _ = server.port
    client = await Client.connect("127.0.0.1", port, "jack", ssl=trust)
    await client.close()


def test_server_context_refuses_bad_files_clearly(tmp_path: Path, cert: tuple[Path, Path]
                                                  ) -> None:
    from palaver.tls import TlsSetupError

    with pytest.raises(TlsSetupError, match="not found"):
        server_context(tmp_path / "missing.pem", cert[1])
    other_key = write_self_signed(tmp_path / "other").key_file
    with pytest.raises(TlsSetupError, match="is the key the certificate's own"):
        server_context(cert[0], other_key)


async def test_the_web_client_in_chromium_over_https_and_wss(tls_server: Server) -> None:
    """The page at https://… opens wss://… by itself (link.js follows location.protocol)."""
    from playwright.async_api import async_playwright, expect

    from tests.integration.test_web import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, say, texts

    if not HAVE_CHROMIUM:
        pytest.skip("/usr/bin/chromium is missing")
    web_port = await tls_server.open_web(0)
    listener = await Client.connect("127.0.0.1", tls_server.port, "kim")
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       args=CHROMIUM_ARGS)
            try:
                # A self-signed certificate: this browser is told to accept it (as a person
                # would click through the warning, or add cert.pem to the browser's trust).
                context = await browser.new_context(ignore_https_errors=True)
                page = await context.new_page()
                await page.goto(f"https://127.0.0.1:{web_port}/")
                await page.fill("#nick", "lena")
                await page.click("#join")
                await expect(page.locator("#me-nick")).to_have_text("lena", timeout=15_000)
                await say(page, "from the browser over wss")
                assert (await message_from(listener, "lena")).text == "from the browser over wss"
                await listener.request(Say(room="#lobby", text="to the browser"))
                await expect(texts(page, "#lobby").last).to_have_text("to the browser",
                                                                      timeout=15_000)
            finally:
                await browser.close()
    finally:
        await listener.close()
