"""A load-generator worker process: holds a share of the benchmark's connections.

How this works: the orchestrator (:mod:`benchmarks.workers`) starts ``python -m
benchmarks.loadgen HOST PORT`` and drives it with one JSON object per line on stdin; the worker
answers with JSON lines on stdout. Commands: ``connect`` (open TCP connections), ``hello`` (say
HELLO in batches, waiting for each batch's WELCOME), ``say`` (one CHAT from the first
connection), ``sync`` (wait until every connection has seen a token), ``reset`` (zero the counters
and set how many MESSAGE frames each connection should get), ``run`` (senders publish), ``report``
and ``close``. ``done`` is sent unasked once every connection has had its expected messages.
Every wait is bounded by a timeout given in the command.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from typing import Any

from benchmarks.loadconn import BenchConnection, ChatFrames
from benchmarks.sender import Senders

ROOM = "#lobby"
CONNECT_CONCURRENCY = 256


class Worker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.conns: list[BenchConnection] = []
        self.lost: collections.Counter[str] = collections.Counter()
        self.delivered = 0
        self.expected = 0
        self.first_ns = 0
        self.last_ns = 0
        self.done_sent = False
        self.frames = ChatFrames(ROOM)
        self.senders: Senders | None = None
        self._waiting: set[BenchConnection] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ Sink (from connections)

    def on_messages(self, conn: BenchConnection, count: int, now_ns: int) -> None:
        if not self.first_ns:
            self.first_ns = now_ns
        self.last_ns = now_ns
        self.delivered += count
        if self.senders is not None:
            self.senders.on_messages(conn)
        if self.expected and not self.done_sent and self.delivered >= self.expected:
            self.done_sent = True
            emit(event="done", last_ns=now_ns, delivered=self.delivered)

    def on_welcome(self, conn: BenchConnection) -> None:
        self._settle(conn)

    def on_token(self, conn: BenchConnection) -> None:
        self._settle(conn)

    def on_lost(self, conn: BenchConnection, reason: str) -> None:
        self.lost[reason] += 1
        self._settle(conn)

    def _settle(self, conn: BenchConnection) -> None:
        self._waiting.discard(conn)
        if not self._waiting:
            self._wake.set()

    async def _wait_settled(self, timeout: float) -> int:
        """Wait until no connection is still waiting; returns how many still are."""
        if self._waiting:
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return len(self._waiting)

    # ------------------------------------------------------------------ commands

    async def connect(self, nicks: list[str], sample_every: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
        failures: collections.Counter[str] = collections.Counter()
        start = time.monotonic()

        async def one(index: int, nick: str) -> None:
            sample = sample_every > 0 and index % sample_every == 0
            async with gate:
                try:
                    _, conn = await loop.create_connection(
                        lambda: BenchConnection(self, index, nick, sample), self.host, self.port
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

    async def hello(self, batch: int, timeout: float) -> None:
        start = time.monotonic()
        deadline = start + timeout
        pending = [c for c in self.conns if not c.welcomed and not c.closed]
        for at in range(0, len(pending), batch):
            group = [c for c in pending[at:at + batch] if not c.closed]
            self._waiting = set(group)
            for conn in group:
                conn.hello()
            left = await self._wait_settled(deadline - time.monotonic())
            if left:
                break
        emit(event="welcomed", ok=sum(c.welcomed and not c.closed for c in self.conns),
             lost=dict(self.lost), seconds=time.monotonic() - start)

    def say(self, text: str) -> None:
        live = [c for c in self.conns if not c.closed]
        if live:
            live[0].write(json.dumps({"type": "CHAT", "room": ROOM, "text": text}).encode() + b"\n")

    async def sync(self, token: str, timeout: float) -> None:
        start = time.monotonic()
        raw = token.encode()
        live = [c for c in self.conns if not c.closed]
        self._waiting = set(live)
        for conn in live:
            conn.token = raw
        emit(event="armed")
        missing = await self._wait_settled(timeout)
        for conn in live:
            conn.token = None
        emit(event="synced", missing=missing, lost=dict(self.lost),
             frames=sum(c.frames for c in self.conns), seconds=time.monotonic() - start)

    def reset(self, expect_per_conn: int, senders: list[str]) -> None:
        live = [c for c in self.conns if not c.closed]
        for conn in self.conns:
            conn.messages = 0
            if conn.latencies is not None:
                conn.latencies.clear()
        self.delivered = self.first_ns = self.last_ns = 0
        self.expected = expect_per_conn * len(live)
        self.done_sent = False
        wanted = set(senders)
        mine = [c for c in live if c.nick in wanted]
        self.senders = Senders(mine, self.frames) if mine else None
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
            cmd: dict[str, Any] = json.loads(line)
            task = loop.create_task(self.dispatch(cmd))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        self.close()

    async def dispatch(self, cmd: dict[str, Any]) -> None:
        name = cmd.pop("cmd")
        if name == "connect":
            await self.connect(cmd["nicks"], cmd.get("sample_every", 0), cmd["timeout"])
        elif name == "hello":
            await self.hello(cmd["batch"], cmd["timeout"])
        elif name == "say":
            self.say(cmd["text"])
        elif name == "sync":
            await self.sync(cmd["token"], cmd["timeout"])
        elif name == "reset":
            self.reset(cmd["expect_per_conn"], cmd.get("senders", []))
        elif name == "run":
            await self.run(cmd["count"], cmd["rate"], cmd["window"], cmd["timeout"])
        elif name == "report":
            self.report()
        elif name == "close":
            self.close()
        else:
            emit(event="error", message=f"unknown command {name!r}")


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _main(host: str, port: int) -> None:
    await Worker(host, port).serve()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main(host, port))
    else:
        uvloop.run(_main(host, port))


if __name__ == "__main__":
    main()
