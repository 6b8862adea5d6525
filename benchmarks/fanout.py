"""Fan-out: ``members`` clients in #lobby, ``senders`` of them posting ~100-byte texts.

How this works: a fresh server; one worker process holds the sending connections, the other
workers share the receivers. All register (HELLO puts everyone in #lobby) and a barrier waits
out the PRESENCE joins. Then, for each phase, counters are reset, the senders publish
``messages`` each (at a fixed rate, or closed-loop), and the phase ends when every connection has
every message or the hard timeout passes. Server CPU is the psutil user+system delta over the
phase; the generator's CPU is the same delta summed over the worker processes. Every message
reaches every member, the sender included, so expected deliveries = messages × members.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks import population
from benchmarks.server import ServerProcess
from benchmarks.stats import latency_summary, split_evenly
from benchmarks.workers import Pool, WorkerError


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    messages: int  # per sender
    rate: float  # messages per second per sender; 0 = closed loop
    window: int = 4  # closed loop: messages in flight per sender
    timeout: float = 60.0


@dataclass(frozen=True, slots=True)
class FanoutParams:
    members: int = 1_000
    senders: int = 10
    receiver_workers: int = 3
    latency_sample_every: int = 10  # every n-th receiving connection records latencies
    hello_batch: int = 100
    setup_timeout: float = 120.0
    phases: tuple[Phase, ...] = field(default_factory=tuple)


async def run_fanout(params: FanoutParams) -> dict[str, Any]:
    server = await ServerProcess.start()
    pool: Pool | None = None
    try:
        pool = await Pool.start(params.receiver_workers + 1, server.host, server.port)
        setup = await _populate(pool, params)
        phases = [await _phase(server, pool, params, phase) for phase in params.phases]
        return {"params": _params(params), "setup": setup, "phases": phases,
                "server_rss_bytes": server.sample().rss}
    except (WorkerError, population.SetupError) as exc:
        raise population.SetupError(f"{exc}\nserver log:\n{server.log_tail()}") from exc
    finally:
        if pool is not None:
            await pool.close()
        await server.stop()


async def _populate(pool: Pool, params: FanoutParams) -> dict[str, Any]:
    nicks = [f"s{i}" for i in range(params.senders)]
    receivers = [f"r{i}" for i in range(params.members - params.senders)]
    shares = [nicks, *split_evenly(receivers, params.receiver_workers)]
    connected = await population.connect(pool, shares, params.setup_timeout,
                                         sample_every=params.latency_sample_every)
    if connected["connected"] != params.members:
        raise population.SetupError(f"only {connected} of {params.members} connected")
    registered = await population.hello(pool, params.hello_batch, params.setup_timeout)
    if registered["registered"] != params.members:
        raise population.SetupError(f"only {registered} of {params.members} registered")
    settled = await population.barrier(pool, params.setup_timeout)
    return {"connect": connected, "hello": registered, "presence_settled": settled}


async def _phase(server: ServerProcess, pool: Pool, params: FanoutParams,
                 phase: Phase) -> dict[str, Any]:
    sender_nicks = [f"s{i}" for i in range(params.senders)]
    await pool.ask("reset", 30, cmd="reset", expect_per_conn=phase.messages * params.senders,
                   senders=sender_nicks)
    machine0 = psutil.cpu_times()
    server0, gen0, wall0 = server.sample(), pool.cpu(), time.monotonic()
    pool.workers[0].send("run", count=phase.messages, rate=phase.rate, window=phase.window,
                         timeout=phase.timeout)
    sent_task = asyncio.ensure_future(pool.workers[0].expect("sent", phase.timeout + 10))
    done = await _wait_done(pool, phase.timeout)
    server1, gen1, wall1 = server.sample(), pool.cpu(), time.monotonic()
    machine1 = psutil.cpu_times()
    sent = await sent_task
    reports = await pool.ask("report", 60, cmd="report")
    return _summarise(params, phase, sent, reports, done, {
        "server_cpu_s": server1.cpu - server0.cpu,
        "server_system_cpu_s": server1.system - server0.system,
        "generator_cpu_s": gen1 - gen0,
        "wall_s": wall1 - wall0,
        "server_rss_bytes": server1.rss,
        "machine_busy": _busy(machine0, machine1),
    })


async def _wait_done(pool: Pool, timeout: float) -> int:
    """Wait for every worker's ``done``; returns how many reported it in time."""
    results = await asyncio.gather(*(w.expect("done", timeout) for w in pool.workers),
                                   return_exceptions=True)
    return sum(not isinstance(r, BaseException) for r in results)


