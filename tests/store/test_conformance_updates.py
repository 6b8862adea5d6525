"""The store conformance suite, continued: updates as events (edits, deletions, reactions with
a seq from the conversation's id counter, replayed on resume: docs/protocol.md §15).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

from palaver.store import Account, Store
from palaver.store.base import AccountErasure, StoredUpdate, UpdateKind, dm_conversation
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

TS = "2026-11-21T00:05:{:02d}.000Z"


def upd(conversation: str, seq: int, msg_id: int, kind: UpdateKind, value: str | None = None,
        by: str = "alice") -> StoredUpdate:
    return StoredUpdate(conversation=conversation, seq=seq, msg_id=msg_id, kind=kind,
                        ts=TS.format(seq % 60), by=by, by_key=by.lower(), value=value)


async def test_a_change_stores_its_update_and_takes_an_id(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2)])
    edit = upd("#lobby", 3, 1, "edit", "first, fixed")
    assert (await store.edit_message("#lobby", 1, sender_key="alice", text="first, fixed",
                                     edited_at=edit.ts, update=edit)).outcome == "edited"
    react = upd("#lobby", 4, 2, "react", "👍", by="bob")
    assert (await store.react("#lobby", 2, identity="bob", nick="bob", reaction="👍",
                              ts=react.ts, update=react)).outcome == "added"
    assert await store.last_ids() == {"#lobby": 4}  # an update's seq counts, as a msg_id
    await store.append([msg("#lobby", 5)])
    # What a client that had everything up to 2 missed about messages 1 and 2; one that had
    # up to 1 gets no update of message 2 (it is sent message 2 as it is now).
    assert (await store.updates("#lobby", after=2, upto=5, limit=10)).updates == (edit, react)
    assert (await store.updates("#lobby", after=1, upto=5, limit=10)).updates == (edit,)
    assert (await store.updates("#lobby", after=3, upto=5, limit=10)).updates == (react,)
    assert (await store.updates("#lobby", after=4, upto=5, limit=10)).updates == ()
    assert (await store.updates("#lobby", after=2, upto=3, limit=10)).updates == (edit,)
    assert (await store.updates("#other", after=0, upto=9, limit=10)).updates == ()


async def test_each_change_returns_its_update_as_stored(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2)])
    edit = upd("#lobby", 3, 1, "edit", "fixed")
    editing = await store.edit_message("#lobby", 1, sender_key="alice", text="fixed",
                                       edited_at=edit.ts, update=edit)
    react = upd("#lobby", 4, 2, "react", "👍", by="bob")
    reacting = await store.react("#lobby", 2, identity="bob", nick="bob", reaction="👍",
                                 ts=react.ts, update=react)
    gone = upd("#lobby", 5, 2, "delete")
    deletion = await store.delete_message("#lobby", 2, update=gone)
    # The guesses were right: every store stores them as given
    assert (editing.update, reacting.update, deletion.update) == (edit, react, gone)
    # Nothing stored, no update returned (also when it changed something without one)
    assert (await store.edit_message("#lobby", 1, sender_key="alice", text="fixed",
                                     edited_at=edit.ts, update=edit)).update is None
    assert (await store.react("#lobby", 1, identity="bob", nick="bob", reaction="ok",
                              ts=react.ts)).update is None
    assert (await store.delete_message("#lobby", 2, update=gone)).update is None
    assert await store.last_ids() == {"#lobby": 5}


async def test_a_change_that_changes_nothing_stores_no_update(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2, sender="bob")])
    same = upd("#lobby", 3, 1, "edit", "text 1")
    assert (await store.edit_message("#lobby", 1, sender_key="alice", text="text 1",
                                     edited_at=same.ts, update=same)).outcome == "unchanged"
    theirs = upd("#lobby", 4, 2, "edit", "mine now")
    assert (await store.edit_message("#lobby", 2, sender_key="alice", text="mine now",
                                     edited_at=theirs.ts, update=theirs)).outcome == "not_sender"
    none = upd("#lobby", 5, 1, "unreact", "👍")
    assert (await store.react("#lobby", 1, identity="alice", nick="alice", reaction="👍",
                              ts=none.ts, remove=True, update=none)).outcome == "unchanged"
    missing = upd("#lobby", 6, 9, "delete")
    assert (await store.delete_message("#lobby", 9, update=missing)).outcome == \
        "no_such_message"
    assert (await store.updates("#lobby", after=2, upto=9, limit=10)).updates == ()
    assert await store.last_ids() == {"#lobby": 2}


async def test_a_deletion_replaces_the_message_s_earlier_updates(store: Store) -> None:
    await store.append([msg("#lobby", 1), msg("#lobby", 2)])
    await store.edit_message("#lobby", 1, sender_key="alice", text="secret", edited_at=TS,
                             update=upd("#lobby", 3, 1, "edit", "secret"))
    await store.react("#lobby", 1, identity="bob", nick="bob", reaction="👍", ts=TS,
                      update=upd("#lobby", 4, 1, "react", "👍", by="bob"))
    keep = upd("#lobby", 5, 2, "react", "ok", by="bob")
    await store.react("#lobby", 2, identity="bob", nick="bob", reaction="ok", ts=TS,
                      update=keep)
    gone = upd("#lobby", 6, 1, "delete", "oops")
    assert (await store.delete_message("#lobby", 1, update=gone)).outcome == "deleted"
    # The edit's text does not outlive the message: a resume sends only the deletion
    assert (await store.updates("#lobby", after=2, upto=6, limit=10)).updates == (keep, gone)
    again = upd("#lobby", 7, 1, "delete")
    assert (await store.delete_message("#lobby", 1, update=again)).outcome == \
        "already_deleted"
    assert (await store.updates("#lobby", after=2, upto=7, limit=10)).updates == (keep, gone)
    assert await store.last_ids() == {"#lobby": 6}


async def test_the_newest_updates_of_a_long_absence(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    made = []
    for seq in range(2, 12):  # ten reactions, added and taken back
        update = upd("#lobby", seq, 1, "react" if seq % 2 == 0 else "unreact", "👍", by="bob")
        await store.react("#lobby", 1, identity="bob", nick="bob", reaction="👍", ts=update.ts,
                          remove=seq % 2 == 1, update=update)
        made.append(update)
    page = await store.updates("#lobby", after=1, upto=11, limit=4)
    assert page.updates == tuple(made[-4:]) and page.more
    page = await store.updates("#lobby", after=1, upto=11, limit=10)
    assert page.updates == tuple(made) and not page.more


async def test_updates_follow_a_deleted_account(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="x"))
    dm = dm_conversation("alice", "bob")
    await store.append([msg("#lobby", 1), msg("#lobby", 2, sender="bob"), msg(dm, 1)])
    await store.edit_message("#lobby", 1, sender_key="alice", text="mine, edited",
                             edited_at=TS, update=upd("#lobby", 3, 1, "edit", "mine, edited"))
    await store.react("#lobby", 2, identity="alice", nick="alice", reaction="👍", ts=TS,
                      update=upd("#lobby", 4, 2, "react", "👍"))
    await store.react(dm, 1, identity="bob", nick="bob", reaction="ok", ts=TS,
                      update=upd(dm, 2, 1, "react", "ok", by="bob"))
    moved = "@bob,~deleted-x"
    await store.delete_account(AccountErasure(key="alice", tombstone="~deleted-x", erase=True,
                                              renames=((dm, moved),)))
    # Erased: the edit (its text) is gone; the reaction stays, by "deleted-user"
    [reaction] = (await store.updates("#lobby", after=2, upto=4, limit=10)).updates
    assert (reaction.seq, reaction.by, reaction.by_key) == (4, "deleted-user", "~deleted-x")
    [moved_update] = (await store.updates(moved, after=1, upto=2, limit=10)).updates
    assert (moved_update.conversation, moved_update.value) == (moved, "ok")
    assert (await store.updates(dm, after=0, upto=9, limit=10)).updates == ()


async def test_updates_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.append([msg("#lobby", 1)])
    edit = upd("#lobby", 2, 1, "edit", "kept")
    await first.edit_message("#lobby", 1, sender_key="alice", text="kept", edited_at=edit.ts,
                             update=edit)
    await first.close()
    second = SqliteStore(path)
    await second.open()
    assert await second.last_ids() == {"#lobby": 2}
    assert (await second.updates("#lobby", after=1, upto=2, limit=5)).updates == (edit,)
    await second.close()
