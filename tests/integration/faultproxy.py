"""A TCP proxy that breaks connections on demand: the network failures of the resume tests.

    proxy = await FaultProxy.start(server.port)     # listens on 127.0.0.1, port 0
    client = await ResilientClient.connect("127.0.0.1", proxy.port, "bob")
    proxy.cut()                                      # reset every connection through it, now
    proxy.cut_after(10_000, times=5)                 # reset each of the next 5 connections once
                                                     # it has carried 10,000 bytes to the client
    proxy.retarget(new_server.port)                  # new connections go there

A cut resets (RST) both sides, dropping whatever the proxy had not forwarded yet; a byte-count
cut forwards exactly up to the limit first, so the client sees a frame broken in the middle.
"""

from __future__ import annotations

import asyncio
import contextlib

READ_SIZE = 65_536


class _Link:
    """One client connection and its upstream."""

    def __init__(self, proxy: FaultProxy, down: asyncio.StreamWriter,
                 up: asyncio.StreamWriter) -> None:
        self.proxy = proxy
        self.down = down
        self.up = up
        self.budget: int | None = None  # bytes to the client before the cut
        self.tasks: list[asyncio.Task[None]] = []
        self.broken = False

    def cut(self) -> None:
        if not self.broken:
            self.broken = True
            self.proxy.cuts += 1
        for writer in (self.down, self.up):
            writer.transport.abort()

    async def pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   to_client: bool) -> None:
        try:
            while data := await reader.read(READ_SIZE):
                if to_client and self.budget is not None:
                    if len(data) >= self.budget:
                        writer.write(data[:self.budget])
                        self.cut()
                        return
                    self.budget -= len(data)
                writer.write(data)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            self.cut()


class FaultProxy:
    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.upstream_port = upstream_port
        self.accepted = 0
        self.cuts = 0
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._changed = asyncio.Condition()
        self._cut_after: int | None = None
        self._cuts_planned = 0

    @classmethod
    async def start(cls, upstream_port: int) -> FaultProxy:
        proxy = cls(upstream_port)
        proxy._server = await asyncio.start_server(proxy._accept, proxy.host, 0)
        return proxy

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def retarget(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port

    def cut(self) -> int:
        """Reset every connection now; how many there were."""
        links = list(self._links)
        for link in links:
            link.cut()
        return len(links)

    def cut_after(self, count: int, *, times: int) -> None:
        """Reset each of the next ``times`` connections after ``count`` bytes to the client."""
        self._cut_after, self._cuts_planned = count, times

    async def wait_accepted(self, count: int, timeout: float = 20.0) -> None:
        """Until ``count`` connections in all have been accepted."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.accepted >= count)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for link in list(self._links):
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        except OSError:
            writer.transport.abort()  # the server is down: as if it refused
            return
        link = _Link(self, writer, up_writer)
        if self._cut_after is not None and self._cuts_planned > 0:
            link.budget = self._cut_after
            self._cuts_planned -= 1
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(link.pump(reader, up_writer, to_client=False)),
            asyncio.create_task(link.pump(up_reader, writer, to_client=True)),
        ]
        async with self._changed:
            self.accepted += 1
            self._changed.notify_all()
        try:
            await asyncio.gather(*link.tasks, return_exceptions=True)
        finally:
            self._links.discard(link)
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await w.wait_closed()
