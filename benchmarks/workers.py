"""The orchestrator's side of the load-generator workers (see :mod:`benchmarks.workerloop`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks.server import wait_or_kill

REPO = Path(__file__).resolve().parent.parent


class WorkerError(RuntimeError):
    pass


class WorkerProcess:
    def __init__(self, name: str, proc: asyncio.subprocess.Process) -> None:
        self.name = name
        self.proc = proc
        self.ps = psutil.Process(proc.pid)
        self._events: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, name: str, host: str, port: int, timeout: float = 20.0,
                    module: str = "benchmarks.loadgen", args: tuple[str, ...] = ()
                    ) -> WorkerProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, host, str(port), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
            limit=64 * 1_048_576,
        )
        worker = cls(name, proc)
        await worker.expect("ready", timeout)
        return worker

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                self._events["exit"].put_nowait({"event": "exit"})
                return
            event: dict[str, Any] = json.loads(line)
            self._events[event["event"]].put_nowait(event)

    def send(self, cmd: str, **args: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}).encode() + b"\n")

    async def expect(self, event: str, timeout: float) -> dict[str, Any]:
        queues = (self._events[event], self._events["exit"], self._events["error"])
        getters = [asyncio.ensure_future(q.get()) for q in queues]
        try:
            done, _ = await asyncio.wait(getters, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            for getter in getters:
                getter.cancel()
        if getters[0] in done:
            return getters[0].result()
        if done:
            raise WorkerError(f"worker {self.name}: {next(iter(done)).result()}")
        raise WorkerError(f"worker {self.name}: no {event!r} within {timeout:.0f}s")

    def cpu(self) -> float:
        times = self.ps.cpu_times()
        return float(times.user + times.system)

    async def close(self, timeout: float = 5.0) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ConnectionError):
                self.send("close")
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            await wait_or_kill(self.proc, timeout)
        self._reader.cancel()


class Pool:
    """Several workers, driven together."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers

    @classmethod
    async def start(cls, count: int, host: str, port: int,
                    module: str = "benchmarks.loadgen", args: tuple[str, ...] = ()) -> Pool:
        workers = await asyncio.gather(
            *(WorkerProcess.start(f"w{i}", host, port, module=module, args=args)
              for i in range(count))
        )
        return cls(list(workers))

    async def ask(self, event: str, wait: float, per_worker: list[dict[str, Any]] | None = None,
                  cmd: str | None = None, **args: Any) -> list[dict[str, Any]]:
        """Send ``cmd`` (or none) to every worker, then wait ``wait`` s for ``event`` from each."""
        if cmd is not None:
            for i, worker in enumerate(self.workers):
                worker.send(cmd, **args, **(per_worker[i] if per_worker else {}))
        return list(await asyncio.gather(*(w.expect(event, wait) for w in self.workers)))

    async def count(self, event: str, wait: float) -> int:
        """Wait up to ``wait`` s for ``event`` from every worker; how many sent it in time."""
        results = await asyncio.gather(*(w.expect(event, wait) for w in self.workers),
                                       return_exceptions=True)
        return sum(not isinstance(r, BaseException) for r in results)

    def cpu(self) -> float:
        return sum(w.cpu() for w in self.workers)

    async def close(self) -> None:
        await asyncio.gather(*(w.close() for w in self.workers), return_exceptions=True)
