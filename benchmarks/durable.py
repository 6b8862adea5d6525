"""Durable throughput: acknowledged messages per second on SQLite, checked against the file.

How this works: for each run, a fresh ``palaver serve`` on a new data dir with the run's
``durability`` ("process": synchronous=NORMAL, the default; "power": synchronous=FULL). The
worker processes (:mod:`benchmarks.ackload`) open ``connections`` connections; each says HELLO
and rejoins its own room, so a CHAT is stored and then acknowledged to its sender and delivered
to nobody else. A PING/PONG barrier waits out the #lobby PRESENCE joins of the setup. Then every
connection keeps ``window`` CHATs (with ids) in flight until it has sent ``messages``; a message
counts when the MESSAGE with its id comes back. Server CPU is the psutil user+system delta from
the start of the run to the last acknowledgement (the aiosqlite thread included). Afterwards the
server is stopped (SIGTERM) and the SQLite file is read with the ``sqlite3`` module: every room
must hold exactly the messages its sender saw acknowledged (row count = acknowledgements, one
row per request id, msg_ids 1..n) and ``PRAGMA integrity_check`` must say ``ok``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.meter import Meter, cpu_figures
from benchmarks.population import SetupError
from benchmarks.server import ServerProcess
from benchmarks.stats import latency_summary, merge_counts, split_evenly
from benchmarks.workers import Pool, WorkerError

WORKER_MODULE = "benchmarks.ackload"


@dataclass(frozen=True, slots=True)
class DurableRun:
    name: str
    durability: str = "process"  # "process" | "power"
    connections: int = 200
    window: int = 8  # CHATs in flight per connection
    messages: int = 1_000  # per connection
    timeout: float = 120.0
    floor: bool = True  # the throughput floor applies (not to a low-concurrency latency run)


@dataclass(frozen=True, slots=True)
class DurableParams:
    workers: int = 2
    setup_timeout: float = 60.0
    runs: tuple[DurableRun, ...] = ()


async def run_durable(params: DurableParams) -> dict[str, Any]:
    return {"params": {"workers": params.workers},
            "runs": [await _one(params, run) for run in params.runs]}


async def _one(params: DurableParams, run: DurableRun) -> dict[str, Any]:
    server = await ServerProcess.start(settings=f'durability = "{run.durability}"\n')
    pool: Pool | None = None
    try:
        pool = await Pool.start(params.workers, server.host, server.port, module=WORKER_MODULE)
        setup = await _setup(pool, run, params.setup_timeout)
        measured = await _measure(server, pool, run)
        await pool.close()
        pool = None
        exit_status = await server.terminate()
        stored = await asyncio.to_thread(_read_store, server.data_dir / "palaver.db")
    except WorkerError as exc:
        raise SetupError(f"{exc}\nserver log:\n{server.log_tail()}") from exc
    finally:
        if pool is not None:
            await pool.close()
        await server.stop()
    return _summarise(run, setup, measured, stored, exit_status)


async def _setup(pool: Pool, run: DurableRun, timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    shares = split_evenly(list(range(run.connections)), len(pool.workers))
    replies = await pool.ask(
        "connected", timeout + 5, cmd="connect", timeout=timeout,
        per_worker=[{"nicks": [f"d{i}" for i in share], "rooms": [f"#d{i}" for i in share]}
                    for share in shares],
    )
    ok = sum(r["ok"] for r in replies)
    if ok != run.connections:
        raise SetupError(f"only {ok} of {run.connections} connections said HELLO: {replies}")
    synced = await pool.ask("synced", timeout + 5, cmd="barrier", timeout=timeout)
    if any(r["missing"] for r in synced):
        raise SetupError(f"the setup barrier did not complete: {synced}")
    return {"connections": ok, "seconds": round(time.monotonic() - start, 3)}


async def _measure(server: ServerProcess, pool: Pool, run: DurableRun) -> dict[str, Any]:
    meter = Meter(server, pool)
    await pool.ask("started", 30, cmd="run", count=run.messages, window=run.window)
    done = await pool.count("done", run.timeout)
    usage = meter.usage()
    reports = await pool.ask("report", 60, cmd="report")
    return {"done": done, "reports": reports, **usage}


def _read_store(path: Path) -> dict[str, Any]:
    """What the SQLite file holds, read after the server has stopped."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
        total = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        rooms = {
            conversation: {"rows": rows, "ids": ids, "min": low, "max": high}
            for conversation, rows, ids, low, high in db.execute(
                "SELECT conversation, COUNT(*), COUNT(DISTINCT client_id), MIN(msg_id), "
                "MAX(msg_id) FROM messages GROUP BY conversation")
        }
    finally:
        db.close()
    return {"integrity_check": integrity, "rows": total, "rooms": rooms,
            "file_bytes": path.stat().st_size}


def _exactly_once(acked_by_room: dict[str, int], stored: dict[str, Any]) -> list[str]:
    """Every room holds exactly its acknowledged messages: ids 1..n, one row per request id."""
    problems: list[str] = []
    rooms = stored["rooms"]
    for room, acked in acked_by_room.items():
        got = rooms.get(room.lower(), {"rows": 0, "ids": 0, "min": None, "max": None})
        want = {"rows": acked, "ids": acked, "min": 1 if acked else None,
                "max": acked if acked else None}
        if got != want:
            problems.append(f"{room}: stored {got}, acknowledged {acked}")
    extra = set(rooms) - {room.lower() for room in acked_by_room}
    if extra:
        problems.append(f"rows in conversations nobody wrote to: {sorted(extra)}")
    return problems


def _summarise(run: DurableRun, setup: dict[str, Any], m: dict[str, Any],
               stored: dict[str, Any], exit_status: int) -> dict[str, Any]:
    reports = m["reports"]
    acked = sum(r["acked"] for r in reports)
    sent = sum(r["sent"] for r in reports)
    first_ns = min(r["first_ns"] for r in reports)
    last_ns = max(r["last_ns"] for r in reports)
    span = (last_ns - first_ns) / 1e9 if last_ns > first_ns else 0.0
    latencies: list[int] = []
    acked_by_room: dict[str, int] = {}
    for report in reports:
        latencies.extend(report["latencies_us"])
        acked_by_room.update(report["acked_by_room"])
    errors = merge_counts(r["errors"] for r in reports)
    lost = merge_counts(r["lost"] for r in reports)
    problems = _exactly_once(acked_by_room, stored)
    planned = run.messages * run.connections
    complete = (m["done"] == len(reports) and acked == sent == planned and not errors
                and not lost and not sum(r["unexpected"] for r in reports))
    return {
        "run": asdict(run),
        "setup": setup,
        "messages_planned": planned,
        "messages_sent": sent,
        "acked": acked,
        "complete": complete,
        "unexpected_acks": sum(r["unexpected"] for r in reports),
        "errors": errors,
        "lost_connections": lost,
        "ack_seconds": round(span, 3),
        "acked_per_s": round(acked / span, 1) if span > 0 else None,
        "latency": latency_summary(latencies),
        **cpu_figures(m, acked, len(reports), "ack", "acked", 2),
        "wall_s": round(m["wall_s"], 3),
        "server_rss_bytes": m["server_rss_bytes"],
        "server_exit_status": exit_status,
        "stored_rows": stored["rows"],
        "stored_equals_acked": stored["rows"] == acked and not problems,
        "exactly_once_problems": problems[:20],
        "integrity_check": stored["integrity_check"],
        "integrity_ok": stored["integrity_check"] == ["ok"],
        "db_file_bytes": stored["file_bytes"],
    }
