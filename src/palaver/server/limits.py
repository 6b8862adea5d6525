"""The limits against abuse, gathered from the settings, and the per-connection frame gate.

How this works: :class:`Limits` is what the core and the doors need to know (docs/limits.md).
Each connection owns a :class:`FrameGate`: a token bucket (:mod:`palaver.server.ratelimit`) that
every frame draws from, valid or not, plus the rule for telling the client. A connection out of
tokens stops reading (TCP backpressure) for the wait the gate returns; each such pause is an
*episode*, and episodes follow each other "in a row" (a storm) until the bucket has had time
to fill up again. The JSON, text and WebSocket doors report the first episode of a storm with
``ERROR rate_limited retry_after_ms``; the IRC door delays silently at first, like an IRC
server's "fakelag", and sends its NOTICE at the ``notice_after``-th episode in a row. One report
per storm: the pauses themselves do the limiting, the report only explains them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from palaver.server.admission import AdmissionRules
from palaver.server.login_throttle import ThrottleRules
from palaver.server.ratelimit import TokenBucket, retry_after_ms

if TYPE_CHECKING:
    from palaver.server.config import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    rate_per_second: float = 4.0
    rate_burst: int = 10
    irc_notice_after: int = 3
    prelogin_bytes: int = 8_192
    prelogin_bad_frames: int = 5
    max_pending_logins: int = 64
    admission: AdmissionRules = field(default_factory=AdmissionRules)
    logins: ThrottleRules = field(default_factory=ThrottleRules)
    # Computed once and shared by every connection's gate (a float object each, otherwise).
    _burst: float = field(init=False, repr=False, compare=False)
    _refill_time: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_burst", float(self.rate_burst))
        object.__setattr__(self, "_refill_time", self.rate_burst / self.rate_per_second)

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            rate_per_second=s.rate_per_second,
            rate_burst=s.rate_burst,
            irc_notice_after=s.irc_flood_notice_after,
            prelogin_bytes=s.prelogin_bytes,
            prelogin_bad_frames=s.prelogin_bad_frames,
            max_pending_logins=s.max_pending_logins,
            admission=AdmissionRules(
                max_open=s.max_connections_per_ip, max_new=s.max_new_connections_per_ip,
                window=s.new_connections_window, exempt_loopback=s.exempt_loopback),
            logins=ThrottleRules(
                per_address=s.login_failures, per_account=s.login_failures_per_account,
                window=s.login_failure_window),
        )

    def gate(self, now: float, notice_after: int = 1) -> FrameGate:
        # One gate per connection: the floats it keeps are shared where they can be.
        return FrameGate(TokenBucket(self.rate_per_second, self._burst, now),
                         self._refill_time, notice_after)


_NEVER = float("-inf")


class FrameGate:
    """One connection's bucket and the count of its throttling episodes."""

    __slots__ = ("_bucket", "_calm_after", "_episodes", "_last", "_notice_after", "hits")

    def __init__(self, bucket: TokenBucket, refill_time: float, notice_after: int = 1) -> None:
        self._bucket = bucket
        self._calm_after = refill_time  # no episode for this long: the next one is the first
        self._notice_after = notice_after
        self._episodes = 0
        self._last = _NEVER
        self.hits = 0  # episodes ever (metrics)

    def take(self, now: float, count: int = 1) -> float:
        """0.0 if ``count`` frames may be handled now, else the seconds to wait for one."""
        return self._bucket.take(now, count)

    def episode(self, now: float, wait: float) -> int | None:
        """A pause of ``wait`` seconds starts: the ``retry_after_ms`` to tell the client, or
        None to stay silent (IRC's first delays)."""
        if now - self._last >= self._calm_after:  # the bucket could have filled up since
            self._episodes = 0
        self._episodes += 1
        self._last = now + wait  # when this pause ends
        self.hits += 1
        return retry_after_ms(wait) if self._episodes == self._notice_after else None
