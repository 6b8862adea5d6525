"""PostgreSQL's own store tests (the conformance suite runs on it through the store fixture):
the schema made from nothing, refusals that say why, what survives a reopen, and operations
that run side by side on the pool's connections without losing anything."""

from __future__ import annotations

import asyncio

import pytest

from palaver.store import Account, dm_conversation
from palaver.store.base import MAX_REACTIONS_PER_MESSAGE, RoomSettings, StoredUpdate
from palaver.store.migrations import migrations as sqlite_migrations
from palaver.store.pg_migrations import migrations
from palaver.store.postgres import PostgresStore, redacted
from palaver.store.sqlite import StoreError
from tests.pg_server import PgServer
from tests.store.test_conformance import msg


async def test_open_makes_the_schema_in_an_empty_database(pg_empty_url: str) -> None:
    store = PostgresStore(pg_empty_url)
    await store.open()
    try:
        newest = max(version for version, _, _ in migrations())
        assert await store.schema_version() == newest
        # numbered like SQLite's: the same version means the same tables
        assert newest == max(version for version, _, _ in sqlite_migrations())
        await store.append([msg("#lobby", 1, text="needle in a haystack")])
        assert [hit.message.msg_id for hit in (await store.search(["#lobby"], ["NEEDLE"])).hits
                ] == [1]
        for cursor in (1 << 70, -5):  # any cursor a client sends back is an answer, not a crash
            await store.search(["#lobby"], ["needle"], before=cursor)
    finally:
        await store.close()
    again = PostgresStore(pg_empty_url)
    await again.open()  # applied already: nothing happens twice
    try:
        assert await again.last_ids() == {"#lobby": 1}
    finally:
        await again.close()


