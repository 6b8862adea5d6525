"""``palaver admin``: accounts and rooms, from the database, with or without a server running.

How this works: the commands open the store ``palaver serve`` uses, from the same
``--config``/``--data-dir``/``PALAVER_*`` settings — the SQLite database in the data directory
(SQLite's WAL lets a running server and the command both write, each transaction whole), or the
PostgreSQL database of the ``store`` setting (a cluster's: every node sees the change). What a
running server sees, and when (docs/operations.md):

- ``lock``: a login is refused (``account_locked``) from the next one on — the server reads the
  account when it checks the password; sessions already open end within
  ``lock_check_interval`` seconds (the server looks for locked accounts online).
- ``reset-password``: the token is good at once (the server reads it from the database when it
  is used) and for ``reset_token_lifetime`` seconds, once. Only its SHA-256 is stored.
- ``accounts`` and ``rooms`` read what is stored: rooms' rules, not who is in them now.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from palaver.hub.messaging import format_ts
from palaver.server.account_work import new_reset_token, token_digest
from palaver.server.config import POSTGRESQL_SCHEMES, Settings
from palaver.store.base import Store
from palaver.store.sqlite import SqliteStore, StoreError

DATABASE_FILE = "palaver.db"  # as server/app.py


def admin_command(settings: Settings, action: str, nick: str | None) -> int:
    store: Store
    if settings.store.startswith(POSTGRESQL_SCHEMES):
        from palaver.store.postgres import PostgresStore

        store = PostgresStore(settings.store, timeout=settings.store_timeout)
    else:
        path = Path(settings.data_dir) / DATABASE_FILE
        if not path.exists():
            print(f"palaver: no database at {path} (see --data-dir)", file=sys.stderr)
            return 2
        store = SqliteStore(path)
    try:
        return asyncio.run(_run(store, action, nick, settings.reset_token_lifetime))
    except StoreError as exc:
        print(f"palaver: {exc}", file=sys.stderr)
        return 2


async def _run(store: Store, action: str, nick: str | None, lifetime: float) -> int:
    await store.open()
    try:
        if action == "accounts":
            return await _accounts(store)
        if action == "rooms":
            return await _rooms(store)
        assert nick is not None
        key = nick.lower()
        if action in ("lock", "unlock"):
            if not await store.set_locked(key, action == "lock"):
                return _no_account(nick)
            print(f"{nick}: {action}ed" + (" (its sessions end within lock_check_interval "
                                           "seconds)" if action == "lock" else ""))
            return 0
        assert action == "reset-password"
        token = new_reset_token()
        expires = format_ts(time.time() + lifetime)
        if not await store.set_reset_token(key, token_digest(token), expires):
            return _no_account(nick)
        print(token)
        print(f"a one-time token for {nick}, good until {expires}: the user sends "
              "RESET_PASSWORD (palaver chat: /resetpassword NICK TOKEN NEW)", file=sys.stderr)
        return 0
    finally:
        await store.close()


def _no_account(nick: str) -> int:
    print(f"palaver: there is no account {nick}", file=sys.stderr)
    return 1


async def _accounts(store: Store) -> int:
    rows = [("NICK", "CREATED", "LAST SEEN", "LOCKED")]
    rows += [(a.nick, a.created_at or "-", a.last_seen or "-", "locked" if a.locked else "-")
             for a in await store.account_list()]
    _table(rows)
    return 0


async def _rooms(store: Store) -> int:
    rows = [("ROOM", "CREATED", "MODES", "TOPIC")]
    for room in await store.room_settings():
        modes = "".join(flag for flag, on in (
            ("i", room.invite_only), ("s", room.private), ("m", room.moderated),
            ("k", room.key is not None), ("l", room.limit > 0)) if on)
        rows.append((room.room, room.created_at or "-", f"+{modes}" if modes else "-",
                     room.topic or "-"))
    _table(rows)
    return 0


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[n]) for row in rows) for n in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
