"""The store conformance suite, continued: read markers and deleted messages (tombstones).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

from palaver.store import Account, Store
from palaver.store.base import StoredMarker
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

TS = "2026-11-21T00:00:{:02d}.000Z"  # msg(conversation, n) is sent at second n


async def test_a_marker_set_by_time_finds_its_msg_id(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 6)])
    marker, moved = await store.set_read_marker("alice", "#lobby", ts="2026-11-21T00:00:03.500Z")
    assert moved and marker == StoredMarker(conversation="#lobby", msg_id=3,
                                            ts="2026-11-21T00:00:03.500Z")
    assert await store.read_markers("alice") == [marker]
    assert await store.read_markers("bob") == []


async def test_a_marker_set_by_msg_id_finds_its_time(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 6)])
    marker, moved = await store.set_read_marker("alice", "#lobby", msg_id=4)
    assert moved and marker == StoredMarker(conversation="#lobby", msg_id=4, ts=TS.format(4))


async def test_a_marker_never_moves_back(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 6)])
    newer, _ = await store.set_read_marker("alice", "#lobby", ts=TS.format(4))
    again, moved = await store.set_read_marker("alice", "#lobby", ts=TS.format(2))
    assert not moved and again == newer
    by_id, moved = await store.set_read_marker("alice", "#lobby", msg_id=1)
    assert not moved and by_id == newer
    forward, moved = await store.set_read_marker("alice", "#lobby", msg_id=5)
    assert moved and forward == StoredMarker(conversation="#lobby", msg_id=5, ts=TS.format(5))


async def test_a_marker_of_a_conversation_without_messages_keeps_its_time(store: Store) -> None:
    marker, moved = await store.set_read_marker("~guest", "#empty",
                                                ts="2019-01-04T14:33:26.123Z")
    assert moved and marker == StoredMarker(conversation="#empty", msg_id=0,
                                            ts="2019-01-04T14:33:26.123Z")
    again, moved = await store.set_read_marker("~guest", "#empty",
                                               ts="2019-01-04T14:33:26.123Z")
    assert not moved and again == marker


async def test_markers_are_per_identity_and_conversation(store: Store) -> None:
    await store.append([msg("#a", 1), msg("#b", 1), msg("@alice,bob", 1)])
    await store.set_read_marker("alice", "#a", msg_id=1)
    await store.set_read_marker("alice", "@alice,bob", msg_id=1)
    await store.set_read_marker("bob", "#b", msg_id=1)
    assert sorted(m.conversation for m in await store.read_markers("alice")) == [
        "#a", "@alice,bob"]
    assert [m.conversation for m in await store.read_markers("bob")] == ["#b"]


async def test_markers_follow_a_renamed_account(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    await store.set_read_marker("alice", "#a", ts=TS.format(1))
    assert await store.rename_account("alice", "al", "al")
    assert await store.read_markers("alice") == []
    assert await store.read_markers("al") == [StoredMarker(conversation="#a", ts=TS.format(1))]


async def test_markers_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    marker, _ = await first.set_read_marker("alice", "#a", ts=TS.format(9))
    await first.close()
    again = SqliteStore(path)
    await again.open()
    assert await again.read_markers("alice") == [marker]
    await again.close()


async def test_a_deleted_message_stays_as_a_tombstone(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 4)])
    deletion = await store.delete_message("#lobby", 2)
    assert deletion.outcome == "deleted"
    assert deletion.message is not None and deletion.message.deleted
    assert deletion.message.text == "" and deletion.message.sender == "alice"
    page = (await store.page("#lobby")).messages
    assert [(m.msg_id, m.text, m.deleted) for m in page] == [
        (1, "text 1", False), (2, "", True), (3, "text 3", False)]
    assert await store.last_ids() == {"#lobby": 3}  # ids stay dense


async def test_only_the_sender_deletes_when_the_sender_is_named(store: Store) -> None:
    await store.append([msg("#lobby", 1, sender="alice")])
    refused = await store.delete_message("#lobby", 1, sender_key="bob")
    assert refused.outcome == "not_sender" and refused.message is None
    assert (await store.page("#lobby")).messages[0].text == "text 1"
    assert (await store.delete_message("#lobby", 1, sender_key="alice")).outcome == "deleted"


async def test_deleting_twice_or_nothing(store: Store) -> None:
    await store.append([msg("#lobby", 1)])
    assert (await store.delete_message("#lobby", 1)).outcome == "deleted"
    again = await store.delete_message("#lobby", 1)
    assert again.outcome == "already_deleted" and again.message is not None
    assert (await store.delete_message("#lobby", 2)).outcome == "no_such_message"
    assert (await store.delete_message("#nowhere", 1)).outcome == "no_such_message"


async def test_a_resend_of_a_deleted_message_gets_the_tombstone(store: Store) -> None:
    await store.append([msg("#lobby", 1, client_id="c1")])
    await store.delete_message("#lobby", 1)
    [original] = await store.append([msg("#lobby", 2, client_id="c1")])
    assert original is not None and original.deleted and original.text == ""


async def test_a_tombstone_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "palaver.db"
    first = SqliteStore(path)
    await first.open()
    await first.append([msg("#lobby", 1)])
    await first.delete_message("#lobby", 1)
    await first.close()
    again = SqliteStore(path)
    await again.open()
    [tombstone] = (await again.page("#lobby")).messages
    assert tombstone.deleted and tombstone.text == ""
    await again.close()
