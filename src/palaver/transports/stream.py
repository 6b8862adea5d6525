"""A front door on a byte stream (TCP, TLS): one ``asyncio.Protocol`` per connection, no task.

How this works: reading hands bytes to the connection's :class:`Dialect` (sans-I/O) and each
decoded message to the core; bytes the dialect wants written at once (a prompt, a numeric) are
queued like any other. Writing: the core appends rendered events to :meth:`send`; they are written
together by :meth:`flush` at the next loop turn. Closing politely writes what is queued plus a
farewell, half-closes, and cuts the connection if the peer has not gone within ``LINGER``
seconds. While a login is checked (:meth:`pause`) decoded messages wait; while a resume replays
history (:meth:`hold`) live events wait behind it.

Limits (docs/limits.md) are decided by the connection's
:class:`~palaver.transports.policy.ConnectionPolicy`, shared with the WebSocket doors: a
connection is admitted by the core's per-address rules first; every line read takes a token of
the rate limit, and when none is left the rest of what was read waits, as raw bytes (at most one
read), the socket stops being read until a token is back (TCP backpressure), and the client is
told ``rate_limited``. Before registration a byte cap and a count of refused frames cut junk off.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Hashable
from typing import Final, cast

from palaver.protocol.dialect import Dialect, Inbound
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Error, Goodbye, Wire
from palaver.server.core import ServerCore
from palaver.tls import peer_fingerprint
from palaver.transports.outbox import SENDER_SLOTS, QueuedSender, reset
from palaver.transports.policy import ConnectionPolicy, Pause

log = logging.getLogger("palaver.transports")

LINGER: Final = 2.0  # seconds a closing connection may take to read its farewell


def receive_keyed(core: ServerCore, dialect: Dialect, data: bytes | None) -> list[Inbound]:
    """What ``dialect`` reads in ``data`` (None: the end of the stream); if that changed how it
    renders (IRC capabilities: its ``encode_key``), the core is told (server/audiences.py)."""
    key = dialect.encode_key
    items = dialect.receive_eof() if data is None else dialect.receive_data(data)
    if dialect.encode_key is not key:
        core.rekeyed()
    return items


class StreamConnection(QueuedSender, ConnectionPolicy, asyncio.Protocol):
    """A connection on a byte stream. It is its own
    :class:`~palaver.transports.policy.ConnectionPolicy` (one object per connection, not two:
    fewer bytes per idle connection); the policy's methods are what the transport asks."""

    __slots__ = (
        *SENDER_SLOTS,
        "_backlog",
        "_core",
        "_host",
        "_port",
        "_reading",
        "_stash",
        "_unthrottle",
        "closing",
        "dialect",
        "last_seen",
        "opened_at",
        "pinged",
        "sid",
        "transport",
    )

    def __init__(self, core: ServerCore, dialect: Dialect, *, notice_after: int = 1) -> None:
        self._core = core
        self.dialect = dialect
        ConnectionPolicy.__init__(self, core.limits, notice_after=notice_after)
        self._backlog = b""  # read but not yet handled: waiting for tokens or for a login
        self._unthrottle: asyncio.TimerHandle | None = None  # the end of a rate-limit pause
        self._reading = True
        self._host = ""  # the peer's address (one string shared by its connections)
        self._port = 0
        self._init_outbox()
        self._stash: list[Inbound] | None = None  # decoded while a login is checked (rare)
        self.closing = False
        self.pinged = False
        self.sid = 0
        self.opened_at = self.last_seen = core.monotonic()

    @property
    def peer(self) -> str:
        """Where it comes from ("host:port"), for the logs: made when asked, not kept."""
        return f"{self._host}:{self._port}" if self._host else "?"

    # ------------------------------------------------------------------ asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        rule = self._core.limits.send_queue  # slow readers (docs/limits.md, "Send queue")
        self.transport.set_write_buffer_limits(high=rule.limit)
        # (its kernel send buffer is bounded on the listening socket: bound_listener_send_buffers)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple):
            self._host, self._port = sys.intern(str(peer[0])), int(peer[1])
        refusal = self._core.admit(self._host)
        if refusal is not None:  # sid stays 0: the core never hears of this connection
            self.close(self.encode(Error(code=ErrorCode.TOO_MANY_CONNECTIONS, message=refusal))
                       + self.encode(Goodbye(reason=refusal)))
            return
        tls = transport.get_extra_info("ssl_object")  # a TLS door: and a client certificate?
        self.sid = self._core.attach(self, certificate=peer_fingerprint(tls),
                                     secure=tls is not None)

    def data_received(self, data: bytes) -> None:
        if self.closing or self.stopped:
            return
        core = self._core
        self.last_seen = now = core.monotonic()
        self.pinged = False
        if not self.registered:  # the caps before registration (learnt once: never undone)
            cut = self.arrived(len(data), core.hub.is_registered(self.sid))
            if cut is not None:
                self._stop(cut)
                return
        if self._backlog or self.held():
            self._backlog += data  # a read that was under way when we paused
            return
        if self.admit_all(now, data.count(b"\n")):  # the usual case: all of it, now
            self._handle(self._receive(data))
        else:
            self._feed(data, now)

    def _feed(self, data: bytes, now: float) -> None:
        """Handle ``data`` one line at a time while there are tokens; keep the rest."""
        start = 0
        while not self.closing and not self.stopped:
            if self.waiting_login:
                self._backlog = data[start:]
                return
            end = data.find(b"\n", start)
            if end < 0:  # no complete line: costs nothing until its newline comes
                if start < len(data):
                    self._handle(self._receive(data[start:]))
                return
            pause = self.admit(now)
            if pause is not None:
                self._backlog = data[start:]
                self._throttle(pause)
                return
            self._handle(self._receive(data[start : end + 1]))
            start = end + 1

    def _throttle(self, pause: Pause) -> None:
        self._unthrottle = self._core.loop.call_later(pause.wait, self._go_on)
        self._set_reading()
        if pause.notice is not None:
            self._core.reject(self, pause.notice)

    def _go_on(self) -> None:
        self._unthrottle = None
        self.unthrottle()
        self._drain()

    def _drain(self) -> None:
        """Handle what waited (tokens permitting), then read again if nothing holds us."""
        if self._backlog and not self.held():
            backlog, self._backlog = self._backlog, b""
            self._feed(backlog, self._core.monotonic())
        self._set_reading()

    def _set_reading(self) -> None:
        want = self.reading(self.closing)
        if want != self._reading:
            self._reading = want
            if want:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def _stop(self, reason: str) -> None:
        """Junk: read nothing more, and close after what is already on its way."""
        self.stop()
        self._backlog = b""
        self._set_reading()
        self._core.cut_off(self, reason)

    def eof_received(self) -> bool:
        if not self.closing:
            self._handle(self._receive(None))
            self.flush()  # the replies to a last unterminated line, before we close
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._caught_up()  # no grace period left running
        if self._unthrottle is not None:
            self._unthrottle.cancel()
            self._unthrottle = None
        self._backlog = b""
        if self.sid:
            self._core.release_address(self._host)
        self._core.detach(self, "connection closed" if exc is None else "connection reset")

    def _receive(self, data: bytes | None) -> list[Inbound]:
        return receive_keyed(self._core, self.dialect, data)

    def _handle(self, items: list[Inbound]) -> None:
        core = self._core
        for index, item in enumerate(items):
            if self.closing or self.stopped:
                return
            if self.waiting_login:
                self._stash = [*(self._stash or ()), *items[index:]]
                return
            if isinstance(item, bytes):
                core.answer(self, item)
            elif isinstance(item, PeerError):
                core.reject(self, item)
                cut = self.refused(core.hub.is_registered(self.sid))
                if cut is not None:
                    self._stop(cut)
                    return
            else:
                core.receive(self, item)

    # ------------------------------------------------------------------ what the core calls

    @property
    def encode_key(self) -> Hashable:
        return self.dialect.encode_key

    @property
    def resends(self) -> bool:
        return self.dialect.resends

    def encode(self, event: Wire) -> bytes:
        return self.dialect.encode(event)

    def flush(self) -> None:
        if not self._outbox or self.closing:
            return
        # The same list object is reused for the connection's whole life. A list made per loop
        # turn and let go at the flush would spare an idle connection its empty list (56 B),
        # but a big room's message would then make one per recipient and turn: the fan-out
        # sweep at 1,500 msgs/s measured p99 +10-30 ms with it (docs/benchmarks.md §7, fifth
        # pass). And a fresh list per flush kept would leave each idle connection's list
        # wherever the allocator was during the last burst, pinning memory pages the burst
        # otherwise frees (`python -m benchmarks --only idle`: ~0.7 KB RSS per idle connection
        # after the presence storm of 10,000 HELLOs).
        # Several frames go out as one scatter write (the transport's writelines: writev, no joined
        # copy); the frames are shared bytes objects, the same for every recipient.
        outbox = self._outbox
        if len(outbox) == 1:
            self.transport.write(outbox[0])  # over the limit, asyncio calls pause_writing
        else:
            self.transport.writelines(outbox)
        outbox.clear()
        self._queued = 0
        if self._behind is not None:
            self._judge()

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
        self._set_reading()
        self._core.loop.call_later(LINGER, transport.abort)

    def pause(self) -> None:
        self.wait_login()
        self._set_reading()

    def resume(self) -> None:
        self.login_done()
        stash, self._stash = self._stash or [], None
        self._handle(stash)
        if not self.waiting_login:
            self._drain()

    def stop_reading(self) -> None:
        """The server is shutting down: hand the core nothing more (what was read and not yet
        handled is dropped; it was never acknowledged), but keep sending."""
        self.stop()
        self._backlog = b""
        self._stash = None
        self._set_reading()

    def abort(self) -> None:
        self.closing = True
        self._drop_queue()
        reset(self.transport)

    # ------------------------------------------------------------------ flow control (asyncio)

    def pause_writing(self) -> None:
        self._fell_behind(self._core.monotonic())

    def resume_writing(self) -> None:
        self._caught_up()

    def _write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size()
