"""Command line: ``python -m benchmarks [--quick] [--only fanout|idle|durable|search|upload|
sweep|churn|joinstorm|rooms|irc|cluster] [--output F]``.

Prints a table and writes every figure (and the machine it ran on) to a JSON file, by default
``benchmarks/results/<mode>-<timestamp>.json`` plus a copy at ``benchmarks/results/latest.json``.
The step-6 scenarios (``sweep``, ``churn``, ``joinstorm``, ``rooms``) run palaver and, where
installed, ngIRCd and InspIRCd side by side; the sweep's chart goes next to the JSON file
(``<name>-fanout.png``). A progress line goes to stderr while they run.
The IRC comparison (``--only irc``: palaver's IRC door against ngIRCd and InspIRCd) runs only when
asked for, never as part of the default run; so does the cluster benchmark (``--only cluster``: the
embedded server against one node on PostgreSQL + Redis, and two nodes against one), which
starts its own PostgreSQL and Redis (skipped, saying why, where they are not installed).
Exit status 0 when every benchmark completed (all expected deliveries arrived, every client
registered, every message acknowledged and stored exactly once in a sound SQLite file), 1 when
one did not, 2 when one could not run at all; the floors are reported, not
enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.chart import write_chart
from benchmarks.churn import ChurnParams, render_churn, run_churn
from benchmarks.cluster import ClusterParams, run_cluster
from benchmarks.cluster import complete as cluster_complete
from benchmarks.clusterreport import render_cluster
from benchmarks.durable import DurableParams, DurableRun, run_durable
from benchmarks.fanout import FanoutParams, run_fanout
from benchmarks.idle import IdleParams, run_idle
from benchmarks.ircbench import IrcParams, render_irc, run_irc
from benchmarks.joinstorm import JoinStormParams, render_joinstorm, run_joinstorm
from benchmarks.phases import Phase
from benchmarks.population import SetupError
from benchmarks.report import machine_info, render
from benchmarks.rooms import RoomsParams, render_rooms, run_rooms
from benchmarks.search import SearchParams, render_search, run_search
from benchmarks.sweep import SweepParams, render_sweep, run_sweep
from benchmarks.sweep import complete as sweep_complete
from benchmarks.upload import UploadParams, render_upload, run_upload

RESULTS = Path(__file__).resolve().parent / "results"

FULL_FANOUT = FanoutParams(
    members=1_000,
    senders=10,
    receiver_workers=3,
    phases=(
        Phase("fixed 50k/s", messages=100, rate=5.0, timeout=60.0),
        Phase("fixed 100k/s", messages=200, rate=10.0, timeout=60.0),
        Phase("fixed 200k/s", messages=300, rate=20.0, timeout=60.0),
        Phase("closed loop", messages=300, rate=0.0, window=2, timeout=120.0),
    ),
)
QUICK_FANOUT = FanoutParams(
    members=100,
    senders=10,
    receiver_workers=2,
    latency_sample_every=1,
    setup_timeout=30.0,
    phases=(
        Phase("fixed 10k/s", messages=20, rate=10.0, timeout=20.0),
        Phase("closed loop", messages=30, rate=0.0, window=2, timeout=20.0),
    ),
)
FULL_IDLE = IdleParams(connections=10_000, workers=4)
QUICK_IDLE = IdleParams(connections=500, workers=2, connect_timeout=20.0, hello_timeout=30.0)
FULL_DURABLE = DurableParams(
    workers=2,
    runs=(
        DurableRun("process, 200×8", durability="process", connections=200, window=8,
                   messages=1_000),
        DurableRun("power, 200×8", durability="power", connections=200, window=8,
                   messages=1_000),
        DurableRun("process, 50×1", durability="process", connections=50, window=1,
                   messages=400, floor=False),
    ),
)
QUICK_DURABLE = DurableParams(
    workers=2,
    setup_timeout=30.0,
    runs=(
        DurableRun("process, 50×4", durability="process", connections=50, window=4,
                   messages=100, timeout=30.0),
        DurableRun("power, 50×4", durability="power", connections=50, window=4,
                   messages=100, timeout=30.0),
    ),
)
FULL_IRC = IrcParams(
    members=1_000,
    senders=10,
    receiver_workers=3,
    phases=(
        Phase("fixed 20k/s", messages=20, rate=2.0, timeout=60.0),
        Phase("fixed 50k/s", messages=50, rate=5.0, timeout=60.0),
        Phase("fixed 100k/s", messages=100, rate=10.0, timeout=60.0),
        Phase("closed, 2/sender", messages=300, rate=0.0, window=2, timeout=120.0),
        Phase("closed, 8/sender", messages=300, rate=0.0, window=8, timeout=120.0),
    ),
)
FULL_SEARCH = SearchParams(messages=1_000_000)
QUICK_SEARCH = SearchParams(messages=20_000, repeats=5)
FULL_UPLOAD = UploadParams(megabytes=500)
QUICK_UPLOAD = UploadParams(megabytes=20)
QUICK_IRC = IrcParams(
    members=100,
    senders=10,
    receiver_workers=2,
    latency_sample_every=1,
    batch=50,
    setup_timeout=30.0,
    phases=(
        Phase("fixed 10k/s", messages=20, rate=10.0, timeout=20.0),
        Phase("closed loop", messages=30, rate=0.0, window=2, timeout=20.0),
    ),
)

FULL_SWEEP = SweepParams()
QUICK_SWEEP = SweepParams(members=100, receiver_workers=1, rates=(100, 200), seconds=0.5,
                          drain=10.0, latency_sample_every=1, batch=50, setup_timeout=30.0,
                          servers=("palaver-json", "palaver", "ngircd", "inspircd"))
FULL_CHURN = ChurnParams()
QUICK_CHURN = ChurnParams(count=200, timeout=30.0)
FULL_JOINSTORM = JoinStormParams()
QUICK_JOINSTORM = JoinStormParams(clients=200, timeout=30.0)
FULL_ROOMS = RoomsParams()
QUICK_ROOMS = RoomsParams(clients=500, rooms=10, timeout=60.0)
SCENARIOS = ("sweep", "churn", "joinstorm", "rooms")
FULL_CLUSTER = ClusterParams()
QUICK_CLUSTER = ClusterParams(members=60, rates=(50,), seconds=1.0, warmup_seconds=0.4,
                              drain=10.0, latency_sample_every=1, setup_timeout=30.0, rounds=1)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description="palaver benchmarks (see docs/benchmarks.md)")
    parser.add_argument("--quick", action="store_true",
                        help="a small smoke run (100 members, 500 idle connections, "
                             "5,000 durable messages)")
    parser.add_argument("--only", choices=["fanout", "idle", "durable", "search", "upload",
                                           *SCENARIOS, "irc", "cluster"],
                        help="run one benchmark (irc: only when asked for; it compares "
                             "palaver's IRC door with ngircd and inspircd where installed; "
                             "cluster: only when asked for; the embedded server, one node "
                             "and two nodes on PostgreSQL + Redis)")
    parser.add_argument("--output", type=Path, help="where to write the JSON results")
    parser.add_argument("--servers", type=lambda text: tuple(text.split(",")),
                        help="the sweep, churn, joinstorm and rooms only on these servers "
                             "(comma-separated, e.g. palaver-json,palaver-irc,palaver; "
                             "default: all of each scenario's)")
    return parser


def _only_servers(params: Any, servers: tuple[str, ...] | None) -> Any:
    """``params`` with its servers narrowed to ``servers`` (those it knows), if given."""
    if servers is None:
        return params
    return dataclasses.replace(params, servers=tuple(s for s in params.servers if s in servers))


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
    }
    if args.only in (None, "fanout"):
        results["fanout"] = await run_fanout(QUICK_FANOUT if args.quick else FULL_FANOUT)
    if args.only in (None, "idle"):
        results["idle"] = await run_idle(QUICK_IDLE if args.quick else FULL_IDLE)
    if args.only in (None, "durable"):
        results["durable"] = await run_durable(QUICK_DURABLE if args.quick else FULL_DURABLE)
    if args.only in (None, "search"):
        results["search"] = await run_search(QUICK_SEARCH if args.quick else FULL_SEARCH)
    if args.only in (None, "upload"):
        results["upload"] = await run_upload(QUICK_UPLOAD if args.quick else FULL_UPLOAD)
    q, only = args.quick, args.servers
    if args.only in (None, "sweep"):
        results["sweep"] = await run_sweep(_only_servers(QUICK_SWEEP if q else FULL_SWEEP, only))
    if args.only in (None, "churn"):
        results["churn"] = await run_churn(_only_servers(QUICK_CHURN if q else FULL_CHURN, only))
    if args.only in (None, "joinstorm"):
        results["joinstorm"] = await run_joinstorm(
            _only_servers(QUICK_JOINSTORM if q else FULL_JOINSTORM, only))
    if args.only in (None, "rooms"):
        results["rooms"] = await run_rooms(_only_servers(QUICK_ROOMS if q else FULL_ROOMS, only))
    if args.only == "irc":
        results["irc"] = await run_irc(QUICK_IRC if args.quick else FULL_IRC)
    if args.only == "cluster":
        results["cluster"] = await run_cluster(QUICK_CLUSTER if args.quick else FULL_CLUSTER)
    return results


def _complete(results: dict[str, Any]) -> bool:
    ok = True
    if "fanout" in results:
        ok = ok and all(phase["complete"] for phase in results["fanout"]["phases"])
    if "idle" in results:
        ok = ok and bool(results["idle"]["all_registered"])
    if "durable" in results:
        ok = ok and all(run["complete"] and run["stored_equals_acked"] and run["integrity_ok"]
                        for run in results["durable"]["runs"])
    if "search" in results:
        ok = ok and bool(results["search"]["complete"])
    if "upload" in results:
        ok = ok and bool(results["upload"]["complete"])
    if "irc" in results:
        ok = ok and bool(results["irc"]["runs"]) and not results["irc"]["failed"] and all(
            phase["complete"] for run in results["irc"]["runs"] for phase in run["phases"])
    if "sweep" in results:
        ok = ok and sweep_complete(results["sweep"])
    if "cluster" in results:
        ok = ok and cluster_complete(results["cluster"])
    for name in ("churn", "joinstorm", "rooms"):
        if name in results:  # churn: a run cut short by its time bound is not a failure
            ok = ok and bool(results[name]["runs"]) and not results[name]["failed"] and all(
                run["sound"] if name == "churn" else run["complete"]
                for run in results[name]["runs"])
    return ok


def _write(results: dict[str, Any], output: Path | None) -> Path:
    if output is None:
        RESULTS.mkdir(exist_ok=True)
        output = RESULTS / f"{results['mode']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
        (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    return output


def _runner() -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        results = _runner()(_run(args))
    except SetupError as exc:
        print(f"benchmark could not run: {exc}", file=sys.stderr)
        return 2
    print(render(results))
    if "search" in results:
        print("\n".join(render_search(results["search"])))
    if "upload" in results:
        print("\n".join(render_upload(results["upload"])))
    if "irc" in results:
        print("\n".join(render_irc(results["irc"])))
    if "cluster" in results:
        print("\n".join(render_cluster(results["cluster"])))
    for name, render_one in (("sweep", render_sweep), ("churn", render_churn),
                             ("joinstorm", render_joinstorm), ("rooms", render_rooms)):
        if name in results:
            print("\n".join(render_one(results[name])))
    path = _write(results, args.output)
    print(f"\nresults: {path}")
    if "sweep" in results:
        chart = write_chart(results["sweep"], path.with_name(f"{path.stem}-fanout.png"))
        print(f"chart: {chart}" if chart else "chart: not drawn (no matplotlib, or no runs)")
    return 0 if _complete(results) else 1
