"""The web port before aiohttp: per-address limits at accept, and a deadline for the TLS handshake
and the first request's headers (docs/web.md, docs/limits.md). Real sockets on 127.0.0.1; each
wait is for an event (an answer, the end of the stream), bounded by ``WAIT``."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiohttp

from palaver.certs import write_self_signed
from palaver.server.app import Server
from palaver.tls import client_context
from tests.integration.conftest import ServerFactory

WAIT = 15.0  # seconds: the bound on every wait, never a threshold
PARTIAL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"  # headers never finished
GET = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def open_from(port: int, source: str = "127.0.0.1",
                    tls: ssl.SSLContext | None = None) -> Stream:
    return await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(source, 0), ssl=tls,
        server_hostname="127.0.0.1" if tls else None)


async def until_closed(stream: Stream) -> bytes:
    """Everything the server sends until it closes the connection."""
    reader, writer = stream
    data = b""
    async with asyncio.timeout(WAIT):
        try:
            while chunk := await reader.read(65_536):
                data += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
    writer.close()
    return data


async def get(stream: Stream, path: bytes = b"/") -> tuple[int, bytes]:
    """One request on a kept-alive connection: its status and body."""
    reader, writer = stream
    writer.write(GET % path)
    async with asyncio.timeout(WAIT):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next(int(line.split(":", 1)[1]) for line in lines
                      if line.lower().startswith("content-length:"))
        body = await reader.readexactly(length)
    return int(lines[0].split()[1]), body


async def test_web_port_counts_every_connection_per_address(start_server: ServerFactory) -> None:
    server = await start_server(exempt_loopback=False, max_connections_per_ip=3,
                                web_header_timeout=60.0)
    port = await server.open_web(0)
    page = await open_from(port)
    status, body = await get(page)  # static files go through the gate
    assert status == 200 and b"<html" in body.lower()
    slow = await open_from(port)
    slow[1].write(PARTIAL)
    idle = await open_from(port)
    # The 4th from the same address is refused before HTTP: a 429 with the reason, then the end.
    answer = await until_closed(await open_from(port))
    assert answer.startswith(b"HTTP/1.1 429 ")
    assert answer.endswith(b"too many connections from your address (at most 3 at once)")
    # A WebSocket handshake too (the upgrade is never reached).
    async with aiohttp.ClientSession() as http:
        try:
            await http.ws_connect(f"http://127.0.0.1:{port}/ws")
            raise AssertionError("the WebSocket was admitted")
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 429
    # Another address is not affected: /metrics and the page are served to it.
    other = await open_from(port, "127.0.0.2")
    assert (await get(other, b"/metrics"))[0] == 200
    assert (await get(other, b"/app.js"))[0] == 200
    # The kept-alive page connection still works; once it has ended, another may come. (The
    # server closes it, and releases the address before its socket closes: no race.)
    assert (await get(page))[0] == 200
    page[1].write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert (await until_closed(page)).startswith(b"HTTP/1.1 200 ")
    again = await open_from(port)
    assert (await get(again))[0] == 200
    for stream in (slow, idle, other, again):
        stream[1].close()


async def test_unfinished_headers_are_closed_at_the_deadline(start_server: ServerFactory) -> None:
    server = await start_server(exempt_loopback=False, max_connections_per_ip=3,
                                web_header_timeout=0.5)
    port = await server.open_web(0)
    # A chat that started before the slow ones is not cut by their deadline (nor its own).
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{port}/ws")
        await ws.send_str('{"type":"HELLO","version":1,"nick":"webby"}')
        async with asyncio.timeout(WAIT):
            while '"WELCOME"' not in (await ws.receive_str()):
                pass
        slow = await open_from(port)
        slow[1].write(PARTIAL)
        idle = await open_from(port)
        # Both are closed by the server (before the fix: kept for an hour, aiohttp's keep-alive).
        assert await until_closed(slow) == b""
        assert await until_closed(idle) == b""
        # Their places are free again (3 at once: the chat and two more).
        first, second = await open_from(port), await open_from(port)
        assert (await get(first))[0] == 200
        assert (await get(second))[0] == 200
        # The WebSocket, past its own connection's deadline, still chats.
        await ws.send_str('{"type":"CHAT","room":"#lobby","text":"still here","id":"r1"}')
        async with asyncio.timeout(WAIT):
            while '"still here"' not in (await ws.receive_str()):
                pass
        await ws.close()
    for stream in (first, second):
        stream[1].close()


async def test_tls_web_port_has_the_same_deadline_and_limits(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    written = write_self_signed(tmp_path / "tls")
    server: Server = await start_server(
        tls_cert=str(written.cert_file), tls_key=str(written.key_file), tls_port=0,
        irc_tls_port=0, exempt_loopback=False, max_connections_per_ip=2, web_header_timeout=0.5)
    port = await server.open_web(0)
    trust = client_context(written.cert_file)
    # A TLS handshake never begun, and one finished but with headers never finished: closed.
    stalled = await open_from(port)
    slow = await open_from(port, tls=trust)
    slow[1].write(PARTIAL)
    assert await until_closed(stalled) == b""
    assert await until_closed(slow) == b""
    # Two at once from this address, the third is told why over TLS.
    first = await open_from(port, tls=trust)
    assert (await get(first))[0] == 200
    second = await open_from(port, tls=trust)
    assert (await get(second, b"/style.css"))[0] == 200  # a request came: no deadline now
    answer = await until_closed(await open_from(port, tls=trust))
    assert answer.startswith(b"HTTP/1.1 429 ") and b"at most 2 at once" in answer
    for stream in (first, second):
        stream[1].close()
