"""Fan-out rate sweep: fixed-rate phases of rising load on palaver's JSON and IRC doors and on
the C IRC servers, side by side.

How this works: the same phases — ``rates`` messages/s in total from ``senders`` senders to a
room of ``members``, each phase ``seconds`` of sending plus at most ``drain`` seconds for the
deliveries to finish — run on palaver's JSON door with the fan-out harness
(:mod:`benchmarks.fanout`: #lobby, every message echoed to its sender too) and on palaver's IRC
door (SQLite and memory) and ngIRCd / InspIRCd with the IRC harness (:mod:`benchmarks.ircbench`:
#bench, no echo). Each phase reports deliveries/s, loss (planned deliveries not made: the phase
ran out of time, or a member was cut off), p50/p99 latency and server CPU per delivery; each
server gets "the highest rate with 0 loss and p99 <= 100 ms" (the highest phase such that it and
every phase below it passed). :func:`benchmarks.chart.write_chart` draws the figures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import progress, targets
from benchmarks.fanout import FanoutParams, run_fanout
from benchmarks.ircbench import IrcParams, run_irc
from benchmarks.phases import Phase
from benchmarks.population import SetupError

P99_LIMIT_MS = 100.0
SERVERS = ("palaver-json", "palaver", "palaver-memory", "ngircd", "inspircd")
LABELS = {**targets.LABELS, "palaver": "palaver IRC (SQLite)",
          "palaver-memory": "palaver IRC (memory)"}


@dataclass(frozen=True, slots=True)
class SweepParams:
    members: int = 1_000
    senders: int = 10
    receiver_workers: int = 3
    rates: tuple[int, ...] = (500, 1_000, 1_500, 2_000)  # messages/s in total
    seconds: float = 5.0  # of sending, per phase
    drain: float = 25.0  # more seconds a phase may take to deliver
    latency_sample_every: int = 10
    batch: int = 100  # IRC: registrations (then JOINs) per worker at a time
    setup_timeout: float = 120.0
    servers: tuple[str, ...] = SERVERS


def phases(params: SweepParams) -> tuple[Phase, ...]:
    per_sender = [rate / params.senders for rate in params.rates]
    return tuple(Phase(f"fixed {rate:,} msgs/s", messages=max(1, round(r * params.seconds)),
                       rate=r, timeout=params.seconds + params.drain)
                 for rate, r in zip(params.rates, per_sender, strict=True))


async def run_sweep(params: SweepParams) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    failed: list[str] = []
    if "palaver-json" in params.servers:
        progress.say("[sweep palaver-json] starting")
        try:
            json_run = await run_fanout(FanoutParams(
                members=params.members, senders=params.senders,
                receiver_workers=params.receiver_workers,
                latency_sample_every=params.latency_sample_every,
                setup_timeout=params.setup_timeout, phases=phases(params),
                label="sweep palaver-json"))
            runs.append({"server": "palaver-json", "echo": True, "setup": json_run["setup"],
                         "phases": json_run["phases"]})
        except SetupError as exc:
            skipped["palaver-json"] = f"could not run: {exc}"
            failed.append("palaver-json")
    irc_servers = tuple(name for name in params.servers if name != "palaver-json")
    if irc_servers:
        irc = await run_irc(IrcParams(
            members=params.members, senders=params.senders,
            receiver_workers=params.receiver_workers,
            latency_sample_every=params.latency_sample_every, batch=params.batch,
            setup_timeout=params.setup_timeout, servers=irc_servers, phases=phases(params)))
        runs.extend({**run, "echo": False} for run in irc["runs"])
        skipped.update(irc["skipped"])
        failed.extend(irc["failed"])
    for run in runs:
        for phase in run["phases"]:
            _judge(phase, params, run["echo"])
        run["best_rate_msgs_per_s"] = best_rate(run["phases"])
    return {"params": asdict(params), "runs": runs, "skipped": skipped, "failed": failed}


def _judge(phase: dict[str, Any], params: SweepParams, echo: bool) -> None:
    """Add ``rate_msgs_per_s``, ``loss`` and ``ok`` (0 loss, p99 <= 100 ms) to a phase."""
    per_message = params.members if echo else params.members - 1
    phase["rate_msgs_per_s"] = round(phase["phase"]["rate"] * params.senders)
    phase["loss"] = max(0, phase["messages_planned"] * per_message - phase["deliveries"])
    p99 = phase["latency"]["p99_ms"]
    phase["ok"] = (phase["loss"] == 0 and not phase["lost_connections"] and p99 is not None
                   and p99 <= P99_LIMIT_MS)


def best_rate(run_phases: list[dict[str, Any]]) -> int | None:
    best = None
    for phase in sorted(run_phases, key=lambda ph: ph["rate_msgs_per_s"]):
        if not phase["ok"]:
            break
        best = phase["rate_msgs_per_s"]
    return best


def complete(sweep: dict[str, Any]) -> bool:
    """Every server ran and every phase of it counted right (delivered what was sent)."""
    return bool(sweep["runs"]) and not sweep["failed"] and all(
        ph["deliveries"] <= ph["deliveries_expected"] for run in sweep["runs"]
        for ph in run["phases"])


def render_sweep(sweep: dict[str, Any]) -> list[str]:
    from benchmarks.report import _num, _table

    p = sweep["params"]
    header = ["msgs/s", "server", "deliveries / planned", "deliv/s", "loss", "p50 ms", "p99 ms",
              "µs/deliv", "srv busy", "machine", "lost conns", "ok"]
    rows: list[list[str]] = []
    for rate in p["rates"]:
        first = True
        for run in sweep["runs"]:
            for ph in run["phases"]:
                if ph["rate_msgs_per_s"] != rate:
                    continue
                per_message = p["members"] if run["echo"] else p["members"] - 1
                rows.append([
                    f"{rate:,}" if first else "", LABELS.get(run["server"], run["server"]),
                    f"{ph['deliveries']:,} / {ph['messages_planned'] * per_message:,}",
                    _num(ph["deliveries_per_s"]), f"{ph['loss']:,}",
                    _num(ph["latency"]["p50_ms"], 2), _num(ph["latency"]["p99_ms"], 2),
                    _num(ph["server_cpu_us_per_delivery"], 2),
                    f"{ph['server_cpu_utilisation']:.0%}", f"{ph['machine_busy']:.0%}",
                    str(sum(ph["lost_connections"].values())), "yes" if ph["ok"] else "no"])
                first = False
    lines = _table(f"Fan-out sweep: {p['members']:,} members, {p['senders']} senders, "
                   f"~100-byte texts, {p['seconds']:g} s of sending per phase (JSON: #lobby, "
                   "echoed to the sender; IRC: #bench, not)", header, rows)
    lines.append(f"highest rate with 0 loss and p99 <= {P99_LIMIT_MS:.0f} ms: " + "; ".join(
        f"{LABELS.get(r['server'], r['server'])} "
        + (f"{r['best_rate_msgs_per_s']:,} msgs/s" if r["best_rate_msgs_per_s"] else "none")
        for r in sweep["runs"]))
    lines.extend(f"{LABELS.get(n, n)}: {why.splitlines()[0]}"
                 for n, why in sweep["skipped"].items())
    return lines
