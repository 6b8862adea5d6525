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

The send queue (:class:`SendQueueRule`) cuts off a client that does not read, not one that was
sent a burst: a connection is *behind* from the moment its write buffer passes ``limit`` until it
drains to a quarter of that (asyncio's own high and low water marks), and it is cut when it has
been behind for ``grace`` seconds, or at once when more than ``ceiling`` bytes wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from palaver.server.admission import AdmissionRules
from palaver.server.login_throttle import ThrottleRules
from palaver.server.ratelimit import BucketRule, TokenBucket, retry_after_ms

if TYPE_CHECKING:
    from palaver.server.config import Settings


@dataclass(frozen=True, slots=True)
class SendQueueRule:
    """When a client that is sent more than it reads is cut off (docs/limits.md, "Send queue").

    Pure: the transports feed it the size of a connection's write buffer and the loop's
    monotonic time, and keep the one float it returns (since when the client is behind)."""

    limit: int = 262_144  # bytes in the write buffer: above this, the client is behind...
    grace: float = 5.0  # ...and may stay so this long
    ceiling: int = 8_388_608  # never more than this waits for one connection
    socket_buffer: int = 131_072  # the kernel's send buffer per connection (SO_SNDBUF); 0: its own

    @property
    def low(self) -> int:
        """Drained to this, the client has caught up (asyncio's default low water mark)."""
        return self.limit // 4

    def behind_since(self, buffered: int, since: float | None, now: float) -> float | None:
        """Since when the client is behind, seeing ``buffered`` bytes in its write buffer at
        ``now`` (``since``: what the last look said); None: it is not."""
        if buffered > self.limit:
            return now if since is None else since
        if buffered <= self.low:
            return None
        return since  # between the marks: as it was

    def cut(self, waiting: int, since: float | None, now: float) -> str | None:
        """Why the connection must be cut off now (``waiting``: every byte queued for it), or
        None to keep it."""
        if waiting > self.ceiling:
            return f"{waiting:,} bytes waiting, over {self.ceiling:,}"
        if since is not None and now - since >= self.grace:
            return f"not reading: {self.limit:,}+ bytes unread for {now - since:.1f} s"
        return None


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
    send_queue: SendQueueRule = field(default_factory=SendQueueRule)
    # Made once and shared by every connection's gate, by notice_after (a door's).
    _gate_rules: dict[int, GateRule] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_gate_rules", {})

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
            send_queue=SendQueueRule(
                limit=s.send_queue_limit, grace=s.send_queue_grace,
                ceiling=s.send_queue_ceiling, socket_buffer=s.socket_send_buffer),
        )

    def gate_rule(self, notice_after: int = 1) -> GateRule:
        """The rule of a connection's gate that tells the client at the ``notice_after``-th
        pause of a storm: one object for all such gates (a door's, so very few of them)."""
        rule = self._gate_rules.get(notice_after)
        if rule is None:
            rule = self._gate_rules[notice_after] = GateRule(
                self.rate_per_second, self.rate_burst,
                calm_after=self.rate_burst / self.rate_per_second, notice_after=notice_after,
                prelogin_bytes=self.prelogin_bytes, prelogin_bad_frames=self.prelogin_bad_frames)
        return rule

    def gate(self, notice_after: int = 1) -> FrameGate:
        return FrameGate(self.gate_rule(notice_after))


_NEVER = float("-inf")


@dataclass(frozen=True, slots=True)
class GateRule(BucketRule):
    """A connection gate's rule: its bucket's, how long without a pause makes the next pause
    the first of a storm again (``calm_after``: the time the bucket takes to fill up), and at
    which pause of a storm the client is told (``notice_after``); and the connection's caps
    before registration (:class:`~palaver.transports.policy.ConnectionPolicy`), so that a
    connection points to one object for all of its rules."""

    calm_after: float = 0.0
    notice_after: int = 1
    prelogin_bytes: int = 8_192
    prelogin_bad_frames: int = 5


class FrameGate(TokenBucket):
    """One connection's bucket (one object, not two: there is one per connection) and the
    count of its throttling episodes."""

    __slots__ = ("_episodes", "_last")

    _rule: GateRule

    def __init__(self, rule: GateRule) -> None:
        super().__init__(rule)
        self._episodes = 0
        self._last = _NEVER

    def episode(self, now: float, wait: float) -> int | None:
        """A pause of ``wait`` seconds starts: the ``retry_after_ms`` to tell the client, or
        None to stay silent (IRC's first delays)."""
        rule = self._rule
        if now - self._last >= rule.calm_after:  # the bucket could have filled up since
            self._episodes = 0
        self._episodes += 1
        self._last = now + wait  # when this pause ends
        return retry_after_ms(wait) if self._episodes == rule.notice_after else None
