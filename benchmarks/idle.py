"""Memory per idle connection: server RSS before and after ``connections`` clients register.

How this works: a fresh server; its RSS is sampled (baseline), then the worker processes open
every TCP connection without a word (RSS sampled again: the cost of a bare connection), then say
HELLO in batches — each worker waits for a batch's WELCOMEs before the next — and a barrier waits
until every PRESENCE join has been delivered. RSS is sampled once more after a short pause. All
connections land in #lobby, so registering n clients makes the server deliver n(n-1)/2 PRESENCE
frames; the run reports how long that took, the server CPU it cost and the peak RSS on the way.
A server whose ``presence_limit`` is below n batches presence in a room that large instead
(MEMBERS_CHANGED), so the exact count is expected only where presence is one frame per join.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import population
from benchmarks.server import RssWatcher, ServerProcess
from benchmarks.stats import split_evenly
from benchmarks.workers import Pool, WorkerError

SETTLE_SECONDS = 1.0
FD_SLACK = 2  # log file rotation and the like


@dataclass(frozen=True, slots=True)
class IdleParams:
    connections: int = 10_000
    workers: int = 4
    hello_batch: int = 50  # per worker
    connect_timeout: float = 120.0
    hello_timeout: float = 900.0


async def run_idle(params: IdleParams) -> dict[str, Any]:
    server = await ServerProcess.start()
    pool: Pool | None = None
    try:
        await asyncio.sleep(SETTLE_SECONDS)
        baseline, baseline_fds = server.sample(), server.ps.num_fds()
        pool = await Pool.start(params.workers, server.host, server.port)
        nicks = split_evenly([f"i{i}" for i in range(params.connections)], params.workers)
        connected = await population.connect(pool, nicks, params.connect_timeout)
        await asyncio.sleep(SETTLE_SECONDS)
        bare = server.sample()
        cpu0, gen0, wall0 = bare.cpu, pool.cpu(), time.monotonic()
        with RssWatcher(server) as watcher:
            registered = await population.hello(pool, params.hello_batch, params.hello_timeout)
            settled = await population.barrier(pool, params.hello_timeout)
        storm_cpu, storm_wall = server.sample().cpu - cpu0, time.monotonic() - wall0
        storm_gen_cpu = pool.cpu() - gen0
        await asyncio.sleep(SETTLE_SECONDS)
        idle = server.sample()
        teardown = await _disconnect_all(server, pool, baseline_fds, params.hello_timeout)
        n_bare, n_reg = connected["connected"], registered["registered"]
        n_live = n_reg - sum(settled["lost"].values())
        per_event = presence_per_event(n_reg)
        presence = n_reg * (n_reg - 1) // 2 if per_event else None
        return {
            "params": asdict(params),
            "connect": connected,
            "hello": registered,
            "presence_settled": settled,
            "rss_baseline_bytes": baseline.rss,
            "rss_bare_bytes": bare.rss,
            "rss_registered_bytes": idle.rss,
            "rss_peak_bytes": max(watcher.peak, idle.rss),
            "rss_per_bare_connection_bytes": _per(bare.rss - baseline.rss, n_bare),
            "rss_per_registered_connection_bytes": _per(idle.rss - baseline.rss, n_live),
            "registered_live": n_live,
            "all_registered": n_reg == params.connections and n_live == n_reg,
            "presence_per_event": per_event,
            "presence_deliveries_expected": presence,
            # WELCOME, JOINED and the barrier token each, plus one PRESENCE per later joiner
            "frames_expected": 3 * n_reg + presence if presence is not None else None,
            "hello_phase_seconds": round(storm_wall, 3),
            "hello_phase_server_cpu_s": round(storm_cpu, 3),
            "presence_deliveries_per_server_cpu_s": round(presence / storm_cpu, 1)
            if storm_cpu and presence is not None else None,
            "hello_phase_generator_cpu_s": round(storm_gen_cpu, 3),
            "generator_processes": params.workers,
            "disconnect": teardown,
        }
    except WorkerError as exc:
        raise population.SetupError(f"{exc}\nserver log:\n{server.log_tail()}") from exc
    finally:
        if pool is not None:
            await pool.close()
        await server.stop()


async def _disconnect_all(server: ServerProcess, pool: Pool, baseline_fds: int,
                          timeout: float) -> dict[str, Any]:
    """Every client drops its connection at once; wait until the server has let go of them all.

    Each drop is a QUIT that the hub announces to everyone still in #lobby, so this is the
    O(n²) presence case again, from the other side.
    """
    cpu0, wall0 = server.sample().cpu, time.monotonic()
    await pool.close()
    deadline = wall0 + timeout
    fds = server.ps.num_fds()
    while fds > baseline_fds + FD_SLACK and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        fds = server.ps.num_fds()
    return {
        "seconds": round(time.monotonic() - wall0, 3),
        "server_cpu_s": round(server.sample().cpu - cpu0, 3),
        "server_fds_left": max(0, fds - baseline_fds),
        "complete": fds <= baseline_fds + FD_SLACK,
    }


def presence_per_event(members: int) -> bool:
    """Whether the server as shipped sends one PRESENCE per join to a room of ``members``: yes
    unless it has a ``presence_limit`` setting below that (then it batches them)."""
    from palaver.server.config import Settings

    limit = getattr(Settings(), "presence_limit", None)
    return limit is None or members <= int(limit)


def _per(delta: int, count: int) -> float | None:
    return round(delta / count, 1) if count else None
