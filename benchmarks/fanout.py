"""Fan-out: ``members`` clients in #lobby, ``senders`` of them posting ~100-byte texts.

How this works: a fresh server; one worker process holds the sending connections, the other workers
share the receivers. All register (HELLO puts everyone in #lobby) and a barrier waits out the
PRESENCE joins. Then, for each phase, counters are reset, the senders publish ``messages`` each (at
a fixed rate, or closed-loop), and the phase ends when every connection has every message or the
hard timeout passes (:mod:`benchmarks.phases`). Server CPU is the psutil user+system delta over the
phase; the generator's CPU is the same delta summed over the worker processes. Every message reaches
every member, the sender included, so expected deliveries = messages × members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchmarks import population
from benchmarks.phases import Phase, params_dict, run_phase
from benchmarks.server import ServerProcess
from benchmarks.workers import Pool, WorkerError


@dataclass(frozen=True, slots=True)
class FanoutParams:
    members: int = 1_000
    senders: int = 10
    receiver_workers: int = 3
    latency_sample_every: int = 10  # every n-th receiving connection records latencies
    hello_batch: int = 100
    setup_timeout: float = 120.0
    phases: tuple[Phase, ...] = field(default_factory=tuple)
    label: str = "fan-out"  # on the progress line


async def run_fanout(params: FanoutParams) -> dict[str, Any]:
    server = await ServerProcess.start()
    pool: Pool | None = None
    try:
        pool = await Pool.start(params.receiver_workers + 1, server.host, server.port)
        setup = await _populate(pool, params)
        phases = [await run_phase(server, pool, params, phase, label=params.label)
                  for phase in params.phases]
        return {"params": params_dict(params), "setup": setup, "phases": phases,
                "server_rss_bytes": server.sample().rss}
    except (WorkerError, population.SetupError) as exc:
        raise population.SetupError(f"{exc}\nserver log:\n{server.log_tail()}") from exc
    finally:
        if pool is not None:
            await pool.close()
        await server.stop()


async def _populate(pool: Pool, params: FanoutParams) -> dict[str, Any]:
    shares = population.fanout_shares(params.members, params.senders, params.receiver_workers)
    connected = await population.connect(pool, shares, params.setup_timeout,
                                         sample_every=params.latency_sample_every)
    if connected["connected"] != params.members:
        raise population.SetupError(f"only {connected} of {params.members} connected")
    registered = await population.hello(pool, params.hello_batch, params.setup_timeout)
    if registered["registered"] != params.members:
        raise population.SetupError(f"only {registered} of {params.members} registered")
    settled = await population.barrier(pool, params.setup_timeout)
    return {"connect": connected, "hello": registered, "presence_settled": settled}
