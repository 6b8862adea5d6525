"""Timeouts, keepalive, slow readers and shutdown, with timeouts shortened by settings.

Waiting is on events (a frame, the end of the stream), never on sleeps; no test asserts how long
anything took.
"""

from __future__ import annotations

import socket
from collections.abc import Awaitable, Callable

import pytest

from palaver.client import Client, ConnectionClosed
from palaver.protocol.messages import Goodbye, Message, Ping, Presence, Say
from palaver.server.app import Server
from tests.integration.raw import RawPeer

StartServer = Callable[..., Awaitable[Server]]
HELLO = b'{"type":"HELLO","version":1,"nick":"%s"}\n'


async def test_no_hello_in_time_gets_bye(start_server: StartServer) -> None:
    server = await start_server(hello_timeout=0.2)
    peer = await RawPeer.open(server.port)
    assert await peer.frames_until_closed() == [Goodbye(reason="handshake timeout")]
    peer.close()


async def test_silent_client_is_pinged_then_closed(start_server: StartServer) -> None:
    server = await start_server(ping_interval=0.1, idle_timeout=0.3)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    peer = await RawPeer.open(server.port)
    await peer.send(HELLO % b"sleepy")
    frames = await peer.frames_until_closed()
    assert [type(f).__name__ for f in frames] == ["Welcome", "Joined", "Ping", "Goodbye"]
    assert frames[-1] == Goodbye(reason="ping timeout")
    quit_event = await witness.wait_for(Presence)
    while isinstance(quit_event, Presence) and quit_event.event != "quit":
        quit_event = await witness.wait_for(Presence)
    assert quit_event == Presence(nick="sleepy", event="quit", reason="ping timeout")
    await witness.close()


async def test_client_answering_pings_stays(start_server: StartServer) -> None:
    server = await start_server(ping_interval=0.05, idle_timeout=0.15)
    client = await Client.connect("127.0.0.1", server.port, "awake")
    # Three pings, each answered, span more than the idle timeout: the answers keep it alive.
    for _ in range(3):
        await client.wait_for(Ping)
    assert isinstance(await client.request(Say(room="#lobby", text="still here")), Message)
    await client.close()


async def test_reader_that_never_reads_is_cut_off(start_server: StartServer) -> None:
    server = await start_server(send_queue_limit=4_096, send_queue_ceiling=65_536)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(HELLO % b"stuck")  # and never read a byte
    await talker.wait_for(Presence)  # stuck joined
    text = "x" * 3_900
    cut = None
    for _ in range(2_000):  # at most ~8 MB before the kernel buffers alone would be full
        await talker.send(Say(room="#lobby", text=text))
        for event in talker.pending_events():
            if isinstance(event, Presence) and event.event == "quit":
                cut = event
        if cut is not None:
            break
        await talker.request(Say(room="#lobby", text="sync"))  # paces us by the server
    sock.close()
    assert cut == Presence(nick="stuck", event="quit", reason="send queue exceeded")
    assert isinstance(await talker.request(Say(room="#lobby", text="unaffected")), Message)
    await talker.close()


async def test_shutdown_says_goodbye_to_everyone(start_server: StartServer) -> None:
    server = await start_server()
    clients = [await Client.connect("127.0.0.1", server.port, f"u{n}") for n in range(5)]
    unregistered = await RawPeer.open(server.port)
    await server.stop()
    for client in clients:
        assert await client.wait_for(Goodbye) == Goodbye(reason="server shutting down")
        with pytest.raises(ConnectionClosed) as closed:
            await client.wait_for(Goodbye)
        assert closed.value.reason == "server shutting down"
        await client.close()
    assert await unregistered.frames_until_closed() == [Goodbye(reason="server shutting down")]
    assert server.core is not None and server.core.connection_count == 0
