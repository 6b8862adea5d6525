"""Wiring: build the hub and core from settings, open the listeners, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from palaver import __version__
from palaver.hub import Hub, HubConfig
from palaver.hub.files import FilesConfig
from palaver.hub.hub import StoredState
from palaver.protocol.text import TextDialect
from palaver.server.cluster import ClusterLink
from palaver.server.config import POSTGRESQL_SCHEMES, Settings
from palaver.server.core import ServerCore
from palaver.server.files import COLLECT_GRACE, Blobs, collect_every, files_url
from palaver.server.limits import Limits
from palaver.server.liveness import Timeouts
from palaver.server.nick_claims import NickClaims
from palaver.server.passwords import Passwords
from palaver.server.tls_doors import TlsDoors
from palaver.store.base import Store
from palaver.store.memory import MemoryStore
from palaver.store.sqlite import SqliteStore
from palaver.tls import server_context
from palaver.transports import epoll
from palaver.transports.epoll import EpollListener
from palaver.transports.irc_port import irc_connection
from palaver.transports.main_port import MainPortConnection, MainPortDoor
from palaver.transports.outbox import bound_listener_send_buffers
from palaver.transports.web import IRC_PATH, WebDoor

DATABASE_FILE = "palaver.db"


def open_store(settings: Settings) -> Store:
    if settings.store == "memory":
        return MemoryStore()
    if settings.store.startswith(POSTGRESQL_SCHEMES):
        from palaver.store.postgres import PostgresStore

        return PostgresStore(settings.store, timeout=settings.store_timeout)
    return SqliteStore(Path(settings.data_dir) / DATABASE_FILE, settings.durability)

log = logging.getLogger("palaver.server")


class Server:
    """One palaver server: its listeners and the core behind them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # What every main-port connection shares: the frame limit, one factory for those that
        # turn out to be a person (a lambda per connection would cost each ~200 bytes), the sniff
        # timeout.
        self._main_door = MainPortDoor(settings.max_frame,
                                       functools.partial(TextDialect, settings.max_frame),
                                       settings.text_sniff_timeout)
        self.core: ServerCore | None = None
        self.store: Store | None = None
        self._passwords: Passwords | None = None
        self._listener: asyncio.Server | EpollListener | None = None
        self._web: WebDoor | None = None
        self._irc: asyncio.Server | EpollListener | None = None
        self.tls: TlsDoors | None = None  # with tls_cert: the TLS context and listeners
        self.blobs: Blobs | None = None  # uploaded files, in the data dir
        self._collector: asyncio.Task[None] | None = None  # removes unused blobs now and then

    @property
    def node_id(self) -> str:
        """This node's name in a cluster: the setting, or host name and process id."""
        return self.settings.node_id or f"{socket.gethostname()}-{os.getpid()}"

    async def start(self) -> None:
        s = self.settings
        if s.tls_cert is not None:  # raises TlsSetupError before anything is opened
            self.tls = TlsDoors(server_context(s.tls_cert, s.tls_key), s.host, s.hello_timeout,
                                stream_context=server_context(s.tls_cert, s.tls_key, s.client_ca)
                                if s.client_ca is not None else None,
                                reuse_port=s.reuse_port, send_buffer=s.socket_send_buffer)
        store = self.store = open_store(s)
        await store.open()
        self.blobs = Blobs(s.data_dir)  # uploaded files (server/files.py)
        self.blobs.collect(await store.file_hashes(), grace=0.0)  # none is on its way yet
        stored = StoredState(
            last_ids=await store.last_ids(),
            accounts=await store.accounts(),
            memberships=await store.memberships(),
            rooms=await store.room_settings(),
            metadata=await store.metadata(),
        )
        hub = Hub(HubConfig(motd=s.motd, default_rooms=s.default_rooms,
                            server_operators=frozenset(n.lower() for n in s.server_operators),
                            operator_logins=dict(s.operator_logins), server_info=s.server_info,
                            deleted_account_messages=s.deleted_account_messages,
                            edit_window=s.edit_window, presence_limit=s.presence_limit,
                            member_page=s.member_page, store_assigns_ids=bool(s.bus)),
                  stored=stored)
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
            limits=Limits.from_settings(s),
            lock_check_interval=s.lock_check_interval,
            presence_interval=s.presence_interval,
            write_coalesce=s.write_coalesce,
        )
        self.core = core
        try:
            if s.bus:  # a node of a cluster (server/cluster.py, server/nick_claims.py)
                from palaver.bus.redis_bus import RedisBus
                from palaver.claims.postgres import PostgresClaims
                from palaver.roster.postgres import PostgresRoster
                from palaver.server.shared_throttle import RedisCounters, SharedThrottle

                core.nick_claims = NickClaims(PostgresClaims(s.store), self.node_id, store,
                                              in_use=hub.nick_in_use)
                await core.nick_claims.start()
                core.shared_throttle = SharedThrottle(RedisCounters(s.bus),
                                                      core.logins.rules)
                core.cluster = ClusterLink(RedisBus(list(s.bus)), store, hub, core.carry_out,
                                           core.pipeline.submit, node=self.node_id,
                                           roster=PostgresRoster(s.store))
                await core.cluster.start()
            if not s.tls_only:
                self._listener = await self._listen(self._main_connection, s.port)
                bound_listener_send_buffers(self._listener, core.limits.send_queue.socket_buffer)
            if self.tls is not None and s.tls_port:
                await self.open_tls(s.tls_port)
            if s.web_port:
                await self.open_web(s.web_port)
            if s.irc_port and not s.tls_only:
                await self.open_irc(s.irc_port)
            if self.tls is not None and s.irc_tls_port:
                await self.open_irc_tls(s.irc_tls_port)
        except BaseException:
            await self.stop()  # close the store: its thread would keep the process alive
            raise

    async def _listen(self, factory: Callable[[], asyncio.Protocol],
                      port: int) -> asyncio.Server | EpollListener:
        """A plain stream door on ``port``: its connections served from one epoll set
        (transports/epoll.py), or by asyncio's transports (``stream_io = "asyncio"``, or where
        there is no epoll)."""
        s = self.settings
        if s.stream_io == "epoll" and epoll.AVAILABLE:
            return await epoll.listen(factory, s.host, port, backlog=4096,
                                      reuse_port=s.reuse_port)
        return await asyncio.get_running_loop().create_server(
            factory, s.host, port, backlog=4096, reuse_port=s.reuse_port or None)

    def _main_connection(self) -> MainPortConnection:
        assert self.core is not None
        return MainPortConnection(self.core, self._main_door)

    async def open_tls(self, port: int) -> int:
        """Start JSON lines/text over TLS on ``port`` (0: any); needs tls_cert. The port bound."""
        assert self.tls is not None, "no tls_cert configured"
        return await self.tls.open("json", self._main_connection, port)

    async def open_irc_tls(self, port: int) -> int:
        """Start IRC over TLS on ``port`` (0: any); needs tls_cert. The port bound."""
        core = self.core
        assert core is not None and self.tls is not None, "start() first, with tls_cert"
        name, password = self.settings.server_name, self.settings.irc_password
        external = self.settings.client_ca is not None  # SASL EXTERNAL (docs/tls.md)
        return await self.tls.open(
            "irc", lambda: irc_connection(core, name, password, external=external), port)

    @property
    def tls_port(self) -> int | None:
        """The JSON-lines/text TLS port bound, or None when that door is off."""
        return self.tls.port("json") if self.tls is not None else None

    @property
    def irc_tls_port(self) -> int | None:
        """The IRC TLS port bound, or None when that door is off."""
        return self.tls.port("irc") if self.tls is not None else None

    @property
    def port(self) -> int:
        """The JSON-lines port actually bound (useful with port 0)."""
        assert self._listener is not None, "start() first (and no tls_only)"
        port: int = self._listener.sockets[0].getsockname()[1]
        return port

    async def open_web(self, port: int) -> int:
        """Start the web door on ``port`` (0: any free port); returns the port bound."""
        assert self.core is not None and self._web is None, "start() first, and only once"
        self._web = WebDoor(self.core, self.settings.max_frame,
                            self.settings.metrics_from if self.settings.metrics else None,
                            header_timeout=self.settings.web_header_timeout,
                            irc=self.settings.irc_websocket,
                            server_name=self.settings.server_name,
                            irc_password=self.settings.irc_password,
                            blobs=self.blobs)
        await self._web.start(self.settings.host, port,
                              self.tls.context if self.tls is not None else None,
                              reuse_port=self.settings.reuse_port)
        s, store = self.settings, self.store
        assert self.blobs is not None and store is not None
        self.core.hub.configure_files(FilesConfig(
            base_url=s.files_url or files_url(s.host, self._web.port, self.tls is not None),
            max_bytes=s.upload_max_bytes, quota_bytes=s.upload_quota_bytes))
        self._collector = asyncio.get_running_loop().create_task(collect_every(
            self.blobs, store.file_hashes, s.files_gc_interval, COLLECT_GRACE))
        return self._web.port

    async def open_irc(self, port: int) -> int:
        """Start the IRC door on ``port`` (0: any free port); returns the port bound."""
        core = self.core
        assert core is not None and self._irc is None, "start() first, and only once"
        name, password = self.settings.server_name, self.settings.irc_password
        self._irc = await self._listen(lambda: irc_connection(core, name, password), port)
        bound_listener_send_buffers(self._irc, core.limits.send_queue.socket_buffer)
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
        if self._collector is not None:
            self._collector.cancel()
        if self._listener is not None:
            self._listener.close()
        if self._web is not None:
            self._web.refuse()
        if self._irc is not None:
            self._irc.close()
        if self.tls is not None:
            self.tls.close()
        if self.core is not None:
            await self.core.shutdown(self.settings.shutdown_grace)
            if self.core.cluster is not None:
                await self.core.cluster.close()
            if self.core.nick_claims is not None:
                await self.core.nick_claims.close()
            if self.core.shared_throttle is not None:
                await self.core.shared_throttle.counters.close()
        if self._web is not None:
            await self._web.close()
        if self._listener is not None:
            await self._listener.wait_closed()
        if self._irc is not None:
            await self._irc.wait_closed()
        if self.tls is not None:
            await self.tls.wait_closed()
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
    log.info("palaver %s: data in %s", __version__, data_dir)
    host, http = settings.host, "https" if server.tls is not None else "http"
    doors = [
        ("json-lines", "tcp", None if settings.tls_only else server.port),
        ("json-lines+tls", "tls", server.tls_port),
        ("web", http, server.web_port),
        ("irc", "irc", server.irc_port),
        ("irc+tls", "ircs", server.irc_tls_port),
        ("irc+websocket", "wss" if server.tls is not None else "ws",
         server.web_port if settings.irc_websocket else None),
    ]
    paths = {"web": "/", "irc+websocket": IRC_PATH}
    for door, scheme, port in doors:
        if port is not None:
            url = f"{scheme}://{host}:{port}" + paths.get(door, "")
            log.info("palaver %s: %s on %s", __version__, door, url)
            # One write for the whole line: the workers of --workers share this stdout, and
            # print() writes the text and its newline apart when Python runs unbuffered.
            if sys.stdout is not None:  # (None: started with stdout closed)
                sys.stdout.write(f"palaver {__version__} listening: {door} {url}\n")
                sys.stdout.flush()
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    log.info("stopped")
