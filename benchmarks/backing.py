"""PostgreSQL and Redis for the cluster benchmark: real servers, and the CPU they use.

How this works: :class:`Backing` starts the test suite's throwaway servers — a PostgreSQL
cluster of Debian's package (``tests/pg_server.py``: ``initdb`` into a temporary directory, as
the ``postgres`` OS user when run as root, on a free 127.0.0.1 port, ``fsync=off``) and a Redis
(``tests/redis_server.py``: ``redis-server`` on a free port, persistence off) — and gives each
benchmark run a database of its own (:meth:`Backing.database`: palaver's schema is made by the
first node that opens it). :meth:`Backing.sample` is their CPU: PostgreSQL's whole process tree
(the postmaster, every backend and background process alive now, plus the children it has
already reaped) and redis-server (all its threads), as a :class:`~benchmarks.server.Sample` like
the palaver process's, so that a :class:`~benchmarks.meter.Meter`-style delta over a phase says
what the database and the bus cost. :func:`missing` says why they cannot run (not installed,
root without a ``postgres`` user), or None.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks.server import Sample

REDIS_SERVER = "/usr/bin/redis-server"


def missing() -> str | None:
    """Why PostgreSQL and Redis cannot be started here, or None if they can."""
    from tests.pg_server import pg_bindir

    if pg_bindir() is None:
        return ("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres; Debian: "
                "apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root without a postgres OS user to run PostgreSQL as"
    if not Path(REDIS_SERVER).is_file():
        return f"Redis is not installed ({REDIS_SERVER}; Debian: apt-get install redis-server)"
    return None


class Backing:
    """One PostgreSQL and one Redis, started by :meth:`start`, removed by :meth:`stop`."""

    def __init__(self) -> None:
        self._pg: Any = None  # tests.pg_server._Cluster
        self._redis: Any = None  # tests.redis_server.RedisServer
        self.pg_port = 0
        self._databases = 0
        self._postmaster: psutil.Process | None = None
        self._redis_ps: psutil.Process | None = None

    @classmethod
    async def start(cls) -> Backing:
        backing = cls()
        try:
            await asyncio.to_thread(backing._start)
        except BaseException:
            await backing.stop()
            raise
        return backing

    def _start(self) -> None:
        from tests.pg_server import _Cluster, pg_bindir
        from tests.redis_server import RedisServer

        bindir = pg_bindir()
        assert bindir is not None, "missing() says so first"
        self._pg = _Cluster(bindir)
        self._pg.init()
        self.pg_port = self._pg.start()
        pid = int((self._pg.datadir / "postmaster.pid").read_text().split()[0])
        self._postmaster = psutil.Process(pid)
        self._redis = RedisServer(REDIS_SERVER)
        self._redis.start()
        assert self._redis.process is not None
        self._redis_ps = psutil.Process(self._redis.process.pid)

    @property
    def redis_url(self) -> str:
        return str(self._redis.url)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/{database}"

    async def database(self, label: str) -> str:
        """A new, empty database for one run; its URL."""
        import asyncpg

        self._databases += 1
        name = f"bench_{self._databases}_{label}"
        conn = await asyncpg.connect(self.url("postgres"), timeout=30)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"', timeout=60)
        finally:
            await conn.close(timeout=10)
        return self.url(name)

    async def versions(self) -> dict[str, str]:
        import asyncpg

        conn = await asyncpg.connect(self.url("postgres"), timeout=30)
        try:
            pg = await conn.fetchval("SHOW server_version")
            settings = {row["name"]: row["setting"] for row in await conn.fetch(
                "SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])",
                ["fsync", "synchronous_commit", "full_page_writes", "shared_buffers"])}
        finally:
            await conn.close(timeout=10)
        info = await _redis_info(self._redis.port)
        return {"postgresql": str(pg), "redis": info.get("redis_version", "?"),
                **{f"pg_{k}": v for k, v in settings.items()}}

    def sample_pg(self) -> Sample:
        return _tree(self._postmaster)

    def sample_redis(self) -> Sample:
        return _one(self._redis_ps)

    async def stop(self) -> None:
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                self._redis.remove()
        if self._pg is not None:
            try:
                self._pg.stop()
            finally:
                self._pg.remove()


def _one(ps: psutil.Process | None) -> Sample:
    if ps is None:
        return Sample(cpu=0.0, rss=0)
    try:
        with ps.oneshot():
            t = ps.cpu_times()
            return Sample(cpu=t.user + t.system, rss=ps.memory_info().rss, system=t.system)
    except psutil.Error:
        return Sample(cpu=0.0, rss=0)


def _tree(root: psutil.Process | None) -> Sample:
    """CPU of ``root``, of its children alive now, and of those it has reaped already."""
    if root is None:
        return Sample(cpu=0.0, rss=0)
    cpu = system = 0.0
    rss = 0
    try:
        t = root.cpu_times()
        cpu += t.user + t.system + t.children_user + t.children_system
        system += t.system + t.children_system
        rss += root.memory_info().rss
        children = root.children(recursive=True)
    except psutil.Error:
        return Sample(cpu=0.0, rss=0)
    for child in children:
        with contextlib.suppress(psutil.Error):
            t = child.cpu_times()
            cpu += t.user + t.system
            system += t.system
            rss += child.memory_info().rss
    return Sample(cpu=cpu, rss=rss, system=system)


async def _redis_info(port: int) -> dict[str, str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"INFO server\r\n")
        header = await asyncio.wait_for(reader.readline(), 10)
        size = int(header[1:])
        body = await asyncio.wait_for(reader.readexactly(size + 2), 10)
    finally:
        writer.close()
    return dict(line.split(":", 1) for line in body.decode().splitlines() if ":" in line)
