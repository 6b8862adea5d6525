"""A token bucket, pure: the caller passes the time, so tests use a fake clock.

How this works: the bucket holds up to ``burst`` tokens and gains ``rate`` tokens per second
(kept as the one time at which it is full again: :class:`TokenBucket`).
Each frame a client sends takes one. :meth:`TokenBucket.take` either takes ``count`` tokens and
returns 0.0, or takes nothing and returns how many seconds until one token is there again —
the wait the server tells the client (``retry_after_ms``) and the time it stops reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class BucketRule:
    """A bucket's ``rate`` (tokens per second) and ``burst`` (the most it holds): one object
    shared by every bucket that follows the rule (each connection has a bucket)."""

    rate: float
    burst: float

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        object.__setattr__(self, "burst", float(self.burst))


_LONG_AGO: Final = float("-inf")


class TokenBucket:
    """A bucket kept as one number: the time at which it is full again (``_full_at``), the
    "theoretical arrival time" of the generic cell rate algorithm. The tokens there at ``now``
    are ``burst - (full_at - now) * rate`` while that time is ahead, else ``burst``; taking
    ``count`` moves it ``count / rate`` seconds on. A new bucket is full, and until its first
    take it shares one float with every other (a connection that never sends keeps none)."""

    __slots__ = ("_full_at", "_rule")

    def __init__(self, rule: BucketRule) -> None:
        self._rule = rule
        self._full_at = _LONG_AGO

    def _tokens(self, now: float) -> float:
        rule = self._rule
        lacking = self._full_at - now  # seconds until full
        return rule.burst if lacking <= 0.0 else rule.burst - lacking * rule.rate

    def take(self, now: float, count: int = 1) -> float:
        """Take ``count`` tokens (0.0), or none and return the seconds until one is back."""
        tokens = self._tokens(now)
        rate = self._rule.rate
        if tokens >= count:
            full_at = self._full_at
            self._full_at = (full_at if full_at > now else now) + count / rate
            return 0.0
        return (1.0 - tokens) / rate if tokens < 1.0 else 1e-3

    def available(self, now: float) -> int:
        """Whole tokens there now."""
        return int(self._tokens(now))

    def full(self, now: float) -> bool:
        return self._full_at <= now


def retry_after_ms(wait: float) -> int:
    """A wait in seconds as the whole milliseconds a client is told (never 0)."""
    return max(1, -int(-wait * 1000 // 1))
