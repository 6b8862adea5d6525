"""The TLS listeners for the stream doors (JSON lines/text on ``tls_port``, IRC on
``irc_tls_port``), all sharing the server's one :class:`ssl.SSLContext`.

A TLS door is the plain door's protocol behind ``create_server(ssl=...)``: asyncio does the
handshake and hands the connection to the same protocol object only once it is complete, so the
dialects, limits and timeouts are the same as on the plain port. A peer that has not finished the
handshake within ``handshake_timeout`` (the server's ``hello_timeout``) is dropped. (The web door
takes the same context through aiohttp; see :mod:`palaver.transports.web`.) With the
``client_ca`` setting, the stream doors use ``stream_context`` instead, the same but asking
clients for a certificate (SASL EXTERNAL, docs/tls.md); the web door does not ask (a browser
would show its certificate picker to every visitor).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from collections.abc import Callable

from palaver.transports.outbox import bound_listener_send_buffers


class TlsDoors:
    def __init__(self, context: ssl.SSLContext, host: str, handshake_timeout: float, *,
                 stream_context: ssl.SSLContext | None = None, reuse_port: bool = False,
                 send_buffer: int = 0) -> None:
        self.context = context
        self.reuse_port = reuse_port  # beside other processes on the same ports (--workers)
        self.send_buffer = send_buffer  # each connection's kernel send buffer (SO_SNDBUF)
        self.stream_context = stream_context or context
        self._host = host
        self._handshake_timeout = handshake_timeout
        self._servers: dict[str, asyncio.Server] = {}

    async def open(self, door: str, factory: Callable[[], asyncio.Protocol], port: int) -> int:
        """Listen for ``door`` (``"json"`` or ``"irc"``) on ``port`` (0: any); the port bound."""
        assert door not in self._servers, f"the {door} TLS door is already open"
        try:
            server = await asyncio.get_running_loop().create_server(
                factory, self._host, port, backlog=4096, ssl=self.stream_context,
                ssl_handshake_timeout=self._handshake_timeout, reuse_port=self.reuse_port or None)
        except OSError as exc:  # say which door could not open
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(exc.errno, f"{reason} ({door} TLS port {port})") from exc
        bound_listener_send_buffers(server, self.send_buffer)
        self._servers[door] = server
        return self.port(door) or 0

    def port(self, door: str) -> int | None:
        """The port ``door`` listens on, or None when it is not open."""
        server = self._servers.get(door)
        if server is None:
            return None
        port: int = server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        for server in self._servers.values():
            server.close()

    async def wait_closed(self) -> None:
        for server in self._servers.values():
            await server.wait_closed()
