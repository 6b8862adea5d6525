"""The store conformance suite, continued: metadata of accounts and rooms (hub/metadata.py).

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from pathlib import Path

from palaver.store import Account, Store
from palaver.store.sqlite import SqliteStore
from tests.store.test_conformance import store

__all__ = ["store"]  # the fixture, shared with test_conformance.py


async def test_metadata_is_stored_whole_per_target_in_order(store: Store) -> None:
    assert await store.metadata() == {}
    await store.save_metadata("alice", [("status", "away"), ("avatar", "a.png")])
    await store.save_metadata("#dev", [("url", "https://dev.example")])
    assert await store.metadata() == {"alice": {"status": "away", "avatar": "a.png"},
                                      "#dev": {"url": "https://dev.example"}}
    assert list((await store.metadata())["alice"]) == ["status", "avatar"]
    await store.save_metadata("alice", [("avatar", "b.png"), ("pronouns", "she/her")])
    assert (await store.metadata())["alice"] == {"avatar": "b.png", "pronouns": "she/her"}
    await store.save_metadata("alice", [])  # forgotten
    await store.save_metadata("nobody", [])
    assert await store.metadata() == {"#dev": {"url": "https://dev.example"}}


async def test_values_keep_every_character(store: Store) -> None:
    value = "->\U0001f49c<- \u00e9t\u00e9 '\"; DROP TABLE metadata; --"
    await store.save_metadata("alice", [("display-name", value), ("empty", "")])
    assert (await store.metadata())["alice"] == {"display-name": value, "empty": ""}


async def test_a_renamed_account_keeps_its_metadata(store: Store) -> None:
    await store.create_account(Account(key="alice", nick="alice", password_hash="h"))
    await store.save_metadata("alice", [("avatar", "a.png")])
    assert await store.rename_account("alice", "al", "Al")
    assert await store.metadata() == {"al": {"avatar": "a.png"}}


async def test_metadata_survives_reopening_sqlite(tmp_path: Path) -> None:
    first = SqliteStore(tmp_path / "palaver.db")
    await first.open()
    await first.save_metadata("#dev", [("url", "u"), ("avatar", "v")])
    await first.close()
    second = SqliteStore(tmp_path / "palaver.db")
    await second.open()
    try:
        assert await second.metadata() == {"#dev": {"url": "u", "avatar": "v"}}
    finally:
        await second.close()
