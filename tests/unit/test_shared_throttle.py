"""Wrong passwords counted across nodes (server/shared_throttle.py), on the in-process twin."""

from __future__ import annotations

from palaver.server.login_throttle import ThrottleRules
from palaver.server.shared_throttle import MemoryCounters, SharedThrottle
from tests.unit.hub_harness import FakeClock


async def test_counts_refuse_at_the_limit_until_the_window_ends() -> None:
    clock = FakeClock(0.0)
    throttle = SharedThrottle(MemoryCounters(lambda: clock.now),
                              ThrottleRules(per_address=2, per_account=3, window=60.0))
    assert await throttle.wait("acct", "1.2.3.4") == 0.0
    await throttle.failed("acct", "1.2.3.4")
    clock.advance(10)
    await throttle.failed("acct", "1.2.3.4")
    assert await throttle.wait("acct", "1.2.3.4") == 50.0  # the window began with the first
    assert await throttle.wait("acct", "5.6.7.8") == 0.0  # another address: 2 of 3 for all
    await throttle.failed("acct", "5.6.7.8")
    assert await throttle.wait("acct", "9.9.9.9") == 50.0  # the account's ceiling
    clock.advance(50)
    assert await throttle.wait("acct", "1.2.3.4") == 0.0


async def test_a_right_password_clears_its_address() -> None:
    clock = FakeClock(0.0)
    throttle = SharedThrottle(MemoryCounters(lambda: clock.now),
                              ThrottleRules(per_address=1, per_account=10, window=60.0))
    await throttle.failed("acct", "1.2.3.4")
    assert await throttle.wait("acct", "1.2.3.4") == 60.0
    await throttle.succeeded("acct", "1.2.3.4")
    assert await throttle.wait("acct", "1.2.3.4") == 0.0


class Broken(MemoryCounters):
    async def read(self, keys: object) -> list[tuple[int, float]]:
        raise ConnectionError("no Redis")


async def test_unreachable_counts_are_skipped() -> None:
    throttle = SharedThrottle(Broken(), ThrottleRules(per_address=1))
    await throttle.failed("acct", "1.2.3.4")
    assert await throttle.wait("acct", "1.2.3.4") == 0.0  # the node's own throttle still holds
