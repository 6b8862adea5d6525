"""Protocol v1 over WebSocket: one JSON message per text frame, driven by aiohttp.

How this works: aiohttp does the handshake, reads frames (reassembling fragments, answering
pings) and refuses a message over the limit before buffering it. :meth:`WebSocketConnection.run`
is the connection's only task: it decodes each text frame with the JSON-lines decoder and hands
the message (or the error) to the core, exactly as the TCP door does. Writing needs no task: the
core queues encoded events with :meth:`send` (the JSON-lines bytes, shared with TCP clients —
the key is ``"json"``), and at the next loop turn :meth:`flush` frames everything queued, minus
each newline, and hands it to the socket in one write. A client that does not read fills the
socket's buffer and is cut off ("send queue exceeded"), as on TCP. The limits (rate, caps
before HELLO, bad frames, pauses) are the stream doors' own: the same
:class:`~palaver.transports.policy.ConnectionPolicy` decides them, one message counting as one
frame. A subclass speaks IRC instead (:mod:`palaver.transports.irc_websocket`).

A message over ``max_frame`` makes aiohttp close the socket; :class:`_Socket` first lets the core
report ``frame_too_large`` (after whatever was already in flight for this client) so the client
sees the same ERROR as on TCP, then the close frame (1009).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import ClassVar, Final

from aiohttp import WSCloseCode, WSMsgType, web

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode, FrameTooLarge, PeerError
from palaver.protocol.jsonl import decode_client_frame, encode
from palaver.protocol.messages import ClientMessage, Wire
from palaver.server.core import ServerCore
from palaver.transports.outbox import SENDER_SLOTS, QueuedSender, bound_send_buffer, reset
from palaver.transports.policy import ConnectionPolicy

log = logging.getLogger("palaver.transports")

LINGER: Final = 2.0  # seconds a closing connection may take to answer our close frame
TEXT: Final = 0x81  # FIN bit + opcode 1 (text): the first byte of an unfragmented text frame
BINARY: Final = 0x82  # FIN bit + opcode 2 (binary)


def decode_ws_frame(binary: bool, payload: bytes) -> ClientMessage | PeerError:
    """One WebSocket data message from a client → a client message or the error it earns."""
    if binary:
        return PeerError(ErrorCode.BAD_FRAME,
                         "binary frames are not accepted: send each JSON message as a text frame")
    try:
        return decode_client_frame(payload)
    except PeerError as error:
        return error


def frame_header(length: int, first: int = TEXT) -> bytes:
    """The header of an unmasked (server-to-client), unfragmented frame: text, or with
    ``first=BINARY`` binary."""
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 65_536:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


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
    """One /ws client, as the core's :class:`~palaver.server.core.Connection`.

    Protocol v1 (JSON), one message per text frame. A subclass speaks another dialect over
    WebSocket by overriding :meth:`encode`, :meth:`_decode`, :meth:`_frames` and the two
    properties (IRC: :mod:`palaver.transports.irc_websocket`)."""

    __slots__ = (
        *SENDER_SLOTS,
        "_closed",
        "_closer",
        "_core",
        "_max_frame",
        "_policy",
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

    door: ClassVar[str] = "web"  # for metrics (server/metrics.py door_of)

    def __init__(self, core: ServerCore, max_frame: int, *, protocols: Sequence[str] = (),
                 notice_after: int = 1) -> None:
        """``max_frame``: a message this long or longer is refused (and the socket closed);
        ``protocols``: the subprotocols to agree on, in the server's terms (aiohttp takes the
        first the client offers that is among them); ``notice_after``: see
        :class:`~palaver.transports.policy.ConnectionPolicy`."""
        self._core = core
        self._max_frame = max_frame
        self._socket = _Socket(
            max_msg_size=max_frame,  # refused from the frame header, before any buffering
            compress=False,  # frames are shared between recipients and written together
            timeout=LINGER,
            decode_text=False,
            protocols=protocols,
        )
        self._socket.on_too_large = self._too_large
        self._transport: asyncio.Transport | None = None
        self._policy = ConnectionPolicy(core.limits, notice_after=notice_after)
        self._init_outbox()
        self._resumed = asyncio.Event()
        self._closed = asyncio.Event()  # set once closing: the socket's close may proceed
        self._closer: asyncio.Task[bool] | None = None
        self.closing = False
        self.pinged = False
        self.peer = "?"
        self.sid = 0
        self.opened_at = self.last_seen = core.monotonic()

    # ------------------------------------------------------------------ the dialect (JSON)

    @property
    def encode_key(self) -> Hashable:
        return "json"  # the same bytes as a JSON-lines client gets

    @property
    def resends(self) -> bool:
        return True  # the web client chooses its request ids and resends with them

    def encode(self, event: Wire) -> bytes:
        return encode(event)

    def _decode(self, binary: bool, payload: bytes) -> list[Inbound]:
        """One data message from the client: what to hand the core, in order."""
        return [decode_ws_frame(binary, payload)]

    def _frames(self, items: list[bytes]) -> list[bytes | memoryview]:
        """What the outbox holds (encoded events), as WebSocket frames."""
        return frame_text(items)

    def _negotiated(self, protocol: str | None) -> None:
        """The handshake is done; ``protocol``: the subprotocol agreed on, if any."""

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
        self._negotiated(socket.ws_protocol)
        rule = self._core.limits.send_queue  # slow readers (docs/limits.md, "Send queue")
        self._transport.set_write_buffer_limits(high=rule.limit)
        bound_send_buffer(self._transport, rule.socket_buffer)
        peer = self._transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        core, policy = self._core, self._policy
        self.sid = core.attach(self)
        reason = "connection closed"
        try:
            while True:
                msg = await socket.receive()
                if msg.type is WSMsgType.ERROR:
                    reason = "connection reset"
                    break
                if msg.type is not WSMsgType.TEXT and msg.type is not WSMsgType.BINARY:
                    break  # CLOSE, CLOSING, CLOSED
                # Stopped (junk, shutdown) or closing: read on until the close handshake
                # ends, act on nothing.
                if self.closing or policy.stopped:
                    continue
                self.last_seen = now = core.monotonic()
                self.pinged = False
                if not policy.registered:  # the caps before registration
                    cut = policy.arrived(len(msg.data), core.hub.is_registered(self.sid))
                    if cut is not None:
                        self._stop(cut)
                        continue
                # Out of tokens, this message waits and nothing more is read (aiohttp stops
                # reading the socket once its small queue is full).
                while (pause := policy.admit(now)) is not None:
                    if pause.notice is not None:
                        core.reject(self, pause.notice)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._closed.wait(), pause.wait)
                    policy.unthrottle()
                    now = core.monotonic()
                await self._handle(self._decode(msg.type is WSMsgType.BINARY, msg.data))
                if policy.waiting_login:  # a login is being checked: read nothing meanwhile
                    await self._resumed.wait()
        finally:
            self.closing = True
            self._caught_up()  # no grace period left running
            core.detach(self, reason)
            if self._closer is not None:
                await asyncio.shield(self._closer)
        return socket

    async def _handle(self, items: list[Inbound]) -> None:
        core, policy = self._core, self._policy
        for item in items:
            if policy.waiting_login:  # what follows a HELLO waits for its password check
                await self._resumed.wait()
            if self.closing or policy.stopped:
                return
            if isinstance(item, bytes):
                core.answer(self, item)
            elif isinstance(item, PeerError):
                core.reject(self, item)
                cut = policy.refused(core.hub.is_registered(self.sid))
                if cut is not None:
                    self._stop(cut)
                    return
            else:
                core.receive(self, item)

    def _stop(self, reason: str) -> None:
        """Junk: act on nothing more, and close after what is already on its way."""
        self._policy.stop()
        self._core.cut_off(self, reason)

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
        framed = b"".join(self._frames(outbox))
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
        self._policy.stop()

    def abort(self) -> None:
        self.closing = True
        self._closed.set()
        self._drop_queue()
        if self._transport is not None:
            reset(self._transport)

    def pause(self) -> None:
        self._policy.wait_login()
        self._resumed.clear()

    def resume(self) -> None:
        self._policy.login_done()
        self._resumed.set()

