"""Local events of :class:`~palaver.client.resilient.ResilientClient`: what happened to the link.

They are not wire messages; they sit in the same event stream as the server's frames so that a
user of the client sees, in order, what arrived and when the connection came and went.
"""

from __future__ import annotations

from dataclasses import dataclass

from palaver.protocol.messages import Message, ServerMessage, Welcome


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The connection was lost (``final``: and the client has given up, or was refused)."""

    reason: str
    final: bool = False


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """Waiting ``delay`` seconds before attempt number ``attempt`` to reconnect."""

    attempt: int
    delay: float
    reason: str


@dataclass(frozen=True, slots=True)
class Reconnected:
    """A new connection is up; the server's WELCOME for it."""

    welcome: Welcome


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """Request ``message.id`` was acknowledged by a MESSAGE already seen (and yielded) before.

    After a reconnect the replay may carry one of our own messages before the acknowledgement
    of its resend does; the stream shows the message once and then this, so whoever waits for
    the reply to that request id learns it has come.
    """

    message: Message


LinkEvent = Disconnected | Reconnecting | Reconnected | Acknowledged
ClientEvent = ServerMessage | LinkEvent

__all__ = [
    "Acknowledged",
    "ClientEvent",
    "Disconnected",
    "LinkEvent",
    "Reconnected",
    "Reconnecting",
]
