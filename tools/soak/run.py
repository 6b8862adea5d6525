"""The soak's phases, its summary and its JSON result.

How this works: PostgreSQL and Redis start (services.py), then the nodes (nodes.py), then the
members register, log in (each on its home node) and join the room. Then, while every sender
sends:

1. ``normal``: no fault, ``calm`` seconds (the latency of normal running);
2. ``faults``: the plan of schedule.py (kill -9 a node, Redis, PostgreSQL; each restarted);
3. ``recovering``: ``calm / 2`` seconds without a fault;
4. ``blackhole``: Redis's proxy swallows everything both ways for ``blackhole`` seconds
   (connections stay open, nothing answers), then heals;
5. ``healed``: ``healed`` seconds more.

Then the senders stop and settle (every message sent acknowledged; bounded), the members catch
up with the store's last id (bounded), and audit.py checks. Latency is a message's first
submission to its showing by a receiver connected to another node than its sender's (a member
that only receives), per phase of sending; the acknowledgement's latency (first submission to
the acknowledging MESSAGE) too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile
from tools.soak.audit import Audit, Row, audit
from tools.soak.members import ROOM, Member, Nodes, Sender
from tools.soak.nodes import Node
from tools.soak.schedule import NODE, POSTGRES, REDIS, Done, Fault, Log, execute, plan
from tools.soak.services import Postgres, Redis

PHASES = ("normal", "faults", "recovering", "blackhole", "healed")
CATCH_UP_TIMEOUT = 120.0  # seconds for the members to show the store's last message
PROGRESS_EVERY = 10.0  # seconds between progress lines


@dataclass(frozen=True)
class Config:
    nodes: int = 3
    senders: int = 20
    receivers_per_node: int = 2
    interval: float = 0.5  # seconds between a sender's messages
    window: int = 4  # unanswered messages per sender at most
    calm: float = 30.0  # seconds of the normal phase
    faults_seconds: float = 360.0
    node_kills: int = 20
    redis_kills: int = 5
    postgres_kills: int = 3
    blackhole: float = 30.0
    healed: float = 15.0
    settle: float = 180.0  # seconds for the senders to have every message acknowledged
    seed: int = 1


QUICK = Config(nodes=2, senders=6, receivers_per_node=1, interval=0.25, calm=3.0,
               faults_seconds=12.0, node_kills=2, redis_kills=1, postgres_kills=1,
               blackhole=5.0, healed=3.0, settle=90.0)


class Clock:
    def __init__(self) -> None:
        self.began = time.monotonic()
        self.phase = "setup"
        self.phase_began: dict[str, float] = {}

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.phase_began[phase] = round(self.elapsed, 2)
        print(f"[{self.elapsed:7.1f}s] phase: {phase}", flush=True)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.began


def stats_ms(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)

    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {"samples": len(ordered), "p50_ms": ms(percentile(ordered, 0.5)),
            "p99_ms": ms(percentile(ordered, 0.99)),
            "max_ms": ms(ordered[-1] if ordered else None)}


def latencies(senders: list[Sender], receivers: list[Member]) -> dict[str, Any]:
    """Per phase: delivery (to receivers on another node than the sender's) and ack."""
    by_text = {sent.text: sent for sender in senders for sent in sender.sent}
    delivery: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for receiver in receivers:
        for shown in receiver.shown:
            sent = by_text.get(shown.text)
            if sent is not None and shown.node != sent.node and sent.phase in delivery:
                delivery[sent.phase].append(shown.at - sent.sent_at)
    acks: dict[str, list[float]] = {phase: [] for phase in PHASES}
    for sent in by_text.values():
        if sent.acked_at is not None and sent.phase in acks:
            acks[sent.phase].append(sent.acked_at - sent.sent_at)
    return {phase: {"delivery_other_node": stats_ms(delivery[phase]),
                    "ack": stats_ms(acks[phase])} for phase in PHASES}


async def stored_rows(pg: Postgres) -> list[Row]:
    records = await pg.query(
        "SELECT msg_id, sender_key, sender, client_id, text FROM messages "
        "WHERE conversation = $1 ORDER BY msg_id", ROOM)
    return [Row(r["msg_id"], r["sender_key"], r["sender"], r["client_id"], r["text"])
            for r in records]


async def catch_up(members: list[Member], last: int, timeout: float) -> bool:
    """Until every member has shown message ``last`` (a bounded poll)."""
    deadline = time.monotonic() + timeout
    while any(m.last_shown < last for m in members):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


def node_errors(node_dirs: list[Path]) -> dict[str, int]:
    """ERROR/CRITICAL lines in each node's logs (all its starts)."""
    counts = {}
    for directory in node_dirs:
        count = 0
        for log in (directory / "logs").glob("*"):
            with contextlib.suppress(OSError):
                count += sum(1 for line in log.read_text(errors="replace").splitlines()
                             if " ERROR " in line or " CRITICAL " in line
                             or '"level": "error"' in line)
        counts[directory.name] = count
    return counts


@contextlib.contextmanager
def workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="palaver-soak-") as tmp:
        yield Path(tmp)


