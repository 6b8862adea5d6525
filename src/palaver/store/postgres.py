"""The PostgreSQL store: ``store = "postgresql://USER@HOST:PORT/DB"`` (docs/operations.md).

How this works: one asyncpg connection pool; each operation takes a connection for its
statements, in one transaction wherever SQLite's store uses one (a batch of messages, a change
and its update row, an account's deletion, ...). SQLite serialises every operation; here they
run side by side, so each read-modify-write is made safe on its own: the message it changes is
locked (``SELECT ... FOR UPDATE``), or a transaction-scoped advisory lock is taken on what it
replaces whole (an account's marks, a target's metadata, a read marker).

The schema is pg_migrations/ (numbered like SQLite's), applied at :meth:`PostgresStore.open` in
one transaction under an advisory lock, so that servers starting together migrate once. Search
is pg_trgm (a GIN index of the lowered text): every word, lowered as the index is, must be a
substring (LIKE '%word%') of the lowered text. Durability is PostgreSQL's
(``synchronous_commit``, docs/operations.md).

Ids: several nodes append to the same conversations, so the store decides each id, in the
transaction that stores it, from the conversation's counter row (``conversation_ids``,
migration 019; messages and updates share it). An append first looks up the batch's client ids
already stored (resends: answered with the original, no id taken), then takes n ids from each
conversation's counter in sorted order (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``: the
row stays locked until the commit, and the fixed order means two nodes never deadlock), then
inserts the rows under those ids. A rollback gives the ids back, so none is skipped; a resend
that races its original on another node fails on the unique (sender_key, client_id) index and
is retried from the start, when the lookup finds the original. An edit, reaction or deletion
takes its update's seq from the same counter, only when it stores one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final, TypeAlias

import asyncpg
import asyncpg.pool
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
from palaver.store.pg_migrations import migrations
from palaver.store.room_sql import ROOM_IS_NEW, ROOM_REPLACES
from palaver.store.sqlite import StoreError

log = logging.getLogger("palaver.store")
Connection: TypeAlias = "asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"  # a pooled one

POOL_MIN: Final = 1
POOL_MAX: Final = 10
CONNECT_TIMEOUT: Final = 30.0  # seconds to connect
COMMAND_TIMEOUT: Final = 60.0  # seconds a statement may take (the store_timeout setting)
MIGRATION_TIMEOUT: Final = 3_600.0  # seconds a schema migration's statements may take
CLOSE_TIMEOUT: Final = 10.0  # seconds close waits for the connections in use
APPEND_ATTEMPTS: Final = 5  # transactions an append tries when it loses a race (then raises)
_MIGRATION_LOCK: Final = 0x70616C61766572  # "palaver": one migrating server at a time
_SEARCH_COLLATION: Final = "und-x-icu"  # how search lowers text (and its index does)

_COLUMNS: Final = ("conversation, msg_id, ts, sender, sender_key, room, recipient, text, "
                   "client_id, notice, deleted, reply_to, file_id, file, edited_at")
_TYPES: Final = ("text", "bigint", "text", "text", "text", "text", "text", "text", "text",
                 "boolean", "boolean", "bigint", "text", "text", "text")
_ACCOUNT_COLUMNS: Final = "account_key, nick, password_hash, locked, created_at, last_seen"
# Tables of an account's own (account management deletes its rows): table -> its key column.
_ACCOUNT_TABLES: Final = {"memberships": "account_key", "resume_marks": "account_key",
                          "read_markers": "identity", "metadata": "target",
                          "account_certificates": "account_key",
                          "password_resets": "account_key", "notify_levels": "identity"}
# Tables that name conversations (an account's direct conversations move when it is deleted);
# messages first: its trigger takes the earlier texts (message_edits) along.
_CONVERSATION_TABLES: Final = ("messages", "message_edits", "reactions", "message_updates",
                               "resume_marks", "read_markers", "notify_levels")
_FILE_DECODER: Final = msgspec.json.Decoder(StoredFile)
# INSERT of a batch: one array per column, unnested in the batch's order (its positions).
_APPEND: Final = (
    f"INSERT INTO messages ({_COLUMNS}) SELECT "
    + ", ".join(f"c{n}" + ("::jsonb" if n == 13 else "") for n in range(len(_TYPES)))
    + " FROM unnest("
    + ", ".join(f"${n + 1}::{kind}[]" for n, kind in enumerate(_TYPES))
    + ") WITH ORDINALITY AS batch("
    + ", ".join(f"c{n}" for n in range(len(_TYPES)))
    + ", n) ORDER BY n")
_CLIENT_ID_INDEX: Final = "messages_by_client_id"  # unique (sender_key, client_id)
# n ids from each conversation's counter, conversations in code point order (Python's sorted):
# the rows are locked in that order until the commit. The last id given, per conversation.
_TAKE_IDS: Final = (
    "INSERT INTO conversation_ids AS c (conversation, last_id) "
    "SELECT conversation, n FROM unnest($1::text[], $2::bigint[]) AS t(conversation, n) "
    'ORDER BY conversation COLLATE "C" '
    "ON CONFLICT (conversation) DO UPDATE SET last_id = c.last_id + excluded.last_id "
    "RETURNING conversation, last_id")
# An update stored under the next id of its conversation's counter (locked until the commit).
_STORE_UPDATE: Final = (
    "WITH taken AS (INSERT INTO conversation_ids AS c (conversation, last_id) VALUES ($1, 1) "
    "ON CONFLICT (conversation) DO UPDATE SET last_id = c.last_id + 1 RETURNING last_id) "
    "INSERT INTO message_updates (conversation, seq, msg_id, kind, ts, by_nick, by_key, value) "
    "SELECT $1, last_id, $2, $3, $4, $5, $6, $7 FROM taken RETURNING seq")
# Each conversation's counter from what is stored (migration 019 does the same; palaver
# migrate after its copy).
FILL_CONVERSATION_IDS: Final = (
    "INSERT INTO conversation_ids (conversation, last_id) "
    "SELECT conversation, MAX(last_id) FROM ("
    "SELECT conversation, MAX(msg_id) AS last_id FROM messages GROUP BY conversation "
    "UNION ALL SELECT conversation, MAX(seq) FROM message_updates GROUP BY conversation"
    ") AS stored GROUP BY conversation "
    "ON CONFLICT (conversation) DO UPDATE "
    "SET last_id = GREATEST(conversation_ids.last_id, excluded.last_id)")
_PASSWORD: Final = re.compile(r"(://[^:/@]*):[^@/]*@")


def redacted(url: str) -> str:
    """``url`` without its password, to be shown."""
    return _PASSWORD.sub(r"\1:***@", url)


def _count(status: str) -> int:
    """The rows a command's status (``INSERT 0 3``, ``UPDATE 2``) says it touched."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresStore:
    def __init__(self, url: str, *, min_size: int = POOL_MIN, max_size: int = POOL_MAX,
                 timeout: float = COMMAND_TIMEOUT) -> None:
        self.url = url
        self.min_size = min_size
        self.max_size = max_size
        # Seconds a connect or a statement may take before it fails (a dead route gives no
        # error: without this a node's commits would wait for the kernel's TCP timeout).
        # asyncpg then cancels the statement over a new connection, waiting as long again.
        self.timeout = timeout
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the store is not open")
        return self._pool

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=self.min_size, max_size=self.max_size,
                timeout=min(CONNECT_TIMEOUT, self.timeout), command_timeout=self.timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError,
                asyncpg.InterfaceError, ValueError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {redacted(self.url)}: "
                             f"{exc}") from None
        try:
            await self._check_server()
            await self._migrate()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
            except TimeoutError:  # a statement that does not end: cut its connection
                log.warning("PostgreSQL connections still busy after %.0f s: closing them",
                            CLOSE_TIMEOUT)
                pool.terminate()

    async def _check_server(self) -> None:
        async with self.pool.acquire() as conn:
            encoding = await conn.fetchval("SHOW server_encoding")
            if encoding != "UTF8":
                raise StoreError(f"the database at {redacted(self.url)} has the encoding "
                                 f"{encoding}; palaver needs UTF8 (CREATE DATABASE ... "
                                 "ENCODING 'UTF8' TEMPLATE template0)")
            if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_collation "
                                       "WHERE collname = $1)", _SEARCH_COLLATION):
                raise StoreError(f"PostgreSQL at {redacted(self.url)} has no ICU collation "
                                 f"{_SEARCH_COLLATION!r}, which search lowers text with: "
                                 "use a PostgreSQL built with ICU (Debian's is)")
            if await conn.fetchval("SHOW synchronous_commit") == "off":
                log.warning("synchronous_commit is off on %s: a PostgreSQL crash may lose "
                            "messages whose sending was already acknowledged "
                            "(docs/operations.md)", redacted(self.url))

    async def _migrate(self) -> None:
        known = migrations()
        newest = max((version for version, _, _ in known), default=0)
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            try:
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                                   "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            except asyncpg.PostgresError as exc:
                raise StoreError(f"cannot create palaver's tables in the database at "
                                 f"{redacted(self.url)}: {exc} (the user needs the CREATE "
                                 "privilege on its schema, e.g. as the database's "
                                 "owner)") from None
            applied = {row[0] for row in await conn.fetch(
                "SELECT version FROM schema_migrations")}
            if applied and max(applied) > newest:
                raise StoreError(
                    f"the database at {redacted(self.url)} has schema version {max(applied)}, "
                    f"written by a newer palaver; this one knows up to version {newest}: "
                    "upgrade palaver, or restore a backup")
            if any(version not in applied for version, _, _ in known):
                await self._create_extension(conn)
            for version, name, sql in known:
                if version in applied:
                    continue
                try:
                    await conn.execute(sql, timeout=MIGRATION_TIMEOUT)  # a big table
                except asyncpg.PostgresError as exc:
                    raise StoreError(f"cannot apply the schema migration {name} to the "
                                     f"database at {redacted(self.url)}: {exc}") from None
                await conn.execute("INSERT INTO schema_migrations (version, name) "
                                   "VALUES ($1, $2)", version, name)

    async def _create_extension(self, conn: Connection) -> None:
        """pg_trgm (search), or a clear StoreError saying why it cannot be had."""
        if await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension "
                               "WHERE extname = 'pg_trgm')"):
            return
        try:
            async with conn.transaction():  # a savepoint: the error is ours to explain
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except asyncpg.PostgresError as exc:
            raise StoreError(
                f"cannot create the pg_trgm extension in the database at "
                f"{redacted(self.url)}, which search needs: {exc}. It ships with PostgreSQL "
                "(Debian: the postgresql package; elsewhere often postgresql-contrib) and is "
                "trusted: the database's owner may create it, or a superuser can run "
                "CREATE EXTENSION pg_trgm in that database once") from None

    async def schema_version(self) -> int:
        version = await self.pool.fetchval("SELECT MAX(version) FROM schema_migrations")
        return int(version) if version is not None else 0

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    @staticmethod
    async def _lock(conn: Connection, *names: str) -> None:
        """Hold a lock on ``names`` until the end of the transaction."""
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                           "\x1f".join(names))

    # ------------------------------------------------------------------ messages

    async def append(self, batch: Sequence[StoredMessage]) -> list[Appended]:
        if not batch:
            return []
        for attempt in range(1, APPEND_ATTEMPTS + 1):
            try:
                async with self._transaction() as conn:
                    return await self._append(conn, batch)
            except (asyncpg.UniqueViolationError, asyncpg.DeadlockDetectedError) as exc:
                # A resend whose original another node committed meanwhile, or (rarely) a
                # deadlock: nothing was kept; the next try finds the original.
                lost = (isinstance(exc, asyncpg.DeadlockDetectedError)
                        or exc.constraint_name == _CLIENT_ID_INDEX)
                if not lost or attempt == APPEND_ATTEMPTS:
                    raise
                log.debug("append lost a race (%s); trying again", exc)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    @staticmethod
    async def _append(conn: Connection, batch: Sequence[StoredMessage]) -> list[Appended]:
        """One try of :meth:`append`, in ``conn``'s transaction."""
        keys = sorted({(m.sender_key, m.client_id) for m in batch if m.client_id is not None})
        stored = await PostgresStore._by_client_ids(conn, keys) if keys else {}
        # Resends answer with their original: one stored before, or one earlier in the batch
        # (its position). The other messages are new: n per conversation.
        originals: dict[int, StoredMessage | int] = {}
        first: dict[tuple[str, str], int] = {}  # client id -> its new message's position
        wanted: dict[str, int] = {}
        for at, message in enumerate(batch):
            if message.client_id is not None:
                key = (message.sender_key, message.client_id)
                original = stored.get(key)
                if original is not None or key in first:
                    originals[at] = original if original is not None else first[key]
                    continue
                first[key] = at
            wanted[message.conversation] = wanted.get(message.conversation, 0) + 1
        next_id: dict[str, int] = {}
        if wanted:
            conversations = sorted(wanted)
            next_id = {row[0]: int(row[1]) - wanted[row[0]] + 1 for row in await conn.fetch(
                _TAKE_IDS, conversations, [wanted[c] for c in conversations])}
        outcome: list[Appended] = []
        as_stored: dict[int, StoredMessage] = {}  # position -> the new message as stored
        for at, message in enumerate(batch):
            if at in originals:
                earlier = originals[at]
                outcome.append(earlier if isinstance(earlier, StoredMessage)
                               else as_stored[earlier])
                continue
            msg_id = next_id[message.conversation]
            next_id[message.conversation] = msg_id + 1
            if msg_id == message.msg_id:
                outcome.append(None)
            else:
                outcome.append(msg_id)
                message = msgspec.structs.replace(message, msg_id=msg_id)
            as_stored[at] = message
        if as_stored:
            await conn.execute(_APPEND, *zip(*(_row(m) for m in as_stored.values()),
                                             strict=True))
        return outcome

    @staticmethod
    async def _by_client_ids(
        conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], StoredMessage]:
        """The messages stored under ``keys`` (sender_key, client_id)."""
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM messages WHERE (sender_key, client_id) IN "
            "(SELECT * FROM unnest($1::text[], $2::text[]))",
            [key[0] for key in keys], [key[1] for key in keys])
        return {(row["sender_key"], row["client_id"]): _message(row) for row in rows}

    async def last_ids(self) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in await self.pool.fetch(
            "SELECT conversation, last_id FROM conversation_ids")}

    async def page(
        self, conversation: str, *, before: int | None = None, after: int | None = None,
        limit: int = 50,
    ) -> Page:
        if after is not None:
            sql = (f"SELECT {_COLUMNS} FROM messages WHERE conversation = $1 AND msg_id > $2 "
                   "ORDER BY msg_id ASC LIMIT $3")
            params: tuple[Any, ...] = (conversation, after, limit + 1)
        elif before is not None:
            sql = (f"SELECT {_COLUMNS} FROM messages WHERE conversation = $1 AND msg_id < $2 "
                   "ORDER BY msg_id DESC LIMIT $3")
            params = (conversation, before, limit + 1)
        else:
            sql = (f"SELECT {_COLUMNS} FROM messages WHERE conversation = $1 "
                   "ORDER BY msg_id DESC LIMIT $2")
            params = (conversation, limit + 1)
        rows = [_message(row) for row in await self.pool.fetch(sql, *params)]
        more = len(rows) > limit
        rows = rows[:limit]
        if after is None:
            rows.reverse()
        return Page(messages=tuple(rows), more=more)

    async def msg_id_at(self, conversation: str, ts: str) -> int:
        found = await self.pool.fetchval(
            "SELECT MAX(msg_id) FROM messages WHERE conversation = $1 AND ts <= $2",
            conversation, ts)
        return int(found) if found is not None else 0

    async def last_activity(
        self, conversations: Sequence[str], *, after: str, before: str
    ) -> dict[str, str]:
        rows = await self.pool.fetch(
            "SELECT conversation, MAX(ts) FROM messages WHERE conversation = ANY($1::text[]) "
            "GROUP BY conversation HAVING MAX(ts) > $2 AND MAX(ts) < $3",
            list(conversations), after, before)
        return {row[0]: row[1] for row in rows}

    # ------------------------------------------------------------------ accounts

    async def create_account(self, account: Account) -> bool:
        status = await self.pool.execute(
            "INSERT INTO accounts (account_key, nick, password_hash, locked, created_at, "
            "last_seen) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_key) DO NOTHING",
            account.key, account.nick, account.password_hash, account.locked,
            account.created_at, account.last_seen)
        return _count(status) == 1

    async def get_account(self, key: str) -> Account | None:
        row = await self.pool.fetchrow(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE account_key = $1", key)
        return None if row is None else _account(row)

    async def rename_account(self, key: str, new_key: str, new_nick: str) -> bool:
        try:
            async with self._transaction() as conn:
                if new_key != key and await conn.fetchval(
                        "SELECT 1 FROM accounts WHERE account_key = $1", new_key):
                    return False
                renamed = _count(await conn.execute(
                    "UPDATE accounts SET account_key = $1, nick = $2 WHERE account_key = $3",
                    new_key, new_nick, key)) == 1
                if new_key != key:
                    for table, column in (("memberships", "account_key"),
                                          ("read_markers", "identity"),
                                          ("notify_levels", "identity"),
                                          ("metadata", "target"),
                                          ("message_updates", "by_key"),
                                          ("account_certificates", "account_key")):
                        await conn.execute(
                            f"UPDATE {table} SET {column} = $1 WHERE {column} = $2",
                            new_key, key)
                    await _move_reactions(conn, key, new_key)
        except asyncpg.UniqueViolationError:  # new_key was taken meanwhile
            return False
        return renamed

    async def set_membership(self, account_key: str, room: str, member: bool) -> None:
        if member:
            await self.pool.execute(
                "INSERT INTO memberships (account_key, room_key, room) VALUES ($1, $2, $3) "
                "ON CONFLICT (account_key, room_key) DO NOTHING",
                account_key, room.lower(), room)
        else:
            await self.pool.execute(
                "DELETE FROM memberships WHERE account_key = $1 AND room_key = $2",
                account_key, room.lower())

    async def memberships(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, room in await self.pool.fetch(
                "SELECT account_key, room FROM memberships ORDER BY account_key, room_key"):
            out.setdefault(key, []).append(room)
        return out

    async def accounts(self) -> dict[str, str]:
        return {row[0]: row[1] for row in await self.pool.fetch(
            "SELECT account_key, nick FROM accounts")}

    async def save_marks(self, account_key: str, marks: dict[str, int]) -> None:
        async with self._transaction() as conn:
            await self._lock(conn, "marks", account_key)
            await conn.execute("DELETE FROM resume_marks WHERE account_key = $1", account_key)
            await conn.execute(
                "INSERT INTO resume_marks (account_key, conversation, msg_id) "
                "SELECT $1, * FROM unnest($2::text[], $3::bigint[])",
                account_key, list(marks), list(marks.values()))

    async def load_marks(self, account_key: str) -> dict[str, int]:
        return {row[0]: int(row[1]) for row in await self.pool.fetch(
            "SELECT conversation, msg_id FROM resume_marks WHERE account_key = $1",
            account_key)}

    async def save_room(self, settings: RoomSettings, *, new: bool = False) -> bool:
        s = settings
        status = await self.pool.execute(
            "INSERT INTO room_settings (room_key, room, topic, topic_by, topic_at, invite_only, "
            "private, operators, bans, invited, created_at, moderated, outside_messages, "
            "open_topic, member_limit, join_key, voiced, allowed, muted) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
            "$17, $18, $19) "
            + (ROOM_IS_NEW if new else ROOM_REPLACES),
            s.room.lower(), s.room, s.topic, s.topic_by, s.topic_at, s.invite_only, s.private,
            _json_text(s.operators), _json_text(s.bans), _json_text(s.invited), s.created_at,
            s.moderated, s.outside_messages, s.open_topic, s.limit, s.key,
            _json_text(s.voiced), _json_text(s.allowed), _json_text(s.muted))
        return _count(status) == 1

    async def room_settings(self) -> list[RoomSettings]:
        rows = await self.pool.fetch(
            "SELECT room, topic, topic_by, topic_at, invite_only, private, operators, bans, "
            "invited, created_at, moderated, outside_messages, open_topic, member_limit, "
            "join_key, voiced, allowed, muted FROM room_settings ORDER BY room_key")
        return [
            RoomSettings(
                room=row[0], topic=row[1], topic_by=row[2], topic_at=row[3],
                invite_only=row[4], private=row[5],
                operators=msgspec.json.decode(row[6], type=tuple[str, ...]),
                bans=msgspec.json.decode(row[7], type=tuple[RoomBan, ...]),
                invited=msgspec.json.decode(row[8], type=tuple[str, ...]),
                created_at=row[9], moderated=row[10], outside_messages=row[11],
                open_topic=row[12], limit=int(row[13]), key=row[14],
                voiced=msgspec.json.decode(row[15], type=tuple[str, ...]),
                allowed=msgspec.json.decode(row[16], type=tuple[RoomBan, ...]),
                muted=msgspec.json.decode(row[17], type=tuple[RoomBan, ...]),
            )
            for row in rows
        ]

    # ------------------------------------------------------------------ read markers

    async def set_read_marker(
        self, identity: str, conversation: str, *, msg_id: int | None = None,
        ts: str | None = None,
    ) -> tuple[StoredMarker, bool]:
        async with self._transaction() as conn:
            await self._lock(conn, "marker", identity, conversation)
            if msg_id is not None:  # its time: that message's
                sent = await conn.fetchval(
                    "SELECT ts FROM messages WHERE conversation = $1 AND msg_id = $2",
                    conversation, msg_id)
                ts = later_ts(ts, sent)
            if ts is not None:  # its msg_id: the newest message sent at or before it
                newest = await conn.fetchval(
                    "SELECT MAX(msg_id) FROM messages WHERE conversation = $1 AND ts <= $2",
                    conversation, ts)
                msg_id = max(msg_id or 0, int(newest) if newest is not None else 0)
            row = await conn.fetchrow(
                "SELECT msg_id, ts FROM read_markers WHERE identity = $1 AND conversation = $2",
                identity, conversation)
            old = (StoredMarker(conversation=conversation) if row is None else
                   StoredMarker(conversation=conversation, msg_id=int(row[0]), ts=row[1]))
            new = StoredMarker(conversation=conversation, msg_id=max(old.msg_id, msg_id or 0),
                               ts=later_ts(old.ts, ts))
            if new != old:
                await conn.execute(
                    "INSERT INTO read_markers (identity, conversation, msg_id, ts) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (identity, conversation) DO UPDATE "
                    "SET msg_id = excluded.msg_id, ts = excluded.ts",
                    identity, conversation, new.msg_id, new.ts)
        return new, new != old

    async def read_markers(self, identity: str) -> list[StoredMarker]:
        return [StoredMarker(conversation=row[0], msg_id=int(row[1]), ts=row[2])
                for row in await self.pool.fetch(
                    "SELECT conversation, msg_id, ts FROM read_markers WHERE identity = $1 "
                    "ORDER BY conversation", identity)]

    # ------------------------------------------------------------------ notification levels

    async def set_notify_level(self, identity: str, conversation: str,
                               level: NotifyLevel) -> bool:
        if level == "all":  # the default: no row
            status = await self.pool.execute(
                "DELETE FROM notify_levels WHERE identity = $1 AND conversation = $2",
                identity, conversation)
            return _count(status) > 0
        status = await self.pool.execute(
            "INSERT INTO notify_levels AS n (identity, conversation, level) "
            "VALUES ($1, $2, $3) ON CONFLICT (identity, conversation) DO UPDATE "
            "SET level = excluded.level WHERE n.level <> excluded.level",
            identity, conversation, level)
        return _count(status) > 0

    async def notify_levels(self, identity: str) -> dict[str, NotifyLevel]:
        return {row[0]: _level(row[1]) for row in await self.pool.fetch(
            "SELECT conversation, level FROM notify_levels WHERE identity = $1 "
            "ORDER BY conversation", identity)}

    # ------------------------------------------------------------------ deletion

    async def delete_message(
        self, conversation: str, msg_id: int, *, sender_key: str | None = None,
        update: StoredUpdate | None = None,
    ) -> Deletion:
        async with self._transaction() as conn:
            message = await _locked_message(conn, conversation, msg_id)
            if message is None:
                return Deletion(outcome="no_such_message")
            if sender_key is not None and message.sender_key != sender_key:
                return Deletion(outcome="not_sender")
            if message.deleted:
                return Deletion(outcome="already_deleted", message=message)
            await conn.execute(  # its earlier texts go by the trigger
                "UPDATE messages SET text = '', deleted = TRUE "
                "WHERE conversation = $1 AND msg_id = $2", conversation, msg_id)
            await conn.execute(  # and its updates with them
                "DELETE FROM message_updates WHERE conversation = $1 AND msg_id = $2",
                conversation, msg_id)
            stored = await _store_update(conn, update)
        tombstone = msgspec.structs.replace(message, text="", deleted=True)
        return Deletion(outcome="deleted", message=tombstone, update=stored)

    # ------------------------------------------------------------------ edits

    async def edit_message(
        self, conversation: str, msg_id: int, *, sender_key: str, text: str, edited_at: str,
        sent_after: str | None = None, update: StoredUpdate | None = None,
    ) -> Editing:
        async with self._transaction() as conn:
            message = await _locked_message(conn, conversation, msg_id)
            if message is None:
                return Editing(outcome="no_such_message")
            if message.sender_key != sender_key:
                return Editing(outcome="not_sender")
            if message.deleted:
                return Editing(outcome="deleted")
            if sent_after is not None and message.ts < sent_after:
                return Editing(outcome="too_late")
            if message.text == text:
                return Editing(outcome="unchanged", message=message)
            await conn.execute(
                "INSERT INTO message_edits (conversation, msg_id, version, text, ts) "
                "SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4 FROM message_edits "
                "WHERE conversation = $1 AND msg_id = $2",
                conversation, msg_id, message.text, message.edited_at or message.ts)
            await conn.execute(
                "UPDATE messages SET text = $1, edited_at = $2 "
                "WHERE conversation = $3 AND msg_id = $4",
                text, edited_at, conversation, msg_id)
            stored = await _store_update(conn, update)
        return Editing(outcome="edited", message=msgspec.structs.replace(
            message, text=text, edited_at=edited_at), update=stored)

    async def message_versions(self, conversation: str, msg_id: int) -> list[StoredVersion] | None:
        async with self.pool.acquire() as conn, conn.transaction(
                isolation="repeatable_read", readonly=True):
            row = await conn.fetchrow(
                "SELECT text, COALESCE(edited_at, ts), deleted FROM messages "
                "WHERE conversation = $1 AND msg_id = $2", conversation, msg_id)
            if row is None:
                return None
            if row[2]:
                return []
            earlier = [StoredVersion(text=r[0], ts=r[1]) for r in await conn.fetch(
                "SELECT text, ts FROM message_edits WHERE conversation = $1 AND msg_id = $2 "
                "ORDER BY version", conversation, msg_id)]
        return [*earlier, StoredVersion(text=row[0], ts=row[1])]

    # ------------------------------------------------------------------ search

    async def search(
        self, conversations: Sequence[str], words: Sequence[str], *,
        before: int | None = None, limit: int = 20,
    ) -> SearchPage:
        check_search_words(words)
        if not conversations or not words:
            return SearchPage(hits=(), more=False)
        # Each word is a LIKE pattern of the lowered text, lowered the same way (ICU's), its
        # own wildcards escaped; the GIN trigram index of the lowered text (migration 017)
        # finds the candidates, the position (the order stored) orders them.
        lowered = f'lower(text COLLATE "{_SEARCH_COLLATION}")'
        params: list[Any] = [list(dict.fromkeys(conversations)), limit + 1]
        conditions = []
        for word in words:
            params.append(re.sub(r"([\\%_])", r"\\\1", word))
            conditions.append(f"{lowered} LIKE '%' || lower(${len(params)}::text COLLATE "
                              f"\"{_SEARCH_COLLATION}\") || '%'")
        if before is not None:  # a client's cursor: kept within BIGINT, as SQLite's store does
            params.append(min(max(before, 0), 1 << 62))
            conditions.append(f"position < ${len(params)}")
        rows = await self.pool.fetch(
            f"SELECT position, {_COLUMNS} FROM messages "
            "WHERE conversation = ANY($1::text[]) AND NOT deleted AND "
            + " AND ".join(conditions) + " ORDER BY position DESC LIMIT $2", *params)
        hits = [SearchHit(position=int(row[0]), message=_message(row[1:])) for row in rows]
        return SearchPage(hits=tuple(hits[:limit]), more=len(hits) > limit)

    # ------------------------------------------------------------------ metadata

    async def save_metadata(self, target: str, values: Sequence[tuple[str, str]]) -> None:
        async with self._transaction() as conn:
            await self._lock(conn, "metadata", target)
            await conn.execute("DELETE FROM metadata WHERE target = $1", target)
            await conn.execute(
                "INSERT INTO metadata (target, key, value, position) "
                "SELECT $1, key, value, n - 1 FROM unnest($2::text[], $3::text[]) "
                "WITH ORDINALITY AS v(key, value, n)",
                target, [key for key, _ in values], [value for _, value in values])

    async def metadata(self) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        for target, key, value in await self.pool.fetch(
                "SELECT target, key, value FROM metadata ORDER BY target, position"):
            out.setdefault(target, {})[key] = value
        return out

    # ------------------------------------------------------------------ reactions

    async def react(
        self, conversation: str, msg_id: int, *, identity: str, nick: str, reaction: str,
        ts: str, remove: bool = False, update: StoredUpdate | None = None,
    ) -> Reacting:
        async with self._transaction() as conn:
            reacting = await self._react(conn, conversation, msg_id, identity, nick, reaction,
                                         ts, remove)
            if reacting.outcome in ("added", "removed") and update is not None:
                reacting = msgspec.structs.replace(
                    reacting, update=await _store_update(conn, update))
        return reacting

    @staticmethod
    async def _react(conn: Connection, conversation: str, msg_id: int, identity: str,
                     nick: str, reaction: str, ts: str, remove: bool) -> Reacting:
        message = await _locked_message(conn, conversation, msg_id)
        if message is None:
            return Reacting(outcome="no_such_message")
        if message.deleted:
            return Reacting(outcome="deleted", message=message)
        if remove:
            status = await conn.execute(
                "DELETE FROM reactions WHERE conversation = $1 AND msg_id = $2 "
                "AND reaction = $3 AND identity = $4", conversation, msg_id, reaction, identity)
            return Reacting(outcome="removed" if _count(status) else "unchanged",
                            message=message)
        counted = await conn.fetchrow(
            "SELECT COUNT(DISTINCT reaction), "
            "COUNT(*) FILTER (WHERE reaction = $1 AND identity = $2), "
            "COUNT(*) FILTER (WHERE reaction = $1) "
            "FROM reactions WHERE conversation = $3 AND msg_id = $4",
            reaction, identity, conversation, msg_id)
        distinct, mine, same = (int(v or 0) for v in counted) if counted else (0, 0, 0)
        if mine:
            return Reacting(outcome="unchanged", message=message)
        if not same and distinct >= MAX_REACTIONS_PER_MESSAGE:
            return Reacting(outcome="too_many", message=message)
        await conn.execute(
            "INSERT INTO reactions (conversation, msg_id, reaction, identity, nick, ts) "
            "VALUES ($1, $2, $3, $4, $5, $6)", conversation, msg_id, reaction, identity, nick,
            ts)
        return Reacting(outcome="added", message=message)

    async def updates(
        self, conversation: str, *, after: int, upto: int, limit: int,
    ) -> UpdatePage:
        rows = [StoredUpdate(conversation=conversation, seq=int(seq), msg_id=int(msg_id),
                             kind=kind, ts=ts, by=by, by_key=by_key, value=value)
                for seq, msg_id, kind, ts, by, by_key, value in await self.pool.fetch(
                    "SELECT seq, msg_id, kind, ts, by_nick, by_key, value FROM message_updates "
                    "WHERE conversation = $1 AND seq > $2 AND seq <= $3 AND msg_id <= $2 "
                    "ORDER BY seq DESC LIMIT $4", conversation, after, upto, limit + 1)]
        more = len(rows) > limit
        return UpdatePage(updates=tuple(reversed(rows[:limit])), more=more)

    async def reactions(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, ReactionMap]:
        given: dict[int, dict[str, list[str]]] = {}
        for msg_id, reaction, nick in await self.pool.fetch(
                "SELECT msg_id, reaction, nick FROM reactions WHERE conversation = $1 "
                "AND msg_id = ANY($2::bigint[]) ORDER BY id", conversation, list(msg_ids)):
            given.setdefault(int(msg_id), {}).setdefault(reaction, []).append(nick)
        return {msg_id: {r: tuple(nicks) for r, nicks in by.items()}
                for msg_id, by in given.items()}

    async def messages(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, StoredMessage]:
        return {int(row[1]): _message(row) for row in await self.pool.fetch(
            f"SELECT {_COLUMNS} FROM messages WHERE conversation = $1 "
            "AND msg_id = ANY($2::bigint[])", conversation, list(msg_ids))}

    # ------------------------------------------------------------------ client certificates

    async def bind_certificate(self, account_key: str, fingerprint: str) -> bool:
        async with self._transaction() as conn:
            await conn.execute(
                "INSERT INTO account_certificates (fingerprint, account_key) VALUES ($1, $2) "
                "ON CONFLICT (fingerprint) DO NOTHING", fingerprint, account_key)
            holder = await conn.fetchval(
                "SELECT account_key FROM account_certificates WHERE fingerprint = $1",
                fingerprint)
        return bool(holder == account_key)

    async def unbind_certificate(self, account_key: str, fingerprint: str) -> bool:
        status = await self.pool.execute(
            "DELETE FROM account_certificates WHERE fingerprint = $1 AND account_key = $2",
            fingerprint, account_key)
        return _count(status) == 1

    async def certificates(self, account_key: str) -> list[str]:
        return [row[0] for row in await self.pool.fetch(
            "SELECT fingerprint FROM account_certificates WHERE account_key = $1 ORDER BY id",
            account_key)]

    async def certificate_account(self, fingerprint: str) -> str | None:
        holder = await self.pool.fetchval(
            "SELECT account_key FROM account_certificates WHERE fingerprint = $1", fingerprint)
        return None if holder is None else str(holder)

    # ------------------------------------------------------------------ files (UPLOAD)

    async def file_message(self, file_id: str) -> StoredMessage | None:
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM messages WHERE file_id = $1", file_id)
        return None if row is None else _message(row)

    async def files_usage(self, sender_key: str) -> int:
        used = await self.pool.fetchval(
            "SELECT COALESCE(SUM((file ->> 'size')::bigint), 0) FROM messages "
            "WHERE sender_key = $1 AND file_id IS NOT NULL AND NOT deleted", sender_key)
        return int(used or 0)

    async def file_hashes(self) -> set[str]:
        return {str(row[0]) for row in await self.pool.fetch(
            "SELECT DISTINCT file ->> 'sha256' FROM messages "
            "WHERE file_id IS NOT NULL AND NOT deleted") if row[0] is not None}

    # ------------------------------------------------------------------ account management

    async def set_password(self, key: str, password_hash: str) -> bool:
        async with self._transaction() as conn:
            return await _set_password(conn, key, password_hash)

    async def set_reset_token(self, key: str, token_hash: str, expires: str) -> bool:
        status = await self.pool.execute(
            "INSERT INTO password_resets (account_key, token_hash, expires) "
            "SELECT account_key, $2, $3 FROM accounts WHERE account_key = $1 "
            "ON CONFLICT (account_key) DO UPDATE SET token_hash = excluded.token_hash, "
            "expires = excluded.expires", key, token_hash, expires)
        return _count(status) == 1

    async def reset_password(self, key: str, token_hash: str, now: str,
                             password_hash: str) -> bool:
        async with self._transaction() as conn:
            await conn.execute(
                "DELETE FROM password_resets WHERE account_key = $1 AND expires <= $2", key, now)
            token = await conn.fetchval(
                "SELECT token_hash FROM password_resets WHERE account_key = $1 FOR UPDATE", key)
            if token is None or token != token_hash:
                return False
            return await _set_password(conn, key, password_hash)  # the token goes with it

    async def set_locked(self, key: str, locked: bool) -> bool:
        status = await self.pool.execute(
            "UPDATE accounts SET locked = $1 WHERE account_key = $2", locked, key)
        return _count(status) == 1

    async def locked_accounts(self) -> set[str]:
        return {row[0] for row in await self.pool.fetch(
            "SELECT account_key FROM accounts WHERE locked")}

    async def note_seen(self, key: str, ts: str) -> None:
        await self.pool.execute("UPDATE accounts SET last_seen = $1 WHERE account_key = $2",
                                ts, key)

    async def account_list(self) -> list[Account]:
        return [_account(row) for row in await self.pool.fetch(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY account_key")]

    async def delete_account(self, erasure: AccountErasure) -> bool:
        key, tombstone = erasure.key, erasure.tombstone
        async with self._transaction() as conn:
            existed = _count(await conn.execute(
                "DELETE FROM accounts WHERE account_key = $1", key)) == 1
            for table, column in _ACCOUNT_TABLES.items():
                await conn.execute(f"DELETE FROM {table} WHERE {column} = $1", key)
            # Direct conversations move to their new keys, in every table that names them.
            for old, new in erasure.renames:
                for table in _CONVERSATION_TABLES:
                    await conn.execute(
                        f"UPDATE {table} SET conversation = $1 WHERE conversation = $2",
                        new, old)
                # The new key's counter starts past the ids moved to it. The old key's is read,
                # not locked (an append holding it may wait on a message updated here), and
                # kept: an id of the old key is never given twice.
                await conn.execute(
                    "INSERT INTO conversation_ids AS c (conversation, last_id) "
                    "SELECT $1, last_id FROM conversation_ids WHERE conversation = $2 "
                    "ON CONFLICT (conversation) DO UPDATE "
                    "SET last_id = GREATEST(c.last_id, excluded.last_id)", new, old)
                await conn.execute(
                    "UPDATE messages SET recipient = $1 WHERE conversation = $2 "
                    "AND sender_key <> $3", DELETED_NICK, new, key)
            # Its updates stay, by the tombstone identity, but not the edits of erased
            # messages, nor their texts.
            await conn.execute("UPDATE message_updates SET by_key = $1, by_nick = $2 "
                               "WHERE by_key = $3", tombstone, DELETED_NICK, key)
            if erasure.erase:
                await conn.execute(
                    "DELETE FROM message_updates WHERE kind = 'edit' AND by_key = $1",
                    tombstone)
            erased = ", text = '', deleted = TRUE" if erasure.erase else ""
            await conn.execute(
                f"UPDATE messages SET sender = $1, sender_key = $2, client_id = NULL{erased} "
                "WHERE sender_key = $3", DELETED_NICK, tombstone, key)
            await _move_reactions(conn, key, tombstone, DELETED_NICK)
        return existed


async def _locked_message(conn: Connection, conversation: str,
                          msg_id: int) -> StoredMessage | None:
    """The message, locked until the end of the transaction (None: there is none)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM messages WHERE conversation = $1 AND msg_id = $2 FOR UPDATE",
        conversation, msg_id)
    return None if row is None else _message(row)


async def _store_update(conn: Connection, update: StoredUpdate | None) -> StoredUpdate | None:
    """Record ``update`` (inside the caller's transaction) under the next id of its
    conversation's counter; the update as stored."""
    if update is None:
        return None
    seq = int(await conn.fetchval(
        _STORE_UPDATE, update.conversation, update.msg_id, update.kind, update.ts, update.by,
        update.by_key, update.value))
    return update if seq == update.seq else msgspec.structs.replace(update, seq=seq)


async def _move_reactions(conn: Connection, old: str, new: str,
                          nick: str | None = None) -> None:
    """Give ``old``'s reactions to ``new`` (and ``nick``, when given); where ``new`` gave the
    same reaction to the same message, ``old``'s stays, in its place (SQLite's UPDATE OR
    REPLACE)."""
    await conn.execute(
        "DELETE FROM reactions AS r USING reactions AS o WHERE r.identity = $1 "
        "AND o.identity = $2 AND o.conversation = r.conversation AND o.msg_id = r.msg_id "
        "AND o.reaction = r.reaction", new, old)
    if nick is None:
        await conn.execute("UPDATE reactions SET identity = $1 WHERE identity = $2", new, old)
    else:
        await conn.execute("UPDATE reactions SET identity = $1, nick = $2 WHERE identity = $3",
                           new, nick, old)


async def _set_password(conn: Connection, key: str, password_hash: str) -> bool:
    status = await conn.execute(
        "UPDATE accounts SET password_hash = $1 WHERE account_key = $2", password_hash, key)
    await conn.execute("DELETE FROM password_resets WHERE account_key = $1", key)
    return _count(status) == 1


def _level(text: str) -> NotifyLevel:
    """A stored level (the table's CHECK allows only these)."""
    if text == "mentions":
        return "mentions"
    if text == "none":
        return "none"
    raise StoreError(f"unknown notification level {text!r} in the database")


def _json_text(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _row(m: StoredMessage) -> tuple[Any, ...]:
    return (m.conversation, m.msg_id, m.ts, m.sender, m.sender_key, m.room, m.to, m.text,
            m.client_id, m.notice, m.deleted, m.reply_to,
            None if m.file is None else m.file.file_id,
            None if m.file is None else _json_text(m.file), m.edited_at)


def _message(row: Any) -> StoredMessage:
    return StoredMessage(
        conversation=row[0], msg_id=int(row[1]), ts=row[2], sender=row[3], sender_key=row[4],
        room=row[5], to=row[6], text=row[7], client_id=row[8], notice=bool(row[9]),
        deleted=bool(row[10]), reply_to=None if row[11] is None else int(row[11]),
        file=None if row[13] is None else _FILE_DECODER.decode(row[13]),
        edited_at=row[14],
    )


def _account(row: Any) -> Account:
    return Account(key=row[0], nick=row[1], password_hash=row[2], locked=bool(row[3]),
                   created_at=row[4], last_seen=row[5])
