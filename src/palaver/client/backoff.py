"""How long to wait before each reconnection attempt: exponential backoff with jitter (pure).

Attempt ``n`` (from 1) waits between half and all of ``min(maximum, initial * 2**(n-1))``
seconds ("equal jitter"): always some wait, so a restarting server is not hammered, and clients
cut off together do not all come back in the same instant. ``attempts`` bounds the number of
tries (``None``: try for ever, each wait still capped by ``maximum``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    initial: float = 0.5
    maximum: float = 30.0
    attempts: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError("backoff needs 0 < initial <= maximum")
        if self.attempts is not None and self.attempts < 1:
            raise ValueError("backoff attempts must be at least 1 (or None: unbounded)")

    def delay(self, attempt: int, rand: float) -> float:
        """The wait before attempt ``attempt`` (1, 2, ...); ``rand`` is uniform in [0, 1)."""
        step = min(self.maximum, self.initial * 2.0 ** min(attempt - 1, 64))
        return step / 2 + step / 2 * rand

    def gives_up(self, attempt: int) -> bool:
        """True when attempt number ``attempt`` is one too many."""
        return self.attempts is not None and attempt > self.attempts
