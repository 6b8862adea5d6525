"""The cluster benchmark's outcome: medians over rounds, paired ratios, and the tables.

How this works: :mod:`benchmarks.cluster` runs every setup ``rounds`` times, in turn, on a
machine other work shares; one run's CPU per delivery moves by ±20 % with the neighbours. So
:func:`summary` gives, per phase (rate) and setup, the median of each figure over the rounds
(with the lowest and highest), and the ratios that answer the issue — one node / embedded and
two nodes / one node, in deliveries per server-CPU-second, counting palaver alone and palaver +
PostgreSQL + Redis — taken within each round (setups run minutes apart, under about the same
neighbours) and then their median. :func:`render_cluster` prints them.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

LABELS = {"embedded": "embedded (SQLite)", "one-node": "1 node (PG+Redis)",
          "two-nodes": "2 nodes (PG+Redis)"}
GOAL_ONE_NODE = 0.85  # one node on PostgreSQL + Redis: of the embedded server's deliveries/CPU-s
PAIRS = (("one-node", "embedded"), ("two-nodes", "one-node"), ("two-nodes", "embedded"))
COUNTED = {"palaver": "deliveries_per_server_cpu_s",  # what a ratio counts as server CPU
           "all": "deliveries_per_all_server_cpu_s"}

Getter = Callable[[dict[str, Any]], float | None]
FIGURES: dict[str, Getter] = {
    "deliveries_per_s": lambda ph: ph["deliveries_per_s"],
    "deliveries_per_server_cpu_s": lambda ph: ph["deliveries_per_server_cpu_s"],
    "deliveries_per_all_server_cpu_s": lambda ph: ph["deliveries_per_all_server_cpu_s"],
    "server_cpu_us_per_delivery": lambda ph: ph["server_cpu_us_per_delivery"],
    "all_server_cpu_us_per_delivery": lambda ph: ph["all_server_cpu_us_per_delivery"],
    "server_cpu_us_per_message": lambda ph: ph["server_cpu_us_per_message"],
    "all_server_cpu_us_per_message": lambda ph: ph["all_server_cpu_us_per_message"],
    "server_cpu_s": lambda ph: ph["server_cpu_s"],
    "postgres_cpu_s": lambda ph: ph["postgres_cpu_s"],
    "redis_cpu_s": lambda ph: ph["redis_cpu_s"],
    "server_kernel_share": lambda ph: ph["server_kernel_share"],
    "deliveries_per_write_call": lambda ph: ph["deliveries_per_write_call"],
    "ack_p50_ms": lambda ph: ph["ack_latency"]["p50_ms"],
    "ack_p99_ms": lambda ph: ph["ack_latency"]["p99_ms"],
    "delivery_p50_ms": lambda ph: ph["latency"]["p50_ms"],
    "delivery_p99_ms": lambda ph: ph["latency"]["p99_ms"],
    "this_node_p50_ms": lambda ph: ph["local_latency"]["p50_ms"],
    "this_node_p99_ms": lambda ph: ph["local_latency"]["p99_ms"],
    "other_node_p50_ms": lambda ph: ph["remote_latency"]["p50_ms"],
    "other_node_p99_ms": lambda ph: ph["remote_latency"]["p99_ms"],
    "generator_cpu_s": lambda ph: ph["generator_cpu_s"],
    "machine_busy": lambda ph: ph["machine_busy"],
}


def _spread(values: list[float]) -> dict[str, Any]:
    return {"median": round(statistics.median(values), 3), "min": min(values),
            "max": max(values), "values": values}


def summary(runs: list[dict[str, Any]], params: Any) -> list[dict[str, Any]]:
    """Per phase: each setup's figures over the rounds, and the paired ratios."""
    out: list[dict[str, Any]] = []
    for index, rate in enumerate(params.rates):
        setups: dict[str, dict[str, Any]] = {}
        for setup in params.setups:
            mine = [run["phases"][index] for run in runs if run["setup"] == setup]
            if not mine:
                continue
            figures: dict[str, Any] = {"rounds": len(mine),
                                       "complete": all(ph["complete"] for ph in mine)}
            for name, get in FIGURES.items():
                values = [v for v in (get(ph) for ph in mine) if v is not None]
                figures[name] = _spread(values) if values else None
            setups[setup] = figures
        out.append({"phase": f"fixed {rate:,} msgs/s", "rate_msgs_per_s": rate,
                    "setups": setups, "ratios": _ratios(runs, index)})
    return out


