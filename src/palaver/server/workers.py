"""`palaver serve --workers N`: N node processes on one machine, sharing every port.

How this works: the process started by the operator only supervises. It starts N copies of
`palaver serve` with the same command line, each with ``--workers 1``, a node name of its own
(the ``node_id`` setting, or the host name, followed by ``-1`` … ``-N``) and ``reuse_port`` on,
so that every worker listens on the same ports (SO_REUSEPORT: the kernel spreads new connections
over them). Each worker is a node of a cluster like any other (server/cluster.py): the settings
check that there is a PostgreSQL store and a bus before anything starts. SIGINT or SIGTERM is
passed on to every worker, which shuts down gracefully; the supervisor waits for them and exits.
A worker that dies on its own is started again after a second — unless it dies
``MAX_RESTARTS`` times within ``RESTART_WINDOW`` seconds, which means it cannot run (the database
is gone, the ports are taken): then every worker is stopped and the supervisor exits with 1.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Final

from palaver.server.config import Settings

log = logging.getLogger("palaver.server.workers")

RESTART_DELAY: Final = 1.0  # seconds before a worker that died is started again
MAX_RESTARTS: Final = 5  # deaths of one worker within RESTART_WINDOW that stop everything
RESTART_WINDOW: Final = 60.0
STOP_TIMEOUT: Final = 60.0  # seconds a worker may take to shut down before it is killed


def worker_names(settings: Settings) -> list[str]:
    base = settings.node_id or socket.gethostname()
    return [f"{base}-{n}" for n in range(1, settings.workers + 1)]


def worker_command(argv: Sequence[str], name: str) -> list[str]:
    """The command line of the worker ``name``: ``argv`` (``serve`` and its flags) with one
    worker and its node name (later flags win)."""
    return [sys.executable, "-m", "palaver.cli", *argv, "--workers", "1", "--node-id", name]


async def supervise(settings: Settings, argv: Sequence[str]) -> int:
    """Run ``settings.workers`` workers until a signal; the exit status."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    env = {**os.environ, "PALAVER_REUSE_PORT": "true"}
    names = worker_names(settings)
    print(f"palaver: starting {len(names)} workers: {', '.join(names)}", file=sys.stderr,
          flush=True)
    runs = [asyncio.create_task(_keep_running(worker_command(argv, name), name, env, stopping))
            for name in names]
    done, _ = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
    failed = any(task.result() for task in done)
    stopping.set()  # one gave up (or a signal came): all stop
    results = await asyncio.gather(*runs)
    return 1 if failed or any(results) else 0


async def _keep_running(command: list[str], name: str, env: dict[str, str],
                        stopping: asyncio.Event) -> int:
    """Run one worker, again when it dies, until ``stopping``; 1 if it kept dying."""
    loop = asyncio.get_running_loop()
    deaths: list[float] = []
    while True:
        process = await asyncio.create_subprocess_exec(*command, env=env)
        exited = asyncio.ensure_future(process.wait())
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait({exited, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not exited.done():  # stopping: pass the signal on, wait, kill if need be
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(exited), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await exited
            return 0
        if stopping.is_set():
            return 0
        now = loop.time()
        deaths = [t for t in deaths if now - t < RESTART_WINDOW] + [now]
        print(f"palaver: worker {name} exited with {exited.result()}", file=sys.stderr,
              flush=True)
        if len(deaths) >= MAX_RESTARTS:
            print(f"palaver: worker {name} died {len(deaths)} times within "
                  f"{RESTART_WINDOW:.0f} s: stopping", file=sys.stderr, flush=True)
            return 1
        try:  # a second's pause, cut short by a signal
            await asyncio.wait_for(stopping.wait(), RESTART_DELAY)
            return 0
        except TimeoutError:
            pass
