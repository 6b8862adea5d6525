"""The asyncio client library: connect, send each request, iterate events.

:class:`Client` is one connection; :class:`ResilientClient` reconnects on its own, resumes where
it left off, resends what was not acknowledged, and shows nothing twice.

The names are loaded on first use, so the pure modules of this package (``render``,
``commands``, ``tracker``) can be imported — by the server's text door, say — without asyncio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from palaver.client.backoff import Backoff
    from palaver.client.connection import Client, ConnectionClosed, NotPalaver, ServerError
    from palaver.client.events import (
        Acknowledged,
        ClientEvent,
        Disconnected,
        Reconnected,
        Reconnecting,
    )
    from palaver.client.resilient import ResilientClient

_WHERE = {
    "Acknowledged": "events",
    "Backoff": "backoff",
    "Client": "connection",
    "ClientEvent": "events",
    "ConnectionClosed": "connection",
    "Disconnected": "events",
    "NotPalaver": "connection",
    "Reconnected": "events",
    "Reconnecting": "events",
    "ResilientClient": "resilient",
    "ServerError": "connection",
}

__all__ = [
    "Acknowledged",
    "Backoff",
    "Client",
    "ClientEvent",
    "ConnectionClosed",
    "Disconnected",
    "NotPalaver",
    "Reconnected",
    "Reconnecting",
    "ResilientClient",
    "ServerError",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'palaver.client' has no attribute {name!r}")
    return getattr(importlib.import_module(f"palaver.client.{module}"), name)
