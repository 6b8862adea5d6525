"""The store conformance suite, continued: full-text search (Store.search).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`; the last
tests are SQLite's own (its index filled by migration 013 and kept in step by triggers).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from palaver.store import Store
from palaver.store.base import SearchPage
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py


def texts(page: SearchPage) -> list[int]:
    """The n of each hit's text "match n" (which message it is, whatever id it was given)."""
    return [int(hit.message.text.removeprefix("match ")) for hit in page.hits]


def ids(page: SearchPage) -> list[tuple[str, int]]:
    return [(hit.message.conversation, hit.message.msg_id) for hit in page.hits]


async def test_a_substring_is_found_ignoring_case(store: Store) -> None:
    await store.append([msg("#a", 1, text="Deploying the RELEASE now"),
                        msg("#a", 2, text="nothing here"),
                        msg("#a", 3, text="unreleased things")])
    page = await store.search(["#a"], ["release"])
    assert ids(page) == [("#a", 3), ("#a", 1)] and not page.more
    assert page.hits[1].message.text == "Deploying the RELEASE now"
    assert ids(await store.search(["#a"], ["LEAS"])) == [("#a", 3), ("#a", 1)]


async def test_non_english_text_is_found(store: Store) -> None:
    await store.append([msg("#a", 1, text="日本語のテキストです"),
                        msg("#a", 2, text="Die GRÖßE zählt"),
                        msg("#a", 3, text="привет мир")])
    assert ids(await store.search(["#a"], ["本語の"])) == [("#a", 1)]
    assert ids(await store.search(["#a"], ["größe", "ZÄHLT"])) == [("#a", 2)]
    assert ids(await store.search(["#a"], ["ПРИВ"])) == [("#a", 3)]


async def test_every_word_must_be_there(store: Store) -> None:
    await store.append([msg("#a", 1, text="the cat sat"), msg("#a", 2, text="the dog sat"),
                        msg("#a", 3, text="sat cat")])
    assert ids(await store.search(["#a"], ["cat", "sat"])) == [("#a", 3), ("#a", 1)]
    assert ids(await store.search(["#a"], ["dog", "cat"])) == []


async def test_quotes_and_operators_are_plain_text(store: Store) -> None:
    await store.append([msg("#a", 1, text='she said "NOT OR" AND left*'),
                        msg("#a", 2, text="not or and")])
    assert ids(await store.search(["#a"], ['"NOT'])) == [("#a", 1)]
    assert ids(await store.search(["#a"], ["left*"])) == [("#a", 1)]
    assert ids(await store.search(["#a"], ["NOT", "AND"])) == [("#a", 2), ("#a", 1)]


async def test_only_the_conversations_asked_about(store: Store) -> None:
    await store.append([msg("#a", 1, text="secret plan"), msg("#b", 1, text="secret plan"),
                        msg("@alice,bob", 1, text="secret plan"), msg("#a", 2, text="plan")])
    assert ids(await store.search(["#a", "@alice,bob"], ["secret"])) == [
        ("@alice,bob", 1), ("#a", 1)]
    assert ids(await store.search(["#c"], ["secret"])) == []
    assert ids(await store.search([], ["secret"])) == []


async def test_pages_go_back_in_the_order_stored(store: Store) -> None:
    batch = [msg("#a" if n % 2 else "#b", n, text=f"match {n}") for n in range(1, 12)]
    await store.append(batch)
    first = await store.search(["#a", "#b"], ["match"], limit=4)
    assert texts(first) == [11, 10, 9, 8] and first.more
    positions = [hit.position for hit in first.hits]
    assert positions == sorted(positions, reverse=True)
    second = await store.search(["#a", "#b"], ["match"], before=positions[-1], limit=4)
    assert texts(second) == [7, 6, 5, 4] and second.more
    last = await store.search(["#a", "#b"], ["match"], before=second.hits[-1].position,
                              limit=4)
    assert texts(last) == [3, 2, 1] and not last.more


async def test_a_deleted_message_is_never_found(store: Store) -> None:
    await store.append([msg("#a", 1, text="oops my password"), msg("#a", 2, text="password?")])
    await store.delete_message("#a", 1)
    assert ids(await store.search(["#a"], ["password"])) == [("#a", 2)]
    assert ids(await store.search(["#a"], ["oops"])) == []


async def test_a_message_sent_later_is_found(store: Store) -> None:
    await store.append([msg("#a", 1, text="early bird")])
    assert ids(await store.search(["#a"], ["bird"])) == [("#a", 1)]
    await store.append([msg("#a", 2, text="late bird")])
    assert ids(await store.search(["#a"], ["bird"])) == [("#a", 2), ("#a", 1)]


