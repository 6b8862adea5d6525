"""One conformance suite for every Store backend: memory, SQLite and PostgreSQL (a real server,
tests/pg_server.py; skipped, saying why, when PostgreSQL is not installed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from palaver.store import Account, Store, StoredMessage, dm_conversation
from palaver.store.base import RoomBan, RoomSettings
from palaver.store.memory import MemoryStore
from palaver.store.migrations import migrations
from palaver.store.sqlite import SqliteStore


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    backend: Store
    if request.param == "memory":
        backend = MemoryStore()
    elif request.param == "sqlite":
        backend = SqliteStore(tmp_path / "palaver.db")
    else:
        from palaver.store.postgres import PostgresStore

        backend = PostgresStore(request.getfixturevalue("pg_url"))
    await backend.open()
    yield backend
    await backend.close()


def assigns_ids(store: Store) -> bool:
    """Whether ``store`` decides ids itself (PostgreSQL: several nodes append) rather than
    storing the hub's guess (memory, SQLite)."""
    return type(store).__name__ == "PostgresStore"


def msg(conversation: str, msg_id: int, *, sender: str = "alice", client_id: str | None = None,
        text: str | None = None) -> StoredMessage:
    room = conversation if conversation.startswith("#") else None
    return StoredMessage(
        conversation=conversation, msg_id=msg_id, ts=f"2026-11-21T00:00:{msg_id % 60:02d}.000Z",
        sender=sender, sender_key=sender.lower(), text=text or f"text {msg_id}", room=room,
        to=None if room else "bob", client_id=client_id,
    )


async def test_append_and_page_back(store: Store) -> None:
    assert await store.append([msg("#lobby", n) for n in range(1, 11)]) == [None] * 10
    newest = await store.page("#lobby", limit=4)
    assert [m.msg_id for m in newest.messages] == [7, 8, 9, 10] and newest.more
    older = await store.page("#lobby", before=7, limit=4)
    assert [m.msg_id for m in older.messages] == [3, 4, 5, 6] and older.more
    oldest = await store.page("#lobby", before=3, limit=4)
    assert [m.msg_id for m in oldest.messages] == [1, 2] and not oldest.more


async def test_page_forward(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 11)])
    page = await store.page("#lobby", after=2, limit=5)
    assert [m.msg_id for m in page.messages] == [3, 4, 5, 6, 7] and page.more
    last = await store.page("#lobby", after=7, limit=5)
    assert [m.msg_id for m in last.messages] == [8, 9, 10] and not last.more
    assert (await store.page("#lobby", after=10)).messages == ()


async def test_conversations_are_separate(store: Store) -> None:
    dm = dm_conversation("bob", "alice")
    assert dm == dm_conversation("alice", "bob") == "@alice,bob"
    await store.append([msg("#a", 1), msg("#b", 1), msg(dm, 1), msg("#a", 2)])
    assert await store.last_ids() == {"#a": 2, "#b": 1, dm: 1}
    assert [m.text for m in (await store.page("#b")).messages] == ["text 1"]
    assert (await store.page("#nowhere")).messages == ()


async def test_messages_round_trip(store: Store) -> None:
    original = msg("@alice,bob", 1, client_id="c1", text="multi\nline\ttext ✓")
    await store.append([original])
    [back] = (await store.page("@alice,bob")).messages
    assert back == original


async def test_a_notice_stays_a_notice(store: Store) -> None:
    notice = msgspec.structs.replace(msg("#lobby", 1, text="build passed"), notice=True)
    await store.append([notice, msg("#lobby", 2)])
    assert [m.notice for m in (await store.page("#lobby")).messages] == [True, False]


async def test_resend_is_stored_once(store: Store) -> None:
    first = msg("#lobby", 1, client_id="c1")
    assert await store.append([first]) == [None]
    resend = msg("#lobby", 2, client_id="c1", text="text 1")
    other_sender = msg("#lobby", 3, sender="bob", client_id="c1")
    # The resend takes no id: a store that assigns them gives the next one, 2, to bob's
    if assigns_ids(store):
        assert await store.append([resend, other_sender]) == [first, 2]
        assert [m.msg_id for m in (await store.page("#lobby")).messages] == [1, 2]
    else:
        assert await store.append([resend, other_sender]) == [first, None]
        assert [m.msg_id for m in (await store.page("#lobby")).messages] == [1, 3]


