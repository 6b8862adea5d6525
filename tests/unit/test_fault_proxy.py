"""The fault proxy (tests/fault_proxy.py) in front of a tiny echo server on 127.0.0.1: it passes
bytes through untouched, and each fault does what it says. Every wait is on the proxy's
counters, the echo server's records or a read, bounded by a timeout; a timeout is also how
silence is shown (a read that gets nothing within a bounded wait)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from tests.fault_proxy import TO_CLIENT, TO_UPSTREAM, FaultProxy

WAIT = 10.0  # seconds any wait may take before the test fails
SILENCE = 0.3  # seconds a read must stay empty to show that nothing is coming


class EchoServer:
    """Echoes what it reads; keeps what each connection sent and how it ended."""

    def __init__(self) -> None:
        self.received: list[bytearray] = []
        self.endings: list[str] = []  # "eof" or "reset", one per connection that ended
        self.changed = asyncio.Event()
        self.server: asyncio.Server | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = bytearray()
        self.received.append(got)
        self.changed.set()
        ending = "eof"
        try:
            while data := await reader.read(65_536):  # ends with EOF or an error
                got += data
                self.changed.set()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            ending = "reset"
        self.endings.append(ending)
        self.changed.set()
        writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()

    async def until(self, predicate: object, timeout: float = WAIT) -> None:
        assert callable(predicate)
        async with asyncio.timeout(timeout):
            while not predicate():  # bounded by the timeout
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    echo = EchoServer()
    echo.server = await asyncio.start_server(echo.serve, "127.0.0.1", 0)
    yield echo
    echo.server.close()
    await echo.server.wait_closed()


@pytest.fixture
async def proxy(echo: EchoServer) -> AsyncIterator[FaultProxy]:
    assert echo.server is not None
    async with FaultProxy("127.0.0.1", echo.server.sockets[0].getsockname()[1]) as proxy:
        yield proxy


async def connect(proxy: FaultProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with asyncio.timeout(WAIT):
        return await asyncio.open_connection("127.0.0.1", proxy.port)


async def read_exactly(reader: asyncio.StreamReader, n: int) -> bytes:
    async with asyncio.timeout(WAIT):
        return await reader.readexactly(n)


async def read_to_end(reader: asyncio.StreamReader) -> bytes:
    """Everything until EOF (a reset counts as the end too)."""
    got = bytearray()
    async with asyncio.timeout(WAIT):
        with contextlib.suppress(ConnectionResetError):
            while data := await reader.read(65_536):  # ends with EOF, bounded by the timeout
                got += data
    return bytes(got)


async def roundtrip(proxy: FaultProxy, data: bytes = b"hello") -> None:
    reader, writer = await connect(proxy)
    try:
        writer.write(data)
        assert await read_exactly(reader, len(data)) == data
    finally:
        writer.close()


async def silent(reader: asyncio.StreamReader) -> bool:
    """True if nothing at all (no byte, no EOF, no reset) comes for SILENCE seconds."""
    try:
        async with asyncio.timeout(SILENCE):
            await reader.read(1)
    except TimeoutError:
        return True
    return False


async def test_bytes_pass_through_both_ways_and_are_counted(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    reader, writer = await connect(proxy)
    payload = bytes(range(256)) * 1000  # larger than one read
    writer.write(payload)
    assert await read_exactly(reader, len(payload)) == payload
    writer.write_eof()  # a FIN is forwarded: the echo server ends, and so does the link
    assert await read_to_end(reader) == b""
    writer.close()
    await echo.until(lambda: echo.endings == ["eof"])
    stats = await proxy.wait_until(lambda s: s.active == 0)
    assert (stats.opened, stats.refused, stats.resets, stats.cuts) == (1, 0, 0, 0)
    assert stats.bytes_to_upstream == stats.bytes_to_client == len(payload)
    assert bytes(echo.received[0]) == payload


async def test_the_url_points_at_the_proxy_and_keeps_the_rest(proxy: FaultProxy) -> None:
    port = proxy.port
    assert proxy.url("postgresql://u:p@db.example:5432/palaver?x=1") == (
        f"postgresql://u:p@127.0.0.1:{port}/palaver?x=1")
    assert proxy.url("redis://localhost:6379/0") == f"redis://127.0.0.1:{port}/0"


async def test_latency_delays_and_keeps_the_order(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    loop = asyncio.get_running_loop()
    proxy.latency(0.05)
    started = loop.time()
    writer.write(b"a")
    assert await read_exactly(reader, 1) == b"a"
    assert loop.time() - started >= 0.09  # 50 ms each way (a lower bound, less a timer's
    # early wake-up: never flaky)
    # a long latency, then none: what was sent later does not overtake what was sent first
    proxy.latency(0.3, TO_UPSTREAM)
    writer.write(b"first ")
    await proxy.wait_until(lambda s: s.read_from_client == 1 + 6)  # in the proxy, held
    proxy.latency(0.0)
    sent = b"first " + b"".join(b"%d," % n for n in range(200))
    for n in range(200):
        writer.write(b"%d," % n)
        await writer.drain()
    assert await read_exactly(reader, len(sent)) == sent
    writer.close()


async def test_a_blackhole_is_silence_and_heal_brings_new_bytes_through(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"ping")
    assert await read_exactly(reader, 4) == b"ping"
    proxy.blackhole()
    writer.write(b"lost")
    await proxy.wait_until(lambda s: s.swallowed_to_upstream == 4)
    assert await silent(reader)  # no answer, and no reset or EOF either
    late_reader, late_writer = await connect(proxy)  # a new connection: accepted, silent
    late_writer.write(b"also lost")
    await proxy.wait_until(lambda s: s.swallowed_to_upstream == 4 + 9)
    assert await silent(late_reader)
    assert b"lost" not in b"".join(echo.received)
    proxy.heal()
    writer.write(b"back")
    assert await read_exactly(reader, 4) == b"back"  # "lost" stays lost
    late_writer.write(b"new")
    assert await read_exactly(late_reader, 3) == b"new"
    assert bytes(echo.received[0]) == b"pingback"
    assert proxy.stats.resets == 0 and echo.endings == []  # the connections stayed open
    writer.close()
    late_writer.close()


async def test_a_blackhole_drops_what_is_on_its_way_to_the_client(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.latency(0.2, TO_CLIENT)
    writer.write(b"echoed")
    await proxy.wait_until(lambda s: s.bytes_to_upstream == 6)
    proxy.blackhole()  # the echo is in the proxy, not yet forwarded: it is dropped
    await proxy.wait_until(lambda s: s.swallowed_to_client == 6)
    proxy.clear()
    writer.write(b"after")
    assert await read_exactly(reader, 5) == b"after"
    writer.close()


async def test_a_fin_during_a_blackhole_waits_for_heal(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    _, writer = await connect(proxy)
    await echo.until(lambda: len(echo.received) == 1)
    proxy.blackhole()
    writer.write_eof()
    writer.close()
    await proxy.wait_until(lambda s: s.eof_from_client == 1)
    assert proxy.stats.active == 1  # the upstream is not told...
    with pytest.raises(TimeoutError):
        await echo.until(lambda: echo.endings, timeout=SILENCE)
    proxy.heal()
    await echo.until(lambda: echo.endings == ["eof"])  # ...until heal, as TCP would
    await proxy.wait_until(lambda s: s.active == 0)


async def test_reset_resets_both_sides_and_new_connections_work(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"x")
    assert await read_exactly(reader, 1) == b"x"
    assert proxy.reset() == 1
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(WAIT):
            await reader.read(1)
    await echo.until(lambda: echo.endings == ["reset"])  # the upstream got an RST as well
    await proxy.wait_until(lambda s: s.active == 0 and s.resets == 1)
    writer.close()
    await roundtrip(proxy)
    assert proxy.stats.opened == 2


async def test_refuse_resets_new_connections_at_once_and_never_dials(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    proxy.refuse(True)
    reader, writer = await connect(proxy)  # the TCP handshake is the kernel's: it succeeds
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(WAIT):
            await reader.read(1)
    writer.close()
    stats = await proxy.wait_until(lambda s: s.refused == 1)
    assert stats.opened == 0 and echo.received == []
    proxy.refuse(False)
    await roundtrip(proxy)


async def test_an_open_connection_outlives_refuse(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    proxy.refuse(True)
    writer.write(b"still")
    assert await read_exactly(reader, 5) == b"still"
    writer.close()


async def test_cut_to_the_client_gives_exactly_n_bytes_then_eof(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    proxy.cut_after(10, TO_CLIENT)
    reader, writer = await connect(proxy)
    writer.write(b"0123456789abcdefghij" * 3)
    assert await read_to_end(reader) == b"0123456789"
    writer.close()
    await echo.until(lambda: echo.endings == ["eof"])  # the upstream got a FIN
    stats = await proxy.wait_until(lambda s: s.active == 0)
    assert stats.cuts == 1 and stats.bytes_to_client == 10
    await roundtrip(proxy, b"0123456789abcdef")  # only the next connection was cut


async def test_cut_to_the_upstream_gives_it_exactly_n_bytes_then_eof(
    proxy: FaultProxy, echo: EchoServer,
) -> None:
    proxy.cut_after(7, TO_UPSTREAM)
    reader, writer = await connect(proxy)
    writer.write(b"0123456789abcdef")
    got = await read_to_end(reader)  # the client gets an EOF too
    await echo.until(lambda: echo.endings == ["eof"])
    assert bytes(echo.received[0]) == b"0123456"
    assert b"0123456".startswith(got)  # at most what the upstream echoed before the cut
    writer.close()


async def test_cut_after_counts_across_chunks_and_for_several_connections(
    proxy: FaultProxy,
) -> None:
    proxy.cut_after(5, TO_CLIENT, times=2)
    for _ in range(2):
        reader, writer = await connect(proxy)
        for chunk in (b"ab", b"cd", b"ef", b"gh"):
            writer.write(chunk)
            await writer.drain()
        assert await read_to_end(reader) == b"abcde"
        writer.close()
    await roundtrip(proxy, b"abcdefgh")


async def test_cut_after_on_the_connections_open_now(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"before")
    assert await read_exactly(reader, 6) == b"before"
    proxy.cut_after(3, TO_CLIENT, current=True)  # counting from now
    writer.write(b"after the cut")
    assert await read_to_end(reader) == b"aft"
    writer.close()


async def test_an_upstream_that_is_down_looks_refused() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with FaultProxy("127.0.0.1", port) as proxy:
        reader, writer = await connect(proxy)
        with pytest.raises(ConnectionResetError):
            async with asyncio.timeout(WAIT):
                await reader.read(1)
        writer.close()
        assert (await proxy.wait_until(lambda s: s.refused == 1)).opened == 0


async def test_closing_the_proxy_resets_what_is_open(proxy: FaultProxy) -> None:
    reader, writer = await connect(proxy)
    writer.write(b"x")
    assert await read_exactly(reader, 1) == b"x"
    proxy.blackhole()
    await proxy.close()
    with pytest.raises(ConnectionResetError):
        async with asyncio.timeout(WAIT):
            await reader.read(1)
    writer.close()
    assert proxy.stats.active == 0
