"""The /ws door without a browser: protocol v1 over WebSocket, same errors and limits as TCP."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import struct
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import msgspec
import pytest

from palaver.client import Client
from palaver.protocol.jsonl import decode_server_frame
from palaver.protocol.messages import (
    Error,
    Goodbye,
    Joined,
    Message,
    Presence,
    Say,
    SendDirect,
    ServerMessage,
    Welcome,
    Wire,
)
from palaver.server.app import Server

StartServer = Callable[..., Awaitable[Server]]
EventT = TypeVar("EventT", bound=Wire)
_encoder = msgspec.json.Encoder()


class WsPeer:
    """A WebSocket client speaking protocol v1 (frames decoded with the client's decoder)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: Wire | dict[str, Any]) -> None:
        await self.ws.send_str(_encoder.encode(message).decode())

    async def frame(self, timeout: float = 10.0) -> ServerMessage:
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        assert not msg.data.endswith("\n")
        return decode_server_frame(msg.data.encode())

    async def wait_for(self, kind: type[EventT], timeout: float = 10.0) -> EventT:
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frame(timeout)
                if isinstance(frame, kind):
                    return frame

    async def hello(self, nick: str) -> Welcome:
        await self.send({"type": "HELLO", "version": 1, "nick": nick})
        welcome = await self.wait_for(Welcome)
        await self.wait_for(Joined)
        return welcome


@pytest.fixture
async def web_server(start_server: StartServer) -> Server:
    server = await start_server()
    await server.open_web(0)
    return server


@pytest.fixture
async def ws_connect(web_server: Server) -> AsyncIterator[Callable[..., Awaitable[WsPeer]]]:
    async with aiohttp.ClientSession() as http:

        async def open_peer(nick: str | None = None, **kwargs: Any) -> WsPeer:
            ws = await http.ws_connect(f"http://127.0.0.1:{web_server.web_port}/ws", **kwargs)
            peer = WsPeer(ws)
            if nick is not None:
                await peer.hello(nick)
            return peer

        yield open_peer


async def test_json_lines_and_websocket_clients_see_each_other(
    web_server: Server, ws_connect: Callable[..., Awaitable[WsPeer]]
) -> None:
    web = await ws_connect("webby")
    async with await Client.connect("127.0.0.1", web_server.port, "tcpy") as tcp:
        joined = await web.wait_for(Presence)
        assert (joined.nick, joined.event) == ("tcpy", "join")
        await web.send({"type": "CHAT", "room": "#lobby", "text": "from the web", "id": "w1"})
        ack = await web.wait_for(Message)
        assert (ack.id, ack.text, ack.sender) == ("w1", "from the web", "webby")
        seen = await tcp.wait_for(Message)
        assert (seen.text, seen.sender, seen.msg_id) == ("from the web", "webby", ack.msg_id)
        await tcp.request(Say(room="#lobby", text="from tcp"))
        assert (await web.wait_for(Message)).text == "from tcp"
        await tcp.request(SendDirect(to="webby", text="psst"))
        direct = await web.wait_for(Message)
        assert (direct.sender, direct.to, direct.text) == ("tcpy", "webby", "psst")


@pytest.mark.parametrize(("frame", "code"), [
    ("not json", "bad_json"),
    ('{"type":"FLY","id":"f1"}', "unknown_type"),
    ("[1, 2]", "bad_frame"),
    ('{"type":"JOIN"}', "invalid_field"),
])
async def test_bad_text_frames_get_the_tcp_errors_and_the_connection_goes_on(
    ws_connect: Callable[..., Awaitable[WsPeer]], frame: str, code: str
) -> None:
    web = await ws_connect("oops")
    await web.ws.send_str(frame)
    error = await web.wait_for(Error)
    assert error.code == code
    if code == "unknown_type":
        assert error.id == "f1"
    await web.send({"type": "CHAT", "room": "#lobby", "text": "still here", "id": "s"})
    assert (await web.wait_for(Message)).text == "still here"


async def test_binary_frames_and_invalid_utf8_are_refused_with_a_code(
    ws_connect: Callable[..., Awaitable[WsPeer]]
) -> None:
    web = await ws_connect("bytes")
    await web.ws.send_bytes(b'{"type":"PING"}')
    assert (await web.wait_for(Error)).code == "bad_frame"
    # A text frame that is not UTF-8 (aiohttp's client does not check what it sends).
    await web.ws.send_frame(b'{"type":"CHAT","room":"#lobby","text":"\xff\xfe"}',
                            aiohttp.WSMsgType.TEXT)
    assert (await web.wait_for(Error)).code == "bad_json"
    await web.send({"type": "CHAT", "room": "#lobby", "text": "fine", "id": "ok"})
    assert (await web.wait_for(Message)).id == "ok"


async def test_frame_limit_is_the_tcp_one_and_too_large_closes_after_an_error(
    start_server: StartServer,
) -> None:
    server = await start_server(max_frame=4_096)
    await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{server.web_port}/ws")
        web = WsPeer(ws)
        await web.hello("big")
        # The largest frame TCP accepts is max_frame - 1 bytes plus its newline; so here.
        head = '{"type":"PING","id":"edge","pad":"'
        fits = head + "x" * (4_095 - len(head) - 2) + '"}'
        assert len(fits) == 4_095
        await ws.send_str(fits)
        assert (await web.frame()).id == "edge"  # PONG
        await web.send({"type": "CHAT", "room": "#lobby", "text": "before", "id": "b"})
        await ws.send_str(fits + " ")  # 4,096 bytes: one too many
        assert (await web.wait_for(Message)).id == "b"  # what came before is answered first
        error = await web.wait_for(Error)
        assert error.code == "frame_too_large"
        closing = await ws.receive(timeout=10)
        assert closing.type is aiohttp.WSMsgType.CLOSE
        assert closing.data == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
        await ws.close()


async def test_cross_origin_handshake_is_refused(web_server: Server) -> None:
    url = f"http://127.0.0.1:{web_server.web_port}/ws"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, origin="https://evil.example")
        assert refused.value.status == 403
        same = await http.ws_connect(url, origin=f"http://127.0.0.1:{web_server.web_port}")
        await WsPeer(same).hello("local")
        await same.close()


