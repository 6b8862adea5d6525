"""The SQLite store (the default): one file in the data directory, WAL mode.

Durability (setting ``durability``):
- ``"process"`` — ``synchronous=NORMAL``: a committed batch survives the server process crashing
  or being killed; on power loss or an OS crash the last batches may be lost (never corrupted).
- ``"power"`` — ``synchronous=FULL``: every commit is fsynced; it survives power loss too.

All statements run on aiosqlite's thread; a batch of messages is one INSERT — one statement,
one transaction, one round trip — up to 1,000 messages, and one transaction of a few round trips
when bigger. Operations are serialised by a lock so that one operation's transaction never
interleaves with another's on the shared connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, Concatenate, Final, Literal, ParamSpec, TypeVar

import aiosqlite
import msgspec

from palaver.store.base import (
    DELETED_NICK,
    MAX_REACTIONS_PER_MESSAGE,
    Account,
    AccountErasure,
    Appended,
    Deletion,
    Editing,
    NotifyLevel,
    Page,
    Reacting,
    ReactionMap,
    RoomBan,
    RoomSettings,
    SearchHit,
    SearchPage,
    StoredFile,
    StoredMarker,
    StoredMessage,
    StoredUpdate,
    StoredVersion,
    UpdatePage,
    check_search_words,
    later_ts,
)
from palaver.store.migrations import migrations
from palaver.store.room_sql import ROOM_IS_NEW, ROOM_REPLACES

Durability = Literal["process", "power"]
_SYNCHRONOUS: Final = {"process": "NORMAL", "power": "FULL"}
# Search (migration 013): a rowid of the index is a position * 256 + a conversation's bucket.
_SEARCH_SHIFT: Final = 8
_SEARCH_BUCKETS: Final = 1 << _SEARCH_SHIFT
_COLUMNS: Final = ("conversation, msg_id, ts, sender, sender_key, room, recipient, text, "
                   "client_id, notice, deleted, reply_to, file_id, file, edited_at")
_EDITED_AT: Final = [name.strip() for name in _COLUMNS.split(",")].index("edited_at")

_ACCOUNT_COLUMNS: Final = "account_key, nick, password_hash, locked, created_at, last_seen"
# Tables of an account's own (account management deletes its rows): table -> its key column.
_ACCOUNT_TABLES: Final = {"memberships": "account_key", "resume_marks": "account_key",
                          "read_markers": "identity", "metadata": "target",
                          "account_certificates": "account_key",
                          "password_resets": "account_key", "notify_levels": "identity"}

_MARKS: Final = ", ".join("?" * (_COLUMNS.count(",") + 1))  # one per column
# A batch of up to this many messages is one INSERT (15 columns each: 15,000 parameters, under
# SQLite's least limit of 32,766); a bigger one is several in one transaction.
_ONE_STATEMENT_ROWS: Final = 1_000
_FILE_DECODER: Final = msgspec.json.Decoder(StoredFile)
P = ParamSpec("P")
R = TypeVar("R")


def _serialized(
    method: Callable[Concatenate[SqliteStore, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[SqliteStore, P], Coroutine[Any, Any, R]]:
    """Run ``method`` alone: no other store operation interleaves with it."""

    async def run(self: SqliteStore, /, *args: P.args, **kwargs: P.kwargs) -> R:
        async with self._lock:
            return await method(self, *args, **kwargs)

    run.__doc__ = method.__doc__
    return run


class StoreError(Exception):
    """The store cannot be used as it is; the message says why and what to do."""


class SqliteStore:
    def __init__(self, path: str | Path, durability: Durability = "process") -> None:
        self.path = Path(path)
        self.durability = durability
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the store is not open")
        return self._db

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await self.db.execute("PRAGMA journal_mode=WAL")
            await self.db.execute(f"PRAGMA synchronous={_SYNCHRONOUS[self.durability]}")
            await self.db.execute("PRAGMA foreign_keys=ON")
            await self._migrate()
        except BaseException:
            await self.close()  # its thread would keep the process alive
            raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def _migrate(self) -> None:
        db = self.db
        await db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
        )
        async with db.execute("SELECT version FROM schema_migrations") as cursor:
            applied = {row[0] async for row in cursor}
        known = migrations()
        newest = max((version for version, _, _ in known), default=0)
        if applied and max(applied) > newest:
            raise StoreError(
                f"{self.path} has schema version {max(applied)}, written by a newer palaver; "
                f"this one knows up to version {newest}: upgrade palaver, or restore a backup")
        for version, name, sql in known:
            if version in applied:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(sql):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", (version, name)
                )
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    @_serialized
    async def schema_version(self) -> int:
        async with self.db.execute("SELECT MAX(version) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # ------------------------------------------------------------------ messages

    @_serialized
    async def append(self, batch: Sequence[StoredMessage]) -> list[Appended]:
        if len(batch) <= _ONE_STATEMENT_ROWS:
            return await self._append_at_once(batch)
        db = self.db
        rows = [_row(m) for m in batch]
        await db.execute("BEGIN IMMEDIATE")
        try:
            changes = db.total_changes
            await db.executemany(
                f"INSERT INTO messages ({_COLUMNS}) VALUES ({_MARKS}) "
                "ON CONFLICT (sender_key, client_id) WHERE client_id IS NOT NULL DO NOTHING",
                rows,
            )
            if db.total_changes - changes == len(rows):  # the usual case: no resends
                await db.execute("COMMIT")
                return [None] * len(rows)
            stored = await self._by_client_ids(batch)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return _outcome(batch, stored)

    async def _append_at_once(self, batch: Sequence[StoredMessage]) -> list[Appended]:
        """The batch as one INSERT: one statement is one transaction (autocommit), so it is
        one round trip to aiosqlite's thread rather than three (BEGIN, the rows, COMMIT) —
        each a wake-up of that thread and then of the loop, which showed in the latency of a
        busy server (docs/benchmarks.md §7)."""
        values = ", ".join([f"({_MARKS})"] * len(batch))
        cursor = await self.db.execute(
            f"INSERT INTO messages ({_COLUMNS}) VALUES {values} "
            "ON CONFLICT (sender_key, client_id) WHERE client_id IS NOT NULL DO NOTHING",
            [value for m in batch for value in _row(m)],
        )
        if cursor.rowcount == len(batch):  # the usual case: no resends
            return [None] * len(batch)
        return _outcome(batch, await self._by_client_ids(batch))

    async def _by_client_ids(
        self, batch: Sequence[StoredMessage]
    ) -> dict[tuple[str, str | None], StoredMessage]:
        keys = {(m.sender_key, m.client_id) for m in batch if m.client_id is not None}
        found: dict[tuple[str, str | None], StoredMessage] = {}
        for sender_key, client_id in keys:
            async with self.db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE sender_key = ? AND client_id = ?",
                (sender_key, client_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                found[(sender_key, client_id)] = _message(row)
        return found

    @_serialized
    async def last_ids(self) -> dict[str, int]:
        async with self.db.execute(
            "SELECT conversation, MAX(msg_id) FROM messages GROUP BY conversation"
        ) as cursor:
            last = {row[0]: int(row[1]) async for row in cursor}
        async with self.db.execute(
            "SELECT conversation, MAX(seq) FROM message_updates GROUP BY conversation"
        ) as cursor:
            async for conversation, seq in cursor:
                last[conversation] = max(last.get(conversation, 0), int(seq))
        return last

    @_serialized
    async def page(
        self, conversation: str, *, before: int | None = None, after: int | None = None,
        limit: int = 50,
    ) -> Page:
        if after is not None:
            sql = (f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND msg_id > ? "
                   "ORDER BY msg_id ASC LIMIT ?")
            params: tuple[Any, ...] = (conversation, after, limit + 1)
        elif before is not None:
            sql = (f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND msg_id < ? "
                   "ORDER BY msg_id DESC LIMIT ?")
            params = (conversation, before, limit + 1)
        else:
            sql = (f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? "
                   "ORDER BY msg_id DESC LIMIT ?")
            params = (conversation, limit + 1)
        async with self.db.execute(sql, params) as cursor:
            rows = [_message(row) async for row in cursor]
        more = len(rows) > limit
        rows = rows[:limit]
        if after is None:
            rows.reverse()
        return Page(messages=tuple(rows), more=more)

    async def msg_id_at(self, conversation: str, ts: str) -> int:
        async with self.db.execute(
            "SELECT MAX(msg_id) FROM messages WHERE conversation = ? AND ts <= ?",
            (conversation, ts),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def last_activity(
        self, conversations: Sequence[str], *, after: str, before: str
    ) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(conversations), 500):  # SQLite's limit on parameters
            chunk = list(conversations[start:start + 500])
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT conversation, MAX(ts) FROM messages WHERE conversation IN ({marks}) "
                "GROUP BY conversation HAVING MAX(ts) > ? AND MAX(ts) < ?",
                (*chunk, after, before),
            ) as cursor:
                out.update({row[0]: row[1] async for row in cursor})
        return out

    # ------------------------------------------------------------------ accounts

    @_serialized
    async def create_account(self, account: Account) -> bool:
        cursor = await self.db.execute(
            "INSERT INTO accounts (account_key, nick, password_hash, locked, created_at, "
            "last_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_key) DO NOTHING",
            (account.key, account.nick, account.password_hash, int(account.locked),
             account.created_at, account.last_seen),
        )
        return cursor.rowcount == 1

    @_serialized
    async def get_account(self, key: str) -> Account | None:
        async with self.db.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account_key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _account(row)

    @_serialized
    async def rename_account(self, key: str, new_key: str, new_nick: str) -> bool:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            if new_key != key:
                async with db.execute(
                    "SELECT 1 FROM accounts WHERE account_key = ?", (new_key,)
                ) as cursor:
                    if await cursor.fetchone() is not None:
                        await db.execute("ROLLBACK")
                        return False
            cursor = await db.execute(
                "UPDATE accounts SET account_key = ?, nick = ? WHERE account_key = ?",
                (new_key, new_nick, key),
            )
            renamed = cursor.rowcount == 1
            await db.execute(
                "UPDATE memberships SET account_key = ? WHERE account_key = ?", (new_key, key)
            )
            await db.execute(
                "UPDATE read_markers SET identity = ? WHERE identity = ?", (new_key, key)
            )
            await db.execute(
                "UPDATE notify_levels SET identity = ? WHERE identity = ?", (new_key, key)
            )
            await db.execute("UPDATE metadata SET target = ? WHERE target = ?", (new_key, key))
            await db.execute("UPDATE OR REPLACE reactions SET identity = ? WHERE identity = ?",
                             (new_key, key))
            await db.execute("UPDATE message_updates SET by_key = ? WHERE by_key = ?",
                             (new_key, key))
            await db.execute("UPDATE account_certificates SET account_key = ? "
                             "WHERE account_key = ?", (new_key, key))
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return renamed

    @_serialized
    async def set_membership(self, account_key: str, room: str, member: bool) -> None:
        if member:
            await self.db.execute(
                "INSERT INTO memberships (account_key, room_key, room) VALUES (?, ?, ?) "
                "ON CONFLICT (account_key, room_key) DO NOTHING",
                (account_key, room.lower(), room),
            )
        else:
            await self.db.execute(
                "DELETE FROM memberships WHERE account_key = ? AND room_key = ?",
                (account_key, room.lower()),
            )

    @_serialized
    async def memberships(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        async with self.db.execute(
            "SELECT account_key, room FROM memberships ORDER BY account_key, room_key"
        ) as cursor:
            async for key, room in cursor:
                out.setdefault(key, []).append(room)
        return out

    @_serialized
    async def accounts(self) -> dict[str, str]:
        async with self.db.execute("SELECT account_key, nick FROM accounts") as cursor:
            return {row[0]: row[1] async for row in cursor}

    @_serialized
    async def save_marks(self, account_key: str, marks: dict[str, int]) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute("DELETE FROM resume_marks WHERE account_key = ?", (account_key,))
            await db.executemany(
                "INSERT INTO resume_marks (account_key, conversation, msg_id) VALUES (?, ?, ?)",
                [(account_key, conversation, msg_id) for conversation, msg_id in marks.items()],
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise

    @_serialized
    async def load_marks(self, account_key: str) -> dict[str, int]:
        async with self.db.execute(
            "SELECT conversation, msg_id FROM resume_marks WHERE account_key = ?", (account_key,)
        ) as cursor:
            return {row[0]: int(row[1]) async for row in cursor}

    @_serialized
    async def save_room(self, settings: RoomSettings, *, new: bool = False) -> bool:
        s = settings
        cursor = await self.db.execute(
            "INSERT INTO room_settings (room_key, room, topic, topic_by, topic_at, invite_only, "
            "private, operators, bans, invited, created_at, moderated, outside_messages, "
            "open_topic, member_limit, join_key, voiced, allowed, muted) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            + (ROOM_IS_NEW if new else ROOM_REPLACES),
            (s.room.lower(), s.room, s.topic, s.topic_by, s.topic_at, int(s.invite_only),
             int(s.private), _json_text(s.operators), _json_text(s.bans), _json_text(s.invited),
             s.created_at, int(s.moderated), int(s.outside_messages), int(s.open_topic),
             s.limit, s.key, _json_text(s.voiced), _json_text(s.allowed),
             _json_text(s.muted)),
        )
        return cursor.rowcount == 1

    @_serialized
    async def room_settings(self) -> list[RoomSettings]:
        async with self.db.execute(
            "SELECT room, topic, topic_by, topic_at, invite_only, private, operators, bans, "
            "invited, created_at, moderated, outside_messages, open_topic, member_limit, "
            "join_key, voiced, allowed, muted FROM room_settings ORDER BY room_key"
        ) as cursor:
            return [
                RoomSettings(
                    room=row[0], topic=row[1], topic_by=row[2], topic_at=row[3],
                    invite_only=bool(row[4]), private=bool(row[5]),
                    operators=msgspec.json.decode(row[6], type=tuple[str, ...]),
                    bans=msgspec.json.decode(row[7], type=tuple[RoomBan, ...]),
                    invited=msgspec.json.decode(row[8], type=tuple[str, ...]),
                    created_at=row[9], moderated=bool(row[10]),
                    outside_messages=bool(row[11]), open_topic=bool(row[12]),
                    limit=int(row[13]), key=row[14],
                    voiced=msgspec.json.decode(row[15], type=tuple[str, ...]),
                    allowed=msgspec.json.decode(row[16], type=tuple[RoomBan, ...]),
                    muted=msgspec.json.decode(row[17], type=tuple[RoomBan, ...]),
                )
                async for row in cursor
            ]

    # ------------------------------------------------------------------ read markers

    @_serialized
    async def set_read_marker(
        self, identity: str, conversation: str, *, msg_id: int | None = None,
        ts: str | None = None,
    ) -> tuple[StoredMarker, bool]:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            if msg_id is not None:  # its time: that message's
                async with db.execute(
                    "SELECT ts FROM messages WHERE conversation = ? AND msg_id = ?",
                    (conversation, msg_id),
                ) as cursor:
                    row = await cursor.fetchone()
                ts = later_ts(ts, row[0] if row is not None else None)
            if ts is not None:  # its msg_id: the newest message sent at or before it
                async with db.execute(
                    "SELECT MAX(msg_id) FROM messages WHERE conversation = ? AND ts <= ?",
                    (conversation, ts),
                ) as cursor:
                    row = await cursor.fetchone()
                msg_id = max(msg_id or 0, int(row[0]) if row and row[0] is not None else 0)
            old = await self._marker(identity, conversation)
            new = StoredMarker(conversation=conversation, msg_id=max(old.msg_id, msg_id or 0),
                               ts=later_ts(old.ts, ts))
            if new != old:
                await db.execute(
                    "INSERT INTO read_markers (identity, conversation, msg_id, ts) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (identity, conversation) DO UPDATE SET "
                    "msg_id = excluded.msg_id, ts = excluded.ts",
                    (identity, conversation, new.msg_id, new.ts),
                )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return new, new != old

    async def _marker(self, identity: str, conversation: str) -> StoredMarker:
        async with self.db.execute(
            "SELECT msg_id, ts FROM read_markers WHERE identity = ? AND conversation = ?",
            (identity, conversation),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return StoredMarker(conversation=conversation)
        return StoredMarker(conversation=conversation, msg_id=int(row[0]), ts=row[1])

    @_serialized
    async def read_markers(self, identity: str) -> list[StoredMarker]:
        async with self.db.execute(
            "SELECT conversation, msg_id, ts FROM read_markers WHERE identity = ? "
            "ORDER BY conversation", (identity,),
        ) as cursor:
            return [StoredMarker(conversation=row[0], msg_id=int(row[1]), ts=row[2])
                    async for row in cursor]

    # ------------------------------------------------------------------ notification levels

    @_serialized
    async def set_notify_level(self, identity: str, conversation: str,
                               level: NotifyLevel) -> bool:
        if level == "all":  # the default: no row
            cursor = await self.db.execute(
                "DELETE FROM notify_levels WHERE identity = ? AND conversation = ?",
                (identity, conversation))
            return cursor.rowcount > 0
        cursor = await self.db.execute(
            "INSERT INTO notify_levels (identity, conversation, level) VALUES (?, ?, ?) "
            "ON CONFLICT (identity, conversation) DO UPDATE SET level = excluded.level "
            "WHERE level <> excluded.level", (identity, conversation, level))
        return cursor.rowcount > 0

    @_serialized
    async def notify_levels(self, identity: str) -> dict[str, NotifyLevel]:
        async with self.db.execute(
            "SELECT conversation, level FROM notify_levels WHERE identity = ? "
            "ORDER BY conversation", (identity,),
        ) as cursor:
            return {row[0]: _level(row[1]) async for row in cursor}

    # ------------------------------------------------------------------ deletion

    @_serialized
    async def delete_message(
        self, conversation: str, msg_id: int, *, sender_key: str | None = None,
        update: StoredUpdate | None = None,
    ) -> Deletion:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND msg_id = ?",
                (conversation, msg_id),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                deletion = Deletion(outcome="no_such_message")
            elif sender_key is not None and row[4] != sender_key:
                deletion = Deletion(outcome="not_sender")
            elif row[10]:
                deletion = Deletion(outcome="already_deleted", message=_message(row))
            else:
                await db.execute(
                    "UPDATE messages SET text = '', deleted = 1 "
                    "WHERE conversation = ? AND msg_id = ?", (conversation, msg_id),
                )
                await db.execute(  # their texts go with it
                    "DELETE FROM message_updates WHERE conversation = ? AND msg_id = ?",
                    (conversation, msg_id))
                await self._store_update(update)
                tombstone = msgspec.structs.replace(_message(row), text="", deleted=True)
                deletion = Deletion(outcome="deleted", message=tombstone, update=update)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return deletion

    # ------------------------------------------------------------------ edits

    @_serialized
    async def edit_message(
        self, conversation: str, msg_id: int, *, sender_key: str, text: str, edited_at: str,
        sent_after: str | None = None, update: StoredUpdate | None = None,
    ) -> Editing:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND msg_id = ?",
                (conversation, msg_id),
            ) as cursor:
                row = await cursor.fetchone()
            message = None if row is None else _message(row)
            if message is None:
                editing = Editing(outcome="no_such_message")
            elif message.sender_key != sender_key:
                editing = Editing(outcome="not_sender")
            elif message.deleted:
                editing = Editing(outcome="deleted")
            elif sent_after is not None and message.ts < sent_after:
                editing = Editing(outcome="too_late")
            elif message.text == text:
                editing = Editing(outcome="unchanged", message=message)
            else:
                await db.execute(
                    "INSERT INTO message_edits (conversation, msg_id, version, text, ts) "
                    "SELECT ?, ?, COALESCE(MAX(version), 0) + 1, ?, ? FROM message_edits "
                    "WHERE conversation = ? AND msg_id = ?",
                    (conversation, msg_id, message.text, message.edited_at or message.ts,
                     conversation, msg_id),
                )
                await db.execute(
                    "UPDATE messages SET text = ?, edited_at = ? "
                    "WHERE conversation = ? AND msg_id = ?",
                    (text, edited_at, conversation, msg_id),
                )
                await self._store_update(update)
                editing = Editing(outcome="edited", message=msgspec.structs.replace(
                    message, text=text, edited_at=edited_at), update=update)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return editing

    @_serialized
    async def message_versions(self, conversation: str, msg_id: int) -> list[StoredVersion] | None:
        async with self.db.execute(
            "SELECT text, COALESCE(edited_at, ts), deleted FROM messages "
            "WHERE conversation = ? AND msg_id = ?", (conversation, msg_id),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        if row[2]:
            return []
        async with self.db.execute(
            "SELECT text, ts FROM message_edits WHERE conversation = ? AND msg_id = ? "
            "ORDER BY version", (conversation, msg_id),
        ) as cursor:
            earlier = [StoredVersion(text=r[0], ts=r[1]) async for r in cursor]
        return [*earlier, StoredVersion(text=row[0], ts=row[1])]

    # ------------------------------------------------------------------ search

    @_serialized
    async def search(
        self, conversations: Sequence[str], words: Sequence[str], *,
        before: int | None = None, limit: int = 20,
    ) -> SearchPage:
        check_search_words(words)
        if not conversations or not words:
            return SearchPage(hits=(), more=False)
        # FTS5 walks the index newest first and stops at the limit: the cost is the matches
        # skipped (those of conversations not asked about) and the page, not the table. A
        # rowid is a position * 256 + the bucket of its conversation (migration 013): a match
        # in a bucket none of the conversations asked about is in is skipped without a lookup.
        scope = _json_text(list(dict.fromkeys(conversations)))
        match = " ".join('"' + word.replace('"', '""') + '"' for word in words)
        bound = ("" if before is None else
                 f"AND s.rowid < {min(max(before, 0), 1 << 54) << _SEARCH_SHIFT} ")
        columns = ", ".join(f"m.{name.strip()}" for name in _COLUMNS.split(","))
        async with self.db.execute(
            f"SELECT d.id, {columns} FROM message_search AS s "
            f"CROSS JOIN search_docs AS d ON d.id = s.rowid >> {_SEARCH_SHIFT} "
            "CROSS JOIN messages AS m ON m.conversation = d.conversation "
            "AND m.msg_id = d.msg_id "
            f"WHERE message_search MATCH ?1 {bound}"
            f"AND (s.rowid & {_SEARCH_BUCKETS - 1}) IN (SELECT id & {_SEARCH_BUCKETS - 1} "
            "FROM search_conversations WHERE name IN (SELECT value FROM json_each(?2))) "
            "AND d.conversation IN (SELECT value FROM json_each(?2)) AND m.deleted = 0 "
            "ORDER BY s.rowid DESC LIMIT ?3", (match, scope, limit + 1),
        ) as cursor:
            hits = [SearchHit(position=int(row[0]), message=_message(row[1:]))
                    async for row in cursor]
        return SearchPage(hits=tuple(hits[:limit]), more=len(hits) > limit)

    # ------------------------------------------------------------------ metadata

    @_serialized
    async def save_metadata(self, target: str, values: Sequence[tuple[str, str]]) -> None:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute("DELETE FROM metadata WHERE target = ?", (target,))
            await db.executemany(
                "INSERT INTO metadata (target, key, value, position) VALUES (?, ?, ?, ?)",
                [(target, key, value, n) for n, (key, value) in enumerate(values)],
            )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise

    @_serialized
    async def metadata(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        async with self.db.execute(
            "SELECT target, key, value FROM metadata ORDER BY target, position"
        ) as cursor:
            async for target, key, value in cursor:
                out.setdefault(target, {})[key] = value
        return out

    # ------------------------------------------------------------------ client certificates

    # ------------------------------------------------------------------ reactions

    @_serialized
    async def react(
        self, conversation: str, msg_id: int, *, identity: str, nick: str, reaction: str,
        ts: str, remove: bool = False, update: StoredUpdate | None = None,
    ) -> Reacting:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            reacting = await self._react(conversation, msg_id, identity, nick, reaction, ts,
                                         remove)
            if reacting.outcome in ("added", "removed") and update is not None:
                await self._store_update(update)
                reacting = msgspec.structs.replace(reacting, update=update)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return reacting

    async def _react(self, conversation: str, msg_id: int, identity: str, nick: str,
                     reaction: str, ts: str, remove: bool) -> Reacting:
        db = self.db
        async with db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND msg_id = ?",
            (conversation, msg_id),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return Reacting(outcome="no_such_message")
        message = _message(row)
        if message.deleted:
            return Reacting(outcome="deleted", message=message)
        key = (conversation, msg_id, reaction, identity)
        if remove:
            cursor = await db.execute(
                "DELETE FROM reactions WHERE conversation = ? AND msg_id = ? AND reaction = ? "
                "AND identity = ?", key)
            return Reacting(outcome="removed" if cursor.rowcount else "unchanged",
                            message=message)
        async with db.execute(
            "SELECT COUNT(DISTINCT reaction), SUM(reaction = ? AND identity = ?), "
            "SUM(reaction = ?) FROM reactions WHERE conversation = ? AND msg_id = ?",
            (reaction, identity, reaction, conversation, msg_id),
        ) as cursor:
            counted = await cursor.fetchone()
        distinct, mine, same = (int(v or 0) for v in counted) if counted else (0, 0, 0)
        if mine:
            return Reacting(outcome="unchanged", message=message)
        if not same and distinct >= MAX_REACTIONS_PER_MESSAGE:
            return Reacting(outcome="too_many", message=message)
        await db.execute(
            "INSERT INTO reactions (conversation, msg_id, reaction, identity, nick, ts) "
            "VALUES (?, ?, ?, ?, ?, ?)", (*key, nick, ts))
        return Reacting(outcome="added", message=message)

    async def _store_update(self, update: StoredUpdate | None) -> None:
        """Record ``update`` (inside the caller's transaction)."""
        if update is None:
            return
        await self.db.execute(
            "INSERT INTO message_updates (conversation, seq, msg_id, kind, ts, by_nick, by_key, "
            "value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (update.conversation, update.seq, update.msg_id, update.kind, update.ts, update.by,
             update.by_key, update.value))

    @_serialized
    async def updates(
        self, conversation: str, *, after: int, upto: int, limit: int,
    ) -> UpdatePage:
        async with self.db.execute(
            "SELECT seq, msg_id, kind, ts, by_nick, by_key, value FROM message_updates "
            "WHERE conversation = ? AND seq > ? AND seq <= ? AND msg_id <= ? "
            "ORDER BY seq DESC LIMIT ?", (conversation, after, upto, after, limit + 1),
        ) as cursor:
            rows = [StoredUpdate(conversation=conversation, seq=int(seq), msg_id=int(msg_id),
                                 kind=kind, ts=ts, by=by, by_key=by_key, value=value)
                    async for seq, msg_id, kind, ts, by, by_key, value in cursor]
        more = len(rows) > limit
        return UpdatePage(updates=tuple(reversed(rows[:limit])), more=more)

    @_serialized
    async def reactions(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, ReactionMap]:
        given: dict[int, dict[str, list[str]]] = {}
        for start in range(0, len(msg_ids), 500):  # SQLite's limit on parameters
            chunk = list(msg_ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT msg_id, reaction, nick FROM reactions WHERE conversation = ? "
                f"AND msg_id IN ({marks}) ORDER BY rowid", (conversation, *chunk),
            ) as cursor:
                async for msg_id, reaction, nick in cursor:
                    given.setdefault(int(msg_id), {}).setdefault(reaction, []).append(nick)
        return {msg_id: {r: tuple(nicks) for r, nicks in by.items()}
                for msg_id, by in given.items()}

    @_serialized
    async def messages(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, StoredMessage]:
        out: dict[int, StoredMessage] = {}
        for start in range(0, len(msg_ids), 500):
            chunk = list(msg_ids[start:start + 500])
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT {_COLUMNS} FROM messages WHERE conversation = ? AND msg_id IN ({marks})",
                (conversation, *chunk),
            ) as cursor:
                async for row in cursor:
                    out[int(row[1])] = _message(row)
        return out

    @_serialized
    async def bind_certificate(self, account_key: str, fingerprint: str) -> bool:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute(
                "INSERT OR IGNORE INTO account_certificates (fingerprint, account_key) "
                "VALUES (?, ?)", (fingerprint, account_key))
            async with db.execute(
                "SELECT account_key FROM account_certificates WHERE fingerprint = ?",
                (fingerprint,),
            ) as cursor:
                row = await cursor.fetchone()
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return row is not None and row[0] == account_key

    @_serialized
    async def unbind_certificate(self, account_key: str, fingerprint: str) -> bool:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            cursor = await db.execute(
                "DELETE FROM account_certificates WHERE fingerprint = ? AND account_key = ?",
                (fingerprint, account_key))
            removed = cursor.rowcount == 1
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return removed

    @_serialized
    async def certificates(self, account_key: str) -> list[str]:
        async with self.db.execute(
            "SELECT fingerprint FROM account_certificates WHERE account_key = ? ORDER BY rowid",
            (account_key,),
        ) as cursor:
            return [row[0] async for row in cursor]

    @_serialized
    async def certificate_account(self, fingerprint: str) -> str | None:
        async with self.db.execute(
            "SELECT account_key FROM account_certificates WHERE fingerprint = ?", (fingerprint,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ files (UPLOAD)

    @_serialized
    async def file_message(self, file_id: str) -> StoredMessage | None:
        async with self.db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE file_id = ?", (file_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None else _message(row)

    @_serialized
    async def files_usage(self, sender_key: str) -> int:
        async with self.db.execute(
            "SELECT COALESCE(SUM(json_extract(file, '$.size')), 0) FROM messages "
            "WHERE sender_key = ? AND file_id IS NOT NULL AND deleted = 0", (sender_key,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    @_serialized
    async def file_hashes(self) -> set[str]:
        async with self.db.execute(
            "SELECT DISTINCT json_extract(file, '$.sha256') FROM messages "
            "WHERE file_id IS NOT NULL AND deleted = 0"
        ) as cursor:
            return {str(row[0]) async for row in cursor if row[0] is not None}

    # ------------------------------------------------------------------ account management

    @_serialized
    async def set_password(self, key: str, password_hash: str) -> bool:
        return await self._in_transaction(self._set_password, key, password_hash)

    async def _set_password(self, key: str, password_hash: str) -> bool:
        cursor = await self.db.execute(
            "UPDATE accounts SET password_hash = ? WHERE account_key = ?", (password_hash, key))
        await self.db.execute("DELETE FROM password_resets WHERE account_key = ?", (key,))
        return cursor.rowcount == 1

    @_serialized
    async def set_reset_token(self, key: str, token_hash: str, expires: str) -> bool:
        return await self._in_transaction(self._set_reset_token, key, token_hash, expires)

    async def _set_reset_token(self, key: str, token_hash: str, expires: str) -> bool:
        async with self.db.execute(
            "SELECT 1 FROM accounts WHERE account_key = ?", (key,)
        ) as cursor:
            if await cursor.fetchone() is None:
                return False
        await self.db.execute(
            "INSERT INTO password_resets (account_key, token_hash, expires) VALUES (?, ?, ?) "
            "ON CONFLICT (account_key) DO UPDATE SET token_hash = excluded.token_hash, "
            "expires = excluded.expires", (key, token_hash, expires))
        return True

    @_serialized
    async def reset_password(self, key: str, token_hash: str, now: str,
                             password_hash: str) -> bool:
        return await self._in_transaction(self._reset_password, key, token_hash, now,
                                          password_hash)

    async def _reset_password(self, key: str, token_hash: str, now: str,
                              password_hash: str) -> bool:
        await self.db.execute(
            "DELETE FROM password_resets WHERE account_key = ? AND expires <= ?", (key, now))
        async with self.db.execute(
            "SELECT token_hash FROM password_resets WHERE account_key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or row[0] != token_hash:
            return False
        return await self._set_password(key, password_hash)  # the token goes with it

    @_serialized
    async def set_locked(self, key: str, locked: bool) -> bool:
        cursor = await self.db.execute(
            "UPDATE accounts SET locked = ? WHERE account_key = ?", (int(locked), key))
        return cursor.rowcount == 1

    @_serialized
    async def locked_accounts(self) -> set[str]:
        async with self.db.execute(
            "SELECT account_key FROM accounts WHERE locked <> 0"
        ) as cursor:
            return {row[0] async for row in cursor}

    @_serialized
    async def note_seen(self, key: str, ts: str) -> None:
        await self.db.execute(
            "UPDATE accounts SET last_seen = ? WHERE account_key = ?", (ts, key))

    @_serialized
    async def account_list(self) -> list[Account]:
        async with self.db.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY account_key"
        ) as cursor:
            return [_account(row) async for row in cursor]

    @_serialized
    async def delete_account(self, erasure: AccountErasure) -> bool:
        return await self._in_transaction(self._delete_account, erasure)

    async def _delete_account(self, erasure: AccountErasure) -> bool:
        db, key, tombstone = self.db, erasure.key, erasure.tombstone
        cursor = await db.execute("DELETE FROM accounts WHERE account_key = ?", (key,))
        existed = cursor.rowcount == 1
        tables = await self._tables()
        for table, column in _ACCOUNT_TABLES.items():
            if table in tables:
                await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (key,))
        # Direct conversations move to their new keys, in every table that names them (the
        # messages, their search index, edits, reactions, others' markers and marks).
        for old, new in erasure.renames:
            for table, columns in tables.items():
                if "conversation" in columns:
                    await db.execute(
                        f"UPDATE {table} SET conversation = ? WHERE conversation = ?",
                        (new, old))
            await db.execute(
                "UPDATE messages SET recipient = ? WHERE conversation = ? AND sender_key <> ?",
                (DELETED_NICK, new, key))
        if "message_updates" in tables:  # its updates stay, by the tombstone identity ...
            await db.execute("UPDATE message_updates SET by_key = ?, by_nick = ? "
                             "WHERE by_key = ?", (tombstone, DELETED_NICK, key))
            if erasure.erase:  # ... but not the edits of erased messages, nor their texts
                await db.execute(
                    "DELETE FROM message_updates WHERE kind = 'edit' AND by_key = ?",
                    (tombstone,))
        erased = ", text = '', deleted = 1" if erasure.erase else ""
        await db.execute(
            f"UPDATE messages SET sender = ?, sender_key = ?, client_id = NULL{erased} "
            "WHERE sender_key = ?", (DELETED_NICK, tombstone, key))
        if "reactions" in tables:
            await db.execute("UPDATE OR REPLACE reactions SET identity = ?, nick = ? "
                             "WHERE identity = ?", (tombstone, DELETED_NICK, key))
        return existed

    async def _tables(self) -> dict[str, set[str]]:
        """Every table of the database (not the search index's own) and its columns."""
        async with self.db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE "
            "'CREATE VIRTUAL%' AND name NOT LIKE 'message_search%' AND name NOT LIKE 'sqlite%'"
        ) as cursor:
            names = [row[0] async for row in cursor]
        tables: dict[str, set[str]] = {}
        for name in names:
            async with self.db.execute(f"PRAGMA table_info({name})") as cursor:
                tables[name] = {row[1] async for row in cursor}
        return tables

    async def _in_transaction(self, work: Callable[P, Coroutine[Any, Any, R]],
                              *args: P.args, **kwargs: P.kwargs) -> R:
        db = self.db
        await db.execute("BEGIN IMMEDIATE")
        try:
            result = await work(*args, **kwargs)
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return result

    @_serialized
    async def integrity_check(self) -> str:
        async with self.db.execute("PRAGMA integrity_check") as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row else "no answer"


def _level(text: str) -> NotifyLevel:
    """A stored level (the table's CHECK allows only these)."""
    if text == "mentions":
        return "mentions"
    if text == "none":
        return "none"
    raise StoreError(f"unknown notification level {text!r} in the database")


def _json_text(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):  # a trigger's body holds ";" of its own
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().removesuffix(";").strip())
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip().removesuffix(";").strip())
    return statements


