"""A load-generator worker process: holds a share of the benchmark's connections.

How this works: the orchestrator (:mod:`benchmarks.workers`) starts ``python -m
benchmarks.loadgen HOST PORT`` and drives it with one JSON object per line on stdin; the worker
answers with JSON lines on stdout (the loop: :mod:`benchmarks.workerloop`). Commands: ``connect``
(open TCP connections), ``hello`` (say HELLO in batches, waiting for each batch's WELCOME),
``say`` (one CHAT from the first connection), ``sync`` (wait until every connection has seen a
token), ``reset`` (zero the counters and set how many MESSAGE frames each connection should get),
``run`` (senders publish), ``report`` and ``close`` — all but ``hello`` and ``say`` are
:mod:`benchmarks.fanworker`'s. ``done`` is sent unasked once every connection has had its
expected messages. Every wait is bounded by a timeout given in the command.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from benchmarks import workerloop
from benchmarks.fanworker import FanoutWorker
from benchmarks.loadconn import BenchConnection, ChatFrames
from benchmarks.workerloop import emit

ROOM = "#lobby"


class Worker(FanoutWorker):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port, ChatFrames(ROOM))

    def connection(self, index: int, nick: str, sample: bool) -> BenchConnection:
        return BenchConnection(self, index, nick, sample)

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {**super().commands(), "hello": self.hello}

    async def hello(self, batch: int, timeout: float) -> None:
        start = time.monotonic()
        deadline = start + timeout
        conns: list[BenchConnection] = self.conns  # type: ignore[assignment]  # all are
        pending = [c for c in conns if not c.welcomed and not c.closed]
        for at in range(0, len(pending), batch):
            group = [c for c in pending[at:at + batch] if not c.closed]
            if await self.settle(group, BenchConnection.hello, deadline):
                break
        emit(event="welcomed", ok=sum(c.welcomed and not c.closed for c in conns),
             lost=dict(self.lost), seconds=time.monotonic() - start)

    def say(self, text: str) -> None:
        live = [c for c in self.conns if not c.closed]
        if live:
            live[0].write(json.dumps({"type": "CHAT", "room": ROOM, "text": text}).encode() + b"\n")


def main() -> None:
    workerloop.main(Worker)


if __name__ == "__main__":
    main()
