"""Wiring: build the hub and core from settings, open the listeners, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from pathlib import Path

from palaver import __version__
from palaver.hub import Hub, HubConfig
from palaver.server.config import Settings
from palaver.server.core import ServerCore
from palaver.server.liveness import Timeouts
from palaver.transports.jsonl import JsonLinesConnection

log = logging.getLogger("palaver.server")


class Server:
    """One palaver server: its listeners and the core behind them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.core: ServerCore | None = None
        self._listener: asyncio.Server | None = None

    async def start(self) -> None:
        s = self.settings
        hub = Hub(HubConfig(motd=s.motd))
        timeouts = Timeouts(hello=s.hello_timeout, ping=s.ping_interval, idle=s.idle_timeout)
        core = ServerCore(
            hub,
            timeouts=timeouts,
            send_queue_limit=s.send_queue_limit,
            log_messages=s.log_messages,
        )
        self.core = core
        self._listener = await asyncio.get_running_loop().create_server(
            lambda: JsonLinesConnection(core, s.max_frame), s.host, s.port, backlog=4096
        )

    @property
    def port(self) -> int:
        """The JSON-lines port actually bound (useful with port 0)."""
        assert self._listener is not None, "start() first"
        port: int = self._listener.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self.core is not None:
            await self.core.shutdown(self.settings.shutdown_grace)
        if self._listener is not None:
            await self._listener.wait_closed()


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Server]:
    """A started server, stopped on exit (used by tests and benchmarks)."""
    server = Server(settings)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def serve_until_signalled(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    data_dir = Path(settings.data_dir).resolve()  # noqa: ASYNC240 (once, at startup)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = Server(settings)
    await server.start()
    log.info("palaver %s: JSON lines on %s:%d (data in %s)",
             __version__, settings.host, server.port, data_dir)
    print(f"palaver {__version__} listening: json-lines tcp://{settings.host}:{server.port}",
          flush=True)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    log.info("stopped")
