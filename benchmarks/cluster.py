"""Cluster: one node on PostgreSQL + Redis against the embedded server, and two nodes against one.

How this works: the same fan-out load runs against three setups, a fresh server (and, for the
cluster, a fresh database) each:

- ``embedded``: one ``palaver serve`` as shipped (SQLite in its data dir, no bus);
- ``one-node``: one ``palaver serve --store postgresql://… --bus redis://… --node-id a``;
- ``two-nodes``: two such processes (``a`` and ``b``, each on its own port) on the same
  PostgreSQL and Redis, the load split over them.

The load: ``members`` clients say HELLO (so all are in #lobby) and ``senders`` of them post
~100-byte CHATs with ids at a fixed total rate; every message reaches every member (its sender
as the acknowledgement), so expected deliveries = messages × members. It is always held by four
generator processes (:mod:`benchmarks.clusterload`): side A's senders, side B's senders, side
A's receivers, side B's receivers, half of each on each side; with two nodes side A talks to
node a and side B to node b, otherwise both sides talk to the one server. A phase is
:mod:`benchmarks.phases`' (every worker publishes its senders' share; the phase ends when every
connection has every message, or at its timeout), after one unreported warm-up phase.

Measured per phase: deliveries/s; the CPU (user + system, psutil deltas) of the palaver
processes (both nodes summed), of PostgreSQL's whole process tree and of redis-server;
**deliveries per server-CPU-second** counted both ways (palaver alone, and palaver + PostgreSQL
+ Redis); the send → acknowledgement latency of every message, and the send → delivery latency
on every 10th connection, split by where it was sent (this node, or the other one: across the
bus). The machine has few cores (2 here), so the CPU-normalised figures are the ones to compare:
two nodes cannot have more than the machine's cores between them, and share them with the
database, the bus and the load generator.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks import backing as backing_mod
from benchmarks import population, progress
from benchmarks.clusterreport import summary
from benchmarks.meter import Meter
from benchmarks.phases import Phase, summarise
from benchmarks.server import Sample, ServerProcess
from benchmarks.stats import latency_summary, split_evenly
from benchmarks.workers import REPO, Pool, WorkerError, WorkerProcess

WORKER_MODULE = "benchmarks.clusterload"
SETUPS = ("embedded", "one-node", "two-nodes")


@dataclass(frozen=True, slots=True)
class ClusterParams:
    members: int = 500
    senders: int = 10
    rates: tuple[int, ...] = (40, 100)  # messages/s in total, one phase each
    seconds: float = 5.0  # of sending, per phase
    drain: float = 20.0  # more seconds a phase may take to deliver
    warmup_seconds: float = 1.0  # of sending at the first rate, not reported
    latency_sample_every: int = 10
    hello_batch: int = 100
    setup_timeout: float = 120.0
    setups: tuple[str, ...] = SETUPS
    rounds: int = 3  # each setup this many times, in turn (the order rotated each round)


def phases(params: ClusterParams) -> tuple[Phase, ...]:
    return tuple(Phase(f"fixed {rate:,} msgs/s", messages=max(1, round(rate / params.senders
                                                                       * params.seconds)),
                       rate=rate / params.senders, timeout=params.seconds + params.drain)
                 for rate in params.rates)


def warmup(params: ClusterParams) -> Phase:
    rate = params.rates[0] / params.senders
    return Phase("warm-up", messages=max(1, round(rate * params.warmup_seconds)), rate=rate,
                 timeout=params.warmup_seconds + params.drain)


async def run_cluster(params: ClusterParams) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    failed: list[str] = []
    wanted_cluster = [s for s in params.setups if s != "embedded"]
    why = backing_mod.missing() if wanted_cluster else None
    backing: backing_mod.Backing | None = None
    services: dict[str, str] = {}
    try:
        if wanted_cluster and why is None:
            progress.say("[cluster] starting PostgreSQL and Redis")
            try:
                backing = await backing_mod.Backing.start()
                services = await backing.versions()
            except (OSError, RuntimeError) as exc:
                why = f"PostgreSQL/Redis could not start: {exc}"
        for setup in wanted_cluster if backing is None else ():
            skipped[setup] = why or "no PostgreSQL/Redis"
            progress.say(f"[cluster {setup}] skipped: {skipped[setup]}")
        setups = [s for s in params.setups if s not in skipped]
        for round_ in range(params.rounds):
            for setup in setups[round_ % len(setups):] + setups[:round_ % len(setups)]:
                if setup in failed:
                    continue
                label = f"cluster {setup}" + (f" {round_ + 1}/{params.rounds}"
                                              if params.rounds > 1 else "")
                progress.say(f"[{label}] starting")
                try:
                    runs.append({"round": round_ + 1,
                                 **await _one(setup, params, backing, label)})
                except (OSError, RuntimeError, WorkerError, population.SetupError) as exc:
                    skipped[setup] = f"could not run: {exc}"
                    failed.append(setup)
                    progress.say(f"[{label}] could not run: {str(exc).splitlines()[0]}")
    finally:
        if backing is not None:
            await backing.stop()
    return {"params": asdict(params), "code": _code_state(), "services": services,
            "runs": runs, "summary": summary(runs, params), "skipped": skipped,
            "failed": failed}


# ---------------------------------------------------------------------- one setup


async def _nodes(setup: str, backing: backing_mod.Backing | None) -> list[ServerProcess]:
    if setup == "embedded":
        return [await ServerProcess.start()]
    assert backing is not None
    url = await backing.database(setup.replace("-", "_"))
    nodes: list[ServerProcess] = []
    try:
        for name in ("a", "b")[: 2 if setup == "two-nodes" else 1]:
            # one after the other: the first creates the schema
            nodes.append(await ServerProcess.start(timeout=60.0, args=(
                "--store", url, "--bus", backing.redis_url, "--node-id", name)))
    except BaseException:
        for node in nodes:
            await node.stop()
        raise
    return nodes


def _shares(params: ClusterParams) -> list[list[str]]:
    """Nicks per worker: A's senders, B's senders, A's receivers, B's receivers."""
    senders = [f"s{i}" for i in range(params.senders)]
    receivers = [f"r{i}" for i in range(params.members - params.senders)]
    send_a, send_b = split_evenly(senders, 2)
    recv_a, recv_b = split_evenly(receivers, 2)
    return [send_a, send_b, recv_a, recv_b]


async def _pool(nodes: list[ServerProcess]) -> Pool:
    """Workers 0 and 2 on the first node, 1 and 3 on the last (the same one, with one node)."""
    sides = [(nodes[0], "a"), (nodes[-1], "b" if len(nodes) > 1 else "a")]
    placed = [sides[0], sides[1], sides[0], sides[1]]
    workers = await asyncio.gather(*(
        WorkerProcess.start(f"w{i}", node.host, node.port, module=WORKER_MODULE, args=(label,))
        for i, (node, label) in enumerate(placed)), return_exceptions=True)
    started = [w for w in workers if isinstance(w, WorkerProcess)]
    errors = [w for w in workers if isinstance(w, BaseException)]
    if errors:
        await Pool(started).close()
        raise WorkerError(f"a worker did not start: {errors[0]}")
    return Pool(started)


async def _one(setup: str, params: ClusterParams, backing: backing_mod.Backing | None,
               label: str) -> dict[str, Any]:
    nodes = await _nodes(setup, backing)
    pool: Pool | None = None
    try:
        pool = await _pool(nodes)
        setup_figures = await _populate(pool, params)
        used = backing if setup != "embedded" else None  # the embedded server has none
        warm = await _phase(nodes, used, pool, params, warmup(params), label)
        measured = [await _phase(nodes, used, pool, params, phase, label)
                    for phase in phases(params)]
        return {"setup": setup, "nodes": len(nodes), "populate": setup_figures,
                "warmup": warm, "phases": measured,
                "node_rss_bytes": [node.sample().rss for node in nodes]}
    except (WorkerError, population.SetupError) as exc:
        logs = "\n".join(f"node {i}:\n{node.log_tail()}" for i, node in enumerate(nodes))
        raise population.SetupError(f"{exc}\n{logs}") from exc
    finally:
        if pool is not None:
            await pool.close()
        for node in nodes:
            await node.stop()


async def _populate(pool: Pool, params: ClusterParams) -> dict[str, Any]:
    connected = await population.connect(pool, _shares(params), params.setup_timeout,
                                         sample_every=params.latency_sample_every)
    if connected["connected"] != params.members:
        raise population.SetupError(f"only {connected} of {params.members} connected")
    registered = await population.hello(pool, params.hello_batch, params.setup_timeout)
    if registered["registered"] != params.members:
        raise population.SetupError(f"only {registered} of {params.members} registered")
    settled = await population.barrier(pool, params.setup_timeout)
    if settled["missing"]:
        raise population.SetupError(f"{settled['missing']} never saw the barrier token")
    return {"connect": connected, "hello": registered, "presence_settled": settled}


# ---------------------------------------------------------------------- one phase


class _Sum:
    """Several processes sampled as one (the Meter's ``server``)."""

    def __init__(self, nodes: list[ServerProcess]) -> None:
        self.nodes = nodes

    def sample(self) -> Sample:
        samples = [node.sample() for node in self.nodes]
        return Sample(cpu=sum(s.cpu for s in samples), rss=sum(s.rss for s in samples),
                      system=sum(s.system for s in samples))


async def _phase(nodes: list[ServerProcess], backing: backing_mod.Backing | None, pool: Pool,
                 params: ClusterParams, phase: Phase, label: str) -> dict[str, Any]:
    senders = [f"s{i}" for i in range(params.senders)]
    resets = await pool.ask("reset", 30, cmd="reset",
                            expect_per_conn=phase.messages * params.senders, senders=senders)
    per_node0 = [node.sample().cpu for node in nodes]
    writes0 = _writes(nodes)
    pg0 = backing.sample_pg() if backing else None
    redis0 = backing.sample_redis() if backing else None
    meter = Meter(_Sum(nodes), pool)
    for worker in pool.workers:
        worker.send("run", count=phase.messages, rate=phase.rate, window=phase.window,
                    timeout=phase.timeout)
    sent_all = asyncio.gather(*(w.expect("sent", phase.timeout + 10) for w in pool.workers))
    async with progress.watch(pool, label, phase.name, "delivered",
                              sum(r["expected"] for r in resets), "deliveries"):
        done = await pool.count("done", phase.timeout)
    usage = meter.usage()
    per_node = [round(node.sample().cpu - cpu0, 3) for node, cpu0 in zip(nodes, per_node0,
                                                                        strict=True)]
    writes = _writes(nodes) - writes0
    pg = backing.sample_pg().cpu - pg0.cpu if backing and pg0 else 0.0
    redis = backing.sample_redis().cpu - redis0.cpu if backing and redis0 else 0.0
    sents = await sent_all
    firsts = [s["first_ns"] for s in sents if s["first_ns"]]
    sent = {"sent": sum(s["sent"] for s in sents), "first_ns": min(firsts, default=0),
            "last_ns": max(s["last_ns"] for s in sents)}
    reports = await pool.ask("report", 60, cmd="report")
    out = summarise(params, phase, sent, reports, done, usage)
    delivered = out["deliveries"]
    palaver = usage["server_cpu_s"]
    every = palaver + pg + redis
    out.update({
        "palaver_cpu_s_by_node": per_node,
        "postgres_cpu_s": round(pg, 3),
        "redis_cpu_s": round(redis, 3),
        "all_server_cpu_s": round(every, 3),
        "deliveries_per_all_server_cpu_s": round(delivered / every, 1) if every else None,
        "all_server_cpu_us_per_delivery": round(every / delivered * 1e6, 3)
        if delivered else None,
        "all_server_cpu_cores": round(every / usage["wall_s"], 3),
        "server_cpu_us_per_message": round(palaver / out["messages_sent"] * 1e6, 1)
        if out["messages_sent"] else None,
        "all_server_cpu_us_per_message": round(every / out["messages_sent"] * 1e6, 1)
        if out["messages_sent"] else None,
        # write-type system calls of the palaver processes (the kernel's syscw): how many
        # deliveries each socket write carried, which is most of what a delivery costs
        "palaver_write_calls": writes,
        "deliveries_per_write_call": round(delivered / writes, 2) if writes > 0 else None,
        "ack_latency": latency_summary([lat for r in reports for lat in r["ack_us"]]),
        "local_latency": latency_summary([lat for r in reports for lat in r["local_us"]]),
        "remote_latency": latency_summary([lat for r in reports for lat in r["remote_us"]]),
    })
    return out


def _writes(nodes: list[ServerProcess]) -> int:
    total = 0
    for node in nodes:
        with contextlib.suppress(psutil.Error, AttributeError):
            total += int(node.ps.io_counters().write_count)
    return total


# ---------------------------------------------------------------------- the outcome


def complete(cluster: dict[str, Any]) -> bool:
    """Every setup that could run did, and delivered every message to every member."""
    return bool(cluster["runs"]) and not cluster["failed"] and all(
        ph["complete"] for run in cluster["runs"] for ph in run["phases"])


def _code_state() -> dict[str, Any]:
    """Which code ran: HEAD, and whether src/ had changes not committed (others at work)."""
    def git(*args: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10, check=False).stdout
        return ""

    import palaver

    dirty = [line[3:] for line in git("status", "--porcelain", "--", "src").splitlines()]
    return {"head": git("rev-parse", "--short", "HEAD").strip(), "src_uncommitted": dirty,
            "palaver_from": str(Path(palaver.__file__).parent),
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