def _ratios(runs: list[dict[str, Any]], index: int) -> dict[str, dict[str, Any]]:
    by_round: dict[int, dict[str, dict[str, Any]]] = {}
    for run in runs:
        by_round.setdefault(run["round"], {})[run["setup"]] = run["phases"][index]
    out: dict[str, dict[str, Any]] = {}
    for top, bottom in PAIRS:
        for counted, key in COUNTED.items():
            values = [round(r[top][key] / r[bottom][key], 3) for r in by_round.values()
                      if top in r and bottom in r and r[top][key] and r[bottom][key]]
            if values:
                out[f"{top}/{bottom} ({counted})"] = _spread(values)
    return out


def render_cluster(cluster: dict[str, Any]) -> list[str]:
    from benchmarks.report import _num, _table

    p = cluster["params"]

    def med(figure: dict[str, Any] | None, digits: int = 0) -> str:
        return "—" if figure is None else _num(figure["median"], digits)

    def span(figure: dict[str, Any] | None) -> str:
        if figure is None:
            return "—"
        if len(figure["values"]) == 1:
            return _num(figure["median"])
        return f"{_num(figure['median'])} ({_num(figure['min'])}–{_num(figure['max'])})"

    header = ["msgs/s", "setup", "rounds ok", "deliv/s", "µs/deliv", "deliv/palaver-CPU-s",
              "deliv/all-CPU-s", "PG+Redis s", "deliv/write", "ack p50", "ack p99",
              "deliv p50", "deliv p99", "other node p50/p99", "machine"]
    rows: list[list[str]] = []
    for phase in cluster["summary"]:
        first = True
        for setup, f in phase["setups"].items():
            done = sum(ph["complete"] for run in cluster["runs"] if run["setup"] == setup
                       for ph in run["phases"] if ph["phase"]["name"] == phase["phase"])
            backing = None
            if setup != "embedded" and f["postgres_cpu_s"] and f["redis_cpu_s"]:
                backing = f["postgres_cpu_s"]["median"] + f["redis_cpu_s"]["median"]
            rows.append([
                f"{phase['rate_msgs_per_s']:,}" if first else "", LABELS.get(setup, setup),
                f"{done}/{f['rounds']}", med(f["deliveries_per_s"]),
                med(f["server_cpu_us_per_delivery"], 2), span(f["deliveries_per_server_cpu_s"]),
                span(f["deliveries_per_all_server_cpu_s"]),
                "—" if backing is None else f"{backing:.2f}",
                med(f["deliveries_per_write_call"], 2),
                med(f["ack_p50_ms"], 2), med(f["ack_p99_ms"], 2), med(f["delivery_p50_ms"], 2),
                med(f["delivery_p99_ms"], 2),
                "—" if f["other_node_p99_ms"] is None else
                f"{med(f['other_node_p50_ms'], 1)}/{med(f['other_node_p99_ms'], 1)}",
                "—" if f["machine_busy"] is None else f"{f['machine_busy']['median']:.0%}"])
            first = False
    lines = _table(
        f"Cluster: {p['members']:,} members in #lobby, {p['senders']} senders (CHATs with ids, "
        f"~100-byte texts), {p['seconds']:g} s of sending per phase, each setup "
        f"{p['rounds']} time(s) in turn; medians over the rounds (lowest–highest); latencies "
        "in ms; CPU = user+system of the processes named", header, rows)
    for phase in cluster["summary"]:
        parts = [f"{name} {r['median']:.0%}" + (
            f" ({', '.join(f'{v:.0%}' for v in r['values'])})" if len(r["values"]) > 1 else "")
                 for name, r in phase["ratios"].items()]
        if parts:
            lines.append(f"{phase['phase']}, deliveries per CPU-s, median of the rounds' "
                         "ratios: " + "; ".join(parts))
    lines.append(
        f"goal: one node on PostgreSQL+Redis >= {GOAL_ONE_NODE:.0%} of the embedded server's "
        "deliveries per server-CPU-second (palaver alone; 'all' adds PostgreSQL's and Redis's "
        f"CPU). This machine has {os.cpu_count() or 1} logical CPUs, shared by the nodes, the "
        "database, the bus, the load generator and other work: compare the CPU-normalised "
        "columns, not deliveries/s.")
    if cluster["code"]["src_uncommitted"]:
        lines.append("src/ had uncommitted changes while this ran: "
                     + ", ".join(cluster["code"]["src_uncommitted"]))
    lines.extend(f"{LABELS.get(n, n)}: {why.splitlines()[0]}"
                 for n, why in cluster["skipped"].items())
    return lines