async def test_resend_within_one_batch(store: Store) -> None:
    a, b = msg("#lobby", 1, client_id="x"), msg("#lobby", 2, client_id="x")
    assert await store.append([a, b]) == [None, a]
    assert [m.msg_id for m in (await store.page("#lobby")).messages] == [1]


async def test_a_big_batch_with_resends_in_it(store: Store) -> None:
    """1,200 messages in one append (more than the SQLite store puts in one INSERT), two of
    them resends: of a message stored before, and of one earlier in the batch."""
    before = msg("#big", 1, client_id="old")
    assert await store.append([before]) == [None]
    batch = [msg("#big", n, client_id=f"c{n}") for n in range(2, 1_200)]
    batch.insert(500, msg("#big", 1_200, client_id="old"))
    batch.append(msg("#big", 1_201, client_id="c7"))
    outcome = await store.append(batch)
    if assigns_ids(store):
        return  # (the ids it gives are checked by test_resend_is_stored_once)
    assert outcome[500] == before and outcome[-1] == batch[5]  # c7: stored as id 7
    assert outcome.count(None) == len(batch) - 2
    stored = [m.msg_id for m in (await store.page("#big", limit=2_000)).messages]
    assert stored == list(range(1, 1_200))


async def test_accounts(store: Store) -> None:
    account = Account(key="alice", nick="Alice", password_hash="$argon2id$x")
    assert await store.create_account(account)
    assert not await store.create_account(Account(key="alice", nick="ALICE", password_hash="y"))
    assert await store.get_account("alice") == account
    assert await store.get_account("bob") is None
    await store.create_account(Account(key="bob", nick="bob", password_hash="z"))
    assert not await store.rename_account("alice", "bob", "bob")
    assert await store.rename_account("alice", "al", "Al")
    assert await store.get_account("alice") is None
    renamed = Account(key="al", nick="Al", password_hash="$argon2id$x")
    assert await store.get_account("al") == renamed


async def test_memberships(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    await store.set_membership("alice", "#Dev", True)
    await store.set_membership("alice", "#dev", True)  # same room, ignoring case
    await store.set_membership("alice", "#lobby", True)
    await store.set_membership("bob", "#lobby", True)
    assert await store.memberships() == {"alice": ["#Dev", "#lobby"], "bob": ["#lobby"]}
    await store.set_membership("alice", "#DEV", False)
    await store.rename_account("alice", "al", "al")
    assert await store.memberships() == {"al": ["#lobby"], "bob": ["#lobby"]}


async def test_sqlite_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.append([msg("#lobby", 1, client_id="c1"), msg("#lobby", 2)])
    await first.create_account(Account(key="alice", nick="alice", password_hash="h"))
    await first.close()
    again = SqliteStore(path)
    await again.open()  # migrations already applied: nothing happens twice
    assert await again.schema_version() == max(version for version, _, _ in migrations())
    assert await again.last_ids() == {"#lobby": 2}
    assert await again.append([msg("#lobby", 3, client_id="c1")]) == [msg("#lobby", 1,
                                                                           client_id="c1")]
    assert await again.get_account("alice") is not None
    assert await again.integrity_check() == "ok"
    await again.close()


async def test_account_list_and_resume_marks(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="Alice", password_hash="h"))
    await store.create_account(Account(key="bob", nick="bob", password_hash="h"))
    assert await store.accounts() == {"alice": "Alice", "bob": "bob"}
    assert await store.load_marks("alice") == {}
    await store.save_marks("alice", {"@alice,bob": 4, "@alice,carol": 9})
    await store.save_marks("alice", {"@alice,bob": 7})  # replaces
    assert await store.load_marks("alice") == {"@alice,bob": 7}
    assert await store.load_marks("bob") == {}


async def test_concurrent_operations_do_not_interleave(store: Store) -> None:
    import asyncio

    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    batches = [[msg("#lobby", n * 9 + k) for k in range(1, 10)] for n in range(20)]
    await asyncio.gather(
        *(store.append(batch) for batch in batches),
        *(store.set_membership("alice", f"#r{n}", True) for n in range(20)),
        *(store.save_marks("alice", {"@alice,bob": n}) for n in range(20)),
    )
    assert (await store.last_ids())["#lobby"] == 180
    assert [m.msg_id for m in (await store.page("#lobby", limit=200)).messages] == list(
        range(1, 181))
    assert len((await store.memberships())["alice"]) == 20


