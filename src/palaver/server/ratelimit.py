"""A token bucket, pure: the caller passes the time, so tests use a fake clock.

How this works: the bucket holds up to ``burst`` tokens and gains ``rate`` tokens per second.
Each frame a client sends takes one. :meth:`TokenBucket.take` either takes ``count`` tokens and
returns 0.0, or takes nothing and returns how many seconds until one token is there again —
the wait the server tells the client (``retry_after_ms``) and the time it stops reading.
"""

from __future__ import annotations

from dataclasses import dataclass


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


class TokenBucket:
    __slots__ = ("_rule", "_stamp", "_tokens")

    def __init__(self, rule: BucketRule, now: float) -> None:
        self._rule = rule
        self._tokens = rule.burst
        self._stamp = now

    def _refill(self, now: float) -> float:
        if now > self._stamp:
            rule = self._rule
            self._tokens = min(rule.burst, self._tokens + (now - self._stamp) * rule.rate)
            self._stamp = now
        return self._tokens

    def take(self, now: float, count: int = 1) -> float:
        """Take ``count`` tokens (0.0), or none and return the seconds until one is back."""
        tokens = self._refill(now)
        if tokens >= count:
            self._tokens = tokens - count
            return 0.0
        return (1.0 - tokens) / self._rule.rate if tokens < 1.0 else 1e-3

    def available(self, now: float) -> int:
        """Whole tokens there now."""
        return int(self._refill(now))

    def full(self, now: float) -> bool:
        return self._refill(now) >= self._rule.burst


def retry_after_ms(wait: float) -> int:
    """A wait in seconds as the whole milliseconds a client is told (never 0)."""
    return max(1, -int(-wait * 1000 // 1))
