"""When each fault happens: a seeded plan, then its execution.

How this works: :func:`plan` spreads the faults evenly over the fault phase — one slot per
fault, slots ``seconds / count`` apart, each fault at a random point of the middle half of its
slot — in a seeded random order of kinds (node kills, Redis kills, PostgreSQL kills), the node
kills going round the nodes in a seeded order. Each fault is a kill -9, ``down`` seconds
without the server, and a restart. :func:`execute` runs the plan: it waits for each fault's
time (or later, if the previous restart took longer: faults never overlap), does it, and
records what was done and how long the restart took.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

NODE, REDIS, POSTGRES = "node", "redis", "postgres"


@dataclass(frozen=True)
class Fault:
    at: float  # seconds from the phase's start
    kind: str  # NODE, REDIS or POSTGRES
    target: str  # the node's name, or the kind
    down: float  # seconds between the kill and the restart


@dataclass
class Done:
    fault: Fault
    killed_at: float  # seconds from the phase's start
    restarted_after: float  # seconds from the kill until it was up again (down included)
    error: str | None = None


@dataclass
class Log:
    done: list[Done] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for d in self.done if d.fault.kind == kind and d.error is None)


def plan(seconds: float, nodes: Sequence[str], *, node_kills: int, redis_kills: int,
         postgres_kills: int, seed: int, down: tuple[float, float] = (0.5, 2.0)) -> list[Fault]:
    rng = random.Random(seed)
    kinds = [NODE] * node_kills + [REDIS] * redis_kills + [POSTGRES] * postgres_kills
    rng.shuffle(kinds)
    order = list(nodes)
    rng.shuffle(order)
    slot = seconds / max(1, len(kinds))
    faults, next_node = [], 0
    for i, kind in enumerate(kinds):
        target = kind
        if kind == NODE:
            target, next_node = order[next_node % len(order)], next_node + 1
        at = slot * (i + rng.uniform(0.25, 0.75))
        faults.append(Fault(round(at, 2), kind, target, round(rng.uniform(*down), 2)))
    return faults


Kill = Callable[[Fault], Awaitable[None]]


async def execute(faults: Sequence[Fault], kill: Kill, restart: Kill, log: Log,
                  on_done: Callable[[Done], None] | None = None) -> None:
    """Each fault in turn: at its time (or as soon as the last one is over), kill, wait
    ``down``, restart."""
    began = time.monotonic()
    for fault in faults:  # bounded by the plan
        wait = began + fault.at - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)  # (the plan's timing)
        killed = time.monotonic()
        error = None
        try:
            await kill(fault)
            await asyncio.sleep(fault.down)  # (the outage)
            await restart(fault)
        except Exception as exc:  # recorded: the run goes on, the summary says so
            error = f"{type(exc).__name__}: {exc}"
        done = Done(fault, round(killed - began, 2), round(time.monotonic() - killed, 2), error)
        log.done.append(done)
        if on_done is not None:
            on_done(done)