def _outcome(batch: Sequence[StoredMessage],
             stored: dict[tuple[str, str | None], StoredMessage]) -> list[Appended]:
    """Each message's fate: None (stored as it is), or the original a resend stands for."""
    outcome: list[Appended] = []
    for message in batch:
        original = (
            stored.get((message.sender_key, message.client_id))
            if message.client_id is not None else None
        )
        same = original is None or (original.conversation, original.msg_id) == (
            message.conversation, message.msg_id)
        outcome.append(None if same else original)
    return outcome


def _row(m: StoredMessage) -> tuple[Any, ...]:
    return (m.conversation, m.msg_id, m.ts, m.sender, m.sender_key, m.room, m.to, m.text,
            m.client_id, int(m.notice), int(m.deleted), m.reply_to,
            None if m.file is None else m.file.file_id,
            None if m.file is None else _json_text(m.file), m.edited_at)


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        conversation=row[0], msg_id=int(row[1]), ts=row[2], sender=row[3], sender_key=row[4],
        room=row[5], to=row[6], text=row[7], client_id=row[8], notice=bool(row[9]),
        deleted=bool(row[10]), reply_to=None if row[11] is None else int(row[11]),
        file=None if row[13] is None else _FILE_DECODER.decode(row[13]),
        edited_at=row[_EDITED_AT],
    )


def _account(row: Any) -> Account:
    return Account(key=row[0], nick=row[1], password_hash=row[2], locked=bool(row[3]),
                   created_at=row[4], last_seen=row[5])