async def soak(config: Config, *, keep: Path | None = None) -> dict[str, Any]:
    """Run the soak; its result (``result["ok"]``: nothing lost, duplicated or missed)."""
    clock = Clock()
    with workdir(keep) as work:
        pg, redis = Postgres(), Redis()
        nodes: list[Node] = []
        members: list[Member] = []
        try:
            await pg.start()
            await redis.start()
            names = [chr(ord("a") + i) for i in range(config.nodes)]
            nodes = [Node(name, work / name, pg.url, redis.url) for name in names]
            await asyncio.gather(*(node.start() for node in nodes))
            ring = Nodes(names, [node.port for node in nodes])
            senders = [Sender(f"s{i:02d}", names[i % len(names)], ring)
                       for i in range(config.senders)]
            receivers = [Member(f"r{j}{name}", name, ring) for name in names
                         for j in range(config.receivers_per_node)]
            members = [*senders, *receivers]
            for member in members:
                await member.register()
            await asyncio.gather(*(member.connect(join=True) for member in members))
            print(f"[{clock.elapsed:7.1f}s] {len(nodes)} nodes, {len(senders)} senders, "
                  f"{len(receivers)} receivers in {ROOM}", flush=True)
            result = await _phases(config, clock, pg, redis, nodes, senders, receivers)
            result["node_errors_logged"] = node_errors([node.data_dir for node in nodes])
            if keep is not None:
                write_json(records(clock, members), keep / "members.json")
            return result
        finally:
            for member in members:
                with contextlib.suppress(Exception):
                    await member.close()
            for node in nodes:
                await node.stop()
            await redis.close()
            await pg.close()


async def _phases(config: Config, clock: Clock, pg: Postgres, redis: Redis, nodes: list[Node],
                  senders: list[Sender], receivers: list[Member]) -> dict[str, Any]:
    members: list[Member] = [*senders, *receivers]
    by_name = {node.name: node for node in nodes}
    stop = asyncio.Event()
    sending = [asyncio.create_task(s.send(stop, config.interval, config.window,
                                          lambda: clock.phase)) for s in senders]
    progress = asyncio.create_task(_progress(clock, senders, nodes, pg, redis))
    log = Log()
    try:
        clock.enter("normal")
        await asyncio.sleep(config.calm)  # (the phase's length)
        clock.enter("faults")
        faults = plan(config.faults_seconds, list(by_name), node_kills=config.node_kills,
                      redis_kills=config.redis_kills, postgres_kills=config.postgres_kills,
                      seed=config.seed)

        async def kill(fault: Fault) -> None:
            if fault.kind == NODE:
                await by_name[fault.target].kill9()
            elif fault.kind == REDIS:
                await redis.kill9()
            else:
                await pg.kill9()

        async def restart(fault: Fault) -> None:
            if fault.kind == NODE:
                await by_name[fault.target].start()
            elif fault.kind == REDIS:
                await redis.restart()
            else:
                await pg.restart()

        def done(item: Done) -> None:
            print(f"[{clock.elapsed:7.1f}s]   kill -9 {item.fault.target}: up again after "
                  f"{item.restarted_after:.1f}s" + (f" ({item.error})" if item.error else ""),
                  flush=True)

        await execute(faults, kill, restart, log, done)
        clock.enter("recovering")
        moved = sum(m.go_home() for m in members)  # spread over the nodes again
        print(f"[{clock.elapsed:7.1f}s]   {moved} members sent back to their home node",
              flush=True)
        await asyncio.sleep(config.calm / 2)
        clock.enter("blackhole")
        assert redis.proxy is not None
        swallowed_before = redis.proxy.stats
        redis.proxy.blackhole()
        await asyncio.sleep(config.blackhole)
        redis.proxy.heal()
        swallowed = redis.proxy.stats
        clock.enter("healed")
        await asyncio.sleep(config.healed)
        clock.enter("settle")
    finally:
        stop.set()
        crashed = [r for r in await asyncio.gather(*sending, return_exceptions=True)
                   if isinstance(r, BaseException)]
        progress.cancel()
    settled = all(await asyncio.gather(*(s.settle(config.settle) for s in senders)))
    rows = await stored_rows(pg)
    last = rows[-1].msg_id if rows else 0
    caught_up = await catch_up(members, last, CATCH_UP_TIMEOUT)
    rows = await stored_rows(pg)
    clock.enter("audit")
    checked = audit(rows, {s.nick: s.sent for s in senders},
                    {m.nick: [[(v.msg_id, v.sender, v.text) for v in segment]
                              for segment in m.segments] for m in members})
    checked.problems[:0] = [f"a sender failed: {error!r}" for error in crashed]
    if not settled:
        checked.problems.insert(0, "the senders did not settle within "
                                f"{config.settle:.0f} s")
    if not caught_up:
        checked.problems.insert(0, f"the members did not all show message #{last} within "
                                f"{CATCH_UP_TIMEOUT:.0f} s")
    for sender in senders:
        for sent in sender.gave_up:
            checked.problems.append(f"{sent.client_id} given up: {dict(sent.refusals)}")
    for member in members:
        for ending in member.endings:
            checked.problems.append(f"{member.nick}'s client ended for good: {ending}")
    return _result(config, clock, checked, log, nodes, senders, receivers,
                   swallowed=swallowed.swallowed_to_upstream
                   - swallowed_before.swallowed_to_upstream
                   + swallowed.swallowed_to_client - swallowed_before.swallowed_to_client)


