"""Login throttling, pure: how many wrong passwords an account may take, and from where.

How this works — so that a guessing storm does not lock the owner out:

* Wrong passwords are counted per (account, address): after ``per_address`` failures within
  ``window`` seconds, logins to that account from that address are refused with
  ``auth_throttled`` *before* any hashing, until the oldest failure leaves the window (the
  ``retry_after_ms`` the client is told). A guesser at one address gets ``per_address`` guesses a
  minute; the owner, elsewhere, is not affected.
* Guessers at many addresses are caught by a per-account ceiling (``per_account`` failures per
  window from all addresses together); it refuses only addresses that have never logged in to
  the account successfully. The owner's known addresses (the last ``known_per_account`` from
  which the right password was given) still get their own ``per_address`` tries.
* An attempt is counted **when its check starts**, as a failure, and un-counted when the password
  turns out right (or the check could not run): parallel guesses on many connections see each
  other's attempts, so no more than ``per_address`` of them are ever checked at once.
* A right password clears that (account, address) record.

Memory is bounded: at most ``max_tracked`` records of each kind; the oldest are forgotten first.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import TypeVar

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    per_address: int = 3
    per_account: int = 30
    window: float = 60.0
    known_per_account: int = 8
    max_tracked: int = 100_000


class LoginThrottle:
    def __init__(self, rules: ThrottleRules | None = None) -> None:
        self.rules = rules or ThrottleRules()
        self._by_address: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self._by_account: OrderedDict[str, deque[float]] = OrderedDict()
        self._known: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()

    def wait(self, account: str, address: str, now: float) -> float:
        """0.0 if a password for ``account`` from ``address`` may be checked now, else the
        seconds until it may."""
        rules = self.rules
        waits = [self._full_for(self._by_address.get((account, address)), rules.per_address,
                                now)]
        if address not in self._known.get(account, ()):
            waits.append(self._full_for(self._by_account.get(account), rules.per_account, now))
        return max(waits)

    def begin(self, account: str, address: str, now: float) -> float:
        """Like :meth:`wait`; when that is 0.0, the attempt is counted now (as a failure, until
        :meth:`succeeded` or :meth:`withdraw` is told it was not one, with the same ``now``)."""
        wait = self.wait(account, address, now)
        if not wait:
            self.failed(account, address, now)
        return wait

    def withdraw(self, account: str, address: str, started: float) -> None:
        """The attempt :meth:`begin` counted at ``started`` was no guess (its check could not
        run): un-count it."""
        _unrecord(self._by_address, (account, address), started)
        _unrecord(self._by_account, account, started)

    def failed(self, account: str, address: str, now: float) -> None:
        rules = self.rules
        self._record(self._by_address, (account, address), rules.per_address, now)
        self._record(self._by_account, account, rules.per_account, now)

    def succeeded(self, account: str, address: str, started: float | None = None) -> None:
        """The right password: clear (account, address), and un-count the attempt
        :meth:`begin` counted at ``started``."""
        if started is not None:
            self.withdraw(account, address, started)
        self._by_address.pop((account, address), None)
        known = self._known.pop(account, None) or OrderedDict()
        known.pop(address, None)
        known[address] = None
        while len(known) > self.rules.known_per_account:
            known.popitem(last=False)
        self._known[account] = known
        while len(self._known) > self.rules.max_tracked:
            self._known.popitem(last=False)

    def _full_for(self, times: deque[float] | None, limit: int, now: float) -> float:
        """Seconds until ``times`` (at most ``limit`` long) has room for one more failure."""
        if times is None or len(times) < limit:
            return 0.0
        return max(0.0, self.rules.window - (now - times[0]))

    def _record(self, table: OrderedDict[K, deque[float]], key: K, limit: int,
                   now: float) -> None:
        times = table.pop(key, None)
        if times is None:
            times = deque(maxlen=limit)
        times.append(now)
        table[key] = times  # most recently failed last
        while len(table) > self.rules.max_tracked:
            table.popitem(last=False)

    @property
    def tracked(self) -> int:
        return len(self._by_address) + len(self._by_account)


def _unrecord(table: OrderedDict[K, deque[float]], key: K, stamp: float) -> None:
    times = table.get(key)
    if times is None:
        return
    with contextlib.suppress(ValueError):  # already pushed out of a full record
        times.remove(stamp)
    if not times:
        del table[key]
