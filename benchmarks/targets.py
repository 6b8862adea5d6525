"""The servers a crowd benchmark is pointed at, by name, and the loop over them.

How this works: ``palaver-json`` is palaver's JSON-lines door (:class:`~benchmarks.server.
ServerProcess`), ``palaver-irc`` palaver's IRC door (SQLite, as shipped) and ``ngircd`` /
``inspircd`` the Debian C servers on the IRC benchmark's generated configs
(:mod:`benchmarks.ircbench`). :func:`start` gives a :class:`Target`: where to connect, which
dialect to speak (:mod:`benchmarks.dialects`), and the server process to sample. :func:`each`
runs one benchmark against every named target in turn, a fresh server each, and skips (with a
line on stderr) the C servers that are not installed; a target that could not run is reported
as failed, not raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from benchmarks import ircbench, population, progress
from benchmarks.server import Sample, ServerProcess
from benchmarks.workers import WorkerError

TARGETS = ("palaver-json", "palaver-irc", "ngircd", "inspircd")
LABELS = {"palaver-json": "palaver JSON (SQLite)", "palaver-irc": "palaver IRC (SQLite)",
          "ngircd": "ngIRCd", "inspircd": "InspIRCd", **ircbench.LABELS}

# Registrations in flight per worker when a crowd comes online. ngIRCd listens with a backlog of
# 10 and accepts one connection per loop turn: more at once overflow its accept queue, and a
# dropped SYN is retried only after 1 s. InspIRCd answers a registration ~1 s after it (a lone
# client too), so only many in flight bring a crowd up in reasonable time.
WINDOWS = {"ngircd": 4, "inspircd": 512}
WINDOW = 64


def window(name: str) -> int:
    return WINDOWS.get(name, WINDOW)


@dataclass
class Target:
    name: str
    dialect: str  # "json" or "irc"
    server: Any  # ServerProcess, ircbench.PalaverIrc or ircbench.ExternalServer
    host: str
    port: int

    def sample(self) -> Sample:
        sample: Sample = self.server.sample()
        return sample

    def num_fds(self) -> int:
        ps = self.server.server.ps if isinstance(self.server, ircbench.PalaverIrc) \
            else self.server.ps
        return int(ps.num_fds())

    def version(self) -> str:
        if isinstance(self.server, ServerProcess):
            from importlib.metadata import version

            return f"palaver {version('palaver')}"
        return str(self.server.version())

    def log_tail(self) -> str:
        return str(self.server.log_tail())

    async def stop(self) -> None:
        await self.server.stop()


async def start(name: str) -> Target:
    if name == "palaver-json":
        server = await ServerProcess.start()
        return Target(name, "json", server, server.host, server.port)
    irc = await ircbench.start_server("palaver" if name == "palaver-irc" else name)
    return Target(name, "irc", irc, irc.host, irc.port)


async def each(names: tuple[str, ...], scenario: str,
               run_one: Callable[[Target], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """``run_one`` against a fresh server of each name; ``{"runs", "skipped", "failed"}``."""
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    failed: list[str] = []
    for name in names:
        base = "palaver" if name.startswith("palaver") else name
        if not ircbench.available(base):
            skipped[name] = f"{name} is not installed (Debian: apt-get install {name}); skipped"
            progress.say(f"[{scenario} {name}] {skipped[name]}")
            continue
        progress.say(f"[{scenario} {name}] starting")
        try:
            target = await start(name)
        except (OSError, RuntimeError) as exc:
            skipped[name] = f"could not start: {exc}"
            failed.append(name)
            continue
        try:
            run = await run_one(target)
            runs.append({"server": name, "version": target.version(), **run})
        except (OSError, RuntimeError, WorkerError, population.SetupError) as exc:
            skipped[name] = f"could not run: {exc}\nserver log:\n{target.log_tail()}"
            failed.append(name)
            progress.say(f"[{scenario} {name}] could not run: {exc}")
        finally:
            await target.stop()
    return {"runs": runs, "skipped": skipped, "failed": failed}