async def test_static_files_have_types_and_a_strict_policy(web_server: Server) -> None:
    base = f"http://127.0.0.1:{web_server.web_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/") as page:
            assert page.status == 200
            assert page.headers["Content-Type"] == "text/html; charset=utf-8"
            policy = page.headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy and "script-src 'self'" in policy
            assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert page.headers["X-Content-Type-Options"] == "nosniff"
            html = await page.text()
            assert '<script type="module" src="/app.js">' in html
        for path, kind in [("/app.js", "text/javascript"), ("/link.js", "text/javascript"),
                           ("/style.css", "text/css"), ("/favicon.svg", "image/svg+xml")]:
            async with http.get(base + path) as response:
                assert response.status == 200, path
                assert response.headers["Content-Type"].startswith(kind), path
        for path in ["/nope.js", "/../pyproject.toml", "/%2e%2e/palaver.db"]:
            async with http.get(base + path) as response:
                assert response.status == 404, path
        async with http.get(base + "/ws") as plain:
            assert plain.status == 426


async def test_resume_over_websocket_replays_what_was_missed(
    web_server: Server, ws_connect: Callable[..., Awaitable[WsPeer]]
) -> None:
    first = await ws_connect()
    await first.send({"type": "HELLO", "version": 1, "nick": "roamer"})
    welcome = await first.wait_for(Welcome)
    async with await Client.connect("127.0.0.1", web_server.port, "steady") as tcp:
        seen = await tcp.request(Say(room="#lobby", text="one"))
        assert isinstance(seen, Message)
        assert (await first.wait_for(Message)).text == "one"
        await first.ws.close()
        await tcp.wait_for(Presence)  # roamer quit
        for text in ("two", "three"):
            await tcp.request(Say(room="#lobby", text=text))
    again = await ws_connect()
    await again.send({"type": "HELLO", "version": 1, "nick": "roamer", "token": welcome.token,
                      "since": {"#lobby": seen.msg_id}})
    assert (await again.wait_for(Welcome)).nick == "roamer"
    replayed = [await again.wait_for(Message), await again.wait_for(Message)]
    assert [m.text for m in replayed] == ["two", "three"]


async def test_shutdown_says_goodbye_over_websocket(start_server: StartServer) -> None:
    server = await start_server()
    await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{server.web_port}/ws")
        web = WsPeer(ws)
        await web.hello("leaving")
        stopping = asyncio.create_task(server.stop())
        assert await web.wait_for(Goodbye) == Goodbye(reason="server shutting down")
        assert (await ws.receive(timeout=10)).type is aiohttp.WSMsgType.CLOSE
        await ws.close()
        await asyncio.wait_for(stopping, 30)


def _masked_text_frame(payload: bytes) -> bytes:
    """A client's text frame, masked with a zero key (so the payload reads as is)."""
    assert len(payload) < 126
    return struct.pack("!BB", 0x81, 0x80 | len(payload)) + b"\0\0\0\0" + payload


async def test_websocket_reader_that_never_reads_is_cut_off(start_server: StartServer) -> None:
    server = await start_server(send_queue_limit=4_096, send_queue_ceiling=65_536)
    port = await server.open_web(0)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    sock.sendall(_masked_text_frame(b'{"type":"HELLO","version":1,"nick":"stuck"}'))
    await talker.wait_for(Presence)  # stuck joined; it never reads a byte
    text = "x" * 3_900
    cut = None
    for _ in range(2_000):
        await talker.send(Say(room="#lobby", text=text))
        for event in talker.pending_events():
            if isinstance(event, Presence) and event.event == "quit":
                cut = event
        if cut is not None:
            break
        await talker.request(Say(room="#lobby", text="sync"))
    sock.close()
    await talker.close()
    assert cut == Presence(nick="stuck", event="quit", reason="send queue exceeded")


async def test_palaver_serve_prints_the_web_line_after_the_json_one(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port free a moment ago: `serve` has no "any" web port
        probe.bind(("127.0.0.1", 0))
        web_port = probe.getsockname()[1]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", "--port", "0",
        "--web-port", str(web_port), "--irc-port", "0", "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        first = await asyncio.wait_for(process.stdout.readline(), 30)
        second = await asyncio.wait_for(process.stdout.readline(), 30)
        assert re.fullmatch(rb"palaver 0\.1\.0 listening: json-lines tcp://127\.0\.0\.1:\d+\n",
                            first), first
        assert second == f"palaver 0.1.0 listening: web http://127.0.0.1:{web_port}/\n".encode()
        third = await asyncio.wait_for(process.stdout.readline(), 30)
        assert third == \
            f"palaver 0.1.0 listening: irc+websocket ws://127.0.0.1:{web_port}/irc\n".encode()
        async with aiohttp.ClientSession() as http, \
                http.get(f"http://127.0.0.1:{web_port}/") as page:
            assert page.status == 200
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
