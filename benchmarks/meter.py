"""What a measured stretch of a benchmark cost: CPU, wall time and memory, and its figures.

How this works: a :class:`Meter` takes psutil samples when it is made — the whole machine's CPU
times, the server process's CPU and RSS, the generator workers' CPU, the wall clock — and again
in :meth:`Meter.usage`, which returns the deltas as a ``usage`` dict. :func:`cpu_figures` turns a
``usage`` and a count of work done (deliveries, acknowledgements) into the report's server and
generator CPU figures.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks.server import Sample
from benchmarks.workers import Pool


class Sampled(Protocol):
    def sample(self) -> Sample: ...


class Meter:
    def __init__(self, server: Sampled, pool: Pool) -> None:
        self.server = server
        self.pool = pool
        self._machine0 = psutil.cpu_times()
        self._server0, self._gen0, self._wall0 = server.sample(), pool.cpu(), time.monotonic()

    def usage(self) -> dict[str, Any]:
        server1, gen1, wall1 = self.server.sample(), self.pool.cpu(), time.monotonic()
        machine1 = psutil.cpu_times()
        return {
            "server_cpu_s": server1.cpu - self._server0.cpu,
            "server_system_cpu_s": server1.system - self._server0.system,
            "generator_cpu_s": gen1 - self._gen0,
            "wall_s": wall1 - self._wall0,
            "server_rss_bytes": server1.rss,
            "machine_busy": busy(self._machine0, machine1),
        }


def busy(before: Any, after: Any) -> float:
    """Fraction of all CPUs' time that was not idle between two ``psutil.cpu_times()``."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    return round(1 - idle / total, 3) if total > 0 else 0.0


def cpu_figures(usage: dict[str, Any], done: int, processes: int, per_one: str, per_cpu_s: str,
                digits: int) -> dict[str, Any]:
    """Server CPU (``server_cpu_us_per_<per_one>``, ``<per_cpu_s>_per_server_cpu_s`` for ``done``
    pieces of work, µs rounded to ``digits``) and generator CPU, in the report's order."""
    cpu = usage["server_cpu_s"]
    return {
        "server_cpu_s": round(cpu, 3),
        "server_kernel_share": round(usage["server_system_cpu_s"] / cpu, 3) if cpu else None,
        f"server_cpu_us_per_{per_one}": round(cpu / done * 1e6, digits) if done else None,
        f"{per_cpu_s}_per_server_cpu_s": round(done / cpu, 1) if cpu else None,
        "server_cpu_utilisation": round(cpu / usage["wall_s"], 3),
        "generator_cpu_s": round(usage["generator_cpu_s"], 3),
        "generator_cpu_utilisation": round(usage["generator_cpu_s"] / usage["wall_s"], 3),
        "generator_processes": processes,
        "machine_busy": usage["machine_busy"],
    }
