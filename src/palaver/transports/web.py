"""The web door: the browser client at ``/``, protocol v1 over WebSocket at ``/ws``, IRC over
WebSocket at ``/irc``.

How this works: one aiohttp application. ``/ws`` hands each upgraded connection to a
:class:`~palaver.transports.websocket.WebSocketConnection`, which speaks to the same core as the
TCP door; ``/irc`` to an :class:`~palaver.transports.irc_websocket.IrcWebSocketConnection` (the
IRC door's dialect), and so does ``/`` when a WebSocket handshake there asks for an IRCv3
subprotocol (``text.ircv3.net``, ``binary.ircv3.net``): IRC web clients often take only a host
and a port. ``/`` and the client's few files are read once, at start, from the package directory
``palaver/web`` and served from memory with their content types, ``no-cache`` (so an upgraded
server is picked up) and a Content-Security-Policy that lets the page load only its own script
and style and connect only to its own origin. A WebSocket handshake carrying an ``Origin`` from
another site is refused, so another web page cannot chat in the visitor's name.

Before aiohttp sees a connection, :class:`_Gate` (the listener's protocol, in front of aiohttp's
own) asks the core's per-address rules (docs/limits.md), as every door does: a refused
connection gets an HTTP 429 with the reason, written at once, and is closed without aiohttp ever
hearing of it. An admitted one has ``header_timeout`` seconds (after its TLS handshake, which has
as long) for its first request's headers to arrive whole; a middleware disarms that deadline when
the request reaches the application. Between requests on a kept-alive connection, aiohttp's own
keep-alive timer (``KEEPALIVE``) closes a connection whose next request has not arrived whole.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Sequence
from importlib import resources
from typing import Final, cast
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from palaver.server.core import ServerCore
from palaver.server.files import Blobs
from palaver.transports.files_http import FileRoutes
from palaver.transports.irc_websocket import IrcWebSocketConnection, offers_irc
from palaver.transports.metrics_http import metrics_endpoint
from palaver.transports.websocket import WebSocketConnection

log = logging.getLogger("palaver.transports")

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
SHUTDOWN_TIMEOUT: Final = 2.0  # seconds aiohttp gives handlers still running at shutdown
HEADER_TIMEOUT: Final = 10.0  # seconds for the TLS handshake, then for the first request's headers
KEEPALIVE: Final = 75.0  # seconds an idle kept-alive connection has to send its next request
LINGER: Final = 2.0  # seconds a refused connection is given to read its 429
IRC_PATH: Final = "/irc"  # IRC over WebSocket (docs/irc.md, "WebSocket")

def load_static() -> dict[str, tuple[bytes, str]]:
    """The web client's files by URL path (``/`` is ``index.html``), with content types."""
    files: dict[str, tuple[bytes, str]] = {}
    folder = resources.files("palaver") / "web"
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is None or not entry.is_file():
            continue
        files["/" + entry.name] = (entry.read_bytes(), content_type)
    if "/index.html" in files:
        files["/"] = files["/index.html"]
    return files


def same_origin(origin: str, host: str) -> bool:
    """Does a browser's ``Origin`` header name the host the request was sent to?"""
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.lower()


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():  # a file download sets its own, stricter CSP
        response.headers.setdefault(name, value)


