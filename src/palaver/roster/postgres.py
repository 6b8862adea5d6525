"""PostgresRoster: the Roster port in the cluster's PostgreSQL (asyncpg; migration 020).

``roster`` has a row per (node, room, member); ``roster_versions`` a row per node, whose
version moves in the transaction that changes its rows. A node counts while its row in
``node_leases`` (the nick claims' leases, claims/postgres.py) has not expired, by the database's
clock: a node that died drops out of every room once its lease has run out.
"""

from __future__ import annotations

from typing import Final

import asyncpg

from palaver.roster.base import Changes, Member, RoomMembers

POOL_SIZE: Final = 2
COMMAND_TIMEOUT: Final = 30.0

_BUMP: Final = """
INSERT INTO roster_versions (node, version) VALUES ($1, 1)
ON CONFLICT (node) DO UPDATE SET version = roster_versions.version + 1
"""


class PostgresRoster:
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the roster is not open")
        return self._pool

    async def open(self) -> None:
        if self._pool is None:
            self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=POOL_SIZE,
                                                   command_timeout=COMMAND_TIMEOUT)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def reset(self, node: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM roster WHERE node = $1", node)
            await conn.execute(_BUMP, node)

    async def apply(self, node: str, changes: Changes) -> None:
        gone = [(room, key) for (room, key), member in changes.items() if member is None]
        here = [(room, key, m.nick, m.account) for (room, key), m in changes.items()
                if m is not None]
        async with self.pool.acquire() as conn, conn.transaction():
            if gone:
                await conn.execute(
                    "DELETE FROM roster WHERE node = $1 AND (room, user_key) IN "
                    "(SELECT * FROM unnest($2::text[], $3::text[]))",
                    node, [g[0] for g in gone], [g[1] for g in gone])
            if here:
                await conn.execute(
                    "INSERT INTO roster (node, room, user_key, nick, account) "
                    "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[]) "
                    "ON CONFLICT (node, room, user_key) DO UPDATE SET nick = excluded.nick, "
                    "account = excluded.account",
                    node, *(list(column) for column in zip(*here, strict=True)))
            await conn.execute(_BUMP, node)

    async def versions(self) -> dict[str, int]:
        rows = await self.pool.fetch(
            "SELECT v.node, v.version FROM roster_versions v JOIN node_leases l "
            "ON l.node = v.node WHERE l.expires_at > clock_timestamp()")
        return {row[0]: int(row[1]) for row in rows}

    async def members(self, node: str) -> RoomMembers:
        found: RoomMembers = {}
        for row in await self.pool.fetch(
                "SELECT room, user_key, nick, account FROM roster WHERE node = $1", node):
            found.setdefault(row[0], {})[row[1]] = Member(row[2], row[3])
        return found

    async def retire(self, node: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM roster WHERE node = $1", node)
            await conn.execute("DELETE FROM roster_versions WHERE node = $1", node)
