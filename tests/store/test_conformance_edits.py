"""The store conformance suite, continued: edited messages and their earlier texts (EDIT).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from palaver.store import Account, Store
from palaver.store.base import AccountErasure, StoredVersion, dm_conversation
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

SENT = "2026-11-21T00:00:{:02d}.000Z"  # msg(conversation, n) is sent at second n
EDIT1 = "2026-11-21T00:05:00.000Z"
EDIT2 = "2026-11-21T00:06:00.000Z"


async def test_an_edit_changes_the_text_and_keeps_the_old_one(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2)])
    editing = await store.edit_message("#lobby", 2, sender_key="alice", text="second, fixed",
                                       edited_at=EDIT1)
    assert editing.outcome == "edited"
    assert editing.message is not None
    assert (editing.message.text, editing.message.edited_at) == ("second, fixed", EDIT1)
    page = (await store.page("#lobby")).messages
    assert [(m.msg_id, m.text, m.edited_at) for m in page] == [
        (1, "text 1", None), (2, "second, fixed", EDIT1)]
    await store.edit_message("#lobby", 2, sender_key="alice", text="third time",
                             edited_at=EDIT2)
    assert await store.message_versions("#lobby", 2) == [
        StoredVersion(text="text 2", ts=SENT.format(2)),
        StoredVersion(text="second, fixed", ts=EDIT1),
        StoredVersion(text="third time", ts=EDIT2)]
    assert await store.message_versions("#lobby", 1) == [
        StoredVersion(text="text 1", ts=SENT.format(1))]
    assert await store.message_versions("#lobby", 9) is None
    assert await store.last_ids() == {"#lobby": 2}  # an edit takes no msg_id


async def test_only_the_sender_edits_and_a_tombstone_never(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2, sender="bob")])
    assert (await store.edit_message("#lobby", 2, sender_key="alice", text="x",
                                     edited_at=EDIT1)).outcome == "not_sender"
    assert (await store.edit_message("#lobby", 7, sender_key="alice", text="x",
                                     edited_at=EDIT1)).outcome == "no_such_message"
    assert (await store.edit_message("#elsewhere", 1, sender_key="alice", text="x",
                                      edited_at=EDIT1)).outcome == "no_such_message"
    await store.delete_message("#lobby", 1)
    assert (await store.edit_message("#lobby", 1, sender_key="alice", text="x",
                                     edited_at=EDIT1)).outcome == "deleted"
    page = (await store.page("#lobby")).messages
    assert [(m.text, m.edited_at) for m in page] == [("", None), ("text 2", None)]


async def test_an_edit_outside_the_window_is_too_late(store: Store) -> None:
    await store.append([msgspec.structs.replace(msg("#lobby", 1), ts=SENT.format(10))])
    late = await store.edit_message("#lobby", 1, sender_key="alice", text="x",
                                    edited_at=EDIT1, sent_after=SENT.format(11))
    assert late.outcome == "too_late"
    at_the_edge = await store.edit_message("#lobby", 1, sender_key="alice", text="x",
                                           edited_at=EDIT1, sent_after=SENT.format(10))
    assert at_the_edge.outcome == "edited"


async def test_the_same_text_again_changes_nothing(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    await store.edit_message("#lobby", 1, sender_key="alice", text="new", edited_at=EDIT1)
    again = await store.edit_message("#lobby", 1, sender_key="alice", text="new",
                                     edited_at=EDIT2)
    assert again.outcome == "unchanged"
    assert again.message is not None and again.message.edited_at == EDIT1
    assert len(await store.message_versions("#lobby", 1) or []) == 2


async def test_deleting_forgets_the_earlier_texts(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    await store.edit_message("#lobby", 1, sender_key="alice", text="new", edited_at=EDIT1)
    await store.delete_message("#lobby", 1)
    assert await store.message_versions("#lobby", 1) == []
    page = (await store.page("#lobby")).messages
    assert [(m.text, m.deleted) for m in page] == [("", True)]


async def test_an_edited_resend_finds_the_edited_message(store: Store) -> None:
    await store.append([msg("#lobby", 1, client_id="c1")])
    await store.edit_message("#lobby", 1, sender_key="alice", text="new", edited_at=EDIT1)
    (original,) = await store.append([msg("#lobby", 2, client_id="c1")])
    assert original is not None and (original.text, original.edited_at) == ("new", EDIT1)


async def test_an_erased_account_s_messages_forget_their_texts(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="x"))
    dm = dm_conversation("alice", "bob")
    await store.append([msg("#lobby", 1), msg(dm, 1)])
    await store.edit_message("#lobby", 1, sender_key="alice", text="new", edited_at=EDIT1)
    await store.edit_message(dm, 1, sender_key="alice", text="new dm", edited_at=EDIT1)
    moved = dm_conversation("~gone", "bob")
    await store.delete_account(AccountErasure(key="alice", tombstone="~gone", erase=True,
                                              renames=((dm, moved),)))
    assert await store.message_versions("#lobby", 1) == []
    assert await store.message_versions(moved, 1) == []


async def test_a_moved_conversation_keeps_its_earlier_texts(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="x"))
    dm = dm_conversation("alice", "bob")
    await store.append([msg(dm, 1, sender="bob")])
    await store.edit_message(dm, 1, sender_key="bob", text="new", edited_at=EDIT1)
    moved = dm_conversation("~gone", "bob")
    await store.delete_account(AccountErasure(key="alice", tombstone="~gone",
                                              renames=((dm, moved),)))
    assert [v.text for v in await store.message_versions(moved, 1) or []] == ["text 1", "new"]


async def test_an_edit_survives_reopen(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "palaver.db")
    await first.open()
    await first.append([msg("#lobby", 1)])
    await first.edit_message("#lobby", 1, sender_key="alice", text="new", edited_at=EDIT1)
    await first.close()
    second = SqliteStore(tmp_path / "palaver.db")
    await second.open()
    (message,) = (await second.page("#lobby")).messages
    assert (message.text, message.edited_at) == ("new", EDIT1)
    assert [v.text for v in await second.message_versions("#lobby", 1) or []] == ["text 1",
                                                                                    "new"]
    await second.close()

