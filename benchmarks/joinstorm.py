"""Join storm: ``clients`` registered clients all JOIN one room at once.

How this works: for each target (:mod:`benchmarks.targets`) a fresh server and ``workers``
:mod:`benchmarks.crowdload` processes. The clients connect and register first, in no room (IRC:
NICK/USER only; JSON: HELLO with ``"autojoin": false``), ``targets.window`` in flight per worker.
Then every worker writes JOIN of ``room`` on all its connections at once (the server takes them as
fast as it reads them) and waits for each connection's own answer (JSON: its JOINED; IRC: the
``366`` for its nick); then a barrier: one member posts a token in the room and every member waits
to see it, so every presence event the storm caused has arrived too (the server queues per
connection in order). The figure is the time from the first JOIN written to the last member seeing
the token (``time.monotonic_ns``, one clock for every process), with the server CPU over that
stretch. Presence is never counted: above a size limit a server may batch it."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import population, progress, targets
from benchmarks.meter import Meter, cpu_figures
from benchmarks.stats import merge_counts, split_evenly
from benchmarks.workers import Pool

WORKER = "benchmarks.crowdload"


@dataclass(frozen=True, slots=True)
class JoinStormParams:
    clients: int = 2_000
    workers: int = 2
    room: str = "#storm"
    timeout: float = 120.0
    servers: tuple[str, ...] = targets.TARGETS


async def run_joinstorm(params: JoinStormParams) -> dict[str, Any]:
    out = await targets.each(params.servers, "join storm", lambda t: _one(t, params))
    return {"params": asdict(params), **out}


async def bring_up(pool: Pool, label: str, nicks: list[str], rooms: list[str | None],
                   window: int, timeout: float) -> dict[str, Any]:
    """Each worker connects and registers its share of ``nicks`` (joining ``rooms``)."""
    shares = split_evenly(list(zip(nicks, rooms, strict=True)), len(pool.workers))
    async with progress.watch(pool, label, "connect + register", "done", len(nicks), "clients"):
        replies = await pool.ask(
            "up", timeout + 10, cmd="bringup", window=window, timeout=timeout,
            per_worker=[{"nicks": [n for n, _ in share], "rooms": [r for _, r in share]}
                        for share in shares])
    up = {"clients": sum(r["ok"] for r in replies),
          "failed": merge_counts(r["failed"] for r in replies),
          "lost": merge_counts(r["lost"] for r in replies),
          "first_ns": min(r["first_ns"] for r in replies),
          "last_ns": max(r["last_ns"] for r in replies)}
    up["seconds"] = round((up["last_ns"] - up["first_ns"]) / 1e9, 3)
    if up["clients"] != len(nicks):
        raise population.SetupError(f"only {up['clients']} of {len(nicks)} came up: {up}")
    return up


async def barrier(pool: Pool, speakers: list[list[str]], timeout: float) -> dict[str, Any]:
    """Arm a token everywhere; worker ``i`` posts it in the rooms ``speakers[i]``; wait."""
    token = f"SYNC-{uuid.uuid4().hex}"
    await pool.ask("armed", 30, cmd="sync", token=token, timeout=timeout)
    for worker, rooms in zip(pool.workers, speakers, strict=True):
        if rooms:
            worker.send("say", rooms=rooms, token=token)
    replies = await pool.ask("synced", timeout + 10)
    return {"missing": sum(r["missing"] for r in replies),
            "lost": merge_counts(r["lost"] for r in replies),
            "last_ns": max(r["last_ns"] for r in replies)}


async def _one(target: targets.Target, params: JoinStormParams) -> dict[str, Any]:
    pool = await Pool.start(params.workers, target.host, target.port, module=WORKER,
                            args=(target.dialect,))
    label = f"join storm {target.name}"
    try:
        nicks = [f"j{i}" for i in range(params.clients)]
        up = await bring_up(pool, label, nicks, [None] * len(nicks),
                            targets.window(target.name), params.timeout)
        meter = Meter(target, pool)
        async with progress.watch(pool, label, f"JOIN {params.room}", "done", params.clients,
                                  "answers"):
            joins = await pool.ask("joined", params.timeout + 10, cmd="join", room=params.room,
                                   timeout=params.timeout)
        answered = sum(r["ok"] for r in joins)
        settled = await barrier(pool, [[params.room]] + [[]] * (params.workers - 1),
                                params.timeout)
        usage = meter.usage()
    finally:
        await pool.close()
    first = min(r["first_ns"] for r in joins)
    answers_at = max(r["last_ns"] for r in joins)
    return {
        "setup": {k: v for k, v in up.items() if not k.endswith("_ns")},
        "answered": answered,
        "complete": answered == params.clients and settled["missing"] == 0,
        "missing": settled["missing"],
        "lost": merge_counts([*(r["lost"] for r in joins), settled["lost"]]),
        "answers_seconds": round((answers_at - first) / 1e9, 3),
        "seconds": round((max(settled["last_ns"], answers_at) - first) / 1e9, 3),
        **cpu_figures(usage, answered, params.workers, "join", "joins", 1),
        "server_rss_bytes": usage["server_rss_bytes"],
    }


def render_joinstorm(storm: dict[str, Any]) -> list[str]:
    from benchmarks.report import _num, _table

    p = storm["params"]
    header = ["server", "answered / clients", "all answered s", "settled s", "srv CPU s",
              "µs/join", "RSS MiB", "lost"]
    rows = [[targets.LABELS.get(r["server"], r["server"]),
             f"{r['answered']:,} / {p['clients']:,}" + ("" if r["complete"] else " INCOMPLETE"),
             _num(r["answers_seconds"], 2), _num(r["seconds"], 2), _num(r["server_cpu_s"], 2),
             _num(r["server_cpu_us_per_join"], 1), f"{r['server_rss_bytes'] / 2**20:.1f}",
             str(sum(r["lost"].values()))]
            for r in storm["runs"]]
    lines = _table(f"Join storm: {p['clients']:,} registered clients JOIN {p['room']} at once "
                   "(settled: a token posted after reached everyone)", header, rows)
    lines.extend(f"{targets.LABELS.get(n, n)}: {why.splitlines()[0]}"
                 for n, why in storm["skipped"].items())
    return lines
