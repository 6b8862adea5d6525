"""Where an idle connection's memory goes: a tracemalloc snapshot diff around bringing a crowd up.

How this works: ``python -m benchmarks.memwhere [--clients N] [--rooms R] [--dialect json|irc]``
runs the server in this process (on uvloop, the benchmarks' settings, a temporary data dir) with
tracemalloc on, takes a snapshot, lets :mod:`benchmarks.crowdload` workers bring ``N`` clients
online in ``R`` rooms exactly as ``--only rooms`` does (connect, register, join, a token in every
room seen by everyone), waits a second, takes a second snapshot and prints the allocation sites
that grew, in bytes per connection, grouped by line (``--group traceback`` for the callers).

It counts what Python allocates (objects, dicts, buffers, and uvloop's transports and libuv
handles, which it allocates through Python), not what the kernel holds. Objects that CPython keeps
on its free lists (up to 2,000 tuples of each size, 80 dicts, …) still count as allocated, at
the line that last made one: a site of exactly one small block per connection at a logging call
can be that, bounded, not kept by any connection. tracemalloc slows the server down a lot: this
is for finding where bytes go, never for timing.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import logging
import tempfile
import tracemalloc
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks.ircbench import free_port
from benchmarks.joinstorm import barrier, bring_up
from benchmarks.server import BENCH_CONFIG, _only_json_lines
from benchmarks.stats import split_evenly
from benchmarks.workers import Pool


class _Discard(io.TextIOBase):
    """Where the server's stderr goes here: nowhere. (Not a StringIO: one keeps every string
    written to it until read, and those were counted as if the connections held them.)"""

    def write(self, text: str) -> int:
        return len(text)


async def measure(clients: int, rooms: int, dialect: str, group: str, top: int) -> None:
    from palaver.hub.lookalikes import skeleton
    from palaver.server.app import running
    from palaver.server.config import load_settings
    from palaver.server.logs import setup_logging

    with tempfile.TemporaryDirectory(prefix="palaver-memwhere-") as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(BENCH_CONFIG + _only_json_lines(), encoding="utf-8")
        settings = load_settings(config, data_dir=str(Path(tmp) / "data"), port=0,
                                 irc_port=free_port() if dialect == "irc" else None)
        # logging as `palaver serve` sets it up (to the data dir's log file; stderr quiet)
        setup_logging(Path(settings.data_dir), settings.log_level, settings.log_format)
        sink = logging.getLogger("palaver").handlers[0]
        sink._stderr = _Discard()  # type: ignore[attr-defined]
        async with running(settings) as server:
            port = server.irc_port if dialect == "irc" else server.port
            assert port is not None
            process = psutil.Process()
            skeleton("warm-up")  # the lookalike table is built once, on first use
            gc.collect()
            before, rss_before = tracemalloc.take_snapshot(), process.memory_info().rss
            pool = await Pool.start(2, "127.0.0.1", port, module="benchmarks.crowdload",
                                    args=(dialect,))
            try:
                nicks = [f"m{i}" for i in range(clients)]
                where: list[str | None] = [f"#r{i % rooms}" for i in range(clients)]
                await bring_up(pool, "memwhere", nicks, where, 64, 600)
                speakers: list[list[str]] = []
                for share in split_evenly(where, 2):
                    seen: list[str] = []
                    for room in share:
                        if room is not None and room not in seen:
                            seen.append(room)
                    speakers.append(seen)
                # a room is spoken in by the first worker holding it only
                taken: set[str] = set()
                for rooms_of_worker in speakers:
                    rooms_of_worker[:] = [r for r in rooms_of_worker
                                          if not (r in taken or taken.add(r))]
                await barrier(pool, speakers, 600)
                await asyncio.sleep(1.0)
                gc.collect()
                after, rss_after = tracemalloc.take_snapshot(), process.memory_info().rss
            finally:
                await pool.close()
    mine = (tracemalloc.Filter(False, __file__), tracemalloc.Filter(False, "*/benchmarks/*"))
    stats = after.filter_traces(mine).compare_to(before.filter_traces(mine), group)
    grown = sum(s.size_diff for s in stats)
    print(f"{clients:,} {dialect} clients in {rooms} rooms: traced +{grown / clients:,.0f} B per "
          f"connection; RSS +{(rss_after - rss_before) / clients:,.0f} B per connection "
          "(RSS includes tracemalloc's own bookkeeping and the C side)")
    for stat in stats[:top]:
        if stat.size_diff <= 0:
            continue
        where = stat.traceback.format()[-1].strip() if group == "lineno" else ""
        print(f"{stat.size_diff / clients:8,.1f} B/conn "
              f"{stat.count_diff / clients:6.2f} blocks/conn  {where}")
        if group == "traceback":
            for line in stat.traceback.format()[-12:]:
                print("            " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2_000)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--dialect", choices=("json", "irc"), default="json")
    parser.add_argument("--group", choices=("lineno", "traceback", "filename"), default="lineno")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    tracemalloc.start(12 if args.group == "traceback" else 1)
    from palaver.server.runner import raise_file_limit, run

    raise_file_limit()
    run(measure(args.clients, args.rooms, args.dialect, args.group, args.top))


if __name__ == "__main__":
    main()