@web.middleware
async def _arrived(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """A request's headers came whole: its connection's header deadline is met."""
    transport = request.transport
    gate = transport.get_protocol() if transport is not None else None
    if isinstance(gate, _Gate):
        gate.arrived()
    return await handler(request)


def too_many(reason: str) -> bytes:
    """The whole HTTP answer to a connection the per-address rules refuse."""
    body = reason.encode()
    return (b"HTTP/1.1 429 Too Many Requests\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))


class _Gate(asyncio.Protocol):
    """One connection to the web port: admitted (then aiohttp's protocol) or refused."""

    __slots__ = ("_core", "_deadline", "_host", "_inner", "_make_inner", "_timeout")

    def __init__(self, core: ServerCore, make_inner: Callable[[], RequestHandler],
                 timeout: float) -> None:
        self._core = core
        self._make_inner = make_inner
        self._timeout = timeout
        self._inner: RequestHandler | None = None  # None: refused (or not yet connected)
        self._deadline: asyncio.TimerHandle | None = None
        self._host = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if isinstance(peer, tuple) else ""
        loop = asyncio.get_running_loop()
        refusal = self._core.admit(host)  # per-address limits (docs/limits.md)
        if refusal is not None:
            stream.write(too_many(refusal))
            if stream.can_write_eof():  # half-close: the peer reads the 429, no reset
                stream.write_eof()
                self._deadline = loop.call_later(LINGER, stream.abort)
            else:  # TLS
                stream.close()
            return
        self._host = host
        self._deadline = loop.call_later(self._timeout, stream.close)
        inner = self._inner = self._make_inner()
        inner.connection_made(stream)

    def arrived(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
        # refused: what the peer still sends is dropped

    def eof_received(self) -> bool | None:
        if self._inner is not None:
            self._inner.eof_received()  # aiohttp's: nothing (then the transport closes)
        return False  # and refused: the peer has read the 429 and gone

    def connection_lost(self, exc: Exception | None) -> None:
        self.arrived()
        inner, self._inner = self._inner, None
        if inner is not None:
            self._core.release_address(self._host)
            inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


class WebDoor:
    """The aiohttp application on the web port."""

    def __init__(
        self, core: ServerCore, max_frame: int, metrics_from: Sequence[str] | None = None,
        header_timeout: float = HEADER_TIMEOUT, *, irc: bool = True,
        server_name: str | None = None, irc_password: str | None = None,
        blobs: Blobs | None = None,
    ) -> None:
        """``metrics_from``: serve /metrics to these networks (empty: to all; None: no /metrics).
        ``header_timeout``: seconds for the TLS handshake, then again for the first request's
        headers, before the connection is closed. ``irc``: serve IRC over WebSocket (at /irc,
        and at / to handshakes that ask for an IRCv3 subprotocol), its numerics from
        ``server_name`` (None: the host name), its server password ``irc_password``.
        ``blobs``: serve file uploads and downloads (transports/files_http.py) from there."""
        self._core = core
        self._max_frame = max_frame
        self._header_timeout = header_timeout
        self._irc = irc
        self._server_name = server_name
        self._irc_password = irc_password
        self._files = load_static()
        self._refusing = False
        self._listener: asyncio.Server | None = None
        app = web.Application(middlewares=[_arrived])
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/ws", self._websocket)
        if irc:
            app.router.add_get(IRC_PATH, self._irc_websocket)
            app.router.add_get("/", self._root)
        if metrics_from is not None:
            app.router.add_get("/metrics", metrics_endpoint(core, metrics_from))
        if blobs is not None:
            FileRoutes(core, blobs).add_to(app)
        app.router.add_get("/{path:.*}", self._static)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT,
                                     keepalive_timeout=KEEPALIVE)

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None, *,
                    reuse_port: bool = False) -> None:
        """Listen on ``port``: HTTP and WS, or with ``ssl_context`` only HTTPS and WSS;
        ``reuse_port``: beside other processes on the same port (``--workers``)."""
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        core, timeout = self._core, self._header_timeout
        try:  # our own listener (not a web.TCPSite), so that _Gate sees each connection first
            self._listener = await asyncio.get_running_loop().create_server(
                lambda: _Gate(core, server, timeout), host, port, backlog=4096,
                ssl=ssl_context, ssl_handshake_timeout=timeout if ssl_context else None,
                reuse_port=reuse_port or None)
        except OSError as exc:  # say which door could not open
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(exc.errno, f"{reason} (web port {port})") from exc

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._listener is not None, "start() first"
        port: int = self._listener.sockets[0].getsockname()[1]
        return port

    def refuse(self) -> None:
        """Refuse new WebSocket connections (the server is shutting down)."""
        self._refusing = True

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()  # no new connections; aiohttp closes the open ones
        await self._runner.cleanup()
        if self._listener is not None:
            await self._listener.wait_closed()

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self._refusing:
            raise web.HTTPServiceUnavailable(text="the server is shutting down")
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, request.host):
            log.info("refused a WebSocket from origin %r for host %r", origin, request.host)
            raise web.HTTPForbidden(text="cross-origin WebSocket connections are not allowed")
        conn = WebSocketConnection(self._core, self._max_frame)
        if not conn.can_prepare(request):
            raise web.HTTPUpgradeRequired(
                text="this is palaver's WebSocket endpoint: connect with a WebSocket client",
                headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        return await conn.run(request)  # admitted with its connection (_Gate)

    async def _irc_websocket(self, request: web.Request) -> web.StreamResponse:
        if self._refusing:
            raise web.HTTPServiceUnavailable(text="the server is shutting down")
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, request.host):
            log.info("refused an IRC WebSocket from origin %r for host %r", origin, request.host)
            raise web.HTTPForbidden(text="cross-origin WebSocket connections are not allowed")
        conn = IrcWebSocketConnection(self._core, self._server_name, self._irc_password)
        if not conn.can_prepare(request):
            raise web.HTTPUpgradeRequired(
                text="this is palaver's IRC-over-WebSocket endpoint: connect with an IRC client "
                     "that speaks WebSocket (subprotocol text.ircv3.net or binary.ircv3.net)",
                headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        return await conn.run(request)  # admitted with its connection (_Gate)

    async def _root(self, request: web.Request) -> web.StreamResponse:
        """``/``: the web client's page, or IRC for a WebSocket handshake that asks for it (IRC
        web clients often take only a host and a port)."""
        if request.headers.get("Upgrade", "").lower() == "websocket" and offers_irc(request):
            return await self._irc_websocket(request)
        return await self._static(request)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        found = self._files.get(request.path)
        if found is None:
            raise web.HTTPNotFound(text="not found")
        body, content_type = found
        return web.Response(body=body, headers={
            "Content-Type": content_type, "Cache-Control": "no-cache"})
