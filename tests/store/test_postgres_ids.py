"""PostgreSQL assigns ids (step 7): several nodes (here: PostgresStores with their own pools)
append to the same conversations; the store takes each msg_id and update seq from the
conversation's counter in the commit transaction, so ids stay dense and increasing per
conversation across nodes, a rolled-back batch leaves no hole, and a resend racing its original
on another node is stored once. The waits here are on the database's state (pg_locks), never on
time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import cast

import asyncpg
import msgspec
import pytest

from palaver.store import Appended, StoredMessage
from palaver.store.base import StoredUpdate, UpdateKind
from palaver.store.postgres import PostgresStore
from tests.store.test_conformance import msg

TS = "2026-11-21T00:05:00.000Z"


@pytest.fixture
async def nodes(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Two nodes on one database: two stores, two pools."""
    first, second = PostgresStore(pg_url, max_size=4), PostgresStore(pg_url, max_size=4)
    await first.open()
    await second.open()
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def stored_ids(batch: Sequence[StoredMessage], appended: Sequence[Appended]) -> list[int]:
    """The id each message of ``batch`` ended up under (a resend: its original's)."""
    out = []
    for message, outcome in zip(batch, appended, strict=True):
        if isinstance(outcome, StoredMessage):
            out.append(outcome.msg_id)
        else:
            out.append(message.msg_id if outcome is None else outcome)
    return out


async def everything(store: PostgresStore, conversation: str) -> list[StoredMessage]:
    page = await store.page(conversation, after=0, limit=100_000)
    assert not page.more
    return list(page.messages)


async def test_two_nodes_appending_to_the_same_rooms_get_dense_ids(
    nodes: tuple[PostgresStore, PostgresStore], caplog: pytest.LogCaptureFixture,
) -> None:
    # 200 batches, each node's in turn, all at once; each batch has messages of both rooms in
    # an order that alternates (so that a node that locked its rooms in batch order would
    # deadlock); each node guesses from what it has stored itself (stale: the other node
    # appends too), as its hub would.
    guess = [{"#a": 0, "#b": 0}, {"#a": 0, "#b": 0}]
    batches: list[tuple[int, list[StoredMessage]]] = []
    for n in range(200):
        node = n % 2
        rooms = ["#a", "#b", "#a"] if n % 4 < 2 else ["#b", "#a", "#b", "#b"]
        batch = []
        for k, room in enumerate(rooms):
            guess[node][room] += 1
            batch.append(msg(room, guess[node][room], sender=f"n{node}",
                             text=f"batch {n} message {k}"))
        batches.append((node, batch))
    with caplog.at_level("DEBUG", logger="palaver.store"):
        outcomes = await asyncio.gather(*(nodes[node].append(batch)
                                          for node, batch in batches))
    # No deadlock was broken (and retried): the rooms are locked in one order by every node
    assert not any("lost a race" in r.getMessage() for r in caplog.records)

    by_text = {}
    for (_, batch), appended in zip(batches, outcomes, strict=True):
        assert len(appended) == len(batch)
        assert not any(isinstance(outcome, StoredMessage) for outcome in appended)
        ids = stored_ids(batch, appended)
        for room in ("#a", "#b"):  # increasing in batch order, per room
            mine = [i for i, m in zip(ids, batch, strict=True) if m.conversation == room]
            assert mine == sorted(mine)
        for message, msg_id in zip(batch, ids, strict=True):
            by_text[message.text] = (message.conversation, msg_id)
    assert any(isinstance(o, int) for appended in outcomes for o in appended)  # guesses lost
    expected_counts = {room: sum(m.conversation == room for _, batch in batches for m in batch)
                       for room in ("#a", "#b")}
    assert expected_counts == {"#a": 300, "#b": 400}
    for room in ("#a", "#b"):
        stored = await everything(nodes[0], room)
        assert [m.msg_id for m in stored] == list(range(1, expected_counts[room] + 1))
        for message in stored:  # what each append said is what is stored
            assert by_text[message.text] == (room, message.msg_id)
    assert len(by_text) == sum(expected_counts.values())
    assert await nodes[1].last_ids() == expected_counts


