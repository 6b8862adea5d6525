"""The store conformance suite, continued: accounts that can be managed — passwords, reset
tokens, locks, last seen, the list, deletion (hub/account_management.py).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

from palaver.store import Account, Store, dm_conversation
from palaver.store.base import DELETED_NICK, AccountErasure
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import assigns_ids, msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

NOW = "2026-11-21T10:00:00.000Z"
LATER = "2026-11-21T11:00:00.000Z"


def account(key: str = "alice", **fields: object) -> Account:
    return Account(key=key, nick=key.capitalize(), password_hash=f"hash-of-{key}",
                   **fields)  # type: ignore[arg-type]


async def test_an_account_keeps_when_it_was_created_and_last_seen(store: Store) -> None:
    await store.create_account(account(created_at=NOW))
    await store.note_seen("alice", LATER)
    await store.note_seen("nobody", LATER)  # no such account: nothing happens
    stored = await store.get_account("alice")
    assert stored is not None
    assert (stored.created_at, stored.last_seen, stored.locked) == (NOW, LATER, False)
    assert await store.get_account("nobody") is None


async def test_set_password_replaces_the_hash(store: Store) -> None:
    await store.create_account(account())
    assert await store.set_password("alice", "new-hash")
    stored = await store.get_account("alice")
    assert stored is not None and stored.password_hash == "new-hash"
    assert not await store.set_password("nobody", "x")


async def test_a_reset_token_is_used_once(store: Store) -> None:
    await store.create_account(account())
    assert await store.set_reset_token("alice", "token-hash", LATER)
    assert not await store.reset_password("alice", "wrong-hash", NOW, "h1")
    assert await store.reset_password("alice", "token-hash", NOW, "h2")
    stored = await store.get_account("alice")
    assert stored is not None and stored.password_hash == "h2"
    assert not await store.reset_password("alice", "token-hash", NOW, "h3")  # used up
    stored = await store.get_account("alice")
    assert stored is not None and stored.password_hash == "h2"


async def test_an_expired_reset_token_is_refused(store: Store) -> None:
    await store.create_account(account())
    await store.set_reset_token("alice", "token-hash", NOW)
    assert not await store.reset_password("alice", "token-hash", NOW, "h1")  # expires at NOW
    await store.set_reset_token("alice", "token-hash", LATER)
    assert await store.reset_password("alice", "token-hash", NOW, "h1")


async def test_a_new_token_replaces_the_old_and_a_password_change_drops_it(store: Store) -> None:
    await store.create_account(account())
    await store.set_reset_token("alice", "first", LATER)
    await store.set_reset_token("alice", "second", LATER)
    assert not await store.reset_password("alice", "first", NOW, "h1")
    await store.set_password("alice", "changed")
    assert not await store.reset_password("alice", "second", NOW, "h1")
    assert not await store.set_reset_token("nobody", "x", LATER)


async def test_lock_and_unlock(store: Store) -> None:
    await store.create_account(account())
    await store.create_account(account("bob"))
    assert await store.set_locked("bob", True)
    assert await store.locked_accounts() == {"bob"}
    bob = await store.get_account("bob")
    assert bob is not None and bob.locked
    assert await store.set_locked("bob", False)
    assert await store.locked_accounts() == set()
    assert not await store.set_locked("nobody", True)


async def test_the_account_list_is_sorted_by_key(store: Store) -> None:
    for key in ("carol", "alice", "bob"):
        await store.create_account(account(key, created_at=NOW))
    await store.set_locked("bob", True)
    listed = await store.account_list()
    assert [(a.key, a.nick, a.locked, a.created_at) for a in listed] == [
        ("alice", "Alice", False, NOW), ("bob", "Bob", True, NOW), ("carol", "Carol", False, NOW)]


async def test_deleting_an_account_keeps_its_messages_as_from_the_deleted_user(
        store: Store) -> None:
    await store.create_account(account())
    await store.set_membership("alice", "#lobby", True)
    await store.save_metadata("alice", [("color", "red")])
    await store.set_reset_token("alice", "t", LATER)
    await store.append([msg("#lobby", 1), msg("#lobby", 2, sender="bob"),
                        msg("#lobby", 3, client_id="c1")])
    assert await store.delete_account(AccountErasure(key="alice", tombstone="~gone"))
    assert await store.get_account("alice") is None
    assert await store.accounts() == {}
    assert await store.memberships() == {}
    assert await store.metadata() == {}
    page = (await store.page("#lobby")).messages
    assert [(m.sender, m.sender_key, m.text, m.deleted) for m in page] == [
        (DELETED_NICK, "~gone", "text 1", False), ("bob", "bob", "text 2", False),
        (DELETED_NICK, "~gone", "text 3", False)]
    # The nick is free: a new alice is someone else, and may reuse the old request id.
    await store.create_account(account())
    assert not await store.reset_password("alice", "t", NOW, "x")  # the old token is gone
    assert await store.append([msg("#lobby", 4, client_id="c1")]) == [None]


async def test_deleting_an_account_may_erase_its_messages(store: Store) -> None:
    await store.create_account(account())
    await store.append([msg("#lobby", 1), msg("#lobby", 2, sender="bob")])
    await store.delete_account(AccountErasure(key="alice", tombstone="~gone", erase=True))
    page = (await store.page("#lobby")).messages
    assert [(m.sender, m.text, m.deleted) for m in page] == [
        (DELETED_NICK, "", True), ("bob", "text 2", False)]


async def test_deleting_an_account_moves_its_direct_conversations(store: Store) -> None:
    await store.create_account(account())
    old, new = dm_conversation("alice", "bob"), dm_conversation("~gone", "bob")
    await store.append([msg(old, 1), msg(old, 2, sender="bob")])
    await store.set_read_marker("bob", old, msg_id=2)
    await store.save_marks("bob", {old: 2})
    await store.delete_account(AccountErasure(key="alice", tombstone="~gone",
                                              renames=((old, new),)))
    assert (await store.page(old)).messages == ()
    moved = (await store.page(new)).messages
    assert [(m.conversation, m.sender, m.to) for m in moved] == [
        (new, DELETED_NICK, "bob"), (new, "bob", DELETED_NICK)]
    # A store that assigns ids keeps the old key's counter too: its ids are never given twice
    assert await store.last_ids() == ({new: 2, old: 2} if assigns_ids(store) else {new: 2})
    assert await store.append([msg(new, 3, sender="bob")]) == [None]  # ids go on there
    assert [m.conversation for m in await store.read_markers("bob")] == [new]
    assert await store.load_marks("bob") == {new: 2}


async def test_deleting_no_account_says_so(store: Store) -> None:
    assert not await store.delete_account(AccountErasure(key="nobody", tombstone="~gone"))


async def test_the_sqlite_store_keeps_it_all_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.create_account(account(created_at=NOW))
    await first.set_locked("alice", True)
    await first.set_reset_token("alice", "t", LATER)
    await first.close()
    second = SqliteStore(path)
    await second.open()
    try:
        assert await second.locked_accounts() == {"alice"}
        assert await second.reset_password("alice", "t", NOW, "h")
    finally:
        await second.close()
