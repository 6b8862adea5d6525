"""Durable storage behind the :class:`Store` port: an in-memory twin, SQLite (the default) and
PostgreSQL."""

from palaver.store.base import Account, Appended, Page, Store, StoredMessage, dm_conversation

__all__ = ["Account", "Appended", "Page", "Store", "StoredMessage", "dm_conversation"]
