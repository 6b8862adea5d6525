"""A TCP proxy in front of one upstream (PostgreSQL, Redis) whose faults tests switch on and
off while connections run through it: latency, blackhole, reset, refusal, a cut mid-stream.

    async with FaultProxy("127.0.0.1", redis.port) as proxy:    # listens on 127.0.0.1:0
        bus = RedisBus(proxy.url(redis.url))                     # the URL, via the proxy
        proxy.latency(0.05)          # every chunk, both ways, forwarded 50 ms after it came
        proxy.blackhole()            # read and drop everything, both ways: silence, no reset
        proxy.heal()                 # forward again (what was dropped stays lost)
        proxy.reset()                # RST every current connection (SO_LINGER 0), both sides
        proxy.refuse(True)           # new connections: RST at once, upstream never dialled
        proxy.cut_after(100, TO_CLIENT)  # the next connection: 100 bytes to the client, then EOF
        proxy.cut_after(9, TO_UPSTREAM, current=True)  # the open ones: 9 more bytes up, then EOF
        proxy.clear()                # no fault at all
        await proxy.wait_until(lambda s: s.opened >= 2)          # counters (Stats), not sleeps

``FaultProxy(host, port, record=True)`` also keeps every chunk forwarded, with its direction
(``proxy.recorded``), to see where in a protocol's exchange a cut falls. (The resume tests'
tests/integration/faultproxy.py is another, older proxy: for clients' connections to palaver,
with retarget; this one is for palaver's own links to PostgreSQL and Redis.)

How this works: each accepted connection (a link) dials the upstream and runs two pipes,
client->upstream and upstream->client. A pipe is a reader task, a bounded queue and a writer
task: the reader stamps each chunk with the time it is due (now + latency, never before the
chunk ahead of it: order is kept when the latency changes) and the writer forwards it then.
A fault is a switch on the proxy that every pipe looks at, so it applies to the connections
already open as well as to new ones (a ``cut_after`` applies to the next ``times`` connections,
or with ``current=True`` to those open now, counting from then).

- blackhole: chunks read while it is on, and chunks due while it is on, are dropped (counted as
  swallowed); an end of stream (FIN) is held until ``heal`` and forwarded then, as TCP would.
  The connections stay open. (A real dead route delays bytes rather than losing them: here a
  connection that outlives the blackhole has lost a piece of its stream, so a client that
  reuses it after a timeout reads a broken protocol; clients must drop such connections.)
- reset: both sockets of every link are closed with SO_LINGER 0: each peer gets an RST.
- a peer's RST (or any socket error) resets the link's other side; a peer's FIN is forwarded
  as a FIN (half-close); the link ends when both ways have ended.
- cut: the pipe forwards exactly the bytes left in its budget, then both sides get a FIN and
  everything after is dropped; the link ends when both peers have closed.
- refuse: the listening socket stays open (a port can be lost if it is closed), so a refused
  client's connect succeeds and its first read or write fails with a reset.

Everything runs on the event loop of the test; every wait is bounded (``wait_until`` has a
timeout, dialling the upstream too), and ``close`` (or leaving the ``async with``) resets
whatever is still open and waits for every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit, urlunsplit

READ_SIZE: Final = 65_536
QUEUE_CHUNKS: Final = 64  # chunks a pipe holds before it stops reading (back-pressure)
CONNECT_TIMEOUT: Final = 5.0  # seconds to dial the upstream
WAIT: Final = 10.0  # seconds wait_until waits by default
_LINGER_0: Final = struct.pack("ii", 1, 0)


class Direction(StrEnum):
    TO_UPSTREAM = "client->upstream"
    TO_CLIENT = "upstream->client"


TO_UPSTREAM: Final = Direction.TO_UPSTREAM
TO_CLIENT: Final = Direction.TO_CLIENT


@dataclass(frozen=True)
class Stats:
    """What the proxy has done so far (a snapshot)."""

    opened: int = 0  # connections accepted and dialled through to the upstream
    active: int = 0  # links open now
    refused: int = 0  # connections reset at once (refuse, or the upstream could not be dialled)
    resets: int = 0  # links reset by reset()
    cuts: int = 0  # links cut by cut_after
    read_from_client: int = 0  # bytes the proxy has read (whatever became of them)
    read_from_upstream: int = 0
    eof_from_client: int = 0  # ends of stream (FIN) read
    eof_from_upstream: int = 0
    bytes_to_upstream: int = 0  # forwarded
    bytes_to_client: int = 0
    swallowed_to_upstream: int = 0  # dropped by a blackhole
    swallowed_to_client: int = 0


class _Eof:
    """A peer's end of stream, queued behind its last bytes."""


_EOF: Final = _Eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close ``writer``'s socket so that its peer gets an RST, not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_0)
    writer.transport.abort()


