"""Login throttling across the nodes of a cluster: wrong passwords counted in Redis.

How this works: each node keeps its own :class:`~palaver.server.login_throttle.LoginThrottle`
(which refuses before any work and sees parallel guesses on its connections). A guesser who
spreads guesses over the nodes — a load balancer in front — would get that many tries per node;
so a node also counts every wrong password in :class:`Counters` shared by all nodes, per
(account, address) and per account, each in a window of ``window`` seconds that starts with its
first failure (Redis: INCR, and EXPIRE on the first). Before a password is checked, the node asks
(:meth:`SharedThrottle.wait`): a count at its limit refuses with the seconds left in its window.
A right password clears the (account, address) count, as the local throttle does.

The shared counts are a second line: when Redis cannot be reached they are skipped (the local
throttle still holds), and the failure is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.asyncio import Redis

from palaver.bus.base import shard_of
from palaver.server.login_throttle import ThrottleRules

log = logging.getLogger("palaver.server.throttle")

PREFIX = "palaver:throttle:"
TIMEOUT = 1.0  # seconds a count may take before it is skipped


class Counters(Protocol):
    async def count(self, key: str, window: float) -> None:
        """One more for ``key``; a new count lasts ``window`` seconds."""

    async def read(self, keys: Sequence[str]) -> list[tuple[int, float]]:
        """Each key's count and the seconds its window has left (0, 0.0: none)."""

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class SharedThrottle:
    def __init__(self, counters: Counters, rules: ThrottleRules) -> None:
        self.counters = counters
        self.rules = rules

    async def wait(self, account: str, address: str) -> float:
        """0.0, or the seconds before a password for ``account`` from ``address`` may be
        checked, by the counts of every node."""
        try:
            (pair, pair_left), (total, total_left) = await self.counters.read(
                [_pair(account, address), _account(account)])
        except Exception:
            log.exception("could not read the shared login counts")
            return 0.0
        waits = [pair_left if pair >= self.rules.per_address else 0.0,
                 total_left if total >= self.rules.per_account else 0.0]
        return max(waits)

    async def failed(self, account: str, address: str) -> None:
        try:
            await self.counters.count(_pair(account, address), self.rules.window)
            await self.counters.count(_account(account), self.rules.window)
        except Exception:
            log.exception("could not count a wrong password in the shared login counts")

    async def succeeded(self, account: str, address: str) -> None:
        try:
            await self.counters.clear(_pair(account, address))
        except Exception:
            log.exception("could not clear a shared login count")


def _pair(account: str, address: str) -> str:
    return f"{PREFIX}pair:{account}\0{address}"


def _account(account: str) -> str:
    return f"{PREFIX}account:{account}"


class RedisCounters:
    """Counters on the bus's Redis servers (a key on the server its hash picks)."""

    def __init__(self, urls: Sequence[str]) -> None:
        self._servers = [Redis.from_url(url, socket_timeout=TIMEOUT,
                                        socket_connect_timeout=TIMEOUT) for url in urls]

    def _server(self, key: str) -> Redis:
        return self._servers[shard_of(key, len(self._servers))]

    async def count(self, key: str, window: float) -> None:
        server = self._server(key)
        if await server.incr(key) == 1:
            await server.pexpire(key, int(window * 1000))

    async def read(self, keys: Sequence[str]) -> list[tuple[int, float]]:
        found = []
        for key in keys:
            server = self._server(key)
            value, left_ms = await server.get(key), await server.pttl(key)
            found.append((int(value or 0), max(0, left_ms) / 1000))
        return found

    async def clear(self, key: str) -> None:
        await self._server(key).delete(key)

    async def close(self) -> None:
        for server in self._servers:
            await server.aclose()


class MemoryCounters:
    """Counters in one process (tests; nodes in one process share one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (count, when it ends)

    async def count(self, key: str, window: float) -> None:
        now = self.clock()
        count, ends = self._counts.get(key, (0, now))
        self._counts[key] = (count + 1, ends) if ends > now else (1, now + window)

    async def read(self, keys: Sequence[str]) -> list[tuple[int, float]]:
        now = self.clock()
        found = []
        for key in keys:
            count, ends = self._counts.get(key, (0, now))
            found.append((count, ends - now) if ends > now else (0, 0.0))
        return found

    async def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    async def close(self) -> None:
        pass
