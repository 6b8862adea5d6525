"""The control loop every load-generator worker process runs, and its bookkeeping.

How this works: the orchestrator (:mod:`benchmarks.workers`) starts ``python -m <worker module>
HOST PORT`` and writes one JSON object per line to the worker's stdin, ``{"cmd": name, ...}``;
the worker answers with JSON lines on stdout (:func:`emit`), ``{"event": "ready"}`` first. Each
command runs as a task of its own, so a long wait does not hold up the next command. A worker
(a :class:`WorkerBase` subclass) names its commands in :meth:`WorkerBase.commands`; the command's
other keys are the handler's keyword arguments; an unknown command gets an ``error`` event. The
base keeps what every worker needs: its connections, why connections were lost, and the set of
connections still being waited for (:meth:`~WorkerBase.settle` sends to a group and waits,
bounded, until :meth:`~WorkerBase.on_settled` has taken each off). ``close`` drops them all;
``progress`` answers the worker's :meth:`~WorkerBase.counts` (for the progress line).
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from benchmarks.leanconn import LeanConnection

C = TypeVar("C", bound=LeanConnection)
K = TypeVar("K", bound=LeanConnection)


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class WorkerBase(Generic[C]):
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.conns: list[C] = []
        self.lost: collections.Counter[str] = collections.Counter()
        self._waiting: set[LeanConnection] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    def commands(self) -> dict[str, Callable[..., Any]]:
        """Command name → handler (plain or ``async``); subclasses add theirs to these."""
        return {"close": self.close, "progress": self.progress}

    def counts(self) -> dict[str, int]:
        """What the worker has done so far, for the progress line (:mod:`benchmarks.progress`)."""
        return {}

    def progress(self) -> None:
        emit(event="progress", **self.counts())

    # ------------------------------------------------------------------ from connections

    def on_settled(self, conn: C) -> None:
        self._waiting.discard(conn)
        if not self._waiting:
            self._wake.set()

    def on_lost(self, conn: C, reason: str) -> None:
        self.lost[reason] += 1
        self.on_settled(conn)

    async def wait_settled(self, timeout: float) -> int:
        """Wait until no connection is still waiting; returns how many still are."""
        if self._waiting:
            self._wake.clear()
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return len(self._waiting)

    async def settle(self, group: Iterable[K], send: Callable[[K], object],
                     deadline: float) -> int:
        """``send`` to each of ``group``, then wait (until the ``time.monotonic`` ``deadline``)
        until each has settled; returns how many have not."""
        members = list(group)
        self._waiting = set(members)
        for conn in members:
            send(conn)
        return await self.wait_settled(deadline - time.monotonic())

    def close(self) -> None:
        for conn in self.conns:
            conn.abort()
        self._stop.set()

    # ------------------------------------------------------------------ the control loop

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks: set[asyncio.Task[None]] = set()
        emit(event="ready")
        while not self._stop.is_set():
            line = await reader.readline()
            if not line:
                break
            task = loop.create_task(self.dispatch(json.loads(line)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        self.close()

    async def dispatch(self, cmd: dict[str, Any]) -> None:
        name = cmd.pop("cmd")
        handler = self.commands().get(name)
        if handler is None:
            emit(event="error", message=f"unknown command {name!r}")
            return
        result = handler(**cmd)
        if inspect.isawaitable(result):
            await result


def main(worker: Callable[[str, int], WorkerBase[Any]]) -> None:
    """``python -m <worker module> HOST PORT``: serve ``worker(HOST, PORT)``, on uvloop if any."""
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        import uvloop
    except ImportError:
        runner: Callable[[Any], None] = asyncio.run
    else:
        runner = uvloop.run
    runner(_serve(worker, host, port))


async def _serve(worker: Callable[[str, int], WorkerBase[Any]], host: str, port: int) -> None:
    await worker(host, port).serve()
