"""Durable storage behind the :class:`Store` port: an in-memory twin and SQLite (the default)."""

from palaver.store.base import Account, Page, Store, StoredMessage, dm_conversation

__all__ = ["Account", "Page", "Store", "StoredMessage", "dm_conversation"]
