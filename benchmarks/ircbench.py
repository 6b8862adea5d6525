"""IRC fan-out: the same IRC load against palaver's IRC door and against C IRC servers.

How this works: for each server under test (palaver with its SQLite store, palaver with ``store =
"memory"``, ngIRCd, InspIRCd — the C servers only when their Debian binaries are installed), a fresh
server process on a free 127.0.0.1 port with a generated config (every flood and per-address limit
lifted: see ``NGIRCD_CONF`` / ``INSPIRCD_CONF`` and docs/benchmarks.md), then
:mod:`benchmarks.ircload` workers: one holds the senders, the others share the receivers. All
connections register (NICK/USER) and JOIN ``#bench`` in waves of ``batch`` per worker; a barrier
waits out the JOIN storm. Each phase resets the counters, the senders PRIVMSG ``messages`` each
(fixed rate or closed loop), and the phase ends when every connection has every message or the
phase's hard timeout passes (:mod:`benchmarks.phases`). IRC does not echo a PRIVMSG to its sender,
so expected deliveries = messages × (members − 1). Server CPU and RSS are psutil's, on the server
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import psutil  # type: ignore[import-untyped]  # no stubs pinned

from benchmarks import population
from benchmarks.phases import Phase, params_dict, run_phase
from benchmarks.server import Sample, ServerProcess, wait_or_kill
from benchmarks.stats import merge_counts
from benchmarks.workers import Pool, WorkerError

WORKER_MODULE = "benchmarks.ircload"


@dataclass(frozen=True, slots=True)
class IrcParams:
    members: int = 1_000
    senders: int = 10
    receiver_workers: int = 3
    latency_sample_every: int = 10
    batch: int = 100  # NICK/USER (then JOIN) this many at a time, per worker
    # TCP connects in flight per worker: ngIRCd listens with a backlog of 10 and accepts one
    # connection per loop turn, so 1,000 connects at once overflow its accept queue.
    connect_concurrency: int = 2
    setup_timeout: float = 120.0
    servers: tuple[str, ...] = ("palaver", "palaver-memory", "ngircd", "inspircd")
    phases: tuple[Phase, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- servers under test

NGIRCD_CONF = """\
[Global]
Name = bench.ngircd
Info = palaver IRC benchmark
Listen = 127.0.0.1
Ports = {port}
PidFile = {dir}/ngircd.pid
MotdPhrase = bench
ServerUID = {uid}
ServerGID = {gid}

[Limits]
# One address (127.0.0.1) holds every client: no per-address or global connection cap.
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
# 0 turns command penalties (ngIRCd's flood delay) off altogether.
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600

[Options]
DNS = no
Ident = no
PAM = no
"""

INSPIRCD_CONF = """\
<config format="xml">
<server name="bench.inspircd" description="palaver IRC benchmark" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect name="bench" allow="127.0.0.1"
         timeout="300" pingfreq="600"
         threshold="1000000000" commandrate="1000000000" fakelag="no"
         hardsendq="64M" softsendq="8M" recvq="8M"
         localmax="100000" globalmax="100000" maxconnwarn="no" limit="100000"
         resolvehostnames="no" useident="no" maxchans="20">
<channels users="20" opers="60">
<performance softlimit="{softlimit}" somaxconn="4096" netbuffersize="65536"
             clonesonconnect="no" quietbursts="yes">
<pid file="{dir}/inspircd.pid">
<files motd="{dir}/motd.txt">
<dns server="127.0.0.1" timeout="1">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes" hostintopic="yes"
         pingwarning="15" splitwhois="no" exemptchanops="">
<security hideserver="" userstats="Pu" customversion="" flatlinks="no" hidesplits="no"
          hideulines="no" hidebans="no" maxtargets="20">
<whowas groupsize="10" maxgroups="100000" maxkeep="3d">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="{dir}/inspircd.log">
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_listening(host: str, port: int, proc: asyncio.subprocess.Process,
                         timeout: float) -> None:
    """Poll until ``host:port`` accepts a TCP connection (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return
    raise RuntimeError(f"nothing listening on {host}:{port} after {timeout:.0f}s")


class ExternalServer:
    """A C IRC server as our own subprocess, in the foreground, on a generated config."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, port: int,
                 workdir: tempfile.TemporaryDirectory[str], log: IO[bytes]) -> None:
        self.name = name
        self.proc = proc
        self.host = "127.0.0.1"
        self.port = port
        self.ps = psutil.Process(proc.pid)
        self._workdir = workdir
        self._log = log

    @classmethod
    async def start(cls, name: str, timeout: float = 20.0) -> ExternalServer:
        workdir = tempfile.TemporaryDirectory(prefix=f"palaver-bench-{name}-")
        root = Path(workdir.name)
        port = free_port()
        argv = _prepare(name, root, port)
        log = (root / "stdout.log").open("wb")
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=log, stderr=asyncio.subprocess.STDOUT,
                                                    cwd=root)
        server = cls(name, proc, port, workdir, log)
        try:
            await wait_listening(server.host, port, proc, timeout)
        except BaseException:
            await server.stop()
            raise
        return server

    def sample(self) -> Sample:
        cpu = self.ps.cpu_times()
        return Sample(cpu=cpu.user + cpu.system, rss=self.ps.memory_info().rss, system=cpu.system)

    def version(self) -> str:
        return _package_version(self.name)

    def log_tail(self, lines: int = 20) -> str:
        out: list[str] = []
        for path in sorted(Path(self._workdir.name).glob("*.log")):
            with contextlib.suppress(OSError):
                out.extend(path.read_text(errors="replace").splitlines()[-lines:])
        return "\n".join(out)

    async def stop(self, timeout: float = 10.0) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            await wait_or_kill(self.proc, timeout)
        self._log.close()
        self._workdir.cleanup()


