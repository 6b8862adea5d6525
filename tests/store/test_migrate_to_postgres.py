"""``palaver migrate --from sqlite:///... --to postgresql://...``: a SQLite database with some of
everything, copied into an empty PostgreSQL one, reads back the same through PostgresStore; a
database with rows already is refused and left as it was.

Plain (not async) tests: they run the command as a user does (``main``, which runs its own
event loop), and their own coroutines with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from palaver.cli import main
from palaver.store import Account, Store, StoredMessage, dm_conversation
from palaver.store.base import (
    AccountErasure,
    RoomBan,
    RoomSettings,
    StoredFile,
    StoredUpdate,
)
from palaver.store.postgres import PostgresStore
from palaver.store.sqlite import SqliteStore
from palaver.store.transfer import TABLES, sqlite_path
from tests.store.test_conformance import msg

DM = dm_conversation("alice", "bob")
LATER = "2026-11-21T11:00:00.000Z"


def update(conversation: str, seq: int, msg_id: int, kind: Any, value: str | None) -> StoredUpdate:
    return StoredUpdate(conversation=conversation, seq=seq, msg_id=msg_id, kind=kind,
                        ts=f"2026-11-21T00:02:{seq:02d}.000Z", by="alice", by_key="alice",
                        value=value)


async def populate(store: Store) -> None:
    """Some of everything the Store port keeps."""
    for key, created in (("alice", "2026-11-20T00:00:00.000Z"), ("bob", None), ("carol", None),
                         ("dave", None)):
        await store.create_account(Account(key=key, nick=key.capitalize(),
                                           password_hash=f"$argon2id${key}", created_at=created))
    await store.note_seen("alice", LATER)
    await store.set_locked("bob", True)
    await store.set_reset_token("carol", "token-sha256", LATER)
    picture = StoredFile(file_id="f1", name="cat.png", size=1234, type="image/png",
                         sha256="ab" * 32, url="/files/f1/cat.png")
    lobby = [msg("#lobby", n, client_id=f"c{n}", text=f"lobby message {n} ✓")
             for n in range(1, 8)]
    lobby[2] = msgspec.structs.replace(lobby[2], notice=True)
    lobby[3] = msgspec.structs.replace(lobby[3], reply_to=1)
    lobby[4] = msgspec.structs.replace(lobby[4], file=picture, text="a picture")
    await store.append(lobby)
    await store.append([msg(DM, 1, text="psst"), msg(DM, 2, sender="bob", text="what"),
                        msg("#dev", 1, sender="bob", text="日本語のテキスト")])
    await store.append([msg("#lobby", 8, sender="dave", text="dave was here")])
    await store.edit_message("#lobby", 1, sender_key="alice", text="lobby message one",
                             edited_at="2026-11-21T00:02:09.000Z",
                             update=update("#lobby", 9, 1, "edit", "lobby message one"))
    await store.edit_message("#lobby", 1, sender_key="alice", text="lobby message uno",
                             edited_at="2026-11-21T00:02:10.000Z",
                             update=update("#lobby", 10, 1, "edit", "lobby message uno"))
    await store.delete_message("#lobby", 2, update=update("#lobby", 11, 2, "delete", "oops"))
    for n, (who, reaction) in enumerate((("bob", "+1"), ("carol", "+1"), ("bob", "🎉")), 12):
        await store.react("#lobby", 4, identity=who, nick=who, reaction=reaction, ts=LATER,
                          update=update("#lobby", n, 4, "react", reaction))
    for key, room in (("alice", "#Lobby"), ("alice", "#dev"), ("bob", "#dev")):
        await store.set_membership(key, room, True)
    await store.save_marks("alice", {DM: 2})
    await store.save_room(RoomSettings(
        room="#Dev", topic="rust", topic_by="bob", topic_at=LATER, invite_only=True,
        operators=("bob",), bans=(RoomBan(nick="eve", by="bob", at=LATER),), limit=5,
        key="beer", voiced=("alice",), created_at="2026-11-20T00:00:00.000Z"))
    await store.save_room(RoomSettings(room="#lobby"))
    await store.set_read_marker("alice", "#lobby", msg_id=5)
    await store.set_read_marker("bob", DM, ts="2026-11-21T00:00:01.500Z")
    await store.set_notify_level("alice", "#dev", "mentions")
    await store.set_notify_level("bob", "#lobby", "none")
    await store.save_metadata("alice", [("color", "red"), ("away", "lunch")])
    await store.save_metadata("#dev", [("url", "https://example.org")])
    await store.bind_certificate("alice", "01" * 32)
    await store.bind_certificate("alice", "02" * 32)
    await store.delete_account(AccountErasure(key="dave", tombstone="~dave"))


async def everything(store: Store) -> dict[str, Any]:
    """All that the Store port reads back (search hits without their positions, which each
    backend numbers its own way)."""
    conversations = ["#lobby", "#dev", DM]
    out: dict[str, Any] = {
        "last_ids": await store.last_ids(),
        "accounts": await store.account_list(),
        "locked": await store.locked_accounts(),
        "memberships": await store.memberships(),
        "marks": await store.load_marks("alice"),
        "rooms": await store.room_settings(),
        "metadata": await store.metadata(),
        "certificates": await store.certificates("alice"),
        "certificate_of": await store.certificate_account("02" * 32),
        "file": await store.file_message("f1"),
        "files_usage": await store.files_usage("alice"),
        "file_hashes": await store.file_hashes(),
        "versions": await store.message_versions("#lobby", 1),
        "reactions": await store.reactions("#lobby", list(range(1, 9))),
        "updates": await store.updates("#lobby", after=8, upto=100, limit=100),
    }
    for conversation in conversations:
        out[f"page {conversation}"] = await store.page(conversation)
    for identity in ("alice", "bob"):
        out[f"markers {identity}"] = await store.read_markers(identity)
        out[f"notify {identity}"] = await store.notify_levels(identity)
    for words in (["message"], ["テキスト"], ["LOBBY", "uno"], ["oops"], ["here"]):
        found = await store.search(conversations, words)
        out[f"search {words}"] = [hit.message for hit in found.hits]
    return out


async def in_sqlite(path: Path) -> dict[str, Any]:
    store = SqliteStore(path)
    await store.open()
    try:
        await populate(store)
        return await everything(store)
    finally:
        await store.close()


async def in_postgres(url: str) -> tuple[dict[str, Any], bool]:
    store = PostgresStore(url)
    await store.open()
    try:
        seen = await everything(store)
        # the copy is a working store: a resend is still known, ids go on from each
        # conversation's counter (made from the copied messages and updates: #lobby's last
        # id is update 14, a stale guess gets the next one)
        resent = await store.append([msg("#lobby", 9, client_id="c3")])
        known = isinstance(resent[0], StoredMessage) and resent[0].msg_id == 3
        going_on = await store.append([msg("#lobby", 15), msg("#dev", 1), msg(DM, 3)])
        return seen, known and going_on == [None, 2, None]
    finally:
        await store.close()


def test_a_sqlite_database_copied_to_postgresql_reads_back_the_same(
    tmp_path: Path, pg_empty_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "palaver.db"
    expected = asyncio.run(in_sqlite(path))
    assert main(["migrate", "--from", f"sqlite://{path}", "--to", pg_empty_url]) == 0
    printed = capsys.readouterr().out
    assert "messages: 11 rows" in printed and "counts checked" in printed
    seen, resend_known = asyncio.run(in_postgres(pg_empty_url))
    for key, value in expected.items():
        assert seen[key] == value, key
    assert resend_known


def test_a_database_with_rows_is_refused(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "palaver.db"
    asyncio.run(in_sqlite(path))

    async def one_account() -> None:
        store = PostgresStore(pg_url)
        await store.open()
        await store.create_account(Account(key="zed", nick="zed", password_hash="h"))
        await store.close()

    asyncio.run(one_account())
    assert main(["migrate", "--from", str(path), "--to", pg_url]) == 2
    error = capsys.readouterr().err
    assert "is not empty" in error and "accounts" in error and "empty database only" in error

    async def accounts() -> dict[str, str]:
        store = PostgresStore(pg_url)
        await store.open()
        try:
            return await store.accounts()
        finally:
            await store.close()

    assert asyncio.run(accounts()) == {"zed": "zed"}  # left as it was


def test_refusals_say_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nothing.db"
    assert main(["migrate", "--from", f"sqlite://{missing}",
                 "--to", "postgresql://u@127.0.0.1:1/db"]) == 2
    assert "no such SQLite database" in capsys.readouterr().err
    assert not missing.exists()  # not made by trying
    assert main(["migrate", "--from", str(missing), "--to", "mysql://x"]) == 2
    assert "not a PostgreSQL URL" in capsys.readouterr().err
    assert sqlite_path("sqlite:///srv/p.db") == Path("/srv/p.db")
    assert sqlite_path("sqlite://data/p.db") == Path("data/p.db")
    assert sqlite_path("data/p.db") == Path("data/p.db")
    assert "messages" in TABLES
