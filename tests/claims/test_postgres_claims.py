"""PostgresClaims on a real PostgreSQL (tests/pg_server.py): races between nodes — two
PostgresClaims, each with its own connection pool, as two servers would have — and leases that
expire by the database's clock."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator

import pytest

from palaver.claims import ClaimsError
from palaver.claims.postgres import PostgresClaims
from palaver.hub.lookalikes import skeleton
from palaver.store.postgres import PostgresStore

NICKS = 1_000
TTL = 60.0


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[tuple[PostgresClaims, PostgresClaims]]:
    a = PostgresClaims(pg_url, max_size=8)
    b = PostgresClaims(pg_url, max_size=8)
    await a.open()
    await b.open()
    await a.renew("a", TTL)
    await b.renew("b", TTL)
    yield a, b
    await a.close()
    await b.close()


async def race(a: PostgresClaims, b: PostgresClaims, nicks: list[str]) -> dict[str, set[str]]:
    """Both nodes claim every nick at once (each nick's two claims side by side, in a shuffled
    order); the winners of each nick."""
    order = list(itertools.chain.from_iterable(
        ((a, "a", nick), (b, "b", nick)) for nick in nicks))
    random.Random(7).shuffle(order)
    results = await asyncio.gather(*(claims.claim(nick, skeleton(nick), node)
                                     for claims, node, nick in order))
    winners: dict[str, set[str]] = {nick: set() for nick in nicks}
    for (_, node, nick), won in zip(order, results, strict=True):
        if won:
            winners[nick].add(node)
    return winners


async def test_two_nodes_race_for_a_thousand_nicks(
    nodes: tuple[PostgresClaims, PostgresClaims],
) -> None:
    a, b = nodes
    nicks = [f"user{n}" for n in range(NICKS)]
    winners = await race(a, b, nicks)
    assert all(len(won) == 1 for won in winners.values()), {
        nick: won for nick, won in winners.items() if len(won) != 1}
    for nick, won in winners.items():
        held = await a.holder(skeleton(nick))
        assert held is not None and {held.node} == won and held.nick == nick
    both = {node for won in winners.values() for node in won}
    assert both == {"a", "b"}  # a race, not one node after the other
    assert await a.pool.fetchval("SELECT COUNT(*) FROM nick_claims") == NICKS


async def test_two_nodes_race_for_a_dead_nodes_nicks(
    nodes: tuple[PostgresClaims, PostgresClaims], pg_url: str,
) -> None:
    a, b = nodes
    dead = PostgresClaims(pg_url)
    await dead.open()
    try:
        await dead.renew("dead", TTL)
        nicks = [f"old{n}" for n in range(300)]
        for nick in nicks:
            assert await dead.claim(nick, skeleton(nick), "dead")
        lookalikes = [nick.replace("l", "I") for nick in nicks]  # the same skeletons
        assert not any((await race(a, b, lookalikes)).values())  # it is alive: nobody wins
        await dead.renew("dead", 0)  # its lease expires
        winners = await race(a, b, lookalikes)
        assert all(len(won) == 1 for won in winners.values())
        for nick, won in winners.items():
            held = await b.holder(skeleton(nick))
            assert held is not None and {held.node} == won and held.nick == nick
        assert await dead.renew("dead", TTL) is False
        assert await dead.expire() == 0  # taken over already: nothing left to clear
    finally:
        await dead.close()


async def test_a_lease_expires_by_the_databases_clock(pg_url: str) -> None:
    """No renewal within the ttl: the claims are free (polled, for at most 10 s)."""
    short, other = PostgresClaims(pg_url), PostgresClaims(pg_url)
    await short.open()
    await other.open()
    try:
        await short.renew("short", 0.3)
        await other.renew("other", TTL)
        assert await short.claim("alice", skeleton("alice"), "short")
        assert not await other.claim("alice", skeleton("alice"), "other")
        deadline = time.monotonic() + 10
        while await other.holder(skeleton("alice")) is not None:  # bounded by the deadline
            assert time.monotonic() < deadline, "the lease did not expire"
            await asyncio.sleep(0.05)
        assert await other.claim("alice", skeleton("alice"), "other")
        assert await other.expire() == 0
    finally:
        await short.close()
        await other.close()


async def test_renewing_and_taking_over_at_once_agree(pg_url: str) -> None:
    """A node renewing its lapsed lease while another takes its claims over: the renewal says
    the lease had lapsed whenever anything was taken."""
    holder, taker = PostgresClaims(pg_url, max_size=4), PostgresClaims(pg_url, max_size=4)
    await holder.open()
    await taker.open()
    try:
        await taker.renew("taker", TTL)
        for round_ in range(20):
            nick = f"n{round_}"
            await holder.renew("holder", TTL)
            assert await holder.claim(nick, skeleton(nick), "holder")
            await holder.renew("holder", 0)
            continuous, taken = await asyncio.gather(
                holder.renew("holder", TTL), taker.claim(nick, skeleton(nick), "taker"))
            assert continuous is False  # it had lapsed, taken or not
            held = await taker.holder(skeleton(nick))
            assert held is not None and held.node == ("taker" if taken else "holder")
    finally:
        await holder.close()
        await taker.close()


async def test_the_claims_can_share_a_stores_pool(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        claims = PostgresClaims(pool=store.pool)
        await claims.open()
        await claims.renew("a", TTL)
        assert await claims.claim("alice", skeleton("alice"), "a")
        await claims.close()  # not the store's pool
        assert await store.pool.fetchval("SELECT COUNT(*) FROM nick_claims") == 1
    finally:
        await store.close()


async def test_a_database_without_the_table_is_refused(pg_empty_url: str) -> None:
    claims = PostgresClaims(pg_empty_url)
    with pytest.raises(ClaimsError, match="migration 018"):
        await claims.open()


async def test_an_unreachable_database_is_a_claims_error() -> None:
    from tests.pg_server import _free_port

    claims = PostgresClaims(f"postgresql://nobody:secret@127.0.0.1:{_free_port()}/x")
    with pytest.raises(ClaimsError, match="cannot connect") as raised:
        await claims.open()
    assert "secret" not in str(raised.value)


def test_a_url_or_a_pool() -> None:
    with pytest.raises(ValueError):
        PostgresClaims()
