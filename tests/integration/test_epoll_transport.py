"""The epoll transport (transports/epoll.py) on real sockets on 127.0.0.1: asyncio's contract
as the stream doors use it — reads, the end of stream, scatter writes, write-buffer limits and
backpressure, half-close, close after the buffer, abort and reset, paused reading while the
peer resets, a protocol that raises — and the server on both ``stream_io`` settings.

Waits are on futures the protocol's callbacks resolve; every wait has a timeout that only
bounds a failing test."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from palaver.client import Client
from palaver.protocol.messages import Say
from palaver.transports import epoll
from palaver.transports.epoll import EpollListener, EpollTransport
from palaver.transports.outbox import reset

from .conftest import ServerFactory

pytestmark = pytest.mark.skipif(not epoll.AVAILABLE, reason="no select.epoll here")

BOUND = 10.0  # seconds: only a failing test waits this long


class Recorder(asyncio.Protocol):
    """Keeps what happened to its connection; ``echo``: writes back each read."""

    def __init__(self, *, echo: bool = False, keep_open: bool = False) -> None:
        loop = asyncio.get_running_loop()
        self.echo = echo
        self.keep_open = keep_open
        self.made: asyncio.Future[EpollTransport] = loop.create_future()
        self.lost: asyncio.Future[Exception | None] = loop.create_future()
        self.eof: asyncio.Future[None] = loop.create_future()
        self.data = bytearray()
        self.grew = asyncio.Event()
        self.peer: Any = None
        self.events: list[str] = []
        self.losses = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, EpollTransport)
        self.peer = transport.get_extra_info("peername")
        self.made.set_result(transport)

    def data_received(self, data: bytes) -> None:
        self.data += data
        self.grew.set()
        if self.echo:
            self.made.result().write(data)

    def eof_received(self) -> bool:
        self.eof.set_result(None)
        return self.keep_open

    def pause_writing(self) -> None:
        self.events.append("pause")

    def resume_writing(self) -> None:
        self.events.append("resume")

    def connection_lost(self, exc: Exception | None) -> None:
        self.losses += 1
        self.lost.set_result(exc)

    async def until(self, size: int) -> bytes:
        async with asyncio.timeout(BOUND):
            while len(self.data) < size:
                self.grew.clear()
                await self.grew.wait()
        return bytes(self.data)


class Door:
    """A listener whose protocols are Recorders, and the recorders made so far."""

    def __init__(self, **options: bool) -> None:
        self.options = options
        self.made: asyncio.Queue[Recorder] = asyncio.Queue()
        self.listener: EpollListener | None = None

    def factory(self) -> Recorder:
        recorder = Recorder(**self.options)
        self.made.put_nowait(recorder)
        return recorder

    @property
    def port(self) -> int:
        assert self.listener is not None
        return int(self.listener.sockets[0].getsockname()[1])

    async def accept(self) -> tuple[Recorder, EpollTransport]:
        async with asyncio.timeout(BOUND):
            recorder = await self.made.get()
            return recorder, await recorder.made

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Recorder,
                                     EpollTransport]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        recorder, transport = await self.accept()
        return reader, writer, recorder, transport


@pytest.fixture
async def door() -> AsyncIterator[Door]:
    made = Door()
    made.listener = await epoll.listen(made.factory, "127.0.0.1", 0)
    yield made
    made.listener.close()


@pytest.fixture
async def echo_door() -> AsyncIterator[Door]:
    made = Door(echo=True)
    made.listener = await epoll.listen(made.factory, "127.0.0.1", 0)
    yield made
    made.listener.close()


async def test_reads_and_writes_and_knows_its_peer(echo_door: Door) -> None:
    reader, writer, recorder, transport = await echo_door.connect()
    assert recorder.peer == writer.get_extra_info("sockname")
    assert transport.get_extra_info("peername") == writer.get_extra_info("sockname")
    assert transport.get_extra_info("sockname") == ("127.0.0.1", echo_door.port)
    view = transport.get_extra_info("socket")
    assert view.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)  # from the listener
    assert view.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM
    for part in (b"a", b"bc", b"d" * 100_000):
        writer.write(part)
    await writer.drain()
    async with asyncio.timeout(BOUND):
        echoed = await reader.readexactly(100_003)
    assert echoed == b"abc" + b"d" * 100_000
    writer.close()


async def test_the_peers_end_of_stream_closes_it_once_written(door: Door) -> None:
    reader, writer, recorder, transport = await door.connect()
    writer.write(b"last words")
    writer.write_eof()
    async with asyncio.timeout(BOUND):
        await recorder.eof
        assert await recorder.lost is None
        assert await reader.read() == b""  # it closed its side too: eof_received said so
    assert bytes(recorder.data) == b"last words"
    assert transport.is_closing() and recorder.losses == 1
    writer.close()


async def test_a_kept_open_half_closed_connection_still_writes() -> None:
    made = Door(keep_open=True)
    made.listener = await epoll.listen(made.factory, "127.0.0.1", 0)
    reader, writer, recorder, transport = await made.connect()
    writer.write_eof()
    async with asyncio.timeout(BOUND):
        await recorder.eof
    transport.write(b"still here\n")
    async with asyncio.timeout(BOUND):
        assert await reader.readline() == b"still here\n"
    transport.close()
    async with asyncio.timeout(BOUND):
        assert await reader.read() == b""
        assert await recorder.lost is None
    writer.close()
    made.listener.close()


async def test_scatter_writes_arrive_whole_and_in_order(door: Door) -> None:
    reader, writer, _recorder, transport = await door.connect()
    frames = [b"%d\n" % i for i in range(3_000)]  # more than a writev takes at once
    transport.writelines(frames[:2])
    transport.writelines(iter(frames[2:1_500]))
    transport.writelines(frames[1_500:])
    transport.writelines([])
    expected = b"".join(frames)
    async with asyncio.timeout(BOUND):
        assert await reader.readexactly(len(expected)) == expected
    writer.close()


async def test_a_peer_that_does_not_read_fills_the_buffer_and_pauses_writing(door: Door) -> None:
    reader, writer, recorder, transport = await door.connect()
    transport.set_write_buffer_limits(high=64 * 1024)
    assert transport.get_write_buffer_limits() == (16 * 1024, 64 * 1024)
    chunk = bytes(range(256)) * 256  # 64 KiB
    written = 0
    for _ in range(1_000):  # the kernel's buffers fill long before this
        transport.write(chunk) if written % 2 else transport.writelines([chunk[:1], chunk[1:]])
        written += len(chunk)
        if recorder.events:
            break
    assert recorder.events == ["pause"]
    assert transport.get_write_buffer_size() > 64 * 1024
    async with asyncio.timeout(BOUND):
        received = await reader.readexactly(written)
    assert received == chunk * (written // len(chunk))
    assert recorder.events == ["pause", "resume"]
    assert transport.get_write_buffer_size() == 0
    writer.close()


async def test_close_and_write_eof_wait_for_the_buffer(door: Door) -> None:
    reader, writer, recorder, transport = await door.connect()
    big = b"x" * 8_000_000  # more than the kernel takes at once
    transport.write(big)
    assert transport.get_write_buffer_size() > 0
    transport.write_eof()
    transport.write(b"dropped: after write_eof")
    assert not transport.is_closing()
    writer.write(b"the peer may still talk")  # and it is still read
    await writer.drain()
    async with asyncio.timeout(BOUND):
        assert await reader.read() == big  # all of it, then the end
        await recorder.until(len(b"the peer may still talk"))
    transport.close()
    async with asyncio.timeout(BOUND):
        assert await recorder.lost is None
    writer.close()


async def test_close_sends_what_is_buffered_first(door: Door) -> None:
    reader, writer, recorder, transport = await door.connect()
    big = b"y" * 8_000_000
    transport.write(big)
    transport.close()
    assert transport.is_closing()
    transport.write(b"dropped")
    async with asyncio.timeout(BOUND):
        assert await reader.read() == big
        assert await recorder.lost is None
    writer.close()


async def test_abort_drops_the_buffer_and_reset_sends_a_reset(door: Door) -> None:
    reader, writer, recorder, transport = await door.connect()
    transport.write(b"z" * 8_000_000)
    transport.abort()
    async with asyncio.timeout(BOUND):
        assert await recorder.lost is None
        got = await reader.read()
    assert len(got) < 8_000_000
    writer.close()

    reader, writer, recorder, transport = await door.connect()
    view = transport.get_extra_info("socket")
    transport.write(b"z" * 8_000_000)
    reset(transport)  # (SO_LINGER 0 through the socket view, then abort)
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(BOUND):
            while await reader.read(1 << 20):
                pass
    writer.close()
    async with asyncio.timeout(BOUND):
        assert await recorder.lost is None
    assert transport.get_extra_info("peername") is None  # gone: the default
    assert transport.get_extra_info("socket") is None
    with pytest.raises(OSError):  # a view taken before: the descriptor is not lent any more
        view.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)


async def test_paused_reading_leaves_the_set_and_finds_the_reset_when_resumed(
        door: Door) -> None:
    _reader, writer, recorder, transport = await door.connect()
    transport.pause_reading()
    assert not transport.is_reading()
    assert transport._state & epoll._IN == 0  # out of the epoll set: no busy loop on a hang-up
    raw = writer.get_extra_info("socket")
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.write(b"unread")
    await writer.drain()
    writer.close()  # a reset
    await asyncio.sleep(0)  # a loop turn: nothing must happen to a paused connection
    assert not recorder.lost.done()
    transport.resume_reading()
    async with asyncio.timeout(BOUND):
        exc = await recorder.lost
    assert isinstance(exc, ConnectionResetError)


async def test_a_protocol_that_raises_is_reported_and_dropped(door: Door) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        reader, writer, recorder, _transport = await door.connect()

        def broken(data: bytes) -> None:
            raise ValueError("broken protocol")

        recorder.data_received = broken  # type: ignore[method-assign]
        writer.write(b"anything")
        async with asyncio.timeout(BOUND):
            exc = await recorder.lost
            assert await reader.read() == b""
        assert isinstance(exc, ValueError)
        assert [context["message"] for context in reported] == ["data_received failed"]
        writer.close()
    finally:
        loop.set_exception_handler(None)


async def test_closing_the_listener_keeps_its_connections_and_refuses_new_ones(
        echo_door: Door) -> None:
    reader, writer, recorder, transport = await echo_door.connect()
    port = echo_door.port
    assert echo_door.listener is not None
    echo_door.listener.close()
    async with asyncio.timeout(BOUND):
        await echo_door.listener.wait_closed()
    assert not echo_door.listener.is_serving()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"ping\n")
    async with asyncio.timeout(BOUND):
        assert await reader.readline() == b"ping\n"
    transport.close()
    async with asyncio.timeout(BOUND):
        await recorder.lost
    assert echo_door.listener._epoll.closed  # the last connection gone: the set let go
    writer.close()


async def test_many_connections_come_and_go_on_reused_descriptors(echo_door: Door) -> None:
    for round_ in range(3):
        opened = [await echo_door.connect() for _ in range(40)]
        for index, (_reader, writer, _recorder, _transport) in enumerate(opened):
            writer.write(b"%d %d\n" % (round_, index))
        for index, (reader, writer, recorder, _transport) in enumerate(opened):
            async with asyncio.timeout(BOUND):
                assert await reader.readline() == b"%d %d\n" % (round_, index)
            writer.close()
            async with asyncio.timeout(BOUND):
                await recorder.lost
    assert echo_door.listener is not None and not echo_door.listener._transports


async def test_a_port_in_use_is_a_clear_error(door: Door) -> None:
    with pytest.raises(OSError, match="error while attempting to bind"):
        await epoll.listen(door.factory, "127.0.0.1", door.port)


@pytest.mark.parametrize("stream_io", ["epoll", "asyncio"])
async def test_the_server_on_either_stream_io(start_server: ServerFactory,
                                              stream_io: str) -> None:
    """Both settings serve the JSON and IRC doors (the rest of the suite runs on "epoll")."""
    server = await start_server(stream_io=stream_io)
    expected = EpollListener if stream_io == "epoll" else asyncio.Server
    assert isinstance(server._listener, expected)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    irc_port = await server.open_irc(0)
    assert isinstance(server._irc, expected)
    reader, writer = await asyncio.open_connection("127.0.0.1", irc_port)
    writer.write(b"NICK bob\r\nUSER bob 0 * :Bob\r\nJOIN #lobby\r\n")
    async with asyncio.timeout(BOUND):
        while b" 366 " not in await reader.readline():
            pass
    await alice.request(Say(room="#lobby", text="hello bob"))
    async with asyncio.timeout(BOUND):
        while b"PRIVMSG #lobby :hello bob" not in (line := await reader.readline()):
            assert line
    writer.close()
    await alice.close()


async def test_a_last_line_before_a_reset_is_read_before_the_loss(door: Door) -> None:
    """The peer's line, then its reset, while our output waits: readable, writable and the
    error come at once; the line is handed over first (as libuv and asyncio do)."""
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    client.connect(("127.0.0.1", door.port))
    recorder, transport = await door.accept()
    transport.write(b"x" * 8_000_000)  # the client reads none of it
    assert transport.get_write_buffer_size() > 0
    client.sendall(b"QUIT :bye\r\n")  # no loop turn between these three
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    client.close()
    async with asyncio.timeout(BOUND):
        exc = await recorder.lost
    assert bytes(recorder.data) == b"QUIT :bye\r\n"
    assert isinstance(exc, ConnectionResetError)


async def test_addresses_of_every_family_on_one_door() -> None:
    """A door listening on IPv4 and IPv6 loopback (as on a name resolving to both): each
    connection reads its own family's addresses, not the first listening socket's."""
    listening = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((host, 0))
        except OSError:  # no IPv6 loopback here
            sock.close()
            continue
        sock.listen(8)
        sock.setblocking(False)
        listening.append(sock)
    if len(listening) < 2:
        for sock in listening:
            sock.close()
        pytest.skip("no IPv6 loopback")
    made = Door()
    made.listener = EpollListener(asyncio.get_running_loop(), made.factory, listening)
    try:
        for sock in listening:
            host, port = sock.getsockname()[:2]
            _reader, writer = await asyncio.open_connection(host, port)
            recorder, transport = await made.accept()
            assert recorder.peer == writer.get_extra_info("sockname")
            assert transport.get_extra_info("peername") == writer.get_extra_info("sockname")
            assert transport.get_extra_info("sockname") == writer.get_extra_info("peername")
            writer.close()
    finally:
        made.listener.close()


async def test_a_lost_transport_does_not_report_the_buffer_of_its_descriptors_next_owner(
        door: Door) -> None:
    _reader, writer, recorder, old = await door.connect()
    client = socket.socket()  # made first, so that the server's next accept reuses old's fd
    old.abort()
    client.connect(("127.0.0.1", door.port))
    _next_recorder, new = await door.accept()
    assert new._fd == old._fd
    new.write(b"n" * 8_000_000)
    assert new.get_write_buffer_size() > 0
    assert old.get_write_buffer_size() == 0
    new.abort()
    client.close()
    writer.close()
    async with asyncio.timeout(BOUND):
        await recorder.lost
