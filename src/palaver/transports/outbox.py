"""The sending half that every connection shares, whatever carries its bytes.

The core hands a connection encoded events with :meth:`QueuedSender.send`; they wait in the
connection's outbox until the core flushes every dirty connection at the next loop turn (the
subclass's ``flush`` writes them in one go). While a resume replays history (:meth:`hold`)
live events wait behind it, and :meth:`release` puts the replay first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from palaver.server.core import ServerCore

BURST_FACTOR: Final = 4  # one loop turn may queue this many send-queue limits for a connection


class QueuedSender:
    __slots__ = ("_held", "_outbox", "_queued")

    # Provided by the connection class.
    _core: ServerCore
    closing: bool

    def _init_outbox(self) -> None:
        self._outbox: list[bytes] = []
        self._queued = 0
        self._held: list[bytes] | None = None  # frames waiting behind a replay

    def send(self, data: bytes) -> None:
        if self.closing:
            return
        if self._held is not None:
            self._held.append(data)
            return
        if not self._outbox:
            self._core.mark_dirty(self)  # type: ignore[arg-type]  # the subclass is one
        self._outbox.append(data)
        self._queued += len(data)
        # What one loop turn queues is bounded by what the turn read; this cap only bounds
        # memory. Slow readers are caught when flushing, by what the kernel would not take.
        if self._queued > BURST_FACTOR * self._core.send_queue_limit:
            self._core.overflowed(self)  # type: ignore[arg-type]

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self, first: list[bytes]) -> None:
        held, self._held = self._held or [], None
        for data in first:
            self.send(data)
        for data in held:
            self.send(data)
