"""Protocol v1 over WebSocket: one JSON message per text frame, driven by aiohttp.

How this works: aiohttp does the handshake, reads frames (reassembling fragments, answering
pings) and refuses a message over the limit before buffering it. :meth:`WebSocketConnection.run`
is the connection's only task: it decodes each text frame with the JSON-lines decoder and hands
the message (or the error) to the core, exactly as the TCP door does. Writing needs no task: the
core queues encoded events with :meth:`send` (the JSON-lines bytes, shared with TCP clients —
the key is ``"json"``), and at the next loop turn :meth:`flush` frames everything queued, minus
each newline, and hands it to the socket in one write. A client that does not read fills the
socket's buffer and is cut off ("send queue exceeded"), as on TCP.

A message over ``max_frame`` makes aiohttp close the socket; :class:`_Socket` first lets the core
report ``frame_too_large`` (after whatever was already in flight for this client) so the client
sees the same ERROR as on TCP, then the close frame (1009).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import WSCloseCode, WSMsgType, web

from palaver.protocol.errors import ErrorCode, FrameTooLarge, PeerError
from palaver.protocol.jsonl import decode_client_frame, encode
from palaver.protocol.messages import ClientMessage, Wire
from palaver.server.core import ServerCore
from palaver.transports.outbox import QueuedSender, bound_send_buffer, reset

log = logging.getLogger("palaver.transports")

LINGER: Final = 2.0  # seconds a closing connection may take to answer our close frame
_TEXT_FIN: Final = 0x81  # FIN bit + opcode 1 (text)


def decode_ws_frame(binary: bool, payload: bytes) -> ClientMessage | PeerError:
    """One WebSocket data message from a client → a client message or the error it earns."""
    if binary:
        return PeerError(ErrorCode.BAD_FRAME,
                         "binary frames are not accepted: send each JSON message as a text frame")
    try:
        return decode_client_frame(payload)
    except PeerError as error:
        return error


def frame_header(length: int) -> bytes:
    """The header of an unmasked (server-to-client), unfragmented text frame."""
    if length < 126:
        return struct.pack("!BB", _TEXT_FIN, length)
    if length < 65_536:
        return struct.pack("!BBH", _TEXT_FIN, 126, length)
    return struct.pack("!BBQ", _TEXT_FIN, 127, length)


def frame_text(items: list[bytes]) -> list[bytes | memoryview]:
    """Text frames for encoded JSON lines (each ends with a newline, which is dropped)."""
    parts: list[bytes | memoryview] = []
    for data in items:
        length = len(data) - 1
        parts.append(frame_header(length))
        parts.append(memoryview(data)[:length])
    return parts


class _Socket(web.WebSocketResponse):
    """aiohttp's server socket, with a word to say before closing for a message too large."""

    on_too_large: Callable[[], Awaitable[None]] | None = None

    async def close(
        self, *, code: int = WSCloseCode.OK, message: bytes = b"", drain: bool = True
    ) -> bool:
        hook, self.on_too_large = self.on_too_large, None
        if hook is not None and code == WSCloseCode.MESSAGE_TOO_BIG:
            await hook()
        return await super().close(code=code, message=message, drain=drain)


