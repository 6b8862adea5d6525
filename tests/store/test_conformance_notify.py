"""The store conformance suite, continued: notification levels (NOTIFY, migration 017).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

from palaver.store import Account, Store, dm_conversation
from palaver.store.base import AccountErasure
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import store

__all__ = ["store"]  # the fixture, shared with test_conformance.py


async def test_no_level_is_all(store: Store) -> None:
    assert await store.notify_levels("alice") == {}
    assert not await store.set_notify_level("alice", "#lobby", "all")  # nothing changes
    assert await store.notify_levels("alice") == {}


async def test_a_level_is_kept_per_identity_and_conversation(store: Store) -> None:
    assert await store.set_notify_level("alice", "#lobby", "mentions")
    assert await store.set_notify_level("alice", "@alice,bob", "none")
    assert await store.set_notify_level("~guest", "#lobby", "none")
    assert await store.notify_levels("alice") == {"#lobby": "mentions", "@alice,bob": "none"}
    assert await store.notify_levels("~guest") == {"#lobby": "none"}
    assert await store.notify_levels("bob") == {}


async def test_setting_says_whether_the_level_changed(store: Store) -> None:
    assert await store.set_notify_level("alice", "#lobby", "mentions")
    assert not await store.set_notify_level("alice", "#lobby", "mentions")
    assert await store.set_notify_level("alice", "#lobby", "none")
    assert await store.notify_levels("alice") == {"#lobby": "none"}
    assert await store.set_notify_level("alice", "#lobby", "all")  # back to the default
    assert not await store.set_notify_level("alice", "#lobby", "all")
    assert await store.notify_levels("alice") == {}


async def test_levels_move_with_a_renamed_account(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    await store.set_notify_level("alice", "#lobby", "none")
    assert await store.rename_account("alice", "alicia", "Alicia")
    assert await store.notify_levels("alice") == {}
    assert await store.notify_levels("alicia") == {"#lobby": "none"}


async def test_a_deleted_account_s_levels_go_and_others_follow_its_conversations(
        store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    old, new = dm_conversation("alice", "bob"), dm_conversation("~gone", "bob")
    await store.set_notify_level("alice", "#lobby", "mentions")
    await store.set_notify_level("alice", old, "none")
    await store.set_notify_level("bob", old, "mentions")
    await store.set_notify_level("bob", "#lobby", "none")
    assert await store.delete_account(AccountErasure(key="alice", tombstone="~gone",
                                                     renames=((old, new),)))
    assert await store.notify_levels("alice") == {}
    assert await store.notify_levels("bob") == {new: "mentions", "#lobby": "none"}


async def test_the_sqlite_store_keeps_levels_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.set_notify_level("alice", "#lobby", "mentions")
    await first.close()
    again = SqliteStore(path)
    await again.open()
    try:
        assert await again.notify_levels("alice") == {"#lobby": "mentions"}
    finally:
        await again.close()
