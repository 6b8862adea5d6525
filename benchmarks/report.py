"""Machine facts and the human-readable table."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import resource
import sys
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs pinned

FLOOR_DELIVERIES_PER_CPU_S = 100_000
FLOOR_RSS_PER_IDLE_CONNECTION = 6_000
FLOOR_ACKED_PER_S = 20_000


def machine_info() -> dict[str, Any]:
    return {
        "cpu_model": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "uvloop": _version("uvloop") if importlib.util.find_spec("uvloop") else None,
        "msgspec": _version("msgspec"),
        "palaver": _version("palaver"),
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    m = results["machine"]
    lines.append(f"palaver {m['palaver']} benchmarks ({results['mode']} run)")
    lines.append(
        f"machine: {m['cpu_model']}, {m['logical_cpus']} logical CPUs, "
        f"{m['memory_bytes'] / 2**30:.1f} GiB, {m['os']}"
    )
    lines.append(
        f"python {m['python']}, uvloop {m['uvloop'] or 'no (asyncio)'}, msgspec {m['msgspec']}"
    )
    if "fanout" in results:
        lines.extend(_fanout_table(results["fanout"]))
    if "idle" in results:
        lines.extend(_idle_table(results["idle"]))
    if "durable" in results:
        lines.extend(_durable_table(results["durable"]))
    return "\n".join(lines)


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    return ["", title, fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)]


def _fanout_table(fanout: dict[str, Any]) -> list[str]:
    p = fanout["params"]
    header = ["metric", *(ph["phase"]["name"] for ph in fanout["phases"])]
    metrics: list[tuple[str, Any]] = [
        ("mode", lambda ph: ph["mode"]),
        ("messages sent / planned", lambda ph: f"{ph['messages_sent']:,} / "
                                                f"{ph['messages_planned']:,}"),
        ("offered msgs/s", lambda ph: f"{ph['offered_msgs_per_s']:,.0f}"),
        ("offered deliveries/s", lambda ph: f"{ph['offered_deliveries_per_s']:,.0f}"),
        ("deliveries / expected", lambda ph: f"{ph['deliveries']:,} / "
                                              f"{ph['deliveries_expected']:,}"),
        ("all delivered", lambda ph: "yes" if ph["complete"] else "NO"),
        ("deliveries/s", lambda ph: _num(ph["deliveries_per_s"])),
        ("latency p50 ms", lambda ph: _num(ph["latency"]["p50_ms"], 2)),
        ("latency p99 ms", lambda ph: _num(ph["latency"]["p99_ms"], 2)),
        ("latency max ms", lambda ph: _num(ph["latency"]["max_ms"], 2)),
        ("server CPU s", lambda ph: _num(ph["server_cpu_s"], 2)),
        ("  of which kernel", lambda ph: _pct(ph["server_kernel_share"])),
        ("server CPU µs/delivery", lambda ph: _num(ph["server_cpu_us_per_delivery"], 2)),
        ("deliveries/server-CPU-s", lambda ph: _num(ph["deliveries_per_server_cpu_s"])),
        (f"  floor ≥ {FLOOR_DELIVERIES_PER_CPU_S:,}", lambda ph: _pass(
            (ph["deliveries_per_server_cpu_s"] or 0) >= FLOOR_DELIVERIES_PER_CPU_S)),
        ("server CPU busy (1 core)", lambda ph: f"{ph['server_cpu_utilisation']:.0%}"),
        ("generator CPU s", lambda ph: _num(ph["generator_cpu_s"], 2)),
        ("generator CPU (cores)", lambda ph: f"{ph['generator_cpu_utilisation']:.2f} "
                                              f"in {ph['generator_processes']} procs"),
        ("machine busy (all CPUs)", lambda ph: f"{ph['machine_busy']:.0%}"),
        ("  other procs+softirq (cores)", lambda ph: f"{ph['other_cpu_cores']:.2f}"),
        ("server RSS MiB", lambda ph: f"{ph['server_rss_bytes'] / 2**20:.1f}"),
        ("connections lost", lambda ph: str(sum(ph["lost_connections"].values()))),
    ]
    rows = [[name, *(get(ph) for ph in fanout["phases"])] for name, get in metrics]
    title = (f"Fan-out: {p['members']:,} members in #lobby, {p['senders']} senders, "
             f"~100-byte texts (setup {fanout['setup']['hello']['seconds']:.1f}s HELLO + "
             f"{fanout['setup']['presence_settled']['seconds']:.1f}s presence)")
    return _table(title, header, rows)


def _idle_table(idle: dict[str, Any]) -> list[str]:
    n = idle["params"]["connections"]
    per_reg = idle["rss_per_registered_connection_bytes"]
    rows = [
        ["connections opened / registered", f"{idle['connect']['connected']:,} / "
                                            f"{idle['registered_live']:,}"],
        ["all registered, none lost", "yes" if idle["all_registered"] else "NO"],
        ["server RSS baseline MiB", f"{idle['rss_baseline_bytes'] / 2**20:.1f}"],
        ["server RSS, bare TCP MiB", f"{idle['rss_bare_bytes'] / 2**20:.1f}"],
        ["server RSS, registered MiB", f"{idle['rss_registered_bytes'] / 2**20:.1f}"],
        ["server RSS peak MiB", f"{idle['rss_peak_bytes'] / 2**20:.1f}"],
        ["RSS per bare connection B", _num(idle["rss_per_bare_connection_bytes"])],
        ["RSS per registered connection B", _num(per_reg)],
        [f"  floor ≤ {FLOOR_RSS_PER_IDLE_CONNECTION:,} B", _pass(
            per_reg is not None and per_reg <= FLOOR_RSS_PER_IDLE_CONNECTION)],
        ["connect seconds", f"{idle['connect']['seconds']:.1f}"],
        ["HELLO + presence seconds", f"{idle['hello_phase_seconds']:.1f}"],
        ["PRESENCE deliveries (n(n-1)/2)", _num(idle["presence_deliveries_expected"])
         if idle.get("presence_per_event", True) else "batched (presence_limit)"],
        ["HELLO-phase server CPU s", f"{idle['hello_phase_server_cpu_s']:.1f}"],
        ["PRESENCE deliveries/server-CPU-s", _num(idle["presence_deliveries_per_server_cpu_s"])],
        ["HELLO-phase generator CPU s", f"{idle['hello_phase_generator_cpu_s']:.1f}"],
        ["connections lost", str(sum(idle["presence_settled"]["lost"].values()))],
        ["all drop at once: seconds", f"{idle['disconnect']['seconds']:.1f}"
                                      + ("" if idle["disconnect"]["complete"] else " (timeout)")],
        ["all drop at once: server CPU s", f"{idle['disconnect']['server_cpu_s']:.1f}"],
    ]
    return _table(f"Idle connections: {n:,} clients registered in #lobby", ["metric", "value"],
                  rows)


def _durable_table(durable: dict[str, Any]) -> list[str]:
    runs = durable["runs"]
    header = ["metric", *(r["run"]["name"] for r in runs)]
    metrics: list[tuple[str, Any]] = [
        ("durability (synchronous)", lambda r: {"process": "process (NORMAL)",
                                                 "power": "power (FULL)"}[r["run"]["durability"]]),
        ("senders × CHATs in flight", lambda r: f"{r['run']['connections']} × "
                                                 f"{r['run']['window']}"),
        ("acked / sent / planned", lambda r: f"{r['acked']:,} / {r['messages_sent']:,} / "
                                              f"{r['messages_planned']:,}"),
        ("all acked, no errors", lambda r: "yes" if r["complete"] else "NO"),
        ("acked msgs/s", lambda r: _num(r["acked_per_s"])),
        (f"  floor ≥ {FLOOR_ACKED_PER_S:,}", lambda r: _pass(
            (r["acked_per_s"] or 0) >= FLOOR_ACKED_PER_S) if r["run"]["floor"]
            else "n/a (latency run)"),
        ("send→ack p50 ms", lambda r: _num(r["latency"]["p50_ms"], 2)),
        ("send→ack p99 ms", lambda r: _num(r["latency"]["p99_ms"], 2)),
        ("send→ack max ms", lambda r: _num(r["latency"]["max_ms"], 2)),
        ("server CPU s", lambda r: _num(r["server_cpu_s"], 2)),
        ("  of which kernel", lambda r: _pct(r["server_kernel_share"])),
        ("server CPU µs/acked msg", lambda r: _num(r["server_cpu_us_per_ack"], 1)),
        ("server CPU busy (1 core)", lambda r: f"{r['server_cpu_utilisation']:.0%}"),
        ("generator CPU (cores)", lambda r: f"{r['generator_cpu_utilisation']:.2f} "
                                             f"in {r['generator_processes']} procs"),
        ("machine busy (all CPUs)", lambda r: f"{r['machine_busy']:.0%}"),
        ("rows stored = acked, once each", lambda r: f"{r['stored_rows']:,} "
            + ("yes" if r["stored_equals_acked"] else "NO")),
        ("PRAGMA integrity_check", lambda r: ", ".join(r["integrity_check"])[:40]),
        ("server exit status", lambda r: str(r["server_exit_status"])),
        ("db file MiB", lambda r: f"{r['db_file_bytes'] / 2**20:.1f}"),
    ]
    rows = [[name, *(get(r) for r in runs)] for name, get in metrics]
    title = ("Durable: CHATs with ids, each sender alone in its own room, SQLite, "
             "acked = MESSAGE with the same id received")
    return _table(title, header, rows)


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _pass(ok: bool) -> str:
    return "pass" if ok else "FAIL"