async def test_room_settings_round_trip_and_replace(store: Store) -> None:
    assert await store.room_settings() == []
    dev = RoomSettings(room="#Dev", topic="rust and tea", topic_by="alice",
                       topic_at="2026-11-21T00:00:00.000Z", invite_only=True, private=True,
                       operators=("alice", "~abc"), bans=(RoomBan(nick="mallory", key="~m"),
                                                          RoomBan(nick="eve")),
                       invited=("bob",))
    await store.save_room(dev)
    await store.save_room(RoomSettings(room="#ops", operators=("carol",)))
    assert sorted(await store.room_settings(), key=lambda r: r.room) == [
        dev, RoomSettings(room="#ops", operators=("carol",))]
    changed = RoomSettings(room="#dev", topic="", operators=("bob",))  # same room, any case
    await store.save_room(changed)
    assert sorted(await store.room_settings(), key=lambda r: r.room) == [
        changed, RoomSettings(room="#ops", operators=("carol",))]


async def test_a_new_room_is_made_once(store: Store) -> None:
    """``new``: stored only if the room has no rules yet — of two nodes opening one new room
    at once, one makes it (its first member its operator), the other takes those rules."""
    first = RoomSettings(room="#New", operators=("alice",))
    assert await store.save_room(first, new=True)
    assert not await store.save_room(RoomSettings(room="#new", operators=("bob",)), new=True)
    assert await store.room_settings() == [first]
    assert await store.save_room(RoomSettings(room="#new", topic="t", operators=("alice",)))


async def test_every_room_setting_round_trips(store: Store) -> None:
    full = RoomSettings(
        room="#Dev", topic="t", topic_by="alice", topic_at="2026-11-21T00:00:00.000Z",
        invite_only=True, private=True, operators=("alice",), invited=("bob",),
        bans=(RoomBan(nick="mallory", key="~m", by="alice", at="2026-11-21T00:01:00.000Z"),
              RoomBan(nick="eve")),
        created_at="2026-11-20T00:00:00.000Z", moderated=True, outside_messages=True,
        open_topic=True, limit=12, key="beer", voiced=("carol", "~v"),
        allowed=(RoomBan(nick="dan", by="alice", at="2026-11-21T00:02:00.000Z"),),
        muted=(RoomBan(nick="eve", by="alice", at="2026-11-21T00:03:00.000Z"),))
    await store.save_room(full)
    assert await store.room_settings() == [full]
    cleared = msgspec.structs.replace(full, moderated=False, outside_messages=False,
                                      open_topic=False, limit=0, key=None, voiced=(),
                                      allowed=(), muted=())
    await store.save_room(cleared)
    assert await store.room_settings() == [cleared]


async def test_room_settings_stored_before_the_room_modes_migration_read_as_defaults(
    tmp_path: Path,
) -> None:
    import sqlite3

    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.close()
    with sqlite3.connect(path) as db:  # a row as migration 003 wrote them: bans [nick, key]
        db.execute("INSERT INTO room_settings (room_key, room, operators, bans) "
                   "VALUES ('#old', '#Old', '[\"alice\"]', '[[\"m\",\"~m\"],[\"e\",null]]')")
    again = SqliteStore(path)
    await again.open()
    assert await again.room_settings() == [RoomSettings(
        room="#Old", operators=("alice",), bans=(RoomBan(nick="m", key="~m"), RoomBan(nick="e")))]
    await again.close()


async def test_room_settings_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    settings = RoomSettings(room="#x", topic="t", bans=(RoomBan(nick="m"),), invite_only=True)
    await first.save_room(settings)
    await first.close()
    again = SqliteStore(path)
    await again.open()
    assert await again.room_settings() == [settings]
    await again.close()


async def test_sqlite_refuses_a_database_from_a_newer_palaver(tmp_path: Path) -> None:
    import sqlite3

    from palaver.store.sqlite import StoreError

    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, '999_future.sql')")
    later = SqliteStore(path)
    with pytest.raises(StoreError, match="newer palaver"):
        await later.open()
    await later.close()
