"""The asyncio client library: connect, send each request, iterate events."""

from palaver.client.connection import Client, ConnectionClosed, ServerError

__all__ = ["Client", "ConnectionClosed", "ServerError"]
