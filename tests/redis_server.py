"""Real Redis servers for the tests: Debian's redis-server, on loopback, nothing kept.

How this works: :class:`RedisServer` starts ``/usr/bin/redis-server`` in a new temporary
directory on a free 127.0.0.1 port (a port is picked by binding a socket to port 0 and closing
it; a start that loses the port to someone else is retried on another), with persistence off
(``--save '' --appendonly no``), and waits until it answers PING (a bounded loop: a few seconds
at most, failing with its log if it exits or never answers). It is stopped with SIGTERM (then
SIGKILL) and its directory removed, whatever happened. :meth:`RedisServer.stop` and
:meth:`RedisServer.start` again (same port) let a test take Redis down and bring it back.

The session fixtures ``redis_server`` and ``redis_servers`` (two: for sharding) are shared by
every test, which keep apart by their channels' prefix; ``redis_own`` is a server of the test's
own, for tests that stop it. Without the binary, the tests that need it are skipped, saying so;
``make test`` installs Debian's redis-server package.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REDIS_SERVER = "/usr/bin/redis-server"
START_ATTEMPTS = 5  # starts on a new port after a port collision
START_TIMEOUT = 10.0  # seconds to answer PING
STOP_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pings(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, binary: str = REDIS_SERVER) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="palaver-redis-"))
        self.log = self.dir / "redis.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start, on the port it had if it had one (else a free one); return once it answers
        PING."""
        failures = []
        for _ in range(START_ATTEMPTS):
            port = self.port or _free_port()
            if self._start_on(port):
                self.port = port
                return
            failures.append(f"port {port}: {self.log_tail()}")
            if self.port:  # its own port is taken: no other will do
                break
        raise RuntimeError("redis-server did not start:\n" + "\n".join(failures))

    def _start_on(self, port: int) -> bool:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.log),
             "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=self.dir)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:  # bounded by START_TIMEOUT
            if self.process.poll() is not None:
                self.process = None
                return False
            if _pings(port):
                return True
            time.sleep(0.02)
        self.stop()
        return False

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL); it can be started again."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """Kill it at once (SIGKILL): its clients see their connections drop."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        return ""


def _skip_unless_installed() -> None:
    if not Path(REDIS_SERVER).is_file():
        pytest.skip(f"Redis is not installed ({REDIS_SERVER}; `make test` installs Debian's "
                    "redis-server package)")


@contextlib.contextmanager
def _running(count: int) -> Iterator[list[RedisServer]]:
    _skip_unless_installed()
    servers = [RedisServer() for _ in range(count)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.remove()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One Redis server for the whole session (skips when it is not installed)."""
    with _running(1) as [server]:
        yield server


@pytest.fixture(scope="session")
def redis_servers() -> Iterator[list[RedisServer]]:
    """Two Redis servers for the whole session: two shards."""
    with _running(2) as servers:
        yield servers


@pytest.fixture
def redis_own() -> Iterator[RedisServer]:
    """A Redis server of the test's own, which it may stop, kill and start again."""
    with _running(1) as [server]:
        yield server
