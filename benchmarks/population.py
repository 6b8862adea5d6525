"""Getting a crowd of registered clients into #lobby, and waiting for the server to go quiet.

:func:`barrier` is how a benchmark knows that every event the server produced so far has
arrived: one client posts a unique token and every connection waits until it sees it. The server
queues frames per connection in order, so a connection that has the token has everything queued
for it before — in particular every PRESENCE join from the HELLO phase.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from benchmarks.workers import Pool


class SetupError(RuntimeError):
    pass


async def connect(pool: Pool, nicks: list[list[str]], timeout: float,
                  sample_every: int = 0) -> dict[str, Any]:
    start = time.monotonic()
    replies = await pool.ask(
        "connected", timeout + 5, cmd="connect", timeout=timeout, sample_every=sample_every,
        per_worker=[{"nicks": share} for share in nicks],
    )
    ok = sum(r["ok"] for r in replies)
    failed: dict[str, int] = {}
    for reply in replies:
        for key, value in reply["failed"].items():
            failed[key] = failed.get(key, 0) + value
    return {"connected": ok, "failed": failed, "seconds": round(time.monotonic() - start, 3)}


async def hello(pool: Pool, batch: int, timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    replies = await pool.ask("welcomed", timeout + 5, cmd="hello", batch=batch, timeout=timeout)
    return {
        "registered": sum(r["ok"] for r in replies),
        "lost": _merge(r["lost"] for r in replies),
        "seconds": round(time.monotonic() - start, 3),
    }


async def barrier(pool: Pool, timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    token = f"SYNC-{uuid.uuid4().hex}"
    await pool.ask("armed", 30, cmd="sync", token=token, timeout=timeout)
    pool.workers[0].send("say", text=token)
    replies = await pool.ask("synced", timeout + 5)
    return {
        "missing": sum(r["missing"] for r in replies),
        "frames": sum(r["frames"] for r in replies),
        "lost": _merge(r["lost"] for r in replies),
        "seconds": round(time.monotonic() - start, 3),
    }


def _merge(counters: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for counter in counters:
        for key, value in counter.items():
            out[key] = out.get(key, 0) + value
    return out
