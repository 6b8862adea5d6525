"""Connection liveness as a pure decision: given the times, what should happen to a connection?

The server sweeps its connections periodically and acts on the verdict; tests call :func:`judge`
with made-up times.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    OK = "ok"
    PING = "ping"
    HANDSHAKE_TIMEOUT = "handshake timeout"
    IDLE_TIMEOUT = "ping timeout"


@dataclass(frozen=True, slots=True)
class Timeouts:
    hello: float = 10.0  # no HELLO within this many seconds of connecting: close
    ping: float = 60.0  # this long without traffic: send PING
    idle: float = 120.0  # this long without traffic: close

    def sweep_interval(self) -> float:
        """How often to check: often enough that no deadline overshoots by more than ~25%."""
        return max(0.02, min(self.hello, self.ping, self.idle) / 4)


def judge(
    *,
    registered: bool,
    opened_at: float,
    last_seen: float,
    pinged: bool,
    now: float,
    timeouts: Timeouts,
) -> Verdict:
    if not registered:
        return Verdict.HANDSHAKE_TIMEOUT if now - opened_at >= timeouts.hello else Verdict.OK
    silent = now - last_seen
    if silent >= timeouts.idle:
        return Verdict.IDLE_TIMEOUT
    if silent >= timeouts.ping and not pinged:
        return Verdict.PING
    return Verdict.OK