class _Pipe:
    """One direction of a link."""

    def __init__(self, link: _Link, direction: Direction, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.link = link
        self.direction = direction
        self.reader = reader
        self.writer = writer
        self.queue: asyncio.Queue[tuple[float, bytes | _Eof]] = asyncio.Queue(QUEUE_CHUNKS)
        self.budget: int | None = None  # bytes left before the cut
        self.last_due = 0.0
        self.ended = False  # its peer's EOF was forwarded
        source = "client" if direction is TO_UPSTREAM else "upstream"
        self.read_counter, self.eof_counter = f"read_from_{source}", f"eof_from_{source}"

    async def read(self) -> None:
        proxy, loop = self.link.proxy, asyncio.get_running_loop()
        try:
            while True:  # ends with the peer's EOF or an error
                data = await self.reader.read(READ_SIZE)
                due = max(loop.time() + proxy._latency[self.direction], self.last_due)
                self.last_due = due
                proxy._bump(**{self.read_counter: len(data)})
                if not data:
                    proxy._bump(**{self.eof_counter: 1})
                    if not self.link.cut:
                        await self.queue.put((due, _EOF))
                    return
                if self.link.cut:  # dropped: the stream was cut
                    continue
                if proxy._blackholed:
                    proxy._count(self.direction, len(data), swallowed=True)
                    continue
                await self.queue.put((due, data))
        except (ConnectionError, OSError):
            self.link.reset()

    async def write(self) -> None:
        proxy, loop = self.link.proxy, asyncio.get_running_loop()
        try:
            while True:  # ends with the EOF, a cut or an error
                due, item = await self.queue.get()
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if isinstance(item, _Eof):
                    await proxy._healed.wait()  # a FIN is held, not lost, by a blackhole
                    self.end()
                    return
                if self.link.cut:
                    continue
                if proxy._blackholed:
                    proxy._count(self.direction, len(item), swallowed=True)
                    continue
                if self.budget is not None and len(item) >= self.budget:
                    self.forward(item[:self.budget])
                    self.link.cut_now()
                    return
                if self.budget is not None:
                    self.budget -= len(item)
                self.forward(item)
                await self.writer.drain()
        except (ConnectionError, OSError):
            self.link.reset()

    def forward(self, data: bytes) -> None:
        proxy = self.link.proxy
        self.writer.write(data)
        proxy._count(self.direction, len(data))
        if proxy.recorded is not None:
            proxy.recorded.append((self.direction, data))

    def end(self) -> None:
        """Forward the peer's EOF; when both ways have ended, the link is finished."""
        if self.link.cut:
            return
        self.ended = True
        if not self.writer.transport.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                self.writer.write_eof()
        if all(pipe.ended for pipe in self.link.pipes):
            self.link.finish()


class _Link:
    """A client connection and its upstream connection."""

    def __init__(self, proxy: FaultProxy, client: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None
        self.pipes: list[_Pipe] = []
        self.done = asyncio.Event()
        self.cut = False

    def pipe(self, direction: Direction) -> _Pipe:
        return next(pipe for pipe in self.pipes if pipe.direction == direction)

    def reset(self) -> bool:
        """RST both sides; False if it had ended already."""
        if self.done.is_set():
            return False
        for writer in (self.client, self.upstream):
            if writer is not None:
                _reset(writer)
        self.done.set()
        return True

    def cut_now(self) -> None:
        """A FIN to both sides; what comes after is dropped; done when both have closed."""
        self.cut = True
        self.proxy._bump(cuts=1)
        for writer in (self.client, self.upstream):
            if writer is not None and not writer.transport.is_closing():
                with contextlib.suppress(OSError, RuntimeError):
                    writer.write_eof()
        # the readers go on, dropping, until each peer has closed (Link.run)

    def finish(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.close()
        self.done.set()

    async def run(self, reader: asyncio.StreamReader) -> None:
        proxy = self.proxy
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                up_reader, self.upstream = await asyncio.open_connection(*proxy.upstream)
        except (OSError, TimeoutError):
            _reset(self.client)  # the upstream is down: as if refused
            proxy._bump(refused=1)
            return
        if self.done.is_set():  # reset while dialling
            _reset(self.upstream)
            return
        self.pipes = [_Pipe(self, TO_UPSTREAM, reader, self.upstream),
                      _Pipe(self, TO_CLIENT, up_reader, self.client)]
        for pipe in self.pipes:
            pipe.budget = proxy._take_budget(pipe.direction)
        proxy._bump(opened=1, active=1)
        readers = [asyncio.create_task(pipe.read()) for pipe in self.pipes]
        tasks = [*readers, *(asyncio.create_task(pipe.write()) for pipe in self.pipes)]
        done = asyncio.create_task(self.done.wait())
        try:
            while not self.done.is_set():  # ends when reset, finished, or cut and closed
                reading = [task for task in readers if not task.done()]
                if self.cut and not reading:  # both peers closed after the cut
                    self.finish()
                    break
                await asyncio.wait([done, *reading], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [*tasks, done]:
                task.cancel()
            await asyncio.gather(*tasks, done, return_exceptions=True)
            self.client.close()
            self.upstream.close()
            proxy._bump(active=-1)


class FaultProxy:
    def __init__(self, host: str, port: int, *, record: bool = False) -> None:
        self.upstream = (host, port)
        # record: every chunk forwarded, in order, with its direction (to see what a cut hit)
        self.recorded: list[tuple[Direction, bytes]] | None = [] if record else None
        self.host = "127.0.0.1"
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._latency = {TO_UPSTREAM: 0.0, TO_CLIENT: 0.0}
        self._blackholed = False
        self._healed = asyncio.Event()
        self._healed.set()
        self._refusing = False
        self._planned_cuts: dict[Direction, tuple[int, int]] = {}  # -> (bytes, connections)
        self._stats = Stats()
        self._changed = asyncio.Event()

    # ------------------------------------------------------------------ life

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self.host, 0)
        return self

    async def close(self) -> None:
        """Stop listening, reset every connection, and wait for every task."""
        if self._server is not None:
            self._server.close()
        self._healed.set()
        for link in list(self._links):
            link.reset()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=WAIT)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not started"
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url(self, upstream_url: str) -> str:
        """``upstream_url`` (redis://..., postgresql://...) with the proxy's host and port:
        user, password, path and query kept."""
        parts = urlsplit(upstream_url)
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = (f"{userinfo}@" if userinfo else "") + f"{self.host}:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    # ------------------------------------------------------------------ faults

    def latency(self, seconds: float, direction: Direction | None = None) -> None:
        """Forward each chunk ``seconds`` after it was read (both ways, or one); 0: at once.
        Order is kept: a chunk is never forwarded before the one ahead of it."""
        for way in (TO_UPSTREAM, TO_CLIENT) if direction is None else (direction,):
            self._latency[way] = seconds

    def blackhole(self) -> None:
        """Read and drop everything both ways, answer nothing; connections stay open."""
        self._blackholed = True
        self._healed.clear()

    def heal(self) -> None:
        """Forward again (after a blackhole); what was dropped stays lost."""
        self._blackholed = False
        self._healed.set()

    def reset(self) -> int:
        """RST every current connection, both sides; how many there were. New ones work."""
        count = sum(link.reset() for link in list(self._links))
        self._bump(resets=count)
        return count

    def refuse(self, refusing: bool = True) -> None:
        """While on, each new connection is reset at once (its upstream is never dialled)."""
        self._refusing = refusing

    def cut_after(self, n_bytes: int | None, direction: Direction = TO_CLIENT, *,
                  times: int = 1, current: bool = False) -> None:
        """Cut mid-stream: forward ``n_bytes`` more in ``direction``, then FIN both sides and
        drop the rest. For the next ``times`` connections, or (``current``) for every one
        open now, counting from now. ``n_bytes`` None: cancel what is planned (and, with
        ``current``, the budgets of the open ones) in that direction."""
        if current:
            for link in self._links:
                if link.pipes:
                    link.pipe(direction).budget = n_bytes
        elif n_bytes is None:
            self._planned_cuts.pop(direction, None)
        else:
            self._planned_cuts[direction] = (n_bytes, times)

    def clear(self) -> None:
        """No fault: no latency, no blackhole, no refusal, no cut planned or counting."""
        self.latency(0.0)
        self.heal()
        self.refuse(False)
        self._planned_cuts.clear()
        for link in self._links:
            for pipe in link.pipes:
                pipe.budget = None

    # ------------------------------------------------------------------ counters

    @property
    def stats(self) -> Stats:
        return self._stats

    async def wait_until(self, predicate: Callable[[Stats], bool],
                         timeout: float = WAIT) -> Stats:
        """Until ``predicate(stats)`` holds (TimeoutError after ``timeout`` seconds)."""
        async with asyncio.timeout(timeout):
            while not predicate(self._stats):  # bounded by the timeout
                self._changed.clear()
                await self._changed.wait()
        return self._stats

    # ------------------------------------------------------------------ inside

    def _bump(self, **deltas: int) -> None:
        stats = self._stats
        self._stats = replace(stats, **{k: getattr(stats, k) + v for k, v in deltas.items()})
        self._changed.set()

    def _count(self, direction: Direction, n: int, *, swallowed: bool = False) -> None:
        way = "to_upstream" if direction is TO_UPSTREAM else "to_client"
        self._bump(**{("swallowed_" if swallowed else "bytes_") + way: n})

    def _take_budget(self, direction: Direction) -> int | None:
        planned = self._planned_cuts.get(direction)
        if planned is None:
            return None
        n_bytes, times = planned
        if times <= 1:
            del self._planned_cuts[direction]
        else:
            self._planned_cuts[direction] = (n_bytes, times - 1)
        return n_bytes

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            _reset(writer)
            self._bump(refused=1)
            return
        task = asyncio.current_task()
        assert task is not None
        link = _Link(self, writer)
        self._links.add(link)
        self._tasks.add(task)
        try:
            await link.run(reader)
        finally:
            self._links.discard(link)
            self._tasks.discard(task)
