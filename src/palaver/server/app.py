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
from palaver.hub.hub import StoredState
from palaver.protocol.text import TextDialect
from palaver.server.config import Settings
from palaver.server.core import ServerCore
from palaver.server.liveness import Timeouts
from palaver.server.passwords import Passwords
from palaver.store.base import Store
from palaver.store.memory import MemoryStore
from palaver.store.sqlite import SqliteStore
from palaver.transports.irc_port import irc_connection
from palaver.transports.main_port import MainPortConnection
from palaver.transports.web import WebDoor

DATABASE_FILE = "palaver.db"


def open_store(settings: Settings) -> Store:
    if settings.store == "memory":
        return MemoryStore()
    return SqliteStore(Path(settings.data_dir) / DATABASE_FILE, settings.durability)

log = logging.getLogger("palaver.server")


class Server:
    """One palaver server: its listeners and the core behind them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.core: ServerCore | None = None
        self.store: Store | None = None
        self._passwords: Passwords | None = None
        self._listener: asyncio.Server | None = None
        self._web: WebDoor | None = None
        self._irc: asyncio.Server | None = None

    async def start(self) -> None:
        s = self.settings
        store = self.store = open_store(s)
        await store.open()
        stored = StoredState(
            last_ids=await store.last_ids(),
            accounts=await store.accounts(),
            memberships=await store.memberships(),
        )
        hub = Hub(HubConfig(motd=s.motd), stored=stored)
        timeouts = Timeouts(hello=s.hello_timeout, ping=s.ping_interval, idle=s.idle_timeout)
        self._passwords = Passwords(time_cost=s.argon2_time_cost, memory_kib=s.argon2_memory_kib)
        core = ServerCore(
            hub,
            store,
            self._passwords,
            timeouts=timeouts,
            send_queue_limit=s.send_queue_limit,
            replay_cap=s.replay_cap,
            log_messages=s.log_messages,
        )
        self.core = core
        try:
            self._listener = await asyncio.get_running_loop().create_server(
                lambda: MainPortConnection(
                    core, s.max_frame, lambda: TextDialect(s.max_frame), s.text_sniff_timeout),
                s.host, s.port, backlog=4096,
            )
            if s.web_port:
                await self.open_web(s.web_port)
            if s.irc_port:
                await self.open_irc(s.irc_port)
        except BaseException:
            await self.stop()  # close the store: its thread would keep the process alive
            raise

    @property
    def port(self) -> int:
        """The JSON-lines port actually bound (useful with port 0)."""
        assert self._listener is not None, "start() first"
        port: int = self._listener.sockets[0].getsockname()[1]
        return port

    async def open_web(self, port: int) -> int:
        """Start the web door on ``port`` (0: any free port); returns the port bound."""
        assert self.core is not None and self._web is None, "start() first, and only once"
        self._web = WebDoor(self.core, self.settings.max_frame)
        await self._web.start(self.settings.host, port)
        return self._web.port

    async def open_irc(self, port: int) -> int:
        """Start the IRC door on ``port`` (0: any free port); returns the port bound."""
        core = self.core
        assert core is not None and self._irc is None, "start() first, and only once"
        self._irc = await asyncio.get_running_loop().create_server(
            lambda: irc_connection(core), self.settings.host, port, backlog=4096)
        return self.irc_port or 0

    @property
    def irc_port(self) -> int | None:
        """The IRC port actually bound, or None when the IRC door is off."""
        if self._irc is None:
            return None
        port: int = self._irc.sockets[0].getsockname()[1]
        return port

    @property
    def web_port(self) -> int | None:
        """The web port actually bound, or None when the web door is off."""
        return self._web.port if self._web is not None else None

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.close()
        if self._web is not None:
            self._web.refuse()
        if self._irc is not None:
            self._irc.close()
        if self.core is not None:
            await self.core.shutdown(self.settings.shutdown_grace)
        if self._web is not None:
            await self._web.close()
        if self._listener is not None:
            await self._listener.wait_closed()
        if self._irc is not None:
            await self._irc.wait_closed()
        if self.store is not None:
            await self.store.close()
        if self._passwords is not None:
            self._passwords.close()


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
    if server.web_port is not None:
        log.info("palaver %s: web client on http://%s:%d/", __version__, settings.host,
                 server.web_port)
        print(f"palaver {__version__} listening: web http://{settings.host}:{server.web_port}/",
              flush=True)
    if server.irc_port is not None:
        log.info("palaver %s: IRC on %s:%d", __version__, settings.host, server.irc_port)
        print(f"palaver {__version__} listening: irc irc://{settings.host}:{server.irc_port}",
              flush=True)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    log.info("stopped")
