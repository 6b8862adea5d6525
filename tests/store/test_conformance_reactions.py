"""The store conformance suite, continued: replies (reply_to) and reactions.

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from palaver.store import Account, Store
from palaver.store.base import MAX_REACTIONS_PER_MESSAGE, Reacting
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

TS = "2026-11-21T00:01:00.000Z"


async def test_a_reply_keeps_the_msg_id_it_answers(store: Store) -> None:
    reply = msgspec.structs.replace(msg("#lobby", 2), reply_to=1)
    await store.append([msg("#lobby", 1), reply])
    page = await store.page("#lobby")
    assert [m.reply_to for m in page.messages] == [None, 1]
    assert page.messages[1] == reply


async def test_messages_finds_the_ones_asked_for(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 5)] + [msg("@alice,bob", 1)])
    await store.delete_message("#lobby", 3)
    found = await store.messages("#lobby", [1, 3, 9])
    assert sorted(found) == [1, 3]
    assert found[1].text == "text 1" and found[3].deleted and found[3].text == ""
    assert await store.messages("#other", [1]) == {}
    assert (await store.messages("@alice,bob", [1]))[1].to == "bob"


async def test_adding_a_reaction_twice_is_adding_it_once(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2)])
    first = await store.react("#lobby", 1, identity="bob", nick="Bob", reaction="👍", ts=TS)
    assert first.outcome == "added" and first.message is not None
    assert first.message.msg_id == 1 and first.message.sender == "alice"
    again = await store.react("#lobby", 1, identity="bob", nick="Bob", reaction="👍", ts=TS)
    assert again.outcome == "unchanged"
    await store.react("#lobby", 1, identity="carol", nick="carol", reaction="👍", ts=TS)
    await store.react("#lobby", 1, identity="bob", nick="Bob", reaction="ok", ts=TS)
    assert await store.reactions("#lobby", [1, 2]) == {
        1: {"👍": ("Bob", "carol"), "ok": ("Bob",)}}


async def test_removing_a_reaction(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    await store.react("#lobby", 1, identity="bob", nick="bob", reaction="👍", ts=TS)
    await store.react("#lobby", 1, identity="carol", nick="carol", reaction="👍", ts=TS)
    gone = await store.react("#lobby", 1, identity="bob", nick="bob", reaction="👍", ts=TS,
                             remove=True)
    assert gone.outcome == "removed"
    again = await store.react("#lobby", 1, identity="bob", nick="bob", reaction="👍", ts=TS,
                              remove=True)
    assert again.outcome == "unchanged"
    assert await store.reactions("#lobby", [1]) == {1: {"👍": ("carol",)}}
    await store.react("#lobby", 1, identity="carol", nick="carol", reaction="👍", ts=TS,
                      remove=True)
    assert await store.reactions("#lobby", [1]) == {}


async def test_no_reaction_to_a_missing_or_deleted_message(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    missing = await store.react("#lobby", 2, identity="bob", nick="bob", reaction="x", ts=TS)
    assert missing == Reacting(outcome="no_such_message")
    elsewhere = await store.react("#dev", 1, identity="bob", nick="bob", reaction="x", ts=TS)
    assert elsewhere.outcome == "no_such_message"
    await store.delete_message("#lobby", 1)
    deleted = await store.react("#lobby", 1, identity="bob", nick="bob", reaction="x", ts=TS)
    assert deleted.outcome == "deleted" and deleted.message is not None
    assert await store.reactions("#lobby", [1]) == {}


async def test_a_message_takes_a_limited_number_of_distinct_reactions(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    for n in range(MAX_REACTIONS_PER_MESSAGE):
        done = await store.react("#lobby", 1, identity="bob", nick="bob", reaction=f"r{n}",
                                 ts=TS)
        assert done.outcome == "added"
    over = await store.react("#lobby", 1, identity="bob", nick="bob", reaction="one-more", ts=TS)
    assert over.outcome == "too_many"
    # another nick may still join a reaction that is there
    joined = await store.react("#lobby", 1, identity="carol", nick="carol", reaction="r0", ts=TS)
    assert joined.outcome == "added"
    assert len((await store.reactions("#lobby", [1]))[1]) == MAX_REACTIONS_PER_MESSAGE


async def test_reactions_follow_a_renamed_account(store: Store) -> None:
    await store.create_account(Account(key="bob", nick="bob", password_hash="h"))
    await store.append([msg("#lobby", 1)])
    await store.react("#lobby", 1, identity="bob", nick="bob", reaction="👍", ts=TS)
    assert await store.rename_account("bob", "robert", "Robert")
    taken_back = await store.react("#lobby", 1, identity="robert", nick="Robert",
                                   reaction="👍", ts=TS, remove=True)
    assert taken_back.outcome == "removed"


async def test_reactions_and_replies_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.append([msg("#lobby", 1), msgspec.structs.replace(msg("#lobby", 2), reply_to=1)])
    await first.react("#lobby", 1, identity="bob", nick="bob", reaction="🎉", ts=TS)
    await first.close()
    again = SqliteStore(path)
    await again.open()
    try:
        assert (await again.page("#lobby")).messages[1].reply_to == 1
        assert await again.reactions("#lobby", [1, 2]) == {1: {"🎉": ("bob",)}}
    finally:
        await again.close()
