"""One measured phase of a fan-out benchmark (palaver's JSON lines or IRC), and its figures.

How this works: :func:`run_phase` resets every worker's counters (each connection is to get
``messages × senders`` messages), has the first worker — the one holding the senders — publish
(at a fixed rate or closed loop), waits for every worker's ``done`` or the phase's hard timeout
while a :class:`~benchmarks.meter.Meter` measures the stretch, then collects the reports, which
:func:`summarise` turns into the phase's figures. ``echo`` says whether a sender gets its own
message back (palaver's JSON lines do, IRC does not): without it, expected deliveries =
messages × (members − 1) and the phase is complete only if no member was lost.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks import progress
from benchmarks.meter import Meter, Sampled, cpu_figures
from benchmarks.stats import latency_summary, merge_counts
from benchmarks.workers import Pool


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    messages: int  # per sender
    rate: float  # messages per second per sender; 0 = closed loop
    window: int = 4  # closed loop: messages in flight per sender
    timeout: float = 60.0


class Params(Protocol):
    @property
    def members(self) -> int: ...
    @property
    def senders(self) -> int: ...


async def run_phase(server: Sampled, pool: Pool, params: Params, phase: Phase,
                    echo: bool = True, label: str = "fan-out") -> dict[str, Any]:
    """One phase; ``label`` names the run on the progress line (stderr)."""
    sender_nicks = [f"s{i}" for i in range(params.senders)]
    own: dict[str, Any] = {} if echo else {"own": phase.messages}
    resets = await pool.ask("reset", 30, cmd="reset",
                            expect_per_conn=phase.messages * params.senders,
                            **own, senders=sender_nicks)
    meter = Meter(server, pool)
    pool.workers[0].send("run", count=phase.messages, rate=phase.rate, window=phase.window,
                         timeout=phase.timeout)
    sent_task = asyncio.ensure_future(pool.workers[0].expect("sent", phase.timeout + 10))
    async with progress.watch(pool, label, phase.name, "delivered",
                              sum(r["expected"] for r in resets), "deliveries"):
        done = await pool.count("done", phase.timeout)
    usage = meter.usage()
    sent = await sent_task
    reports = await pool.ask("report", 60, cmd="report")
    return summarise(params, phase, sent, reports, done, usage, echo)


def summarise(params: Params, phase: Phase, sent: dict[str, Any], reports: list[dict[str, Any]],
              done: int, usage: dict[str, Any], echo: bool = True) -> dict[str, Any]:
    members = sum(r["live"] for r in reports)
    delivered = sum(r["delivered"] for r in reports)
    expected = sent["sent"] * (members if echo else members - 1)
    last_ns = max(r["last_ns"] for r in reports)
    span = (last_ns - sent["first_ns"]) / 1e9 if sent["first_ns"] and last_ns else 0.0
    send_span = (sent["last_ns"] - sent["first_ns"]) / 1e9
    latencies: list[int] = []
    for report in reports:
        latencies.extend(report["latencies_us"])
    if phase.rate > 0:
        offered = phase.rate * params.senders
    else:
        offered = sent["sent"] / send_span if send_span > 0 else 0.0
    complete = delivered == expected and done == len(reports)
    return {
        "phase": asdict(phase),
        "mode": "fixed rate" if phase.rate > 0 else f"closed loop (window {phase.window}/sender)",
        "messages_sent": sent["sent"],
        "messages_planned": phase.messages * params.senders,
        "members": members,
        "deliveries_expected": expected,
        "deliveries": delivered,
        "complete": complete if echo else complete and members == params.members,
        "lost_connections": merge_counts(r["lost"] for r in reports),
        "offered_msgs_per_s": round(offered, 1),
        "offered_deliveries_per_s": round(offered * (members if echo else params.members - 1), 1),
        "send_seconds": round(send_span, 3),
        "delivery_seconds": round(span, 3),
        "deliveries_per_s": round(delivered / span, 1) if span > 0 else None,
        "latency": latency_summary(latencies),
        **cpu_figures(usage, delivered, len(reports), "delivery", "deliveries", 3),
        "other_cpu_cores": _other_cores(usage),
        "wall_s": round(usage["wall_s"], 3),
        "server_rss_bytes": usage["server_rss_bytes"],
    }


def _other_cores(usage: dict[str, Any]) -> float:
    """CPU (in cores) used neither by the server nor by the generator: softirq, other processes."""
    busy_cores = usage["machine_busy"] * (psutil.cpu_count() or 1)
    ours = (usage["server_cpu_s"] + usage["generator_cpu_s"]) / usage["wall_s"]
    return round(max(0.0, float(busy_cores - ours)), 2)


def params_dict(params: Any) -> dict[str, Any]:
    """A benchmark's parameters for the JSON results, without its phases (reported one by one)."""
    out = asdict(params)
    out.pop("phases")
    return out
