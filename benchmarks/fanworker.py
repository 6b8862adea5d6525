"""What the two fan-out load-generator workers share (:mod:`benchmarks.loadgen` for JSON lines,
:mod:`benchmarks.ircload` for IRC).

How this works: a :class:`FanoutWorker` holds a share of the benchmark's connections
(:class:`~benchmarks.leanconn.LineCounter`s, made by :meth:`~FanoutWorker.connection`) and,
besides ``close``, answers ``connect`` (open TCP connections, ``concurrency`` at a time),
``sync`` (wait until every connection has seen a token, which the subclass's ``say`` posts),
``reset`` (zero the counters, set how many messages each connection should get — less ``own``
for each sender when the server does not echo — and pick the senders), ``run`` (the senders
publish: :mod:`benchmarks.sender`) and ``report``. ``done`` is sent unasked once the share has had
every expected message. Every wait is bounded by a timeout given in the command.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.leanconn import LineCounter
from benchmarks.sender import Frames, Senders
from benchmarks.workerloop import WorkerBase, emit

CONNECT_CONCURRENCY = 256


class FanoutWorker(WorkerBase[LineCounter]):
    senders_class: type[Senders] = Senders

    def __init__(self, host: str, port: int, frames: Frames) -> None:
        super().__init__(host, port)
        self.delivered = 0
        self.expected = 0
        self.first_ns = 0
        self.last_ns = 0
        self.done_sent = False
        self.frames = frames
        self.senders: Senders | None = None

    def connection(self, index: int, nick: str, sample: bool) -> LineCounter:
        raise NotImplementedError

    def say(self, text: str) -> None:
        raise NotImplementedError

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {**super().commands(), "connect": self.connect, "say": self.say,
                "sync": self.sync, "reset": self.reset, "run": self.run, "report": self.report}

    def counts(self) -> dict[str, int]:
        return {"delivered": self.delivered}

    def on_messages(self, conn: LineCounter, count: int, now_ns: int) -> None:
        if not self.first_ns:
            self.first_ns = now_ns
        self.last_ns = now_ns
        self.delivered += count
        if self.senders is not None:
            self.senders.on_messages(conn)
        if self.expected and not self.done_sent and self.delivered >= self.expected:
            self.done_sent = True
            emit(event="done", last_ns=now_ns, delivered=self.delivered)

    # ------------------------------------------------------------------ commands

    async def connect(self, nicks: list[str], timeout: float, sample_every: int = 0,
                      concurrency: int = CONNECT_CONCURRENCY) -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(max(1, concurrency))
        failures: collections.Counter[str] = collections.Counter()
        start = time.monotonic()

        async def one(index: int, nick: str) -> None:
            sample = sample_every > 0 and index % sample_every == 0
            async with gate:
                try:
                    _, conn = await loop.create_connection(
                        lambda: self.connection(index, nick, sample), self.host, self.port
                    )
                except OSError as exc:
                    failures[type(exc).__name__] += 1
                    return
            self.conns.append(conn)

        base = len(self.conns)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(one(base + i, n) for i, n in enumerate(nicks)))
        except TimeoutError:
            failures["timeout"] += 1
        emit(event="connected", ok=len(self.conns) - base, failed=dict(failures),
             seconds=time.monotonic() - start)

    async def sync(self, token: str, timeout: float) -> None:
        start = time.monotonic()
        raw = token.encode()
        live = [c for c in self.conns if not c.closed]
        self._waiting = set(live)
        for conn in live:
            conn.token = raw
        emit(event="armed")
        missing = await self.wait_settled(timeout)
        for conn in live:
            conn.token = None
        emit(event="synced", missing=missing, lost=dict(self.lost),
             frames=sum(c.frames for c in self.conns), seconds=time.monotonic() - start)

    def reset(self, expect_per_conn: int, senders: Sequence[str] = (), own: int = 0) -> None:
        live = [c for c in self.conns if not c.closed]
        for conn in self.conns:
            conn.messages = 0
            if conn.latencies is not None:
                conn.latencies.clear()
        self.delivered = self.first_ns = self.last_ns = 0
        wanted = set(senders)
        mine = [c for c in live if c.nick in wanted]
        self.expected = expect_per_conn * len(live) - own * len(mine)
        self.done_sent = False
        self.senders = self.senders_class(mine, self.frames) if mine else None
        emit(event="reset", expected=self.expected, senders=len(mine))

    async def run(self, count: int, rate: float, window: int, timeout: float) -> None:
        if self.senders is None:
            emit(event="sent", sent=0, first_ns=0, last_ns=0)
            return
        try:
            async with asyncio.timeout(timeout):
                await self.senders.run(count, rate, window)
        except TimeoutError:
            pass
        s = self.senders
        emit(event="sent", sent=s.sent_total, first_ns=s.first_ns, last_ns=s.last_ns)

    def report(self) -> None:
        latencies: list[int] = []
        for conn in self.conns:
            if conn.latencies:
                latencies.extend(conn.latencies)
        emit(
            event="report",
            delivered=self.delivered,
            expected=self.expected,
            connections=len(self.conns),
            live=sum(not c.closed for c in self.conns),
            frames=sum(c.frames for c in self.conns),
            lost=dict(self.lost),
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            latencies_us=[lat // 1_000 for lat in latencies],
        )
