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

from benchmarks.stats import merge_counts, split_evenly
from benchmarks.workers import Pool


class SetupError(RuntimeError):
    pass


def fanout_shares(members: int, senders: int, receiver_workers: int) -> list[list[str]]:
    """The nicks for each worker of a fan-out run: the senders ``s<i>`` all on the first, the
    receivers ``r<i>`` dealt evenly over the rest."""
    nicks = [f"s{i}" for i in range(senders)]
    receivers = [f"r{i}" for i in range(members - senders)]
    return [nicks, *split_evenly(receivers, receiver_workers)]


async def connect(pool: Pool, nicks: list[list[str]], timeout: float,
                  sample_every: int = 0, **extra: Any) -> dict[str, Any]:
    """Each worker opens its share of ``nicks``; ``extra`` goes with the command."""
    start = time.monotonic()
    replies = await pool.ask(
        "connected", timeout + 5, cmd="connect", timeout=timeout, sample_every=sample_every,
        **extra, per_worker=[{"nicks": share} for share in nicks],
    )
    return {"connected": sum(r["ok"] for r in replies),
            "failed": merge_counts(r["failed"] for r in replies),
            "seconds": round(time.monotonic() - start, 3)}


async def hello(pool: Pool, batch: int, timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    replies = await pool.ask("welcomed", timeout + 5, cmd="hello", batch=batch, timeout=timeout)
    return {
        "registered": sum(r["ok"] for r in replies),
        "lost": merge_counts(r["lost"] for r in replies),
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
        "lost": merge_counts(r["lost"] for r in replies),
        "seconds": round(time.monotonic() - start, 3),
    }