class PalaverIrc:
    """palaver (``python -m palaver.cli serve``) with its IRC door on a free port."""

    def __init__(self, name: str, server: ServerProcess, port: int) -> None:
        self.name = name
        self.server = server
        self.host = server.host
        self.port = port

    @classmethod
    async def start(cls, name: str, timeout: float = 20.0) -> PalaverIrc:
        port = free_port()
        settings = 'store = "memory"\n' if name == "palaver-memory" else ""
        server = await ServerProcess.start(timeout, settings=settings,
                                           args=("--irc-port", str(port)))
        try:
            await wait_listening(server.host, port, server.proc, timeout)
        except BaseException:
            await server.stop()
            raise
        return cls(name, server, port)

    def sample(self) -> Sample:
        return self.server.sample()

    def version(self) -> str:
        from importlib.metadata import version

        return f"palaver {version('palaver')}"

    def log_tail(self, lines: int = 20) -> str:
        return self.server.log_tail(lines)

    async def stop(self) -> None:
        await self.server.stop()


Server = ExternalServer | PalaverIrc


def _prepare(name: str, root: Path, port: int) -> list[str]:
    """Write ``name``'s config (and MOTD) into ``root``; returns its command line."""
    root.chmod(0o755)
    if name == "ngircd":
        conf = root / "ngircd.conf"
        (root / "ngircd.motd").write_text("bench\n")
        conf.write_text(NGIRCD_CONF.format(port=port, dir=root, uid=_uid(), gid=_gid()))
        return [_binary("ngircd"), "--nodaemon", "--passive", "--config", str(conf)]
    if name == "inspircd":
        conf = root / "inspircd.conf"
        (root / "motd.txt").write_text("bench\n")
        conf.write_text(INSPIRCD_CONF.format(port=port, dir=root, softlimit=_softlimit()))
        argv = [_binary("inspircd"), "--nofork", "--nopid", "--config", str(conf)]
        if _uid() == 0:
            argv.append("--runasroot")  # InspIRCd refuses to run as root otherwise
        return argv
    raise ValueError(name)


def _binary(name: str) -> str:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin") or name


def available(name: str) -> bool:
    if name.startswith("palaver"):
        return True
    return _binary(name) != name


def _uid() -> int:
    import os

    return os.getuid()


def _gid() -> int:
    import os

    return os.getgid()


def _softlimit() -> int:
    import resource

    return max(1_024, resource.getrlimit(resource.RLIMIT_NOFILE)[0] - 64)


def _package_version(name: str) -> str:
    """The Debian package version of a C server (``dpkg-query``), or ``?``."""
    import subprocess

    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return f"{name} ?"
    return f"{name} {out.stdout.strip() or '?'}"


async def start_server(name: str) -> Server:
    if name.startswith("palaver"):
        return await PalaverIrc.start(name)
    return await ExternalServer.start(name)


# --------------------------------------------------------------------------- the benchmark


async def run_irc(params: IrcParams) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    failed: list[str] = []
    for name in params.servers:
        if not available(name):
            skipped[name] = (f"{name} is not installed (Debian: apt-get install {name}); "
                             "skipped")
            print(f"irc benchmark: {skipped[name]}", flush=True)
            continue
        print(f"irc benchmark: {name} …", flush=True)
        try:
            runs.append(await _run_one(name, params))
        except (OSError, RuntimeError, population.SetupError) as exc:
            skipped[name] = f"could not run: {exc}"
            failed.append(name)
            print(f"irc benchmark: {name} {skipped[name]}", flush=True)
    return {"params": params_dict(params), "runs": runs, "skipped": skipped, "failed": failed}


async def _run_one(name: str, params: IrcParams) -> dict[str, Any]:
    server = await start_server(name)
    pool: Pool | None = None
    try:
        version = server.version()
        rss_start = server.sample().rss
        pool = await Pool.start(params.receiver_workers + 1, server.host, server.port,
                                module=WORKER_MODULE)
        setup = await _populate(server, pool, params)
        phases = [await run_phase(server, pool, params, phase, echo=False, label=f"irc {name}")
                  for phase in params.phases]
        return {"server": name, "version": version, "setup": setup, "phases": phases,
                "rss_start_bytes": rss_start, "rss_end_bytes": server.sample().rss}
    except (WorkerError, population.SetupError) as exc:
        raise population.SetupError(f"{exc}\nserver log:\n{server.log_tail()}") from exc
    finally:
        if pool is not None:
            await pool.close()
        await server.stop()