async def _progress(clock: Clock, senders: list[Sender], nodes: list[Node], pg: Postgres,
                    redis: Redis) -> None:
    while True:  # cancelled at the end
        await asyncio.sleep(PROGRESS_EVERY)
        acked = sum(1 for s in senders for sent in s.sent if sent.msg_id is not None)
        waiting = sum(len(s.unanswered) for s in senders)
        kills = sum(n.kills for n in nodes)
        print(f"[{clock.elapsed:7.1f}s] {clock.phase}: acked {acked}, unanswered {waiting}, "
              f"kills node {kills} redis {redis.kills} postgres {pg.kills}", flush=True)


def _result(config: Config, clock: Clock, checked: Audit, log: Log, nodes: list[Node],
            senders: list[Sender], receivers: list[Member], *, swallowed: int
            ) -> dict[str, Any]:
    members: list[Member] = [*senders, *receivers]
    raw_repeats = sum(count - 1 for m in members for count in m.raw.values() if count > 1)
    refusals: dict[str, int] = {}
    for sender in senders:
        for sent in sender.sent:
            for code, times in sent.refusals.items():
                refusals[code] = refusals.get(code, 0) + times
    return {
        "ok": checked.ok,
        "palaver": palaver_version(),
        "config": asdict(config),
        "seconds": round(clock.elapsed, 1),
        "phases_began_s": clock.phase_began,
        "messages": {"sent": checked.sent, "acked": checked.acked, "stored": checked.stored,
                     "lost": checked.lost, "mismatched": checked.mismatched,
                     "duplicates": checked.duplicate_client_ids + checked.duplicate_texts,
                     "never_acked": checked.never_acked,
                     "stored_unsent": checked.stored_unsent, "id_holes": checked.id_holes,
                     "refusals_resubmitted": refusals},
        "members": {"count": len(members), "exact": checked.members_exact,
                    "missed_ids": checked.missed_ids, "missed_by_members": checked.missed_by,
                    "out_of_order": checked.out_of_order,
                    "raw_repeats_hidden_by_client": raw_repeats,
                    "reconnects": sum(m.client.reconnects for m in members
                                      if m.client is not None),
                    "failovers": sum(m.failovers for m in members),
                    "clients_ended": sum(len(m.endings) for m in members),
                    "checks": [asdict(c) for c in checked.members if not c.ok]},
        "kills": {"node": log.count(NODE), "redis": log.count(REDIS),
                  "postgres": log.count(POSTGRES),
                  "failed": [asdict(d) for d in log.done if d.error is not None]},
        "restart_s": {kind: stats_s([d.restarted_after for d in log.done
                                     if d.fault.kind == kind and d.error is None])
                      for kind in (NODE, REDIS, POSTGRES)},
        "faults": [asdict(d) for d in log.done],
        "node_starts": {n.name: {"starts": n.starts, "failed_starts": n.failed_starts}
                        for n in nodes},
        "blackhole_bytes_swallowed": swallowed,
        "latency": latencies(senders, receivers),
        "problems": checked.problems[:100],
        "problem_count": len(checked.problems),
    }


