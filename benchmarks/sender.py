"""The publishing side of the fan-out benchmark, inside one load-generator worker.

Two modes. Fixed rate (``rate`` > 0, messages per second per sender): sender ``j`` publishes its
``k``-th message at ``start + (k + j/n) / rate``; a sender that falls behind catches up at once, so
the offered load is the schedule, not what the server lets through. Closed loop (``rate`` == 0):
at most ``window`` messages per sender are in flight, where a message is in flight until it has
come back to every sending connection (each sender is also a room member and gets every message;
where the server does not echo, as in IRC, :meth:`Senders._in_flight` is overridden).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from benchmarks.leanconn import LineCounter


class Frames(Protocol):
    def frame(self, stamp_ns: int) -> bytes: ...


class Senders:
    def __init__(self, conns: list[LineCounter], frames: Frames) -> None:
        self.conns = conns
        self.frames = frames
        self.sent = [0] * len(conns)
        self.sent_total = 0
        self.first_ns = 0
        self.last_ns = 0
        self._count = 0
        self._limit = 0  # closed loop: messages in flight allowed; 0 = not in closed-loop mode
        self._next = 0
        self._finished: asyncio.Future[None] | None = None

    async def run(self, count: int, rate: float, window: int) -> None:
        self._count = count
        if rate > 0:
            await self._fixed_rate(count, rate)
            return
        self._limit = max(1, window) * len(self.conns)
        self._finished = asyncio.get_running_loop().create_future()
        self._pump()
        await self._finished

    def _send(self, j: int) -> None:
        now = time.monotonic_ns()
        self.conns[j].write(self.frames.frame(now))
        self.sent[j] += 1
        self.sent_total += 1
        if not self.first_ns:
            self.first_ns = now
        self.last_ns = now

    async def _fixed_rate(self, count: int, rate: float) -> None:
        n = len(self.conns)
        interval = 1e9 / rate
        start = time.monotonic_ns() + 1_000_000
        total = count * n
        while self.sent_total < total:
            now = time.monotonic_ns()
            upcoming = float("inf")
            for j in range(n):
                while self.sent[j] < count:
                    due = start + (self.sent[j] + j / n) * interval
                    if due > now:
                        upcoming = min(upcoming, due)
                        break
                    self._send(j)
            if upcoming != float("inf"):
                await asyncio.sleep(max(0.0, (upcoming - time.monotonic_ns()) / 1e9))

    def on_messages(self, conn: LineCounter) -> None:
        if self._limit:
            self._pump()

    def _pump(self) -> None:
        conns = self.conns
        n = len(conns)
        total = self._count * n
        in_flight = self._in_flight()
        while in_flight < self._limit and self.sent_total < total:
            j = self._next
            self._next = (j + 1) % n
            if self.sent[j] < self._count:
                self._send(j)
                in_flight += 1
        if self.sent_total >= total and self._finished is not None and not self._finished.done():
            self._finished.set_result(None)

    def _in_flight(self) -> int:
        """Closed loop: the most messages some sending connection is still to get back."""
        return self.sent_total - min(c.messages for c in self.conns)
