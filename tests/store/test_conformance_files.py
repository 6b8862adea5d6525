"""The store conformance suite, continued: messages that carry files (UPLOAD).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from palaver.store import Store
from palaver.store.base import StoredFile
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py


def ref(file_id: str, sha: str, size: int = 10) -> StoredFile:
    return StoredFile(file_id=file_id, name=f"{file_id}.png", size=size, type="image/png",
                      sha256=sha * 64, url=f"http://h/files/{file_id}/{file_id}.png")


async def test_a_message_carries_its_file_through_history(store: Store) -> None:
    carrying = msgspec.structs.replace(msg("#lobby", 1), file=ref("f1", "a"))
    await store.append([carrying, msg("#lobby", 2)])
    page = await store.page("#lobby")
    assert page.messages[0].file == ref("f1", "a")
    assert page.messages[1].file is None
    assert await store.file_message("f1") == carrying
    assert await store.file_message("nope") is None


async def test_usage_and_hashes_count_only_messages_that_are_not_deleted(store: Store) -> None:
    one = msgspec.structs.replace(msg("#lobby", 1), file=ref("f1", "a", 100))
    two = msgspec.structs.replace(msg("#lobby", 2), file=ref("f2", "a", 100))  # same content
    three = msgspec.structs.replace(msg("#lobby", 3), file=ref("f3", "b", 5))
    await store.append([one, two, three])
    sender = one.sender_key
    assert await store.files_usage(sender) == 205
    assert await store.files_usage("nobody") == 0
    assert await store.file_hashes() == {"a" * 64, "b" * 64}
    await store.delete_message("#lobby", 3)
    assert await store.file_hashes() == {"a" * 64}
    assert await store.files_usage(sender) == 200
    gone = await store.file_message("f3")
    assert gone is not None and gone.deleted  # found, but a tombstone: unreachable
    await store.delete_message("#lobby", 1)
    assert await store.file_hashes() == {"a" * 64}  # f2 still uses it


async def test_files_survive_a_restart(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "db")
    await first.open()
    await first.append([msgspec.structs.replace(msg("#lobby", 1), file=ref("f1", "c"))])
    await first.close()
    second = SqliteStore(tmp_path / "db")
    await second.open()
    try:
        found = await second.file_message("f1")
        assert found is not None and found.file == ref("f1", "c")
    finally:
        await second.close()