def records(clock: Clock, members: list[Member]) -> dict[str, Any]:
    """What each member recorded (for --keep): times in seconds from the start."""
    def t(at: float) -> float:
        return round(at - clock.began, 3)

    out: dict[str, Any] = {}
    for m in members:
        out[m.nick] = {
            "home": m.home,
            "segments": [[[v.msg_id, t(v.at), v.node] for v in seg] for seg in m.segments],
            "raw_repeats": {i: c for i, c in m.raw.items() if c > 1},
            "links": [[t(at), what, detail] for at, what, detail in m.link_log],
            "frames": m.frames.tolist(),
        }
        if isinstance(m, Sender):
            out[m.nick]["sent"] = [[s.client_id, t(s.sent_at), s.node, s.msg_id,
                                    None if s.acked_at is None else t(s.acked_at),
                                    dict(s.refusals)] for s in m.sent]
    return out


def palaver_version() -> dict[str, Any]:
    """Which palaver ran: where it was imported from, the commit, and the files of src/ with
    changes not committed (no commit: not a git checkout, e.g. a ``git archive`` copy run
    with PYTHONPATH)."""
    import palaver

    root = Path(__file__).resolve().parents[2]
    source = str(Path(palaver.__file__).parent)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=root,
                               capture_output=True, text=True, timeout=10,
                               check=True).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return {"source": source, "commit": None, "src_changed": None}
    return {"source": source, "commit": commit,
            "src_changed": sorted(line[3:] for line in dirty if line)}


def stats_s(values: list[float]) -> dict[str, Any]:
    ordered = sorted(values)
    return {"count": len(ordered), "p50": percentile(ordered, 0.5),
            "max": ordered[-1] if ordered else None}


def summary(result: dict[str, Any]) -> str:
    m, k, lat = result["messages"], result["kills"], result["latency"]

    def line(phase: str) -> str:
        d, a = lat[phase]["delivery_other_node"], lat[phase]["ack"]
        return (f"  {phase:<11} delivery to another node p50 {d['p50_ms']} ms, p99 "
                f"{d['p99_ms']} ms, max {d['max_ms']} ms ({d['samples']} samples); "
                f"ack p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms")

    members = result["members"]
    out = [
        f"cluster soak: {result['seconds']:.0f} s, {result['config']['nodes']} nodes, "
        f"{result['config']['senders']} senders",
        f"  kills: node {k['node']}, redis {k['redis']}, postgres {k['postgres']}"
        f" (failed {len(k['failed'])})",
        f"  messages: sent {m['sent']}, acked {m['acked']}, stored {m['stored']}, "
        f"lost {m['lost']}, duplicated {m['duplicates']}, never acked {m['never_acked']}, "
        f"stored but not sent {m['stored_unsent']}, id holes {m['id_holes']}",
        f"  refusals resubmitted (same id): {m['refusals_resubmitted']}",
        f"  members with exactly the stored sequence: {members['exact']} of "
        f"{members['count']} (reconnects {members['reconnects']}, failovers "
        f"{members['failovers']}, repeats hidden by the client "
        f"{members['raw_repeats_hidden_by_client']})",
        f"  ids some member never showed: {members['missed_ids']} (missed by so many members: "
        f"ids {members['missed_by_members']}); showings out of order: "
        f"{members['out_of_order']}",
        *(line(phase) for phase in PHASES),
        f"  node errors logged: {result.get('node_errors_logged')}",
    ]
    if result["problems"]:
        out.append(f"FAILED: {result['problem_count']} problems")
        out.extend("  " + p for p in result["problems"][:20])
    else:
        out.append("OK: every acknowledged message stored exactly once, none duplicated, "
                   "every member showed exactly the stored sequence")
    return "\n".join(out)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


__all__ = ["QUICK", "Config", "soak", "summary", "write_json"]
