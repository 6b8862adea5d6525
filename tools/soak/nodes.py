"""palaver nodes as subprocesses: ``palaver serve`` on fixed ports, killed -9 and started again.

How this works: each node gets a free JSON-lines port once, a data dir of its own and a name
(``--node-id``); the web and IRC doors are off. A start runs ``palaver serve --store URL --bus
URL --node-id NAME --port P --web-port 0 --irc-port 0 --data-dir DIR --config soak.toml`` and
returns once it prints that it listens; a start that fails (PostgreSQL down at that moment, the
port still held after a kill) is tried again, a bounded number of times. A kill is SIGKILL to
the process; its restart is the same command on the same port and data dir, so its members can
come back to it. stdout and stderr go to files in the data dir (start-N.out, start-N.err).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Final

START_TIMEOUT: Final = 60.0  # seconds one start may take to say it listens
START_DEADLINE: Final = 180.0  # seconds of failed starts before giving up
STOP_TIMEOUT: Final = 15.0
READY: Final = b"listening: json-lines "
# Cheap password hashing (the soak logs in a lot), no rate limits (the senders are steady).
CONFIG: Final = """\
argon2_time_cost = 1
argon2_memory_kib = 8
rate_burst = 1000000
rate_per_second = 1000000.0
shutdown_grace = 1.0
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def palaver_command() -> list[str]:
    """The ``palaver`` script next to this Python (the venv's), or ``python -m palaver.cli``."""
    script = Path(sys.executable).parent / "palaver"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "palaver.cli"]


class Node:
    def __init__(self, name: str, data_dir: Path, store: str, bus: str) -> None:
        self.name = name
        self.data_dir = data_dir
        self.store = store
        self.bus = bus
        self.port = free_port()
        self.process: asyncio.subprocess.Process | None = None
        self._drainer: asyncio.Task[None] | None = None
        self.starts = 0
        self.failed_starts = 0
        self.kills = 0
        self.start_seconds: list[float] = []  # how long each start took, until it listened

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start it; return once it listens (RuntimeError after START_DEADLINE of failures)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "soak.toml"
        config.write_text(CONFIG)
        began = time.monotonic()
        while True:  # bounded by START_DEADLINE
            if await self._start_once(config):
                self.start_seconds.append(time.monotonic() - began)
                return
            self.failed_starts += 1
            if time.monotonic() - began > START_DEADLINE:
                raise RuntimeError(f"node {self.name} would not start: see {self.data_dir}")
            await asyncio.sleep(0.5)  # (a pause between attempts, not a synchronisation)

    async def _start_once(self, config: Path) -> bool:
        self.starts += 1
        out = self.data_dir / f"start-{self.starts}.out"
        err = self.data_dir / f"start-{self.starts}.err"
        with err.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                *palaver_command(), "serve", "--store", self.store, "--bus", self.bus,
                "--node-id", self.name, "--port", str(self.port), "--web-port", "0",
                "--irc-port", "0", "--data-dir", str(self.data_dir), "--config", str(config),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=stderr)
        assert self.process.stdout is not None
        seen = b""
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while line := await self.process.stdout.readline():
                    seen += line
                    if READY in line:
                        break
        except TimeoutError:
            pass
        out.write_bytes(seen)
        if self.running and READY in seen:
            self._drainer = asyncio.get_running_loop().create_task(
                self._drain(self.process, out))
            return True
        await self._kill(self.process)
        return False

    @staticmethod
    async def _drain(process: asyncio.subprocess.Process, out: Path) -> None:
        """Keep reading its stdout (to the file), so that it never blocks on a full pipe."""
        assert process.stdout is not None
        with out.open("ab") as sink:
            while chunk := await process.stdout.read(65_536):
                sink.write(chunk)

    async def kill9(self) -> None:
        """SIGKILL it (no goodbye to anyone: its connections just drop)."""
        if self.process is not None:
            await self._kill(self.process)
            self.kills += 1

    @staticmethod
    async def _kill(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT)

    async def stop(self) -> None:
        """SIGTERM (a graceful stop), SIGKILL if it takes too long."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            await self._kill(process)