async def test_the_guess_is_ignored(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    one, other = nodes
    assert await one.append([msg("#a", n) for n in (1, 2, 3)]) == [None, None, None]
    # The other node has not seen them: its guesses are stale, it is told the ids stored
    assert await other.append([msg("#a", 1), msg("#b", 1), msg("#a", 2)]) == [4, None, 5]
    assert await other.append([msg("#a", 6)]) == [None]  # a right guess: stored as given
    assert await one.append([msg("#a", 100)]) == [7]  # one too far ahead makes no hole
    assert [m.msg_id for m in await everything(one, "#a")] == list(range(1, 8))
    assert await one.last_ids() == {"#a": 7, "#b": 1}


async def test_a_batch_that_fails_leaves_no_hole(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = nodes
    await one.append([msg("#a", 1), msg("#b", 1)])
    # The last message cannot be stored (PostgreSQL's text takes no NUL): the error comes
    # from the INSERT, after the batch took its ids from both counters
    broken = [msg("#a", 2), msg("#b", 2), msg("#a", 3, text="nul \x00 byte")]
    with pytest.raises(asyncpg.PostgresError):
        await other.append(broken)
    assert await one.last_ids() == {"#a": 1, "#b": 1}
    assert await one.append([msg("#a", 2), msg("#b", 2)]) == [None, None]
    assert await other.append([msg("#a", 9)]) == [3]
    assert [m.msg_id for m in await everything(one, "#a")] == [1, 2, 3]
    assert [m.msg_id for m in await everything(one, "#b")] == [1, 2]


async def test_an_update_that_fails_leaves_no_hole(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = nodes
    await one.append([msg("#a", 1)])
    # A kind the table's CHECK refuses: the statement takes the seq, then its INSERT fails
    bad = StoredUpdate(conversation="#a", seq=2, msg_id=1, kind=cast(UpdateKind, "bogus"),
                       ts=TS, by="alice", by_key="alice", value="fixed")
    with pytest.raises(asyncpg.CheckViolationError):
        await other.edit_message("#a", 1, sender_key="alice", text="fixed", edited_at=TS,
                                 update=bad)
    assert [m.text for m in await everything(one, "#a")] == ["text 1"]  # rolled back whole
    assert await one.last_ids() == {"#a": 1}
    assert await one.append([msg("#a", 2)]) == [None]


async def test_a_resend_raced_on_two_nodes_is_stored_once(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = nodes
    for n in range(50):
        guess = n + 1
        first, second = await asyncio.gather(
            one.append([msg("#a", guess, client_id=f"c{n}", text=f"resent {n}")]),
            other.append([msg("#a", guess, client_id=f"c{n}", text=f"resent {n}")]))
        [new] = [o for o in (*first, *second) if not isinstance(o, StoredMessage)]
        [original] = [o for o in (*first, *second) if isinstance(o, StoredMessage)]
        assert new is None  # stored as given: the guess was right, the counter dense
        assert (original.msg_id, original.client_id, original.text) == (
            guess, f"c{n}", f"resent {n}")
    stored = await everything(one, "#a")
    assert [m.msg_id for m in stored] == list(range(1, 51))
    assert [m.client_id for m in stored] == [f"c{n}" for n in range(50)]
    assert await other.last_ids() == {"#a": 50}


async def wait_for_lock_waiters(store: PostgresStore, count: int) -> None:
    """Until ``count`` other backends wait for a lock (bounded: 6,000 looks)."""
    for _ in range(6_000):
        waiting = await store.pool.fetchval(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")
        if waiting >= count:
            return
    raise AssertionError(f"{count} backends never waited for a lock")


async def test_a_resend_that_loses_the_race_is_retried_and_answered_with_the_original(
    nodes: tuple[PostgresStore, PostgresStore], caplog: pytest.LogCaptureFixture,
) -> None:
    # Both nodes look the client id up (not there yet) and then wait for the counter, held by
    # a third connection; let go, one stores it, the other's INSERT meets the unique client
    # id, rolls back (its id given back) and tries again, finding the original.
    one, other = nodes
    await one.append([msg("#a", 1)])
    referee = await asyncpg.connect(one.url)
    try:
        holding = referee.transaction()
        await holding.start()
        await referee.execute(
            "SELECT last_id FROM conversation_ids WHERE conversation = '#a' FOR UPDATE")
        with caplog.at_level("DEBUG", logger="palaver.store"):
            racing = asyncio.gather(
                one.append([msg("#a", 2, client_id="x", text="once")]),
                other.append([msg("#a", 2, client_id="x", text="once")]))
            await wait_for_lock_waiters(one, 2)
            await holding.rollback()
            first, second = await racing
    finally:
        await referee.close()
    outcomes = [*first, *second]
    assert None in outcomes
    [original] = [o for o in outcomes if isinstance(o, StoredMessage)]
    assert (original.msg_id, original.text) == (2, "once")
    assert any("lost a race" in r.getMessage() for r in caplog.records)
    assert [m.msg_id for m in await everything(one, "#a")] == [1, 2]
    assert await one.append([msg("#a", 3)]) == [None]  # no hole


async def test_a_resend_within_a_batch_answers_with_the_id_it_was_stored_under(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    one, other = nodes
    await one.append([msg("#a", 1), msg("#a", 2)])
    a, b = msg("#a", 1, client_id="x"), msg("#a", 2, client_id="x")
    first, again = await other.append([a, b])
    assert first == 3 and again == msgspec.structs.replace(a, msg_id=3)


def upd(conversation: str, msg_id: int, kind: UpdateKind, value: str | None,
        by: str) -> StoredUpdate:
    """An update whose seq is a stale guess (0): the store gives it its own."""
    return StoredUpdate(conversation=conversation, seq=0, msg_id=msg_id, kind=kind, ts=TS,
                        by=by, by_key=by, value=value)


async def test_updates_and_messages_on_two_nodes_share_one_dense_counter(
    nodes: tuple[PostgresStore, PostgresStore],
) -> None:
    # Messages 1-10 are edited (by alice, their sender) and reacted to; 11-20 deleted, once
    # each (a deletion forgets the message's earlier updates: those take none); all of it
    # interleaved with appends, on both nodes at once, every update's seq a stale guess.
    one, other = nodes
    await one.append([msg("#a", n) for n in range(1, 21)])
    deletable = iter(range(11, 21))
    work = []
    for n, node in zip(range(120), itertools.cycle((one, other, other, one)), strict=False):
        target = n % 10 + 1
        if n % 4 == 0:
            work.append(node.append([msg("#a", 1, text=f"appended {n}"),
                                     msg("#b", 1, text=f"elsewhere {n}")]))
        elif n % 4 == 1:
            work.append(node.edit_message(
                "#a", target, sender_key="alice", text=f"edit {n}", edited_at=TS,
                update=upd("#a", target, "edit", f"edit {n}", "alice")))
        elif n % 4 == 2:
            work.append(node.react("#a", target, identity=f"u{n}", nick=f"u{n}",
                                   reaction="+1", ts=TS,
                                   update=upd("#a", target, "react", "+1", f"u{n}")))
        elif (gone := next(deletable, None)) is not None:
            work.append(node.delete_message("#a", gone,
                                            update=upd("#a", gone, "delete", None, "alice")))
        else:
            work.append(node.react("#a", target, identity=f"u{n}", nick=f"u{n}",
                                   reaction="ok", ts=TS,
                                   update=upd("#a", target, "react", "ok", f"u{n}")))
    results = await asyncio.gather(*work)

    taken = list(range(1, 21))  # every id of #a each operation says it took
    for result in results:
        if isinstance(result, list):  # an append: [#a's, #b's]
            taken.append(result[0] if isinstance(result[0], int) else 1)
        else:
            assert result.outcome in ("edited", "added", "deleted"), result
            assert result.update is not None
            taken.append(result.update.seq)
    assert sorted(taken) == list(range(1, len(taken) + 1))  # dense, none twice
    seqs = [int(row[0]) for row in await one.pool.fetch(
        "SELECT seq FROM message_updates WHERE conversation = '#a'")]
    msg_ids = [m.msg_id for m in await everything(one, "#a")]
    assert sorted(seqs + msg_ids) == sorted(taken)  # and stored under them
    assert await other.last_ids() == {"#a": len(taken), "#b": 30}
    assert [m.msg_id for m in await everything(other, "#b")] == list(range(1, 31))


async def test_a_no_op_change_takes_no_id(nodes: tuple[PostgresStore, PostgresStore]) -> None:
    one, other = nodes
    await one.append([msg("#a", 1), msg("#a", 2, sender="bob")])
    stale = upd("#a", 1, "edit", "text 1", "alice")
    assert (await other.edit_message("#a", 1, sender_key="alice", text="text 1", edited_at=TS,
                                     update=stale)).update is None
    assert (await other.edit_message("#a", 2, sender_key="alice", text="x", edited_at=TS,
                                     update=stale)).outcome == "not_sender"
    assert (await other.react("#a", 1, identity="bob", nick="bob", reaction="+1", ts=TS,
                              remove=True, update=upd("#a", 1, "unreact", "+1", "bob"))
            ).outcome == "unchanged"
    assert (await other.delete_message("#a", 7, update=upd("#a", 7, "delete", None, "bob"))
            ).outcome == "no_such_message"
    assert await one.last_ids() == {"#a": 2}
    edited = await one.edit_message("#a", 1, sender_key="alice", text="now", edited_at=TS,
                                    update=stale)
    assert edited.update == msgspec.structs.replace(stale, seq=3)


async def test_the_migration_makes_the_counters_from_what_is_stored(pg_empty_url: str) -> None:
    # A database from before migration 019: messages and updates, no counters
    store = PostgresStore(pg_empty_url)
    await store.open()
    await store.append([msg("#a", 1), msg("#a", 2), msg("#b", 1), msg("@alice,bob", 1)])
    await store.react("#a", 1, identity="bob", nick="bob", reaction="+1", ts=TS,
                      update=upd("#a", 1, "react", "+1", "bob"))
    async with store.pool.acquire() as conn:  # (as it was: the update's seq is 3)
        await conn.execute("DROP TABLE conversation_ids; "
                           "DELETE FROM schema_migrations WHERE version = 19")
    await store.close()
    again = PostgresStore(pg_empty_url)
    await again.open()
    try:
        assert await again.last_ids() == {"#a": 3, "#b": 1, "@alice,bob": 1}
        assert await again.append([msg("#a", 4), msg("#b", 1)]) == [None, 2]
    finally:
        await again.close()
