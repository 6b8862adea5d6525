"""Churn: registrations per second, connect → register → welcome → quit, ``loops`` at once.

How this works: for each target (:mod:`benchmarks.targets`) a fresh server and ``workers``
:mod:`benchmarks.crowdload` processes sharing ``loops`` concurrent loops. Each loop connects,
registers (JSON: HELLO as a user sends it, so it auto-joins the server's default room
``#lobby``; IRC: NICK/USER), waits for the welcome (WELCOME; ``001``), quits (BYE; QUIT) and
waits for the server to close the connection, then starts over, until ``count`` cycles are
done. Figures: registrations/s over the whole stretch (first connect to last close, across
workers) and the server's CPU per registration (psutil, over the same stretch).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import progress, targets
from benchmarks.meter import Meter, cpu_figures
from benchmarks.stats import merge_counts, split_evenly
from benchmarks.workers import Pool

WORKER = "benchmarks.crowdload"


@dataclass(frozen=True, slots=True)
class ChurnParams:
    count: int = 20_000
    loops: int = 64
    workers: int = 2
    timeout: float = 120.0
    servers: tuple[str, ...] = targets.TARGETS


async def run_churn(params: ChurnParams) -> dict[str, Any]:
    out = await targets.each(params.servers, "churn", lambda t: _one(t, params))
    return {"params": asdict(params), **out}


async def _one(target: targets.Target, params: ChurnParams) -> dict[str, Any]:
    pool = await Pool.start(params.workers, target.host, target.port, module=WORKER,
                            args=(target.dialect,))
    try:
        counts = [len(share) for share in split_evenly(range(params.count), params.workers)]
        loops = [len(share) for share in split_evenly(range(params.loops), params.workers)]
        meter, overflows = Meter(target, pool), listen_overflows()
        async with progress.watch(pool, f"churn {target.name}", f"{params.loops} loops", "done",
                                  params.count, "registrations"):
            replies = await pool.ask(
                "churned", params.timeout + 10, cmd="churn", timeout=params.timeout,
                per_worker=[{"prefix": f"c{i}x", "count": c, "loops": n}
                            for i, (c, n) in enumerate(zip(counts, loops, strict=True))])
        usage = meter.usage()
        overflows = listen_overflows() - overflows
    finally:
        await pool.close()
    ok = sum(r["ok"] for r in replies)
    seconds = (max(r["last_ns"] for r in replies) - min(r["first_ns"] for r in replies)) / 1e9
    return {
        "registrations": ok,
        "complete": ok == params.count,
        # nothing refused or lost; a run cut short by the timeout still reports its rate
        "sound": not set(merge_counts(r["failed"] for r in replies)) - {"timeout"}
        and not merge_counts(r["lost"] for r in replies),
        "failed": merge_counts(r["failed"] for r in replies),
        "lost": merge_counts(r["lost"] for r in replies),
        "seconds": round(seconds, 3),
        "registrations_per_s": round(ok / seconds, 1) if seconds > 0 else None,
        **cpu_figures(usage, ok, params.workers, "registration", "registrations", 1),
        "server_rss_bytes": usage["server_rss_bytes"],
        "listen_overflows": overflows,
    }


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (all sockets:
    /proc/net/netstat ``ListenOverflows``; a dropped SYN is retried after 1 s), or 0."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()
                 if line.startswith("TcpExt:")]
        return int(dict(zip(lines[0], lines[1], strict=True)).get("ListenOverflows", 0))
    except (OSError, IndexError, ValueError):
        return 0


def render_churn(churn: dict[str, Any]) -> list[str]:
    from benchmarks.report import _num, _table

    p = churn["params"]
    header = ["server", "done / planned", "regs/s", "srv CPU s", "µs/reg", "srv busy",
              "gen cores", "machine", "listen drops", "failed"]
    rows = [[targets.LABELS.get(r["server"], r["server"]),
             f"{r['registrations']:,} / {p['count']:,}" + ("" if r["complete"] else " INCOMPLETE"),
             _num(r["registrations_per_s"]), _num(r["server_cpu_s"], 2),
             _num(r["server_cpu_us_per_registration"], 1),
             f"{r['server_cpu_utilisation']:.0%}", f"{r['generator_cpu_utilisation']:.2f}",
             f"{r['machine_busy']:.0%}", f"{r['listen_overflows']:,}",
             ", ".join(f"{k} {v}" for k, v in {**r["failed"], **r["lost"]}.items()) or "0"]
            for r in churn["runs"]]
    lines = _table(f"Churn: connect → register → welcome → quit, {p['loops']} at once, "
                   f"{p['count']:,} times (JSON: HELLO with the defaults, so each joins #lobby)",
                   header, rows)
    lines.append("listen drops: SYNs the kernel dropped on a full accept queue during the run "
                 "(each retried after 1 s); InspIRCd answers a registration ~1 s after it "
                 "(a lone client too: upstream calls it intentional, inspircd#1242)")
    lines.extend(f"{targets.LABELS.get(n, n)}: {why.splitlines()[0]}"
                 for n, why in churn["skipped"].items())
    return lines
