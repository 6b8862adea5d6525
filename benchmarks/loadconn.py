"""One load-generator connection: a lean ``asyncio.Protocol`` that counts frames.

How this works: it never decodes JSON. Each read is cut at its last newline (the unterminated
rest waits for the next read); in the complete part it counts frames (newlines), MESSAGE frames
(the tag is always the first key msgspec writes) and, on a sampled connection, parses the send
timestamp that the benchmark sender put at the start of the text (``"text":"B<19-digit ns>:``)
to get the publish→delivery latency. It answers PING, notes WELCOME and BYE, and spots a sync
token. Everything it learns goes to its :class:`Sink` (the worker) as plain counters.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol, cast

from palaver.protocol.jsonl import encode
from palaver.protocol.messages import PROTOCOL_VERSION, Hello, Pong, Say

MESSAGE_TAG: Final = b'"type":"MESSAGE"'
WELCOME_TAG: Final = b'"type":"WELCOME"'
PING_TAG: Final = b'"type":"PING"'
BYE_TAG: Final = b'"type":"BYE"'
STAMP: Final = b'"text":"B'
STAMP_DIGITS: Final = 19
PONG_FRAME: Final = encode(Pong())


class Sink(Protocol):
    """What a connection reports to (the worker process)."""

    def on_messages(self, conn: BenchConnection, count: int, now_ns: int) -> None: ...
    def on_welcome(self, conn: BenchConnection) -> None: ...
    def on_token(self, conn: BenchConnection) -> None: ...
    def on_lost(self, conn: BenchConnection, reason: str) -> None: ...


class ChatFrames:
    """Pre-encoded CHAT frames with a send timestamp (ns) spliced into a ~``size``-byte text."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, room: str, size: int = 100) -> None:
        pad = "x" * max(0, size - STAMP_DIGITS - 2)
        sample = encode(Say(room=room, text="B" + "0" * STAMP_DIGITS + ":" + pad))
        at = sample.index(STAMP) + len(STAMP)
        self._prefix = sample[:at]
        self._suffix = sample[at + STAMP_DIGITS:]

    def frame(self, stamp_ns: int) -> bytes:
        return b"%b%019d%b" % (self._prefix, stamp_ns, self._suffix)


class BenchConnection(asyncio.Protocol):
    __slots__ = (
        "closed",
        "frames",
        "index",
        "latencies",
        "messages",
        "nick",
        "sink",
        "tail",
        "token",
        "transport",
        "welcomed",
    )

    def __init__(self, sink: Sink, index: int, nick: str, sample: bool) -> None:
        self.sink = sink
        self.index = index
        self.nick = nick
        self.tail = b""
        self.frames = 0
        self.messages = 0
        self.welcomed = False
        self.closed = False
        self.token: bytes | None = None
        self.latencies: list[int] | None = [] if sample else None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def hello(self) -> None:
        self.write(encode(Hello(version=PROTOCOL_VERSION, nick=self.nick)))

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            self.tail = data
            return
        if end < len(data):
            self.tail = data[end:]
            data = data[:end]
        else:
            self.tail = b""
        self.frames += data.count(b"\n")
        count = data.count(MESSAGE_TAG)
        if count:
            now_ns = time.monotonic_ns()
            self.messages += count
            if self.latencies is not None:
                self._stamps(data, now_ns)
            self.sink.on_messages(self, count, now_ns)
        if not self.welcomed and WELCOME_TAG in data:
            self.welcomed = True
            self.sink.on_welcome(self)
        if self.token is not None and self.token in data:
            self.token = None
            self.sink.on_token(self)
        if PING_TAG in data:
            self.write(PONG_FRAME)
        if BYE_TAG in data:
            at = data.find(b'"reason":"', data.find(BYE_TAG))
            reason = data[at + 10:data.find(b'"', at + 10)] if at >= 0 else b"?"
            self._lose("BYE " + reason.decode(errors="replace"))

    def _stamps(self, data: bytes, now_ns: int) -> None:
        latencies = self.latencies
        assert latencies is not None
        at = data.find(STAMP)
        while at >= 0:
            start = at + len(STAMP)
            digits = data[start:start + STAMP_DIGITS]
            if digits.isdigit():
                latencies.append(now_ns - int(digits))
            at = data.find(STAMP, start)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose("reset" if exc is not None else "closed by server")

    def _lose(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.sink.on_lost(self, reason)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
