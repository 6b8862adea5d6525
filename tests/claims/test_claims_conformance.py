"""One conformance suite for every Claims backend: MemoryClaims and PostgresClaims (a real
PostgreSQL, tests/pg_server.py; skipped, saying why, when it is not installed)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from palaver.claims import Claim, Claims, MemoryClaims, NoLease
from palaver.hub.lookalikes import skeleton

TTL = 60.0


@pytest.fixture(params=["memory", "postgresql"])
async def claims(request: pytest.FixtureRequest) -> AsyncIterator[Claims]:
    backend: Claims
    if request.param == "memory":
        backend = MemoryClaims()
    else:
        from palaver.claims.postgres import PostgresClaims

        backend = PostgresClaims(request.getfixturevalue("pg_url"))
    await backend.open()
    yield backend
    await backend.close()


async def claim(claims: Claims, nick: str, node: str) -> bool:
    return await claims.claim(nick, skeleton(nick), node)


async def holder(claims: Claims, nick: str) -> Claim | None:
    return await claims.holder(skeleton(nick))


async def test_a_lease_is_new_then_live_then_lapsed(claims: Claims) -> None:
    assert await claims.renew("a", TTL) is False  # new
    assert await claims.renew("a", TTL) is True
    assert await claims.renew("a", 0) is True  # it lapses at once
    assert await claims.renew("a", TTL) is False  # it had lapsed
    with pytest.raises(ValueError):
        await claims.renew("a", -1)


async def test_claiming_needs_a_live_lease(claims: Claims) -> None:
    with pytest.raises(NoLease):
        await claim(claims, "alice", "a")
    await claims.renew("a", 0)
    with pytest.raises(NoLease):
        await claim(claims, "alice", "a")
    await claims.renew("a", TTL)
    assert await claim(claims, "alice", "a")


async def test_a_user_that_moves_takes_its_nick_along(claims: Claims) -> None:
    """A claim made for an identity is taken over by another node claiming it for the same
    identity (the user reconnected there: its old node may be dead, its lease still live), and
    only by that identity."""
    await claims.renew("a", TTL)
    await claims.renew("b", TTL)
    assert await claims.claim("gus", skeleton("gus"), "a", "~g1")
    assert not await claims.claim("gus", skeleton("gus"), "b")  # no identity said: the node's
    assert not await claims.claim("gus", skeleton("gus"), "b", "~other")
    assert await claims.claim("gus", skeleton("gus"), "b", "~g1")  # the same user, moved
    assert await holder(claims, "gus") == Claim(nick="gus", skeleton=skeleton("gus"), node="b",
                                                identity="~g1")
    assert not await claims.release("gus", "a")  # the old node lets go of nothing now
    assert not await claims.claim("gus", skeleton("gus"), "a", "~other")


async def test_one_node_holds_a_nick_and_its_lookalikes(claims: Claims) -> None:
    await claims.renew("a", TTL)
    await claims.renew("b", TTL)
    assert await claim(claims, "alice", "a")
    assert await holder(claims, "alice") == Claim(nick="alice", skeleton=skeleton("alice"),
                                                  node="a")
    assert not await claim(claims, "alice", "b")
    assert skeleton("aiice") == skeleton("alice")
    assert not await claim(claims, "aiice", "b")  # looks alike: the same claim
    assert not await claim(claims, "a1ice", "b")
    assert (await holder(claims, "a1ice")) == Claim(nick="alice", skeleton=skeleton("alice"),
                                                    node="a")
    assert await claim(claims, "bob", "b")  # others are free
    assert await holder(claims, "carol") is None


async def test_a_node_claiming_what_it_holds_wins_with_the_new_nick(claims: Claims) -> None:
    await claims.renew("a", TTL)
    assert await claim(claims, "alice", "a")
    assert await claim(claims, "alice", "a")  # again: still won
    assert await claim(claims, "aiice", "a")  # its user renames to a lookalike
    assert (await holder(claims, "alice")) == Claim(nick="aiice", skeleton=skeleton("alice"),
                                                    node="a")
    assert not await claims.release("alice", "a")  # the claim is aiice's now
    assert await claims.release("aiice", "a")
    assert await holder(claims, "alice") is None


async def test_release(claims: Claims) -> None:
    await claims.renew("a", TTL)
    await claims.renew("b", TTL)
    assert await claim(claims, "alice", "a")
    assert not await claims.release("alice", "b")  # not b's
    assert not await claims.release("bob", "a")
    assert await claims.release("alice", "a")
    assert not await claims.release("alice", "a")
    assert await claim(claims, "alice", "b")  # free again


async def test_a_dead_nodes_claims_are_free(claims: Claims) -> None:
    await claims.renew("dead", TTL)
    await claims.renew("a", TTL)
    for nick in ("alice", "bob", "carol"):
        assert await claim(claims, nick, "dead")
    assert not await claim(claims, "alice", "a")
    await claims.renew("dead", 0)  # its lease expires (as when it stops renewing)
    assert await holder(claims, "alice") is None
    assert await claim(claims, "alice", "a")  # taken over
    assert (await holder(claims, "alice")) == Claim(nick="alice", skeleton=skeleton("alice"),
                                                    node="a")
    assert await claims.renew("dead", TTL) is False  # it comes back: its lease had lapsed
    assert not await claim(claims, "alice", "dead")  # lost meanwhile
    assert await claim(claims, "bob", "dead")  # not taken: it still has it


async def test_expire_clears_dead_nodes_claims(claims: Claims) -> None:
    await claims.renew("dead", TTL)
    await claims.renew("a", TTL)
    for nick in ("alice", "bob", "carol"):
        assert await claim(claims, nick, "dead")
    assert await claim(claims, "dave", "a")
    assert await claims.expire() == 0
    await claims.renew("dead", 0)
    assert await claims.expire() == 3
    assert await claims.expire() == 0
    assert await holder(claims, "dave") is not None
    with pytest.raises(NoLease):  # its lease is gone too
        await claim(claims, "erin", "dead")
    assert await claims.renew("dead", TTL) is False


async def test_retire(claims: Claims) -> None:
    await claims.renew("a", TTL)
    await claims.renew("b", TTL)
    assert await claim(claims, "alice", "a")
    assert await claim(claims, "bob", "a")
    assert await claim(claims, "carol", "b")
    assert await claims.retire("a") == 2
    assert await claims.retire("a") == 0
    assert await holder(claims, "alice") is None
    assert await holder(claims, "carol") is not None
    with pytest.raises(NoLease):
        await claim(claims, "alice", "a")
    assert await claim(claims, "alice", "b")


async def test_any_text_is_a_nick(claims: Claims) -> None:
    await claims.renew("node-ü 1", TTL)
    for nick in ("ǅemal", "日本", "a'b\"c;--", "x" * 200):
        assert await claim(claims, nick, "node-ü 1")
        held = await holder(claims, nick)
        assert held is not None and held.nick == nick and held.node == "node-ü 1"


async def test_memory_leases_expire_by_the_clock() -> None:
    now = [100.0]
    claims = MemoryClaims(clock=lambda: now[0])
    await claims.renew("a", 10)
    await claims.renew("b", 1_000)
    assert await claim(claims, "alice", "a")
    now[0] = 109.9
    assert not await claim(claims, "alice", "b")
    now[0] = 110.0  # expired: expires_at <= now
    assert await holder(claims, "alice") is None
    assert await claim(claims, "alice", "b")
