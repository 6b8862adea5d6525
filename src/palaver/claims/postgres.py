"""PostgresClaims: the Claims port in the cluster's PostgreSQL (asyncpg).

How this works: ``nick_claims`` has one row per claimed skeleton (its primary key) naming the
nick and the node; ``node_leases`` one row per node with when its lease expires (the tables are
the store's migration 018, made when a PostgresStore opens the database). Expiry is decided by
the database's clock (``clock_timestamp()``), so nodes' clocks need not agree.

A claim is first one statement: if the node's lease is live, insert the row, or — when the row
is the node's own — take the new nick (``ON CONFLICT ... DO UPDATE ... WHERE`` its node is the
claimer). The unique key makes racing inserts wait for each other: one inserts, the others find
its row. When the row is another node's, a transaction locks it (``FOR UPDATE``) and reads its
holder's lease: live, the claim is lost; expired, the lease's row is locked too (``FOR NO KEY
UPDATE``, as a renewal's UPDATE does, so a renewal under way is waited for and seen) and, still
expired, the claim is taken over in that transaction. Locks are always taken claim row first,
lease row second; removals delete claims before leases. A deadlock or serialization failure the
server reports anyway is retried, a few times.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

import asyncpg

from palaver.claims.base import Claim, ClaimsError, NoLease
from palaver.store.postgres import redacted

log = logging.getLogger(__name__)

T = TypeVar("T")

POOL_MIN: Final = 1
POOL_MAX: Final = 4
CONNECT_TIMEOUT: Final = 10.0
COMMAND_TIMEOUT: Final = 30.0
ATTEMPTS: Final = 4  # tries of a claim whose row vanished, or that a deadlock broke

_CLAIM: Final = """
WITH lease AS (
    SELECT expires_at > clock_timestamp() AS live FROM node_leases WHERE node = $3
), taken AS (
    INSERT INTO nick_claims (skeleton, nick, node, identity)
    SELECT $1, $2, $3, $4 FROM lease WHERE live
    ON CONFLICT (skeleton) DO UPDATE SET nick = EXCLUDED.nick, identity = EXCLUDED.identity,
        claimed_at = now()
        WHERE nick_claims.node = EXCLUDED.node
    RETURNING 1
)
SELECT COALESCE((SELECT live FROM lease), FALSE) AS live,
       EXISTS (SELECT 1 FROM taken) AS won