async def test_servers_opening_together_migrate_once(pg_empty_url: str) -> None:
    stores = [PostgresStore(pg_empty_url, max_size=2) for _ in range(4)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = await stores[0].pool.fetch("SELECT version FROM schema_migrations")
        assert len(versions) == len(migrations())
    finally:
        await asyncio.gather(*(store.close() for store in stores))


async def test_a_database_from_a_newer_palaver_is_refused(pg_empty_url: str) -> None:
    store = PostgresStore(pg_empty_url)
    await store.open()
    await store.pool.execute(
        "INSERT INTO schema_migrations (version, name) VALUES (999, '999_future.sql')")
    await store.close()
    later = PostgresStore(pg_empty_url)
    with pytest.raises(StoreError, match="newer palaver"):
        await later.open()
    assert later._pool is None  # closed on the way out


async def test_an_unreachable_server_is_a_clear_error(pg_server: PgServer) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://palaver:s3cret@127.0.0.1:{port}/palaver"
    with pytest.raises(StoreError, match="cannot connect to PostgreSQL") as raised:
        await PostgresStore(url).open()
    assert "s3cret" not in str(raised.value) and "palaver:***@" in str(raised.value)
    assert redacted("postgresql://u@h/db") == "postgresql://u@h/db"


async def test_without_the_right_to_create_pg_trgm_the_error_says_why(
    pg_server: PgServer, pg_empty_url: str,
) -> None:
    database = pg_empty_url.rsplit("/", 1)[1]
    pg_server.execute("DO $$ BEGIN CREATE ROLE visitor LOGIN; "
                      "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    pg_server.execute("GRANT CREATE ON SCHEMA public TO visitor", database)
    url = pg_empty_url.replace(f"{pg_server.user}@", "visitor@")
    store = PostgresStore(url)
    with pytest.raises(StoreError, match="cannot create the pg_trgm extension") as raised:
        await store.open()
    assert "CREATE EXTENSION pg_trgm" in str(raised.value)
    pg_server.execute("CREATE EXTENSION pg_trgm", database)  # a superuser did it: it works
    await store.open()
    try:
        assert await store.schema_version() == max(version for version, _, _ in migrations())
    finally:
        await store.close()


async def test_everything_survives_a_reopen(pg_url: str) -> None:
    first = PostgresStore(pg_url)
    await first.open()
    dm = dm_conversation("alice", "bob")
    await first.append([msg("#lobby", 1, client_id="c1"), msg(dm, 1), msg("#lobby", 2)])
    await first.create_account(Account(key="alice", nick="Alice", password_hash="h"))
    await first.set_membership("alice", "#Lobby", True)
    await first.save_marks("alice", {dm: 1})
    await first.save_room(RoomSettings(room="#Lobby", topic="hi", operators=("alice",)))
    await first.set_read_marker("alice", "#lobby", msg_id=2)
    await first.set_notify_level("alice", "#lobby", "mentions")
    await first.save_metadata("alice", [("color", "red"), ("away", "lunch")])
    await first.bind_certificate("alice", "ab" * 32)
    edit = StoredUpdate(conversation="#lobby", seq=3, msg_id=1, kind="edit",
                        ts="2026-11-21T00:01:00.000Z", by="alice", by_key="alice", value="new")
    await first.edit_message("#lobby", 1, sender_key="alice", text="new",
                             edited_at=edit.ts, update=edit)
    await first.react("#lobby", 2, identity="bob", nick="bob", reaction="+1", ts=edit.ts)
    await first.close()
    again = PostgresStore(pg_url)
    await again.open()
    try:
        assert await again.last_ids() == {"#lobby": 3, dm: 1}
        assert await again.append([msg("#lobby", 4, client_id="c1")]) != [None]
        assert [m.text for m in (await again.page("#lobby")).messages] == ["new", "text 2"]
        assert [v.text for v in await again.message_versions("#lobby", 1) or []] == [
            "text 1", "new"]
        assert await again.memberships() == {"alice": ["#Lobby"]}
        assert await again.load_marks("alice") == {dm: 1}
        assert [r.topic for r in await again.room_settings()] == ["hi"]
        assert [(m.conversation, m.msg_id) for m in await again.read_markers("alice")] == [
            ("#lobby", 2)]
        assert await again.notify_levels("alice") == {"#lobby": "mentions"}
        assert await again.metadata() == {"alice": {"color": "red", "away": "lunch"}}
        assert await again.certificate_account("ab" * 32) == "alice"
        assert await again.reactions("#lobby", [1, 2]) == {2: {"+1": ("bob",)}}
        page = await again.updates("#lobby", after=2, upto=3, limit=10)
        assert [u.kind for u in page.updates] == ["edit"]
    finally:
        await again.close()


async def test_reactions_given_side_by_side_stop_at_the_limit(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        await store.append([msg("#lobby", 1)])
        extra = 10
        outcomes = await asyncio.gather(*(
            store.react("#lobby", 1, identity=f"u{n}", nick=f"u{n}", reaction=f"r{n}",
                        ts="2026-11-21T00:00:01.000Z")
            for n in range(MAX_REACTIONS_PER_MESSAGE + extra)))
        kinds = [o.outcome for o in outcomes]
        assert kinds.count("added") == MAX_REACTIONS_PER_MESSAGE
        assert kinds.count("too_many") == extra
        assert len((await store.reactions("#lobby", [1]))[1]) == MAX_REACTIONS_PER_MESSAGE
    finally:
        await store.close()


async def test_edits_side_by_side_keep_every_version(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        await store.append([msg("#lobby", 1, text="v0")])
        edits = await asyncio.gather(*(
            store.edit_message("#lobby", 1, sender_key="alice", text=f"v{n}",
                               edited_at=f"2026-11-21T00:01:{n:02d}.000Z")
            for n in range(1, 13)))
        assert all(e.outcome == "edited" for e in edits)
        versions = await store.message_versions("#lobby", 1) or []
        assert len(versions) == 13 and versions[0].text == "v0"
        assert sorted(v.text for v in versions) == sorted(f"v{n}" for n in range(13))
    finally:
        await store.close()


async def test_read_markers_moved_side_by_side_end_at_the_highest(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        await store.append([msg("#lobby", n) for n in range(1, 31)])
        results = await asyncio.gather(*(store.set_read_marker("alice", "#lobby", msg_id=n)
                                         for n in range(1, 31)))
        assert any(moved for _, moved in results)
        [marker] = await store.read_markers("alice")
        assert marker.msg_id == 30
    finally:
        await store.close()


async def test_synchronous_commit_off_is_warned_about(
    pg_server: PgServer, pg_empty_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    database = pg_empty_url.rsplit("/", 1)[1]
    pg_server.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = off')
    store = PostgresStore(pg_empty_url)
    with caplog.at_level("WARNING", logger="palaver.store"):
        await store.open()
    await store.close()
    assert any("synchronous_commit is off" in r.getMessage() for r in caplog.records)
