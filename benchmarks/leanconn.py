"""Lean load-generator connections: ``asyncio.Protocol``s that count bytes, never parse them.

How this works: :class:`LeanConnection` is the plumbing every worker's connection shares — the
transport, a ``write`` that does nothing once the connection is closed, and ``_lose``, which
marks the connection closed (once) and tells its sink why. :class:`LineCounter` adds the reader
of the fan-out workers: each read is cut at its last newline (the unterminated rest waits for the
next read); in the complete part it counts lines (``frames``) and benchmark messages
(``bytes.count`` of ``MESSAGE_TAG``), and a sampled connection reads the send time that the
sender put after each ``STAMP_TAG`` (19 digits of ``time.monotonic_ns``) to get the
publish→delivery latency. It spots a sync ``token``, then hands the chunk to :meth:`scan` for the
protocol's own lines (welcome, ping, goodbye). Everything goes to its :class:`Sink` (the worker).
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Final, Protocol, cast

STAMP_DIGITS: Final = 19


class Sink(Protocol):
    """What a connection reports to (the worker process)."""

    def on_messages(self, conn: LineCounter, count: int, now_ns: int) -> None: ...
    def on_settled(self, conn: LineCounter) -> None: ...
    def on_lost(self, conn: LineCounter, reason: str) -> None: ...


class LeanConnection(asyncio.Protocol):
    __slots__ = ("closed", "sink", "transport")

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.closed = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose("reset" if exc is not None else "closed by server")

    def _lose(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.sink.on_lost(self, reason)  # type: ignore[arg-type]  # a LineCounter or not

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class LineCounter(LeanConnection):
    """A fan-out connection; subclasses set the tags and find their own lines in :meth:`scan`."""

    __slots__ = ("frames", "index", "latencies", "messages", "nick", "tail", "token")

    MESSAGE_TAG: ClassVar[bytes]
    STAMP_TAG: ClassVar[bytes]  # followed by the 19-digit send time
    MAX_TAIL: ClassVar[int | None] = None  # how much of a read without a newline is kept

    def __init__(self, sink: Sink, index: int, nick: str, sample: bool) -> None:
        super().__init__(sink)
        self.index = index
        self.nick = nick
        self.tail = b""
        self.frames = 0
        self.messages = 0
        self.token: bytes | None = None
        self.latencies: list[int] | None = [] if sample else None

    def data_received(self, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            self.tail = data if self.MAX_TAIL is None else data[-self.MAX_TAIL:]
            return
        if end < len(data):
            self.tail = data[end:]
            data = data[:end]
        else:
            self.tail = b""
        self.frames += data.count(b"\n")
        count = data.count(self.MESSAGE_TAG)
        if count:
            now_ns = time.monotonic_ns()
            self.messages += count
            if self.latencies is not None:
                self._stamps(data, now_ns)
            self.sink.on_messages(self, count, now_ns)
        if self.token is not None and self.token in data:
            self.token = None
            self.sink.on_settled(self)
        self.scan(data)

    def scan(self, data: bytes) -> None:
        """The protocol's own lines in ``data`` (complete lines only)."""

    def _stamps(self, data: bytes, now_ns: int) -> None:
        latencies = self.latencies
        assert latencies is not None
        tag = self.STAMP_TAG
        at = data.find(tag)
        while at >= 0:
            start = at + len(tag)
            digits = data[start:start + STAMP_DIGITS]
            if digits.isdigit():
                latencies.append(now_ns - int(digits))
            at = data.find(tag, start)