def _summarise(params: FanoutParams, phase: Phase, sent: dict[str, Any],
               reports: list[dict[str, Any]], done: int, usage: dict[str, Any]) -> dict[str, Any]:
    members = sum(r["live"] for r in reports)
    delivered = sum(r["delivered"] for r in reports)
    expected = sent["sent"] * members
    last_ns = max(r["last_ns"] for r in reports)
    span = (last_ns - sent["first_ns"]) / 1e9 if sent["first_ns"] and last_ns else 0.0
    send_span = (sent["last_ns"] - sent["first_ns"]) / 1e9
    latencies: list[int] = []
    for report in reports:
        latencies.extend(report["latencies_us"])
    server_cpu = usage["server_cpu_s"]
    if phase.rate > 0:
        offered = phase.rate * params.senders
    else:
        offered = sent["sent"] / send_span if send_span > 0 else 0.0
    lost: dict[str, int] = {}
    for report in reports:
        for key, value in report["lost"].items():
            lost[key] = lost.get(key, 0) + value
    return {
        "phase": asdict(phase),
        "mode": "fixed rate" if phase.rate > 0 else f"closed loop (window {phase.window}/sender)",
        "messages_sent": sent["sent"],
        "messages_planned": phase.messages * params.senders,
        "members": members,
        "deliveries_expected": expected,
        "deliveries": delivered,
        "complete": delivered == expected and done == len(reports),
        "lost_connections": lost,
        "offered_msgs_per_s": round(offered, 1),
        "offered_deliveries_per_s": round(offered * members, 1),
        "send_seconds": round(send_span, 3),
        "delivery_seconds": round(span, 3),
        "deliveries_per_s": round(delivered / span, 1) if span > 0 else None,
        "latency": latency_summary(latencies),
        "server_cpu_s": round(server_cpu, 3),
        "server_kernel_share": round(usage["server_system_cpu_s"] / server_cpu, 3)
        if server_cpu else None,
        "server_cpu_us_per_delivery": round(server_cpu / delivered * 1e6, 3) if delivered else None,
        "deliveries_per_server_cpu_s": round(delivered / server_cpu, 1) if server_cpu else None,
        "server_cpu_utilisation": round(server_cpu / usage["wall_s"], 3),
        "generator_cpu_s": round(usage["generator_cpu_s"], 3),
        "generator_cpu_utilisation": round(usage["generator_cpu_s"] / usage["wall_s"], 3),
        "generator_processes": len(reports),
        "machine_busy": usage["machine_busy"],
        "other_cpu_cores": _other_cores(usage),
        "wall_s": round(usage["wall_s"], 3),
        "server_rss_bytes": usage["server_rss_bytes"],
    }


def _other_cores(usage: dict[str, Any]) -> float:
    """CPU (in cores) used neither by the server nor by the generator: softirq, other processes."""
    busy_cores = usage["machine_busy"] * (psutil.cpu_count() or 1)
    ours = (usage["server_cpu_s"] + usage["generator_cpu_s"]) / usage["wall_s"]
    return round(max(0.0, float(busy_cores - ours)), 2)


def _busy(before: Any, after: Any) -> float:
    """Fraction of all CPUs' time that was not idle between two ``psutil.cpu_times()``."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0) - getattr(before, "iowait", 0))
    return round(1 - idle / total, 3) if total > 0 else 0.0


def _params(params: FanoutParams) -> dict[str, Any]:
    out = asdict(params)
    out.pop("phases")
    return out
