"""A front door on a byte stream (TCP, TLS): one ``asyncio.Protocol`` per connection, no task.

How this works: reading hands bytes to the connection's :class:`Dialect` (sans-I/O) and each
decoded message to the core; bytes the dialect wants written at once (a prompt, a numeric) are
queued like any other. Writing: the core appends rendered events to :meth:`send`; they are written
together by :meth:`flush` at the next loop turn. Closing politely writes what is queued plus a
farewell, half-closes, and cuts the connection if the peer has not gone within ``LINGER``
seconds. While a login is checked (:meth:`pause`) decoded messages wait; while a resume replays
history (:meth:`hold`) live events wait behind it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Final, cast

from palaver.protocol.dialect import Dialect, Inbound
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import Wire
from palaver.server.core import ServerCore

log = logging.getLogger("palaver.transports")

LINGER: Final = 2.0  # seconds a closing connection may take to read its farewell
BURST_FACTOR: Final = 4  # one loop turn may queue this many send-queue limits for a connection


class StreamConnection(asyncio.Protocol):
    __slots__ = (
        "_core",
        "_held",
        "_outbox",
        "_paused",
        "_queued",
        "_stash",
        "closing",
        "dialect",
        "last_seen",
        "opened_at",
        "peer",
        "pinged",
        "sid",
        "transport",
    )

    def __init__(self, core: ServerCore, dialect: Dialect) -> None:
        self._core = core
        self.dialect = dialect
        self._outbox: list[bytes] = []
        self._queued = 0
        self._held: list[bytes] | None = None  # frames waiting behind a replay
        self._paused = False  # waiting for a login: decoded messages wait in _stash
        self._stash: list[Inbound] = []
        self.closing = False
        self.pinged = False
        self.peer = "?"
        self.sid = 0
        self.opened_at = self.last_seen = core.monotonic()

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.sid = self._core.attach(self)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self.last_seen = self._core.monotonic()
        self.pinged = False
        self._handle(self.dialect.receive_data(data))

    def eof_received(self) -> bool:
        if not self.closing:
            self._handle(self.dialect.receive_eof())
            self.flush()  # the replies to a last unterminated line, before we close
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._core.detach(self, "connection closed" if exc is None else "connection reset")

    def _handle(self, items: list[Inbound]) -> None:
        core = self._core
        for index, item in enumerate(items):
            if self.closing:
                return
            if self._paused:
                self._stash.extend(items[index:])
                return
            if isinstance(item, bytes):
                self.send(item)
            elif isinstance(item, PeerError):
                core.reject(self, item)
            else:
                core.receive(self, item)

    # ------------------------------------------------------------------ what the core calls

    @property
    def encode_key(self) -> Hashable:
        return self.dialect.encode_key

    def encode(self, event: Wire) -> bytes:
        return self.dialect.encode(event)

    def send(self, data: bytes) -> None:
        if self.closing:
            return
        if self._held is not None:
            self._held.append(data)
            return
        if not self._outbox:
            self._core.mark_dirty(self)
        self._outbox.append(data)
        self._queued += len(data)
        # What one loop turn queues is bounded by what the turn read; this cap only bounds
        # memory. Slow readers are caught in flush(), by what the kernel would not take.
        if self._queued > BURST_FACTOR * self._core.send_queue_limit:
            self._core.overflowed(self)

    def flush(self) -> None:
        if not self._outbox or self.closing:
            return
        outbox, self._outbox, self._queued = self._outbox, [], 0
        self.transport.write(outbox[0] if len(outbox) == 1 else b"".join(outbox))
        if self.transport.get_write_buffer_size() > self._core.send_queue_limit:
            self._core.overflowed(self)

    def close(self, farewell: bytes | None) -> None:
        if self.closing:
            return
        if farewell is not None:
            self._outbox.append(farewell)
        self.flush()
        self.closing = True
        transport = self.transport
        if not transport.can_write_eof():
            transport.close()
            return
        try:
            transport.write_eof()  # the peer reads everything we sent, then EOF
        except OSError:  # the peer is already gone
            transport.abort()
            return
        asyncio.get_running_loop().call_later(LINGER, transport.abort)

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self, first: list[bytes]) -> None:
        held, self._held = self._held or [], None
        for data in first:
            self.send(data)
        for data in held:
            self.send(data)

    def pause(self) -> None:
        self._paused = True
        if not self.closing:
            self.transport.pause_reading()

    def resume(self) -> None:
        self._paused = False
        stash, self._stash = self._stash, []
        self._handle(stash)
        if not self._paused and not self.closing:
            self.transport.resume_reading()

    def abort(self) -> None:
        self.closing = True
        self._outbox.clear()
        self.transport.abort()
