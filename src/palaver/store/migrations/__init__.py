"""Numbered schema migrations: ``NNN_name.sql``, applied in order, each exactly once."""

from __future__ import annotations

from importlib import resources


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration, in order."""
    return read_migrations(__package__)


def read_migrations(package: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) of every ``NNN_name.sql`` in ``package``, in order (SQLite's here,
    PostgreSQL's in store/pg_migrations/)."""
    found = []
    for entry in resources.files(package).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    return sorted(found)
