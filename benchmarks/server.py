"""The server under test: ``palaver serve`` as a real subprocess, watched with psutil."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil  # type: ignore[import-untyped]  # no stubs pinned

READY = re.compile(rb"listening: json-lines tcp://([\d.]+):(\d+)")

# Liveness timeouts long enough that a slow setup phase (10,000 HELLOs) is not cut short by the
# handshake timeout and idle benchmark clients are not pinged mid-measurement. Nothing else is
# changed from the defaults: the send-queue limit, frame limit and logging are as shipped.
BENCH_CONFIG = """\
hello_timeout = 300.0
ping_interval = 600.0
idle_timeout = 1200.0
"""


def _only_json_lines() -> str:
    """Turn off the other doors (web, IRC) where this version has them: only the JSON-lines
    port is measured, and fixed default ports would clash between servers. A JSON client that
    is silent for a moment is taken for a plain-text one; the idle benchmark opens all its
    connections before any says HELLO, so that moment is made long."""
    from palaver.server.config import Settings

    fields = Settings.__struct_fields__
    doors = "".join(f"{name} = 0\n" for name in ("web_port", "irc_port") if name in fields)
    # The load generators are floods on purpose: lift the per-connection rate limit.
    unlimited = ("rate_burst = 1000000000\nrate_per_second = 1000000000.0\n"
                 if "rate_burst" in fields else "")
    return (doors + unlimited
            + ("text_sniff_timeout = 600.0\n" if "text_sniff_timeout" in fields else ""))


@dataclass(frozen=True, slots=True)
class Sample:
    cpu: float  # user + system seconds since the process started
    rss: int  # bytes
    system: float = 0.0  # the kernel's share of ``cpu``


class ServerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, host: str, port: int,
                 workdir: tempfile.TemporaryDirectory[str], stderr: IO[bytes]) -> None:
        self.proc = proc
        self.host = host
        self.port = port
        self.ps = psutil.Process(proc.pid)
        self._workdir = workdir
        self._stderr = stderr

    @classmethod
    async def start(cls, timeout: float = 20.0, settings: str = "",
                    args: tuple[str, ...] = ()) -> ServerProcess:
        """A fresh server on a new temporary data dir; ``settings`` is extra TOML, ``args``
        extra ``palaver serve`` flags (which win over the config file)."""
        workdir = tempfile.TemporaryDirectory(prefix="palaver-bench-")
        root = Path(workdir.name)
        config = root / "bench.toml"
        config.write_text(BENCH_CONFIG + _only_json_lines() + settings, encoding="utf-8")
        stderr = (root / "stderr.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "palaver.cli", "serve", "--port", "0",
            "--data-dir", str(root / "data"), "--config", str(config), *args,
            stdout=asyncio.subprocess.PIPE, stderr=stderr,
        )
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        raise RuntimeError("the server exited before it was listening")
                    match = READY.search(line)
                    if match:
                        break
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            stderr.close()
            workdir.cleanup()
            raise
        return cls(proc, match.group(1).decode(), int(match.group(2)), workdir, stderr)

    def sample(self) -> Sample:
        cpu = self.ps.cpu_times()
        return Sample(cpu=cpu.user + cpu.system, rss=self.ps.memory_info().rss, system=cpu.system)

    def log_tail(self, lines: int = 20) -> str:
        path = Path(self._workdir.name) / "stderr.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def data_dir(self) -> Path:
        return Path(self._workdir.name) / "data"

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (if :meth:`terminate` has not) and delete its data dir."""
        await self.terminate(timeout)
        self._stderr.close()
        self._workdir.cleanup()

    async def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM (a graceful stop), SIGKILL after ``timeout``; the data dir stays.
        Returns the exit status."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            await wait_or_kill(self.proc, timeout)
        assert self.proc.returncode is not None
        return self.proc.returncode


async def wait_or_kill(proc: asyncio.subprocess.Process, timeout: float) -> None:
    """Wait up to ``timeout`` s for ``proc`` to exit (after it was asked to); SIGKILL it if not."""
    try:
        await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


class RssWatcher:
    """Samples the server's RSS every ``interval`` seconds in the background; keeps the peak."""

    def __init__(self, server: ServerProcess, interval: float = 0.25) -> None:
        self.server = server
        self.interval = interval
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def __enter__(self) -> RssWatcher:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.server.sample().rss)
            await asyncio.sleep(self.interval)
