"""Who may open a connection: at most ``max_open`` at once and ``max_new`` new ones per
``window`` seconds from one address, pure (the caller passes the time).

How this works: :meth:`Admission.admit` is asked before a connection is attached, by every door;
it returns ``None`` (admitted: the caller must :meth:`release` the address when the connection
ends) or the reason for refusing, which the door tells the client. IPv6 addresses are grouped by
their /64, which one subscriber usually holds whole. Loopback addresses are exempt unless
``exempt_loopback`` is false. Memory is bounded: an address's record holds at most ``max_new``
times and is forgotten once it has no connection and no time inside the window.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AdmissionRules:
    max_open: int = 16
    max_new: int = 32
    window: float = 600.0
    exempt_loopback: bool = True


@functools.lru_cache(maxsize=4096)  # parsing is most of a connect's admission cost
def address_key(host: str) -> str | None:
    """The key an address counts under, or None if it is exempt by nature (not IP)."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@functools.lru_cache(maxsize=4096)
def _is_loopback(host: str) -> bool:
    return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback


class Admission:
    def __init__(self, rules: AdmissionRules | None = None) -> None:
        self.rules = rules or AdmissionRules()
        self._open: dict[str, int] = {}
        self._recent: dict[str, deque[float]] = {}
        self._swept = 0.0

    def exempt(self, host: str) -> bool:
        if address_key(host) is None:
            return True
        return self.rules.exempt_loopback and _is_loopback(host)

    def admit(self, host: str, now: float) -> str | None:
        """None if a connection from ``host`` may open now (then counted), else why not."""
        if self.exempt(host):
            return None
        key = address_key(host)
        assert key is not None
        rules = self.rules
        if now - self._swept >= rules.window:
            self._sweep(now)
        if self._open.get(key, 0) >= rules.max_open:
            return f"too many connections from your address (at most {rules.max_open} at once)"
        recent = self._recent.get(key)
        if recent is None:
            recent = self._recent[key] = deque(maxlen=rules.max_new)
        while recent and now - recent[0] >= rules.window:
            recent.popleft()
        if len(recent) >= rules.max_new:
            wait = int(rules.window - (now - recent[0])) + 1
            return (f"too many new connections from your address (at most {rules.max_new} "
                    f"per {rules.window:g} s); try again in {wait} s")
        recent.append(now)
        self._open[key] = self._open.get(key, 0) + 1
        return None

    def release(self, host: str) -> None:
        """A connection admitted from ``host`` has ended."""
        if self.exempt(host):
            return
        key = address_key(host)
        assert key is not None
        left = self._open.get(key, 0) - 1
        if left > 0:
            self._open[key] = left
        else:
            self._open.pop(key, None)

    def open_from(self, host: str) -> int:
        key = address_key(host)
        return 0 if key is None else self._open.get(key, 0)

    def _sweep(self, now: float) -> None:
        self._swept = now
        window = self.rules.window
        for key in [k for k, times in self._recent.items()
                    if (not times or now - times[-1] >= window) and k not in self._open]:
            del self._recent[key]

    @property
    def tracked(self) -> int:
        """Addresses remembered (for tests: memory stays bounded)."""
        return len(self._recent)