"""
_HELD: Final = """
SELECT c.node, COALESCE(l.expires_at > clock_timestamp(), FALSE) AS live, c.identity
FROM nick_claims c LEFT JOIN node_leases l ON l.node = c.node
WHERE c.skeleton = $1
FOR UPDATE OF c
"""
_DEAD_CLAIMS: Final = """
DELETE FROM nick_claims c USING node_leases l
WHERE c.node = l.node AND l.expires_at <= clock_timestamp()
"""
_DEAD_LEASES: Final = """
DELETE FROM node_leases l WHERE l.expires_at <= clock_timestamp()
AND NOT EXISTS (SELECT 1 FROM nick_claims c WHERE c.node = l.node)
"""
_RETRIED: Final = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


def _count(status: str) -> int:
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresClaims:
    """Claims in PostgreSQL: given a URL (a pool of its own, ``min_size``-``max_size``
    connections) or the pool of an open store (``pool=store.pool``; not closed here)."""

    def __init__(self, url: str | None = None, *, pool: asyncpg.Pool | None = None,
                 min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> None:
        if (url is None) == (pool is None):
            raise ValueError("PostgresClaims takes a URL or a pool")
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        self._pool = pool
        self._own_pool = pool is None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise ClaimsError("the claims are not open")
        return self._pool

    async def open(self) -> None:
        if self._own_pool and self._pool is None:
            assert self.url is not None
            try:
                self._pool = await asyncpg.create_pool(
                    self.url, min_size=self.min_size, max_size=self.max_size,
                    timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT)
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError,
                    ValueError) as exc:
                raise ClaimsError(f"cannot connect to PostgreSQL at {redacted(self.url)}: "
                                  f"{exc}") from None
        present = await self._run(lambda: self.pool.fetchval(
            "SELECT to_regclass('nick_claims') IS NOT NULL"))
        if not present:
            await self.close()
            raise ClaimsError("the database has no nick_claims table: it is made by palaver's "
                              "schema migration 018 (open the PostgreSQL store first)")

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None and self._own_pool:
            await pool.close()

    async def _run(self, work: Callable[[], Awaitable[T]]) -> T:
        """``work``, retried when the server broke a deadlock; errors as ClaimsError."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await work()
            except _RETRIED as exc:
                if attempt == ATTEMPTS:
                    raise ClaimsError(f"claims: {exc}") from None
                log.debug("claims: %s; trying again", exc)
            except (OSError, TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError) as exc:
                raise ClaimsError(f"claims: {exc}") from None
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ the port

    async def renew(self, node: str, ttl: float) -> bool:
        if ttl < 0:
            raise ValueError(f"a lease's ttl is >= 0 seconds, not {ttl}")

        async def work() -> bool:
            async with self.pool.acquire() as conn, conn.transaction():
                live = await conn.fetchval(
                    "SELECT expires_at > clock_timestamp() FROM node_leases WHERE node = $1 "
                    "FOR NO KEY UPDATE", node)
                await conn.execute(
                    "INSERT INTO node_leases (node, expires_at) "
                    "VALUES ($1, clock_timestamp() + make_interval(secs => $2)) "
                    "ON CONFLICT (node) DO UPDATE SET expires_at = EXCLUDED.expires_at",
                    node, float(ttl))
                return bool(live)

        return await self._run(work)

    async def claim(self, nick: str, skeleton: str, node: str,
                    identity: str | None = None) -> bool:
        async def work() -> bool | None:
            async with self.pool.acquire() as conn:
                row = await conn.fetchrow(_CLAIM, skeleton, nick, node, identity)
                live, won = (row[0], row[1]) if row is not None else (False, False)
                if not live:
                    raise NoLease(f"node {node!r} has no live lease")
                if won:
                    return True
                async with conn.transaction():
                    held = await conn.fetchrow(_HELD, skeleton)
                    if held is None:
                        return None  # released meanwhile: insert again
                    holder, holder_live, holder_identity = held
                    if holder == node:  # it became ours meanwhile (cannot, but if)
                        return None
                    if holder_live and identity is not None and holder_identity == identity:
                        await conn.execute(  # the same user, moved to this node: it goes too
                            "UPDATE nick_claims SET nick = $2, node = $3, claimed_at = now() "
                            "WHERE skeleton = $1", skeleton, nick, node)
                        return True
                    if holder_live:
                        return False
                    # Its lease looks expired: lock it (a renewal may be under way) and look
                    # again, then take the claim over in this transaction.
                    still_live = await conn.fetchval(
                        "SELECT expires_at > clock_timestamp() FROM node_leases "
                        "WHERE node = $1 FOR NO KEY UPDATE", holder)
                    if still_live:
                        return False
                    await conn.execute(
                        "UPDATE nick_claims SET nick = $2, node = $3, identity = $4, "
                        "claimed_at = now() WHERE skeleton = $1", skeleton, nick, node,
                        identity)
                    return True

        for _ in range(ATTEMPTS):
            result = await self._run(work)
            if result is not None:
                return result
        return False  # it kept changing hands: say lost (the caller may try again)

    async def release(self, nick: str, node: str) -> bool:
        status = await self._run(lambda: self.pool.execute(
            "DELETE FROM nick_claims WHERE node = $1 AND nick = $2", node, nick))
        return _count(status) > 0

    async def holder(self, skeleton: str) -> Claim | None:
        row = await self._run(lambda: self.pool.fetchrow(
            "SELECT c.nick, c.node, c.identity FROM nick_claims c JOIN node_leases l "
            "ON l.node = c.node WHERE c.skeleton = $1 AND l.expires_at > clock_timestamp()",
            skeleton))
        return None if row is None else Claim(nick=row[0], skeleton=skeleton, node=row[1],
                                              identity=row[2])

    async def expire(self) -> int:
        async def work() -> int:
            async with self.pool.acquire() as conn, conn.transaction():
                count = _count(await conn.execute(_DEAD_CLAIMS))
                await conn.execute(_DEAD_LEASES)
                return count

        return await self._run(work)

    async def retire(self, node: str) -> int:
        async def work() -> int:
            async with self.pool.acquire() as conn, conn.transaction():
                count = _count(await conn.execute(
                    "DELETE FROM nick_claims WHERE node = $1", node))
                await conn.execute("DELETE FROM node_leases WHERE node = $1", node)
                return count

        return await self._run(work)
