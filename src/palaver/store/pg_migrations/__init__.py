"""PostgreSQL's numbered schema migrations: ``NNN_name.sql``, applied in order, each once.

Version numbers are SQLite's (store/migrations/): a PostgreSQL database at version N has the
tables a SQLite one at version N has. PostgreSQL starts at 017, one file for all that SQLite
built in 001-017; a later change adds a file of the same number to both packages.
"""

from __future__ import annotations

from importlib import resources


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration, in order."""
    found = []
    for entry in resources.files(__package__).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)
