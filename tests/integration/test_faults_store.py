"""PostgresStore through the fault proxy (tests/fault_proxy.py) to the real PostgreSQL of the
session (tests/pg_server.py): an append under each fault ends (bounded), the pool reconnects
after it, and a batch is stored whole or not at all, whatever byte its connection is cut at.

Messages are found again by their text (read back with ``page``), not by the ids asked for:
whether the store keeps the hub's ids or gives its own, a batch is there or it is not."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence

import pytest

from palaver.store.base import StoredMessage
from palaver.store.postgres import PostgresStore
from tests.fault_proxy import TO_CLIENT, TO_UPSTREAM, Direction, FaultProxy
from tests.pg_server import PgServer

WAIT = 20.0  # seconds an append may take under a fault before the test fails (not a hang)
ROOM = "#faults"
_numbers = itertools.count(1)


def batch(size: int = 5) -> list[StoredMessage]:
    """``size`` new messages in ROOM, with ids after every earlier batch's and texts of their
    own (``b<batch>m<n>``), every batch the same number of bytes."""
    number = next(_numbers)
    return [StoredMessage(conversation=ROOM, msg_id=number * 100 + n,
                          ts=f"2026-11-21T00:00:{n:02d}.000Z", sender="alice",
                          sender_key="alice", text=f"b{number:06d}m{n}", room=ROOM,
                          client_id=f"c{number:06d}-{n}")
            for n in range(1, size + 1)]


async def stored_of(store: PostgresStore, messages: Sequence[StoredMessage]) -> int:
    """How many rows of ``messages`` are stored (found by their text: twice counts twice)."""
    async with asyncio.timeout(WAIT):
        page = await store.page(ROOM, limit=10_000)
    texts = {m.text for m in messages}
    return sum(m.text in texts for m in page.messages)


async def append(store: PostgresStore, messages: Sequence[StoredMessage]) -> Exception | None:
    """Append ``messages``; the exception it raised, if it did (bounded: a hang fails)."""
    bound = asyncio.timeout(WAIT)
    try:
        async with bound:
            await store.append(messages)
    except Exception as exc:
        if bound.expired():
            raise AssertionError(f"an append hung for {WAIT} s") from None
        return exc
    return None


@pytest.fixture
async def proxy(pg_server: PgServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy(pg_server.host, pg_server.port) as proxy:
        yield proxy


@pytest.fixture
async def store(proxy: FaultProxy, pg_url: str) -> AsyncIterator[PostgresStore]:
    """A store with one pooled connection, through the proxy."""
    store = PostgresStore(proxy.url(pg_url), min_size=1, max_size=1)
    async with asyncio.timeout(WAIT):
        await store.open()
    yield store
    proxy.clear()
    await store.close()


async def test_an_append_right_after_a_reset_may_fail_once_then_the_pool_reconnects(
    store: PostgresStore, proxy: FaultProxy,
) -> None:
    """The append starts before the driver has read the RST (no loop turn between them): the
    pool hands out its dead connection, and the append fails, bounded. The next one works."""
    first = batch()
    assert await append(store, first) is None
    assert proxy.reset() == 1
    after = batch()
    failed = await append(store, after)
    print(f"\nthe append right after a reset: {failed!r}")
    again = batch()
    assert await append(store, again) is None
    assert await stored_of(store, first) == len(first)
    assert await stored_of(store, after) == (0 if failed else len(after))
    assert await stored_of(store, again) == len(again)
    assert proxy.stats.opened == 2


async def test_a_reset_the_driver_has_seen_costs_no_append(
    store: PostgresStore, proxy: FaultProxy,
) -> None:
    """Once asyncpg has read the RST (its termination listener is told), the pool connects
    again on the next acquire: the append works."""
    assert await append(store, batch()) is None
    lost = asyncio.Event()
    async with store.pool.acquire() as conn:
        conn.add_termination_listener(lambda _: lost.set())
    proxy.reset()
    async with asyncio.timeout(WAIT):
        await lost.wait()
    messages = batch()
    assert await append(store, messages) is None
    assert await stored_of(store, messages) == len(messages)


async def test_a_reset_while_the_append_waits_for_its_answer(
    store: PostgresStore, proxy: FaultProxy,
) -> None:
    """The reset comes while the append's statements are in flight (held by latency): it fails
    (not hangs), nothing half stored, and the next append, on a new connection, works."""
    assert await append(store, batch()) is None
    proxy.latency(0.5, TO_CLIENT)
    messages = batch()
    pending = asyncio.create_task(append(store, messages))
    read = proxy.stats.read_from_upstream
    await proxy.wait_until(lambda s: s.read_from_upstream > read)  # an answer is on its way
    proxy.reset()
    proxy.latency(0.0)
    failed = await pending
    print(f"the append reset in flight: {failed!r}")
    assert failed is not None
    assert await stored_of(store, messages) in (0, len(messages))
    assert await append(store, batch()) is None


async def test_an_unreachable_server_fails_an_append_at_once_and_it_recovers(
    store: PostgresStore, proxy: FaultProxy,
) -> None:
    """PostgreSQL refuses (restarting, say): the append fails at once, not by a timeout; when
    it listens again, the next append works."""
    assert await append(store, batch()) is None
    proxy.refuse(True)
    lost = asyncio.Event()
    async with store.pool.acquire() as conn:
        conn.add_termination_listener(lambda _: lost.set())
    proxy.reset()
    async with asyncio.timeout(WAIT):
        await lost.wait()
    messages = batch()
    failed = await append(store, messages)
    print(f"\nan append while PostgreSQL refuses: {failed!r}")
    assert failed is not None and proxy.stats.refused >= 1
    proxy.refuse(False)
    assert await stored_of(store, messages) == 0
    again = batch()
    assert await append(store, again) is None
    assert await stored_of(store, again) == len(again)


async def test_latency_is_slower_and_nothing_else(store: PostgresStore,
                                                  proxy: FaultProxy) -> None:
    proxy.latency(0.05)
    messages = batch()
    assert await append(store, messages) is None
    assert await stored_of(store, messages) == len(messages)


def messages_of(stream: bytes) -> list[tuple[int, int, bytes]]:
    """(start, end, type + body) of each PostgreSQL protocol message in ``stream`` (after the
    startup: a type byte, then a 4-byte length that counts itself and the body)."""
    found, at = [], 0
    while at + 5 <= len(stream):  # bounded: every turn moves on by at least 5 bytes
        length = int.from_bytes(stream[at + 1:at + 5], "big")
        end = at + 1 + length
        found.append((at, end, stream[at:at + 1] + stream[at + 5:end]))
        at = end
    assert at == len(stream), "not a whole number of messages"
    return found


async def one_append(store: PostgresStore, proxy: FaultProxy) -> dict[Direction, bytes]:
    """What one append of a batch() sends each way (a warm connection: statements prepared)."""
    assert proxy.recorded is not None
    before = len(proxy.recorded)
    assert await append(store, batch()) is None
    sent: dict[Direction, bytes] = {TO_UPSTREAM: b"", TO_CLIENT: b""}
    for direction, data in proxy.recorded[before:]:
        sent[direction] += data
    return sent


@pytest.mark.parametrize("direction", [TO_UPSTREAM, TO_CLIENT])
async def test_an_append_cut_mid_stream_is_stored_whole_or_not_at_all(
    pg_server: PgServer, pg_url: str, direction: Direction,
) -> None:
    """The append's connection is cut after k of the bytes it sends (or receives), for k at,
    around and inside each protocol message of the exchange: the batch is then all there or
    not there at all; an append that says it succeeded is there; and it is there exactly when
    the server had the whole COMMIT (a cut after that fails the append all the same: the
    batch is stored, the caller is told it failed, and a resend is answered with the stored
    messages, not stored twice)."""
    async with FaultProxy(pg_server.host, pg_server.port, record=True) as proxy:
        store = PostgresStore(proxy.url(pg_url), min_size=1, max_size=1)
        async with asyncio.timeout(WAIT):
            await store.open()
        try:
            await one_append(store, proxy)  # the statements are prepared on this connection
            first = messages_of((await one_append(store, proxy))[direction])
            # where to cut: at, around and inside each message (as message number, offset
            # from its start; the same places on each new connection, whose statement names,
            # and so offsets, may differ by a byte)
            places: dict[int, tuple[int, int]] = {}
            for number, (start, end, _) in enumerate(first):
                for k in (start - 1, start, start + 1, (start + end) // 2, end - 1):
                    if 0 <= k < first[-1][1]:
                        places.setdefault(k, (number, k - start))
            outcomes: dict[str, list[int]] = {"failed, not stored": [], "failed, stored": [],
                                              "stored": []}
            for number, offset in places.values():  # bounded: five per protocol message
                for _ in range(2):  # a new connection prepares its statements first
                    parts = messages_of((await one_append(store, proxy))[direction])
                    if [body[:1] for *_, body in parts] == [body[:1] for *_, body in first]:
                        break
                else:
                    raise AssertionError("an append on a warm connection changed its shape")
                k = parts[number][0] + offset
                if direction is TO_UPSTREAM:  # stored iff the whole COMMIT reached the server
                    commit = next(end for _, end, body in parts
                                  if body[:1] == b"Q" and b"COMMIT" in body)
                    stored_from = commit
                else:  # stored iff the server answered the COMMIT (a byte of it came through)
                    commit = next(start for start, _, body in parts
                                  if body.startswith(b"CCOMMIT"))
                    stored_from = commit + 1
                proxy.cut_after(k, direction, current=True)
                messages = batch()
                failed = await append(store, messages)
                proxy.cut_after(None, direction, current=True)
                found = await stored_of(store, messages)
                assert found in (0, len(messages)), f"cut at {k}: {found} of {len(messages)}"
                assert failed is not None or found, f"cut at {k}: acknowledged, not stored"
                assert bool(found) == (k >= stored_from), f"cut at {k}, COMMIT at {commit}"
                outcomes[("failed, " if failed else "") + ("stored" if found else
                                                            "not stored")].append(k)
                if found and failed:  # a resend: answered with what is stored, not twice
                    assert await append(store, messages) is None
                    assert await stored_of(store, messages) == len(messages)
            print(f"\ncut {direction} at byte k of {parts[-1][1]} (COMMIT at {commit}): "
                  + "; ".join(f"{name}: {ks}" for name, ks in outcomes.items()))
            assert not outcomes["stored"]  # every cut in the exchange failed the append
        finally:
            await store.close()


async def test_a_blackholed_append_ends_by_the_command_timeout(
    pg_url: str, proxy: FaultProxy,
) -> None:
    """A link that goes silent is bounded by the store's ``timeout`` (the ``store_timeout``
    setting, 10 s; 1 s here) for a statement and a connect: the append ends with TimeoutError
    after about two timeouts (the statement's, then the cancel request's: asyncpg sends it on a
    new connection over the same dead route, and waits as long), while the node's commit
    pipeline (one batch at a time) waits. An append while the pool reconnects through the
    blackhole fails too, after two connects of one timeout each (asyncpg dials twice here)."""
    store = PostgresStore(proxy.url(pg_url), min_size=1, max_size=1, timeout=1.0)
    async with asyncio.timeout(WAIT):
        await store.open()
    try:
        assert await append(store, batch()) is None
        proxy.blackhole()
        loop = asyncio.get_running_loop()
        started = loop.time()
        messages = batch()
        failed = await append(store, messages)
        took = loop.time() - started
        print(f"\na blackholed append: {failed!r} after {took:.2f} s (command timeout 1 s)")
        assert isinstance(failed, TimeoutError)
        assert took >= 0.9  # lower bounds only: no timing assertion can fail on a slow box
        started = loop.time()
        reconnecting = batch()
        failed = await append(store, reconnecting)  # the connection was terminated: connects
        print(f"an append connecting through the blackhole: {failed!r} after "
              f"{loop.time() - started:.2f} s (connect timeout 1 s)")
        assert failed is not None
        proxy.heal()
        assert await stored_of(store, messages) == 0
        assert await stored_of(store, reconnecting) == 0
        again = batch()
        assert await append(store, again) is None
        assert await stored_of(store, again) == len(again)
    finally:
        proxy.clear()
        await store.close()