async def test_words_shorter_than_three_characters_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.search(["#a"], ["ab"])


# ---------------------------------------------------------------------- SQLite's own index


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_the_migration_indexes_messages_stored_before_it(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    db = _raw(path)  # a database as version 12 left it (tables of migrations 1-12)
    from palaver.store.migrations import migrations
    from palaver.store.sqlite import _statements
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for version, name, sql in migrations():
        if version >= 13:
            continue
        for statement in _statements(sql):
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, name))
    db.executemany(
        "INSERT INTO messages (conversation, msg_id, ts, sender, sender_key, text, deleted) "
        "VALUES (?, ?, '2026-11-21T00:00:00.000Z', 'alice', 'alice', ?, ?)",
        [("#a", 1, "old needle", 0), ("#a", 2, "deleted needle", 1), ("#b", 1, "needle b", 0)])
    db.close()
    store = SqliteStore(path)
    await store.open()
    try:
        assert ids(await store.search(["#a", "#b"], ["needle"])) == [("#b", 1), ("#a", 1)]
    finally:
        await store.close()


async def test_the_index_follows_a_text_changed_in_place(tmp_path: Path) -> None:
    """An edit (whoever writes it) changes messages.text: the old words go, the new ones
    come, and the message keeps its place."""
    path = tmp_path / "palaver.db"
    store = SqliteStore(path)
    await store.open()
    try:
        await store.append([msg("#a", 1, text="teh typo"), msg("#a", 2, text="other text")])
        await store.db.execute("UPDATE messages SET text = 'the typo fixed' "
                               "WHERE conversation = '#a' AND msg_id = 1")
        assert ids(await store.search(["#a"], ["teh"])) == []
        assert ids(await store.search(["#a"], ["fixed"])) == [("#a", 1)]
        assert ids(await store.search(["#a"], ["text"])) == [("#a", 2)]
        await store.db.execute("UPDATE messages SET conversation = '@x,y' "
                               "WHERE conversation = '#a' AND msg_id = 2")
        assert ids(await store.search(["@x,y"], ["other"])) == [("@x,y", 2)]
        await store.db.execute("DELETE FROM messages WHERE conversation = '#a'")
        assert ids(await store.search(["#a"], ["typo"])) == []
        async with store.db.execute("PRAGMA integrity_check") as cursor:
            assert await cursor.fetchone() == ("ok",)
        await store.db.execute(
            "INSERT INTO message_search (message_search, rank) VALUES ('integrity-check', 0)")
    finally:
        await store.close()


async def test_an_edited_message_is_found_by_its_current_text_in_its_place(store: Store) -> None:
    await store.append([msg("#a", 1, text="teh old typo"), msg("#a", 2, text="typo later")])
    await store.edit_message("#a", 1, sender_key="alice", text="the typo fixed",
                             edited_at="2026-11-21T00:01:00.000Z")
    assert ids(await store.search(["#a"], ["teh"])) == []
    page = await store.search(["#a"], ["typo"])
    assert ids(page) == [("#a", 2), ("#a", 1)]  # it keeps its place: not made newest
    assert page.hits[1].message.text == "the typo fixed"


async def test_a_word_common_only_where_the_searcher_may_not_look(store: Store) -> None:
    """The adversarial case of the benchmark: the word is everywhere in conversations not asked
    about, and in few of those asked about; hits come only from these, pages go back across
    them in the order stored."""
    batch, last = [], {"#a": 0, "#c": 0}

    def mine(conversation: str, text: str) -> None:
        last[conversation] += 1
        batch.append(msg(conversation, last[conversation], text=text))

    for n in range(1, 41):
        batch += [msg("#other", n, text=f"common word {n}"),
                  msg("@x,y", n, text=f"common word {n}")]
        mine("#a", f"unrelated {n}")
        if n % 10 == 0:
            mine("#a" if n % 20 else "#c", f"a common one {n}")
    await store.append(batch)
    assert ids(await store.search(["#a", "#c"], ["word"])) == []
    first = await store.search(["#a", "#c"], ["common"], limit=3)
    assert ids(first) == [("#c", 2), ("#a", 32), ("#c", 1)] and first.more
    rest = await store.search(["#a", "#c"], ["common"], before=first.hits[-1].position, limit=3)
    assert ids(rest) == [("#a", 11)] and not rest.more
    assert first.hits[-1].position > rest.hits[0].position
    assert [hit.message.text for hit in rest.hits] == ["a common one 10"]
    assert ids(await store.search(["#c", "#nobody"], ["COMMON"])) == [("#c", 2), ("#c", 1)]
