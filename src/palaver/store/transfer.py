"""``palaver migrate``: copy a SQLite database into an empty PostgreSQL one.

How this works: the SQLite file is opened as the server would (its schema brought up to date),
the PostgreSQL database too (its schema made); the versions must match. Then, in one
PostgreSQL transaction that locks every table: the target must be empty; each table of the
source is read in one SQLite read transaction (one snapshot) in rowid order, a chunk at a time,
and written with COPY, so the order things were stored in (search's positions, reactions' and
certificates' order) is kept; each table's row count is compared with the source's before the
commit. Search's own tables (SQLite's FTS5 index) are not copied: PostgreSQL has its index.
PostgreSQL's own tables are not in SQLite: each conversation's id counter (conversation_ids)
is made from the copied messages and updates, in the same transaction; nick claims and node
leases start empty.
Uploaded files' bytes stay in the data dir's blobs/: give the server the same data_dir.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from palaver.store.postgres import FILL_CONVERSATION_IDS, Connection, PostgresStore, redacted
from palaver.store.sqlite import SqliteStore, StoreError

# Every table palaver keeps, in an order that needs no other first.
TABLES: Final = ("accounts", "memberships", "resume_marks", "room_settings", "read_markers",
                 "metadata", "account_certificates", "messages", "message_edits", "reactions",
                 "password_resets", "message_updates", "notify_levels")
# SQLite's tables that are not copied: the schema's version, and search's (derived data).
_NOT_COPIED: Final = ("schema_migrations", "search_conversations", "search_docs")
# PostgreSQL's tables that are made from the copied ones (after them).
_DERIVED: Final = ("conversation_ids",)
_CHUNK: Final = 5_000  # rows per COPY


class MigrateError(Exception):
    """The copy cannot be made (nothing was written); the message says why."""


def sqlite_path(source: str) -> Path:
    """The file a ``--from`` names: ``sqlite:///abs/path.db``, ``sqlite://rel/path.db`` or
    a plain path."""
    return Path(source.removeprefix("sqlite://")) if source.startswith("sqlite://") else Path(
        source)


async def copy_sqlite_to_postgres(
    source: Path, url: str, *, progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Copy every table of the SQLite database ``source`` into the empty PostgreSQL database
    at ``url``, in one transaction; the rows copied, per table."""
    if not await asyncio.to_thread(source.is_file):  # SqliteStore would make a new one
        raise MigrateError(f"{source}: no such SQLite database")
    sqlite = SqliteStore(source)
    postgres = PostgresStore(url, min_size=1, max_size=1)
    try:
        await sqlite.open()
        await postgres.open()
        ours, theirs = await sqlite.schema_version(), await postgres.schema_version()
        if ours != theirs:
            raise MigrateError(f"{source} has schema version {ours} and {redacted(url)} "
                               f"{theirs}: they must be the same palaver's")
        return await _copy(sqlite, postgres, progress)
    except StoreError as exc:
        raise MigrateError(str(exc)) from None
    finally:
        await postgres.close()
        await sqlite.close()


async def _copy(sqlite: SqliteStore, postgres: PostgresStore,
                progress: Callable[[str, int], None] | None) -> dict[str, int]:
    db = sqlite.db
    async with db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
        "AND name NOT LIKE 'message_search%'"
    ) as cursor:
        present = {row[0] async for row in cursor}
    unknown = present - set(TABLES) - set(_NOT_COPIED)
    if unknown:
        raise MigrateError(f"{sqlite.path} has tables this palaver does not know: "
                           f"{', '.join(sorted(unknown))}")
    copied: dict[str, int] = {}
    async with postgres.pool.acquire() as conn, conn.transaction():
        await conn.execute(f"LOCK TABLE {', '.join(TABLES + _DERIVED)} IN ACCESS EXCLUSIVE MODE")
        for table in TABLES + _DERIVED:
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
                raise MigrateError(
                    f"the database at {redacted(postgres.url)} is not empty (its table "
                    f"{table} has rows): palaver migrate copies into an empty database only, "
                    "so that nothing is mixed or overwritten; create a new one")
        await db.execute("BEGIN")  # one snapshot of the whole source
        try:
            for table in TABLES:
                if table not in present:
                    continue
                copied[table] = await _copy_table(sqlite, conn, table)
                if progress is not None:
                    progress(table, copied[table])
            await conn.execute(FILL_CONVERSATION_IDS)
            for table, rows in copied.items():  # verify, before the commit
                async with db.execute(f"SELECT COUNT(*) FROM {table}") as cursor:
                    row = await cursor.fetchone()
                in_source = int(row[0]) if row else 0
                in_target = int(await conn.fetchval(f"SELECT COUNT(*) FROM {table}"))
                if not in_source == in_target == rows:
                    raise MigrateError(f"table {table}: {in_source} rows in SQLite, {rows} "
                                       f"copied, {in_target} in PostgreSQL; nothing was kept")
        finally:
            await db.execute("ROLLBACK")  # it only read
    return copied


async def _copy_table(sqlite: SqliteStore, conn: Connection, table: str) -> int:
    db = sqlite.db
    async with db.execute(f"PRAGMA table_info({table})") as cursor:
        columns = [row[1] async for row in cursor]
    kinds = {row[0]: row[1] for row in await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1", table)}
    missing = [column for column in columns if column not in kinds]
    if missing:
        raise MigrateError(f"table {table}: PostgreSQL has no column {', '.join(missing)}")
    convert = [_converter(kinds[column]) for column in columns]
    count = 0
    async with db.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY rowid") as cursor:
        for _ in range(1 << 40):  # bounded by the table: a chunk at a time
            chunk = await cursor.fetchmany(_CHUNK)
            if not chunk:
                break
            records = [tuple(c(value) for c, value in zip(convert, row, strict=True))
                       for row in chunk]
            await conn.copy_records_to_table(table, records=records, columns=columns)
            count += len(records)
    return count


def _converter(kind: str) -> Callable[[Any], Any]:
    """SQLite's value as the PostgreSQL column of type ``kind`` takes it."""
    if kind == "boolean":
        return lambda value: None if value is None else bool(value)
    if kind in ("bigint", "integer", "smallint"):
        return lambda value: None if value is None else int(value)
    return lambda value: value if value is None or isinstance(value, str) else str(value)
