"""What the hub asks the outside world to do. The composition root carries these out."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from palaver.protocol.messages import ServerMessage

SessionId = int


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``event`` to every session in ``to`` except ``skip``; encode it once per dialect."""

    event: ServerMessage
    to: Collection[SessionId]
    skip: SessionId | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Say goodbye to ``session`` with ``reason`` and close its connection."""

    session: SessionId
    reason: str
    request_id: str | None = None


Effect = Deliver | Close