async def _populate(server: Server, pool: Pool, params: IrcParams) -> dict[str, Any]:
    shares = population.fanout_shares(params.members, params.senders, params.receiver_workers)
    connected = await population.connect(pool, shares, params.setup_timeout,
                                         sample_every=params.latency_sample_every,
                                         concurrency=params.connect_concurrency)
    if connected["connected"] != params.members:
        raise population.SetupError(f"only {connected} of {params.members} connected")
    cpu0, start = server.sample().cpu, time.monotonic()
    replies = await pool.ask("registered", params.setup_timeout + 5, cmd="register",
                             batch=params.batch, timeout=params.setup_timeout)
    joined = sum(r["ok"] for r in replies)
    registered = {"registered": sum(r["registered"] for r in replies), "joined": joined,
                  "lost": merge_counts(r["lost"] for r in replies),
                  "seconds": round(time.monotonic() - start, 3)}
    if joined != params.members:
        raise population.SetupError(f"only {registered} of {params.members} joined")
    settled = await population.barrier(pool, params.setup_timeout)
    del settled["frames"]  # not part of the IRC results
    if settled["missing"]:
        raise population.SetupError(f"the JOIN storm did not settle: {settled}")
    registered["server_cpu_s"] = round(server.sample().cpu - cpu0, 3)
    return {"connect": connected, "register_join": registered, "join_settled": settled}


# --------------------------------------------------------------------------- the table

LABELS = {"palaver": "palaver (SQLite)", "palaver-memory": "palaver (memory)",
          "ngircd": "ngIRCd", "inspircd": "InspIRCd"}


def render_irc(irc: dict[str, Any]) -> list[str]:
    from benchmarks.report import _num, _table

    p = irc["params"]
    lines: list[str] = []
    header = ["phase", "server", "delivered / expected", "deliv/s", "p50 ms", "p99 ms",
              "srv CPU s", "kernel", "µs/deliv", "deliv/CPU-s", "srv busy", "gen cores",
              "machine", "RSS MiB", "lost"]
    rows: list[list[str]] = []
    names = [ph["phase"]["name"] for run in irc["runs"] for ph in run["phases"]]
    for phase_name in dict.fromkeys(names):
        first = True
        for run in irc["runs"]:
            for ph in run["phases"]:
                if ph["phase"]["name"] != phase_name:
                    continue
                rows.append([
                    phase_name if first else "",
                    LABELS.get(run["server"], run["server"]),
                    f"{ph['deliveries']:,} / {ph['deliveries_expected']:,}"
                    + ("" if ph["complete"] else " INCOMPLETE"),
                    _num(ph["deliveries_per_s"]),
                    _num(ph["latency"]["p50_ms"], 2),
                    _num(ph["latency"]["p99_ms"], 2),
                    _num(ph["server_cpu_s"], 2),
                    "—" if ph["server_kernel_share"] is None
                    else f"{ph['server_kernel_share']:.0%}",
                    _num(ph["server_cpu_us_per_delivery"], 2),
                    _num(ph["deliveries_per_server_cpu_s"]),
                    f"{ph['server_cpu_utilisation']:.0%}",
                    f"{ph['generator_cpu_utilisation']:.2f}",
                    f"{ph['machine_busy']:.0%}",
                    f"{ph['server_rss_bytes'] / 2**20:.1f}",
                    str(sum(ph["lost_connections"].values())),
                ])
                first = False
    title = (f"IRC fan-out: {p['members']:,} clients in #bench, {p['senders']} senders, "
             f"~100-byte PRIVMSGs, deliveries = messages × {p['members'] - 1:,}")
    lines.extend(_table(title, header, rows))
    offered = [(ph["phase"]["name"], ph["offered_deliveries_per_s"])
               for ph in (irc["runs"][0]["phases"] if irc["runs"] else [])]
    if offered:
        lines.append("offered deliveries/s: " + ", ".join(
            f"{name} {value:,.0f}" for name, value in offered if "closed" not in name)
            + "; closed loop: as fast as the slowest sender hears the others")
    for run in irc["runs"]:
        s = run["setup"]["register_join"]
        lines.append(
            f"{LABELS.get(run['server'], run['server'])}: {run['version']}; register+JOIN "
            f"{s['seconds']:.1f}s ({s['server_cpu_s']:.1f}s server CPU), RSS "
            f"{run['rss_start_bytes'] / 2**20:.1f} MiB idle → {run['rss_end_bytes'] / 2**20:.1f} "
            f"MiB at the end")
    for name, why in irc["skipped"].items():
        lines.append(f"{LABELS.get(name, name)}: {why}")
    lines.append("palaver (SQLite) stores every message durably (SQLite group commit) before "
                 "delivering it; the C servers and palaver (memory) store nothing.")
    return lines
