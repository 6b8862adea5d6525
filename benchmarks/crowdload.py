"""A load-generator worker for the crowd benchmarks: churn, the join storm, many rooms.

How this works: started as ``python -m benchmarks.crowdload HOST PORT DIALECT`` (``json`` or
``irc``: :mod:`benchmarks.dialects`) and driven like every worker (:mod:`benchmarks.workerloop`).
Each :class:`CrowdConnection` cuts its reads at the last newline and looks for the dialect's
"registered" and "joined" bytes and for a barrier token; reaching one of them resolves the
future a command is waiting on (:meth:`CrowdConnection.reach`). Commands:

- ``churn`` — ``loops`` coroutines, each connecting, registering, waiting for the welcome,
  quitting and waiting for the server to close, again and again until ``count`` are done;
- ``bringup`` — connect, register (JSON: with the room in HELLO) and, on IRC, JOIN after ``001``,
  ``window`` clients in flight at once, each with its own room (or none);
- ``join`` — every connection sends JOIN of one room at once; wait for every own answer;
- ``sync`` / ``say`` — the barrier: arm a token on every connection, post it in each room given
  (from a member here), wait until every connection has seen it;
- ``progress``, ``close``.

Every wait is bounded by a timeout given in the command; each answer carries the
``time.monotonic_ns`` of its first and last event (one clock for all processes on Linux), so the
orchestrator can time a stretch across workers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks import workerloop
from benchmarks.dialects import DIALECTS, Dialect
from benchmarks.leanconn import LeanConnection
from benchmarks.workerloop import WorkerBase, emit

REGISTERED, JOINED, TOKEN, CLOSED = "registered", "joined", "token", "closed"


class CrowdConnection(LeanConnection):
    __slots__ = ("dialect", "joined_tag", "nick", "quitting", "reached", "room", "tail",
                 "token", "waiters")

    def __init__(self, sink: Crowd, dialect: Dialect, nick: str, room: str | None) -> None:
        super().__init__(sink)  # type: ignore[arg-type]  # a Crowd is this one's sink
        self.dialect = dialect
        self.nick = nick
        self.room = room
        self.joined_tag = dialect.joined(nick, room) if room else b""
        self.tail = b""
        self.token: bytes | None = None
        self.quitting = False
        self.reached: dict[str, int] = {}  # stage -> when (ns)
        self.waiters: dict[str, asyncio.Future[int]] = {}

    def wait(self, stage: str) -> asyncio.Future[int]:
        """A future resolved with the time (ns) ``stage`` is reached, 0 if it never will be."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if stage in self.reached:
            fut.set_result(self.reached[stage])
        elif self.closed:
            fut.set_result(0)
        else:
            self.waiters[stage] = fut
        return fut

    def reach(self, stage: str) -> None:
        now = self.reached[stage] = time.monotonic_ns()
        fut = self.waiters.pop(stage, None)
        if fut is not None and not fut.done():
            fut.set_result(now)

    def set_room(self, room: str) -> None:
        self.room = room
        self.joined_tag = self.dialect.joined(self.nick, room)
        self.reached.pop(JOINED, None)

    def data_received(self, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            self.tail = data[-65_536:]
            return
        self.tail = data[end:]
        data = data[:end]
        d = self.dialect
        if REGISTERED not in self.reached and d.welcome in data:
            self.reach(REGISTERED)
        if self.joined_tag and JOINED not in self.reached and self.joined_tag in data:
            self.reach(JOINED)
        if self.token is not None and self.token in data:
            self.token = None
            self.reach(TOKEN)
        pong = d.pong(data)
        if pong:
            self.write(pong)
        if not self.quitting:
            why = d.refusal(data)
            if why is not None:
                self._lose(why)
                if self.transport is not None:
                    self.transport.close()

    def _lose(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.quitting:
            self.sink.on_lost(self, reason)  # type: ignore[arg-type]
        self.reach(CLOSED)
        for stage, fut in list(self.waiters.items()):
            if not fut.done():
                fut.set_result(0)  # 0: never reached
            del self.waiters[stage]


class Crowd(WorkerBase[CrowdConnection]):
    def __init__(self, host: str, port: int, dialect: Dialect) -> None:
        super().__init__(host, port)
        self.dialect = dialect
        self.done = 0  # churn cycles, clients brought up, join answers, tokens seen
        _raise_file_limit()

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {**super().commands(), "churn": self.churn, "bringup": self.bringup,
                "join": self.join, "sync": self.sync, "say": self.say}

    def counts(self) -> dict[str, int]:
        return {"done": self.done}

    def on_lost(self, conn: CrowdConnection, reason: str) -> None:
        self.lost[reason[:80]] += 1

    async def _open(self, nick: str, room: str | None) -> CrowdConnection | None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: CrowdConnection(self, self.dialect, nick, room), self.host, self.port)
        except OSError as exc:
            self.lost[f"connect: {type(exc).__name__}"] += 1
            return None
        return conn

    # ------------------------------------------------------------------ churn

    async def churn(self, prefix: str, count: int, loops: int, timeout: float) -> None:
        """``count`` cycles of connect → register → welcome → quit → closed, ``loops`` at once."""
        d = self.dialect
        self.done = 0
        started = 0
        failed: collections.Counter[str] = collections.Counter()
        first_ns = time.monotonic_ns()

        async def loop_once() -> None:
            nonlocal started
            while started < count:
                n = started
                started += 1
                conn = await self._open(f"{prefix}{n}", None)
                if conn is None:
                    failed["connect"] += 1
                    continue
                conn.write(d.register(conn.nick, None, True))
                if not await conn.wait(REGISTERED):
                    failed["no welcome"] += 1
                    conn.abort()
                    continue
                conn.quitting = True
                closed = conn.wait(CLOSED)
                conn.write(d.quit())
                await closed
                self.done += 1

        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(loop_once() for _ in range(loops)))
        except TimeoutError:
            failed["timeout"] += 1
        emit(event="churned", ok=self.done, failed=dict(failed), lost=dict(self.lost),
             first_ns=first_ns, last_ns=time.monotonic_ns())

    # ------------------------------------------------------------------ bring-up and joins

    async def bringup(self, nicks: list[str], rooms: list[str | None], window: int,
                      timeout: float, autojoin: bool = False, connect_window: int = 2) -> None:
        """Each ``nicks[i]`` connects, registers and joins ``rooms[i]`` (if any): ``window``
        clients in flight, of which ``connect_window`` in the TCP handshake (ngIRCd listens
        with a backlog of 10: more connects at once overflow it, and a dropped SYN waits 1 s+)."""
        d = self.dialect
        self.done = 0
        gate = asyncio.Semaphore(max(1, window))
        connecting = asyncio.Semaphore(max(1, connect_window))
        first_ns = time.monotonic_ns()
        last_ns = first_ns
        failed: collections.Counter[str] = collections.Counter()

        async def one(nick: str, room: str | None) -> None:
            nonlocal last_ns
            async with gate:
                async with connecting:
                    conn = await self._open(nick, room)
                if conn is None:
                    failed["connect"] += 1
                    return
                self.conns.append(conn)
                in_hello = (room,) if room and d.joins_in_hello else None
                conn.write(d.register(nick, in_hello, autojoin))
                if not await conn.wait(REGISTERED):
                    failed["no welcome"] += 1
                    return
                if room:
                    joined = conn.wait(JOINED)
                    if not d.joins_in_hello:
                        conn.write(d.join(room))
                    if not await joined:
                        failed["no join"] += 1
                        return
                self.done += 1
                last_ns = max(last_ns, time.monotonic_ns())

        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(one(n, r) for n, r in zip(nicks, rooms, strict=True)))
        except TimeoutError:
            failed["timeout"] += 1
        emit(event="up", ok=self.done, failed=dict(failed), lost=dict(self.lost),
             first_ns=first_ns, last_ns=last_ns)

    async def join(self, room: str, timeout: float) -> None:
        """Every live connection sends JOIN ``room`` at once; wait for each one's answer."""
        live = [c for c in self.conns if not c.closed]
        self.done = 0
        waits = []
        for conn in live:
            conn.set_room(room)
            waits.append(conn.wait(JOINED))
        first_ns = time.monotonic_ns()
        frame = self.dialect.join(room)
        for conn in live:
            conn.write(frame)
        times = await self._gather(waits, timeout)
        emit(event="joined", ok=sum(t > 0 for t in times), live=len(live),
             lost=dict(self.lost), first_ns=first_ns, last_ns=max(times, default=0))

    async def sync(self, token: str, timeout: float) -> None:
        live = [c for c in self.conns if not c.closed]
        self.done = 0
        raw = token.encode()
        waits = []
        for conn in live:
            conn.token = raw
            conn.reached.pop(TOKEN, None)
            waits.append(conn.wait(TOKEN))
        emit(event="armed")
        times = await self._gather(waits, timeout)
        emit(event="synced", ok=sum(t > 0 for t in times), missing=sum(t == 0 for t in times),
             lost=dict(self.lost), last_ns=max(times, default=0))

    def say(self, rooms: list[str], token: str) -> None:
        """Post ``token`` in each of ``rooms`` from a live member here."""
        speakers: dict[str, CrowdConnection] = {}
        for conn in self.conns:
            if conn.room in rooms and not conn.closed and conn.room not in speakers:
                speakers[conn.room] = conn
        for room, conn in speakers.items():
            conn.write(self.dialect.say(room, token))
            if not self.dialect.echo:  # IRC: the speaker has its own token already
                conn.token = None
                conn.reach(TOKEN)
        emit(event="said", rooms=sorted(speakers))

    async def _gather(self, waits: list[asyncio.Future[int]], timeout: float) -> list[int]:
        """Each future's time, 0 for those not reached within ``timeout``."""
        for fut in waits:
            fut.add_done_callback(self._count)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        return [f.result() if f.done() else 0 for f in waits]

    def _count(self, fut: asyncio.Future[int]) -> None:
        if not fut.cancelled() and fut.result():
            self.done += 1


def _raise_file_limit() -> None:
    """The soft open-file limit up to the hard one: a worker may hold thousands of sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    dialect = DIALECTS[sys.argv[3]]
    workerloop.main(lambda host, port: Crowd(host, port, dialect))


if __name__ == "__main__":
    main()
