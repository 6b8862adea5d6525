"""A real PostgreSQL for the tests: a throwaway cluster of Debian's postgresql package.

How this works: the session fixture ``pg_server`` runs ``initdb`` into a new temporary
directory and starts ``postgres`` on 127.0.0.1 at a free port (a port is picked by binding a
socket to port 0 and closing it; postgres cannot be given port 0, so a start that loses the port
to someone else is retried on another), with its unix socket in that directory and fsync off
(the tests never survive a power loss). ``pg_ctl start -w`` returns once the server accepts
connections (it polls it, up to a timeout). palaver's migrations are applied once, to one
database, and the fixture ``pg_url`` empties its every table before each test (33 ms, where a
new database takes 400); ``pg_empty_url`` makes a new database without them, dropped after.
At the end of the session ``pg_ctl stop -m fast`` stops the server, whatever happened, and the
directory is removed.

As root (initdb refuses to run as root) the cluster belongs to the ``postgres`` OS user and
every command runs as it (``runuser``). Without the binaries, the tests that need a server are
skipped, saying so; ``make test`` installs them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_VERSIONS = ("17", "16", "15")  # Debian's, newest first
START_ATTEMPTS = 5  # starts on a new port after a port collision
START_TIMEOUT = 60  # seconds pg_ctl waits for the server to accept connections
STOP_TIMEOUT = 30
USER = "postgres"  # the database superuser (trust authentication, only on 127.0.0.1)
DATABASE = "palaver_test"  # migrated once, emptied for each test
# Every table but the schema's version, emptied, its identity columns (positions) back at 1.
_EMPTY_EVERY_TABLE = """
DO $$
DECLARE tables text;
BEGIN
    SELECT string_agg(quote_ident(tablename), ', ') INTO tables FROM pg_tables
        WHERE schemaname = 'public' AND tablename <> 'schema_migrations';
    EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY';
END $$
"""


def pg_bindir() -> Path | None:
    """The directory of initdb, pg_ctl and postgres, or None if they are not installed."""
    candidates = [Path(f"/usr/lib/postgresql/{v}/bin") for v in PG_VERSIONS]
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return bindir
    return None


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    datadir: Path

    bindir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def execute(self, statement: str, database: str = "postgres") -> None:
        """Run ``statement`` as the superuser."""
        import asyncpg

        async def run() -> None:
            conn = await asyncpg.connect(self.url(database), timeout=30)
            try:
                await conn.execute(statement, timeout=60)
            finally:
                await conn.close(timeout=10)

        _run_on_a_thread(run)

    def migrate(self, database: str) -> None:
        """Bring ``database`` to palaver's schema (open a PostgresStore on it)."""
        from palaver.store.postgres import PostgresStore

        async def run() -> None:
            store = PostgresStore(self.url(database), max_size=1)
            await store.open()
            await store.close()

        _run_on_a_thread(run)


def _run_on_a_thread(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``work`` to its end on a thread's own event loop: from a plain (not async)
    fixture, which may be set up while a test's loop runs. (psql would do for SQL, but takes
    ten times as long.)"""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, work()).result(timeout=120)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Cluster:
    """initdb, start, stop: as the postgres OS user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="palaver-pg-"))
        self.datadir = self.base / "data"
        self.log = self.base / "postgres.log"
        if self.root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.base, owner.pw_uid, owner.pw_gid)

    def run(self, tool: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / tool), *args]
        if self.root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False, cwd=self.base)

    def init(self) -> None:
        done = self.run("initdb", "-D", str(self.datadir), "-U", USER, "--auth=trust",
                        "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stdout}{done.stderr}")

    def start(self) -> int:
        """Start on a free port; the port."""
        failures = []
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {self.base} "
                       "-c fsync=off -c full_page_writes=off -c synchronous_commit=on "
                       "-c max_connections=200")
            done = self.run("pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.log),
                            "-w", "-t", str(START_TIMEOUT), "-o", options,
                            timeout=START_TIMEOUT + 10)
            if done.returncode == 0:
                return port
            failures.append(f"port {port}: {done.stdout}{done.stderr}{self.log_tail()}")
            self.stop()  # in case it half started
        raise RuntimeError("postgres did not start:\n" + "\n".join(failures))

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return ""

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self.run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w",
                     "-t", str(STOP_TIMEOUT), timeout=STOP_TIMEOUT + 10)

    def remove(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole session (skips when it is not installed)."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres; "
                    "`make test` installs Debian's postgresql package)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres OS user to run "
                        "PostgreSQL as (initdb refuses root)")
    cluster = _Cluster(bindir)
    try:
        cluster.init()
        port = cluster.start()
        server = PgServer(host="127.0.0.1", port=port, user=USER, datadir=cluster.datadir,
                          bindir=bindir)
        server.execute(f"CREATE DATABASE {DATABASE}")
        server.migrate(DATABASE)
        yield server
    finally:
        cluster.stop()
        cluster.remove()


_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a database with palaver's schema and no rows: the session's one, emptied.
    (A test that changes the schema takes ``pg_empty_url``.)"""
    pg_server.execute(_EMPTY_EVERY_TABLE, DATABASE)
    return pg_server.url(DATABASE)


@pytest.fixture
def pg_empty_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new database without palaver's schema, dropped after the test."""
    name = f"empty_{os.getpid()}_{next(_numbers)}"
    pg_server.execute(f'CREATE DATABASE "{name}" STRATEGY FILE_COPY')
    yield pg_server.url(name)
    pg_server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
