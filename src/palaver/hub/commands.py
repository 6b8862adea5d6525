"""Server commands (COMMAND frames, ``/time`` and friends): a registry, one function per command.

A command gets a :class:`CommandContext` (who asks, the time, a random source — all passed in, so
the hub stays pure) and the arguments, and returns the result text or raises :class:`PeerError`
with ``invalid_args``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from palaver.protocol.errors import ErrorCode, PeerError

Arg = str | int | float
CommandFn = Callable[["CommandContext", Sequence[Arg]], str]


@dataclass(frozen=True, slots=True)
class CommandContext:
    nick: str
    now: float
    rng: random.Random
    registry: CommandRegistry


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    summary: str
    run: CommandFn


class CommandRegistry:
    """Name -> command. ``register`` is a decorator: adding a command is writing one function."""

    def __init__(self) -> None:
        self._commands: dict[str, Command] = {}

    def register(self, name: str, usage: str, summary: str) -> Callable[[CommandFn], CommandFn]:
        def add(fn: CommandFn) -> CommandFn:
            self._commands[name] = Command(name, usage, summary, fn)
            return fn

        return add

    def get(self, name: str) -> Command | None:
        return self._commands.get(name)

    def __iter__(self) -> Iterator[Command]:
        return iter(sorted(self._commands.values(), key=lambda c: c.name))

    def run(self, name: str, ctx: CommandContext, args: Sequence[Arg]) -> str:
        command = self._commands.get(name)
        if command is None:
            raise PeerError(ErrorCode.UNKNOWN_COMMAND, f"no command {name!r}; try 'help'")
        return command.run(ctx, args)


COMMANDS: Final = CommandRegistry()

JOKES: Final = (
    "There are 10 kinds of people: those who understand binary and those who don't.",
    "A SQL query walks into a bar, goes up to two tables and asks: may I join you?",
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    "I would tell you a UDP joke, but you might not get it.",
    "Knock knock. Race condition. Who's there?",
    "The two hardest things in computing: cache invalidation, naming things, and off-by-one "
    "errors.",
    "Why did the TCP packet get a therapist? It had unresolved acknowledgement issues.",
    "An IRC user walks into a bar. *** bar has quit (Ping timeout: 120 seconds)",
)


@COMMANDS.register("help", "help", "list the server commands")
def _help(ctx: CommandContext, args: Sequence[Arg]) -> str:
    return "\n".join(f"{c.usage} - {c.summary}" for c in ctx.registry)


@COMMANDS.register("time", "time", "the server's current time (UTC)")
def _time(ctx: CommandContext, args: Sequence[Arg]) -> str:
    return datetime.fromtimestamp(ctx.now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@COMMANDS.register("joke", "joke", "a programming joke")
def _joke(ctx: CommandContext, args: Sequence[Arg]) -> str:
    return ctx.rng.choice(JOKES)


@COMMANDS.register("echo", "echo <words...>", "say the words back")
def _echo(ctx: CommandContext, args: Sequence[Arg]) -> str:
    return " ".join(format_number(a) if not isinstance(a, str) else a for a in args)


@COMMANDS.register("sum", "sum <numbers...>", "add up the numbers")
def _sum(ctx: CommandContext, args: Sequence[Arg]) -> str:
    numbers = [parse_number(a) for a in args]
    try:
        if any(isinstance(n, float) for n in numbers):
            return format_number(math.fsum(numbers))
        return format_number(sum(numbers))
    except (OverflowError, ValueError):  # beyond floats, or an integer too long to print
        raise PeerError(ErrorCode.INVALID_ARGS, "the sum is out of range") from None


def parse_number(value: Arg) -> int | float:
    """A finite number from a JSON number or a numeric string; ``invalid_args`` otherwise."""
    if isinstance(value, bool):
        raise PeerError(ErrorCode.INVALID_ARGS, "sum takes numbers")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            number: int | float = int(value)
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                raise PeerError(ErrorCode.INVALID_ARGS, f"not a number: {value[:40]!r}") from None
    else:
        number = value
    if isinstance(number, float) and not math.isfinite(number):
        raise PeerError(ErrorCode.INVALID_ARGS, "sum takes finite numbers")
    return number


def format_number(value: int | float) -> str:
    """``6.5`` stays ``6.5``; a float with no fraction prints as an integer (``3.0`` -> ``3``)."""
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    return str(value)
