"""MemoryClaims: the Claims port in one process (no I/O), for the embedded server and tests.

Every method runs without awaiting, so on one event loop each is atomic: of any claims raced,
exactly one wins, as with PostgreSQL. ``clock`` (seconds, monotonic by default) decides expiry.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from palaver.claims.base import Claim, NoLease


class MemoryClaims:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._leases: dict[str, float] = {}  # node -> when its lease expires
        self._claims: dict[str, Claim] = {}  # skeleton -> its claim
        self._held: dict[tuple[str, str], str] = {}  # (node, nick) -> skeleton

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def _live(self, node: str, now: float) -> bool:
        expires = self._leases.get(node)
        return expires is not None and expires > now

    async def renew(self, node: str, ttl: float) -> bool:
        if ttl < 0:
            raise ValueError(f"a lease's ttl is >= 0 seconds, not {ttl}")
        now = self.clock()
        was_live = self._live(node, now)
        self._leases[node] = now + ttl
        return was_live

    async def claim(self, nick: str, skeleton: str, node: str,
                    identity: str | None = None) -> bool:
        now = self.clock()
        if not self._live(node, now):
            raise NoLease(f"node {node!r} has no live lease")
        held = self._claims.get(skeleton)
        if (held is not None and held.node != node and self._live(held.node, now)
                and (identity is None or held.identity != identity)):
            return False
        if held is not None:
            self._held.pop((held.node, held.nick), None)
        self._claims[skeleton] = Claim(nick=nick, skeleton=skeleton, node=node,
                                       identity=identity)
        self._held[(node, nick)] = skeleton
        return True

    async def release(self, nick: str, node: str) -> bool:
        skeleton = self._held.pop((node, nick), None)
        if skeleton is None:
            return False
        del self._claims[skeleton]
        return True

    async def holder(self, skeleton: str) -> Claim | None:
        held = self._claims.get(skeleton)
        if held is None or not self._live(held.node, self.clock()):
            return None
        return held

    async def expire(self) -> int:
        now = self.clock()
        dead = {node for node in self._leases if not self._live(node, now)}
        count = self._drop({claim.skeleton for claim in self._claims.values()
                            if claim.node in dead or claim.node not in self._leases})
        for node in dead:
            del self._leases[node]
        return count

    async def retire(self, node: str) -> int:
        self._leases.pop(node, None)
        return self._drop({skeleton for (holder, _), skeleton in self._held.items()
                           if holder == node})

    def _drop(self, skeletons: set[str]) -> int:
        for skeleton in skeletons:
            claim = self._claims.pop(skeleton)
            self._held.pop((claim.node, claim.nick), None)
        return len(skeletons)