class WebSocketConnection(QueuedSender):
    """One /ws client, as the core's :class:`~palaver.server.core.Connection`."""

    __slots__ = (
        "_closed",
        "_closer",
        "_core",
        "_deaf",
        "_max_frame",
        "_paused",
        "_resumed",
        "_socket",
        "_transport",
        "closing",
        "last_seen",
        "opened_at",
        "peer",
        "pinged",
        "sid",
    )

    encode_key: Final = "json"  # the same bytes as a JSON-lines client gets
    resends: Final = True  # the web client chooses its request ids and resends with them
    door: Final = "web"  # for metrics (server/metrics.py door_of)

    def __init__(self, core: ServerCore, max_frame: int) -> None:
        self._core = core
        self._max_frame = max_frame
        self._socket = _Socket(
            max_msg_size=max_frame,  # refused from the frame header, before any buffering
            compress=False,  # frames are shared between recipients and written together
            timeout=LINGER,
            decode_text=False,
        )
        self._socket.on_too_large = self._too_large
        self._transport: asyncio.Transport | None = None
        self._init_outbox()
        self._paused = False
        self._deaf = False  # the server is shutting down: act on nothing more
        self._resumed = asyncio.Event()
        self._closed = asyncio.Event()  # set once closing: the socket's close may proceed
        self._closer: asyncio.Task[bool] | None = None
        self.closing = False
        self.pinged = False
        self.peer = "?"
        self.sid = 0
        self.opened_at = self.last_seen = core.monotonic()

    # ------------------------------------------------------------------ the connection's task

    def can_prepare(self, request: web.Request) -> bool:
        """Is ``request`` a WebSocket handshake?"""
        return bool(self._socket.can_prepare(request).ok)

    async def run(self, request: web.Request) -> web.WebSocketResponse:
        socket = self._socket
        await socket.prepare(request)
        self._transport = request.transport
        if self._transport is None:  # gone during the handshake
            return socket
        rule = self._core.limits.send_queue  # slow readers (docs/limits.md, "Send queue")
        self._transport.set_write_buffer_limits(high=rule.limit)
        bound_send_buffer(self._transport, rule.socket_buffer)
        peer = self._transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        core = self._core
        self.sid = core.attach(self)
        reason = "connection closed"
        limits = core.limits
        gate = limits.gate(core.monotonic())
        prelogin = bad = 0
        stopped = False  # cut off as junk: act on nothing more while the close goes out
        try:
            while True:
                msg = await socket.receive()
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    item = decode_ws_frame(msg.type is WSMsgType.BINARY, msg.data)
                elif msg.type is WSMsgType.ERROR:
                    reason = "connection reset"
                    break
                else:  # CLOSE, CLOSING, CLOSED
                    break
                if self.closing or stopped or self._deaf:
                    continue  # read until the close handshake ends; act on nothing
                self.last_seen = now = core.monotonic()
                self.pinged = False
                # Limits (docs/limits.md): out of tokens, this message waits and nothing more
                # is read (aiohttp stops reading the socket once its small queue is full).
                while wait := gate.take(now):
                    retry = gate.episode(now, wait)
                    if retry is not None:
                        core.reject(self, PeerError(
                            ErrorCode.RATE_LIMITED, f"too many messages: wait {retry} ms",
                            retry_after_ms=retry))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closed.wait(), wait)
                    now = core.monotonic()
                if self.closing:
                    continue
                registered = core.hub.is_registered(self.sid)
                if not registered:
                    prelogin += len(msg.data)
                    bad += isinstance(item, PeerError)
                    if prelogin > limits.prelogin_bytes or bad >= limits.prelogin_bad_frames:
                        if isinstance(item, PeerError):
                            core.reject(self, item)
                        core.cut_off(self, "too much data before HELLO"
                                     if prelogin > limits.prelogin_bytes
                                     else "too many bad frames before HELLO")
                        stopped = True
                        continue
                if isinstance(item, PeerError):
                    core.reject(self, item)
                else:
                    core.receive(self, item)
                if self._paused:  # a login is being checked: read nothing meanwhile
                    await self._resumed.wait()
        finally:
            self.closing = True
            self._caught_up()  # no grace period left running
            core.detach(self, reason)
            if self._closer is not None:
                await asyncio.shield(self._closer)
        return socket

    async def _too_large(self) -> None:
        """aiohttp refused a message over the limit: report it as TCP does, then let it close."""
        if self.closing:
            return
        self._core.reject(self, FrameTooLarge(self._max_frame))
        try:  # the core reports it after what is in flight, then closes us
            await asyncio.wait_for(self._closed.wait(), LINGER)
        except TimeoutError:
            self.closing = True

    # ------------------------------------------------------------------ what the core calls

    def encode(self, event: Wire) -> bytes:
        return encode(event)

    def flush(self) -> None:
        if not self._outbox or self.closing:
            return
        # aiohttp owns the protocol (and its pause_writing): look at the buffer before and
        # after each write instead — drained since the last look, or behind now.
        self._look(self._write_buffer_size())
        self._write()
        self._look(self._write_buffer_size())
        if self._behind is not None:
            self._judge()

    def _write_buffer_size(self) -> int:
        transport = self._transport
        return transport.get_write_buffer_size() if transport is not None else 0

    def _write(self) -> None:
        outbox = self._outbox  # reused for the connection's life (see StreamConnection.flush)
        framed = b"".join(frame_text(outbox))
        outbox.clear()
        self._queued = 0
        transport = self._transport
        if transport is None or transport.is_closing() or self._socket.closed:
            return
        transport.write(framed)

    def close(self, farewell: bytes | None) -> None:
        if self.closing:
            return
        if farewell is not None:
            self._outbox.append(farewell)
        if self._outbox:
            self._write()
        self.closing = True
        self._closed.set()
        if self._socket.on_too_large is None:  # closing for a message too large: under way
            return
        self._socket.on_too_large = None
        self._closer = asyncio.get_running_loop().create_task(self._socket.close())

    def stop_reading(self) -> None:
        """The server is shutting down: hand the core nothing more, but keep sending (frames
        are still read, and dropped, so that the close handshake can end)."""
        self._deaf = True

    def abort(self) -> None:
        self.closing = True
        self._closed.set()
        self._drop_queue()
        if self._transport is not None:
            reset(self._transport)

    def pause(self) -> None:
        self._paused = True
        self._resumed.clear()

    def resume(self) -> None:
        self._paused = False
        self._resumed.set()

