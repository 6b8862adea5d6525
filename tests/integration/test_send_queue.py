"""The send queue on real sockets (docs/limits.md, "Send queue"): a burst reaches every client
that reads, however large; a client that does not read is cut off — reset, not closed politely —
after the grace period; every door bounds its kernel send buffer.

The sloth's cut comes from a short configured grace; every wait is on an event (a frame, a
presence, the end of a stream), never on a sleep.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import aiohttp
import pytest

from palaver.client import Client
from palaver.protocol.messages import Message, Presence, Say
from palaver.server.app import Server
from palaver.transports.stream import StreamConnection
from palaver.transports.websocket import WebSocketConnection
from tests.integration.conftest import ServerFactory

WAIT = 30.0
HELLO = b'{"type":"HELLO","version":1,"nick":"%s"}\n'
MAXIMAL = "\U0001f600" * 4_000  # the longest text: 4,000 characters of 4 bytes each
BURSTERS = 16
BURST = 10


def chat(text: str) -> bytes:
    return f'{{"type":"CHAT","room":"#lobby","text":"{text}"}}\n'.encode()


def sloth_socket(port: int) -> socket.socket:
    """A client that says HELLO and never reads a byte (a small receive buffer: it fills soon)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(HELLO % b"sloth")
    sock.setblocking(False)
    return sock


async def read_to_the_end(sock: socket.socket) -> str:
    """Read what is left; how the stream ended: "eof" (closed politely) or "reset"."""
    loop = asyncio.get_running_loop()
    try:
        while await loop.sock_recv(sock, 1 << 20):
            pass
    except ConnectionResetError:
        return "reset"
    return "eof"


async def drain(reader: asyncio.StreamReader) -> None:
    """A client that reads as fast as it can (and ignores what it reads)."""
    while await reader.read(1 << 18):
        pass


async def joined(witness: Client, nicks: set[str]) -> None:
    async with asyncio.timeout(WAIT):
        while nicks:
            event = await witness.next_event(timeout=None)
            if isinstance(event, Presence) and event.event == "join":
                nicks.discard(event.nick)


async def test_a_burst_reaches_every_reader_and_only_the_sloth_is_cut(
        start_server: ServerFactory) -> None:
    # Default limit (256 KiB) and ceiling; the grace is short so that the sloth goes soon.
    server = await start_server(send_queue_grace=2.0)
    reader = await Client.connect("127.0.0.1", server.port, "reader")
    sloth = sloth_socket(server.port)
    bursters = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(BURSTERS)]
    draining = [asyncio.create_task(drain(r)) for r, _ in bursters]
    for n, (_, writer) in enumerate(bursters):
        writer.write(HELLO % f"b{n}".encode())
    await joined(reader, {"sloth", *(f"b{n}" for n in range(BURSTERS))})
    # Every burster sends ten maximal texts at once: ~2.6 MB for every member of the room.
    for n, (_, writer) in enumerate(bursters):
        writer.write(b"".join(chat(f"{n}.{k} {MAXIMAL[:3_990]}") for k in range(BURST)))
    heard: dict[str, list[str]] = {f"b{n}": [] for n in range(BURSTERS)}
    quits: list[Presence] = []
    async with asyncio.timeout(WAIT):
        while sum(map(len, heard.values())) < BURSTERS * BURST or not quits:
            event = await reader.next_event(timeout=None)
            if isinstance(event, Message) and event.sender in heard:
                heard[event.sender].append(event.text.partition(" ")[0])
            elif isinstance(event, Presence) and event.event == "quit":
                quits.append(event)
    assert quits == [Presence(nick="sloth", event="quit", reason="send queue exceeded")]
    for n in range(BURSTERS):  # the reader got everything, in order
        assert heard[f"b{n}"] == [f"{n}.{k}" for k in range(BURST)]
    assert await asyncio.wait_for(read_to_the_end(sloth), WAIT) == "reset"
    sloth.close()
    # Nobody else was cut: the bursters (who read) are all still there and heard.
    bursters[0][1].write(chat("still here"))
    async with asyncio.timeout(WAIT):
        while True:
            event = await reader.next_event(timeout=None)
            assert not (isinstance(event, Presence) and event.event == "quit"), event
            if isinstance(event, Message) and event.text == "still here":
                break
    assert all(not task.done() for task in draining)
    assert server.core is not None and server.core.connection_count == 1 + BURSTERS
    for task in draining:
        task.cancel()
    for _, writer in bursters:
        writer.close()
    await reader.close()


async def test_a_websocket_sloth_is_reset_and_a_reader_stays(start_server: ServerFactory) -> None:
    server = await start_server(send_queue_grace=1.0)
    port = await server.open_web(0)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    payload = b'{"type":"HELLO","version":1,"nick":"sloth"}'
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)  # masked, key 0
    sock.setblocking(False)
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{port}/ws") as web_reader:
        await web_reader.send_str('{"type":"HELLO","version":1,"nick":"webreader"}')
        await joined(talker, {"sloth", "webreader"})
        burst = [Say(room="#lobby", text=f"{k} {MAXIMAL[:3_990]}") for k in range(40)]
        for say in burst:  # ~640 KB at once: past the limit for both web clients
            await talker.send(say)
        got = 0
        async with asyncio.timeout(WAIT):
            while got < len(burst):
                frame = await web_reader.receive_json()
                got += frame["type"] == "MESSAGE"
        cut = await talker.wait_for(Presence, timeout=WAIT)
        while cut.event != "quit":
            cut = await talker.wait_for(Presence, timeout=WAIT)
        assert cut == Presence(nick="sloth", event="quit", reason="send queue exceeded")
        assert await asyncio.wait_for(read_to_the_end(sock), WAIT) == "reset"
        sock.close()
        reply = await talker.request(Say(room="#lobby", text="after"))
        assert isinstance(reply, Message)
        async with asyncio.timeout(WAIT):
            while (await web_reader.receive_json()).get("text") != "after":
                pass
    await talker.close()


@pytest.mark.skipif(sys.platform != "linux", reason="Linux reports SO_SNDBUF doubled")
async def test_every_door_bounds_its_kernel_send_buffer(start_server: ServerFactory) -> None:
    server = await start_server(socket_send_buffer=65_536)
    irc_port = await server.open_irc(0)
    web_port = await server.open_web(0)
    json_client = await Client.connect("127.0.0.1", server.port, "jsonline")
    _, irc_writer = await asyncio.open_connection("127.0.0.1", irc_port)
    irc_writer.write(b"NICK ircer\r\nUSER ircer 0 * :I\r\nJOIN #lobby\r\n")
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{web_port}/ws") as ws:
        await ws.send_str('{"type":"HELLO","version":1,"nick":"webber"}')
        await joined(json_client, {"ircer", "webber"})
        sizes = {kind: kernel_send_buffers(server, kind)
                 for kind in (StreamConnection, WebSocketConnection)}
    assert sizes[StreamConnection] == [2 * 65_536] * 2  # JSON lines and IRC; Linux doubles it
    assert sizes[WebSocketConnection] == [2 * 65_536]
    irc_writer.close()
    await json_client.close()


def kernel_send_buffers(server: Server, kind: type) -> list[int]:
    core = server.core
    assert core is not None
    sizes = []
    for conn in core.connections():
        if isinstance(conn, kind):
            transport = conn._transport if isinstance(conn, WebSocketConnection) else \
                conn.transport  # type: ignore[attr-defined]
            sock = transport.get_extra_info("socket")
            sizes.append(sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    return sizes
