"""PostgreSQL and Redis for the soak, each behind a fault proxy, each killable with SIGKILL.

How this works: PostgreSQL is tests/pg_server.py's throwaway cluster (``initdb`` as the
``postgres`` OS user when we are root, ``pg_ctl start`` on a free 127.0.0.1 port, fsync off);
Redis is tests/redis_server.py's :class:`RedisServer`. In front of each runs a
:class:`~tests.fault_proxy.FaultProxy` on this process's event loop, and the nodes are given the
proxies' URLs only. A kill is SIGKILL: for PostgreSQL to the postmaster and every one of its
processes at once (as if its machine had died; the restart does crash recovery), for Redis to
its one process. PostgreSQL comes back on a new free port (``pg_ctl`` cannot be given port 0,
and its old port may be taken meanwhile): the proxy is pointed at it, so the nodes see the same
address. Redis comes back on its own port (empty: it keeps nothing).

Every wait is bounded: the kills wait at most ``KILL_WAIT`` seconds for the processes to go,
``pg_ctl`` and Redis's start have their own timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import time
from pathlib import Path
from typing import Final

import asyncpg
import psutil

from tests.fault_proxy import FaultProxy
from tests.pg_server import USER, PgServer, _Cluster, pg_bindir
from tests.redis_server import REDIS_SERVER, RedisServer

DATABASE: Final = "soak"
KILL_WAIT: Final = 10.0  # seconds for killed processes to be gone


def missing() -> str | None:
    """Why the soak cannot run here (PostgreSQL or Redis not installed), or None."""
    if pg_bindir() is None:
        return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres OS user (initdb refuses root)"
    if not Path(REDIS_SERVER).is_file():
        return f"Redis is not installed ({REDIS_SERVER})"
    return None


class Postgres:
    """A PostgreSQL cluster with one database, ``soak``, behind a fault proxy."""

    def __init__(self) -> None:
        bindir = pg_bindir()
        assert bindir is not None, missing()
        self.cluster = _Cluster(bindir)
        self.server: PgServer | None = None
        self.proxy: FaultProxy | None = None
        self.kills = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.cluster.init)
        await self._start_server()
        assert self.server is not None
        await asyncio.to_thread(self.server.execute, f"CREATE DATABASE {DATABASE}")
        self.proxy = await FaultProxy("127.0.0.1", self.server.port).start()

    async def _start_server(self) -> None:
        port = await asyncio.to_thread(self.cluster.start)
        self.server = PgServer(host="127.0.0.1", port=port, user=USER,
                               datadir=self.cluster.datadir, bindir=self.cluster.bindir)
        if self.proxy is not None:
            self.proxy.upstream = ("127.0.0.1", port)

    @property
    def url(self) -> str:
        """The database's URL through the proxy (what the nodes are given)."""
        assert self.server is not None and self.proxy is not None
        return self.proxy.url(self.server.url(DATABASE))

    @property
    def direct_url(self) -> str:
        """The database's URL, not through the proxy (for the audit)."""
        assert self.server is not None
        return self.server.url(DATABASE)

    def _processes(self) -> list[psutil.Process]:
        pid_file = self.cluster.datadir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            postmaster = psutil.Process(pid)
            return [postmaster, *postmaster.children(recursive=True)]
        except (OSError, ValueError, IndexError, psutil.Error):
            return []

    async def kill9(self) -> int:
        """SIGKILL the postmaster and all its processes at once; how many there were."""
        processes = self._processes()
        for process in processes:
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(psutil.wait_procs, processes, KILL_WAIT)
        self.kills += 1
        return len(processes)

    async def restart(self) -> None:
        """Start again after a kill (crash recovery), on a new port the proxy now points at."""
        await self._start_server()

    async def query(self, statement: str, *args: object) -> list[asyncpg.Record]:
        """Run ``statement`` on the database directly (not through the proxy)."""
        conn = await asyncpg.connect(self.direct_url, timeout=30)
        try:
            return list(await conn.fetch(statement, *args, timeout=120))
        finally:
            await conn.close(timeout=10)

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        await asyncio.to_thread(self.cluster.stop)
        for process in self._processes():  # pg_ctl stop failed (or it was never restarted)
            with contextlib.suppress(psutil.Error):
                process.send_signal(signal.SIGKILL)
        self.cluster.remove()


class Redis:
    """A Redis server behind a fault proxy."""

    def __init__(self) -> None:
        self.server = RedisServer()
        self.proxy: FaultProxy | None = None
        self.kills = 0

    async def start(self) -> None:
        await asyncio.to_thread(self.server.start)
        self.proxy = await FaultProxy("127.0.0.1", self.server.port).start()

    @property
    def url(self) -> str:
        """Its URL through the proxy."""
        assert self.proxy is not None
        return self.proxy.url(self.server.url)

    async def kill9(self) -> None:
        await asyncio.to_thread(self.server.kill)
        self.kills += 1

    async def restart(self) -> None:
        """Start again on its own port (bounded: the port may linger for a moment)."""
        deadline = time.monotonic() + KILL_WAIT
        while True:  # bounded by the deadline
            try:
                await asyncio.to_thread(self.server.start)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self.proxy is not None:
            await self.proxy.close()
        await asyncio.to_thread(self.server.remove)
