"""The progress line a long benchmark stretch prints on stderr while it runs.

How this works: :func:`watch` is an async context manager around a stretch of a benchmark (a
fan-out phase, a churn run, a join storm). While the body runs, a background task asks every
load-generator worker for its ``progress`` (:meth:`benchmarks.workerloop.WorkerBase.counts`)
once a second, sums the counts and prints ``[label] what: done/total unit`` to stderr — on a
terminal as one line rewritten in place, otherwise one line every few seconds (so a log or CI
output is not flooded). The line never goes to stdout, which holds the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator

from benchmarks.workers import Pool, WorkerError

INTERVAL = 1.0
PLAIN_EVERY = 5.0  # seconds between lines when stderr is not a terminal


def line(label: str, what: str, done: int, total: int | None, unit: str) -> str:
    of = f"/{total:,}" if total else ""
    return f"[{label}] {what}: {done:,}{of} {unit}"


def say(text: str) -> None:
    """One finished line (a scenario's step) on stderr."""
    tty = sys.stderr.isatty()
    sys.stderr.write(("\r\x1b[K" if tty else "") + text + "\n")
    sys.stderr.flush()


@contextlib.asynccontextmanager
async def watch(pool: Pool, label: str, what: str, key: str, total: int | None = None,
                unit: str = "") -> AsyncIterator[None]:
    """Print the sum of every worker's ``key`` count while the body runs."""
    task = asyncio.get_running_loop().create_task(_poll(pool, label, what, key, total, unit))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if sys.stderr.isatty():
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


async def _poll(pool: Pool, label: str, what: str, key: str, total: int | None,
                unit: str) -> None:
    tty = sys.stderr.isatty()
    last_plain = time.monotonic()
    while True:
        await asyncio.sleep(INTERVAL)
        try:
            replies = await pool.ask("progress", 5, cmd="progress")
        except WorkerError:
            continue
        done = sum(int(r.get(key, 0)) for r in replies)
        text = line(label, what, done, total, unit)
        if tty:
            sys.stderr.write("\r\x1b[K" + text)
            sys.stderr.flush()
        elif time.monotonic() - last_plain >= PLAIN_EVERY:
            last_plain = time.monotonic()
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

