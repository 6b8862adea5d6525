"""The web door: the browser client at ``/`` and protocol v1 over WebSocket at ``/ws``.

How this works: one aiohttp application. ``/ws`` hands each upgraded connection to a
:class:`~palaver.transports.websocket.WebSocketConnection`, which speaks to the same core as the
TCP door. ``/`` and the client's few files are read once, at start, from the package directory
``palaver/web`` and served from memory with their content types, ``no-cache`` (so an upgraded
server is picked up) and a Content-Security-Policy that lets the page load only its own script
and style and connect only to its own origin. A WebSocket handshake carrying an ``Origin`` from
another site is refused, so another web page cannot chat in the visitor's name.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Sequence
from importlib import resources
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web

from palaver.server.core import ServerCore
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
    response.headers.update(SECURITY_HEADERS)


class WebDoor:
    """The aiohttp application on the web port."""

    def __init__(
        self, core: ServerCore, max_frame: int, metrics_from: Sequence[str] | None = None
    ) -> None:
        """``metrics_from``: serve /metrics to these networks (empty: to all; None: no /metrics)."""
        self._core = core
        self._max_frame = max_frame
        self._files = load_static()
        self._refusing = False
        app = web.Application()
        app.on_response_prepare.append(_security_headers)
        app.router.add_get("/ws", self._websocket)
        if metrics_from is not None:
            app.router.add_get("/metrics", metrics_endpoint(core, metrics_from))
        app.router.add_get("/{path:.*}", self._static)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=SHUTDOWN_TIMEOUT)

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> None:
        """Listen on ``port``: HTTP and WS, or with ``ssl_context`` only HTTPS and WSS."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=4096, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:  # say which door could not open
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(exc.errno, f"{reason} (web port {port})") from exc

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        address = self._runner.addresses[0]
        port: int = address[1]
        return port

    def refuse(self) -> None:
        """Refuse new WebSocket connections (the server is shutting down)."""
        self._refusing = True

    async def close(self) -> None:
        await self._runner.cleanup()

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
        host = request.remote or ""
        refusal = self._core.admit(host)  # per-address limits (docs/limits.md)
        if refusal is not None:
            raise web.HTTPTooManyRequests(text=refusal)
        try:
            return await conn.run(request)
        finally:
            self._core.release_address(host)

    async def _static(self, request: web.Request) -> web.StreamResponse:
        found = self._files.get(request.path)
        if found is None:
            raise web.HTTPNotFound(text="not found")
        body, content_type = found
        return web.Response(body=body, headers={
            "Content-Type": content_type, "Cache-Control": "no-cache"})
