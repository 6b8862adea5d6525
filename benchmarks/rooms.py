"""Many rooms: ``clients`` clients in ``rooms`` rooms (``clients / rooms`` each) come online.

How this works: for each target (:mod:`benchmarks.targets`) a fresh server, sampled for RSS after a
second (before). ``workers`` :mod:`benchmarks.crowdload` processes bring the clients up,
``targets.window`` in flight per worker: connect, register and join the client's room ``#r<i mod
rooms>`` (JSON: the room in HELLO, ``"autojoin": false``, so not #lobby; IRC: NICK/USER, then JOIN
after ``001``), each waiting for its own join answer; then a barrier: in every room one member posts
a token and every client waits to see it (all presence delivered). Online time = first connect to
the last token seen (``time.monotonic_ns``). After a second of quiet the RSS is sampled again: RSS
per idle connection = (after − before) / clients."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import targets
from benchmarks.joinstorm import barrier, bring_up
from benchmarks.meter import Meter, cpu_figures
from benchmarks.stats import split_evenly
from benchmarks.workers import Pool

WORKER = "benchmarks.crowdload"
SETTLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class RoomsParams:
    clients: int = 10_000
    rooms: int = 100
    workers: int = 2
    timeout: float = 300.0
    servers: tuple[str, ...] = targets.TARGETS


async def run_rooms(params: RoomsParams) -> dict[str, Any]:
    out = await targets.each(params.servers, "rooms", lambda t: _one(t, params))
    return {"params": asdict(params), **out}


async def _one(target: targets.Target, params: RoomsParams) -> dict[str, Any]:
    await asyncio.sleep(SETTLE_SECONDS)
    pool = await Pool.start(params.workers, target.host, target.port, module=WORKER,
                            args=(target.dialect,))
    try:
        before = target.sample()
        nicks = [f"i{i}" for i in range(params.clients)]
        rooms: list[str | None] = [f"#r{i % params.rooms}" for i in range(params.clients)]
        meter = Meter(target, pool)
        up = await bring_up(pool, f"rooms {target.name}", nicks, rooms,
                            targets.window(target.name), params.timeout)
        # each room's token is posted by the worker holding the room's first member
        speakers: list[list[str]] = [[] for _ in pool.workers]
        seen: set[str] = set()
        for w, share in enumerate(split_evenly(rooms, params.workers)):
            for room in share:
                if room is not None and room not in seen:
                    seen.add(room)
                    speakers[w].append(room)
        settled = await barrier(pool, speakers, params.timeout)
        usage = meter.usage()
        await asyncio.sleep(SETTLE_SECONDS)
        after = target.sample()
    finally:
        await pool.close()
    n = up["clients"]
    return {
        "setup": {k: v for k, v in up.items() if not k.endswith("_ns")},
        "online": n,
        "complete": n == params.clients and settled["missing"] == 0 and not settled["lost"],
        "missing": settled["missing"],
        "lost": settled["lost"],
        "seconds": round((settled["last_ns"] - up["first_ns"]) / 1e9, 3),
        **cpu_figures(usage, n, params.workers, "client", "clients", 1),
        "rss_before_bytes": before.rss,
        "rss_after_bytes": after.rss,
        "rss_per_connection_bytes": round((after.rss - before.rss) / n, 1) if n else None,
    }


def render_rooms(rooms: dict[str, Any]) -> list[str]:
    from benchmarks.report import _num, _table

    p = rooms["params"]
    header = ["server", "online / clients", "online s", "srv CPU s", "µs/client",
              "RSS before MiB", "after MiB", "B/connection", "lost"]
    rows = [[targets.LABELS.get(r["server"], r["server"]),
             f"{r['online']:,} / {p['clients']:,}" + ("" if r["complete"] else " INCOMPLETE"),
             _num(r["seconds"], 2), _num(r["server_cpu_s"], 2),
             _num(r["server_cpu_us_per_client"], 1), f"{r['rss_before_bytes'] / 2**20:.1f}",
             f"{r['rss_after_bytes'] / 2**20:.1f}", _num(r["rss_per_connection_bytes"]),
             str(sum(r["lost"].values()))]
            for r in rooms["runs"]]
    lines = _table(f"Rooms: {p['clients']:,} clients in {p['rooms']} rooms come online "
                   "(connect, register, join, all presence delivered), then idle RSS",
                   header, rows)
    lines.extend(f"{targets.LABELS.get(n, n)}: {why.splitlines()[0]}"
                 for n, why in rooms["skipped"].items())
    return lines
