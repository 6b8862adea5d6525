"""PostgreSQL's numbered schema migrations: ``NNN_name.sql``, applied in order, each once.

Version numbers are SQLite's (store/migrations/): a PostgreSQL database at version N has the
tables a SQLite one at version N has. PostgreSQL starts at 017, one file for all that SQLite
built in 001-017; a later change adds a file of the same number to both packages.
"""

from __future__ import annotations

from palaver.store.migrations import read_migrations


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration, in order."""
    return read_migrations(__package__)
