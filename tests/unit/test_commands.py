"""Server commands (hub/commands.py): help, time, joke, echo, sum, and adding one."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from palaver.hub import Deliver, Hub
from palaver.hub.commands import (
    COMMANDS,
    JOKES,
    Arg,
    CommandContext,
    CommandRegistry,
    format_number,
    parse_number,
)
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Error, Hello, Result, RunCommand

NOW = 1_700_000_000.9  # 2023-11-14 22:13:20.9 UTC


def ctx(seed: int = 42, now: float = NOW) -> CommandContext:
    return CommandContext(nick="alice", now=now, rng=random.Random(seed), registry=COMMANDS)


def run(name: str, *args: Arg, context: CommandContext | None = None) -> str:
    return COMMANDS.run(name, context or ctx(), args)


def refused(name: str, *args: Arg) -> PeerError:
    with pytest.raises(PeerError) as info:
        run(name, *args)
    return info.value


# --------------------------------------------------------------------------- help


def test_help_lists_every_command_sorted_with_usage_and_summary() -> None:
    lines = run("help").split("\n")
    assert lines == [f"{c.usage} - {c.summary}" for c in COMMANDS]
    assert [line.split()[0] for line in lines] == ["echo", "help", "joke", "sum", "time"]
    assert "sum <numbers...> - add up the numbers" in lines


def test_help_ignores_arguments() -> None:
    assert run("help", "sum", 3) == run("help")


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize(
    ("now", "text"),
    [
        (NOW, "2023-11-14 22:13:20 UTC"),
        (0.0, "1970-01-01 00:00:00 UTC"),
        (1_795_000_000.999, "2026-11-18 11:06:40 UTC"),  # truncated, not rounded
        (951_782_400.0, "2000-02-29 00:00:00 UTC"),
    ],
)
def test_time_is_utc_to_the_second(now: float, text: str) -> None:
    assert run("time", context=ctx(now=now)) == text


# --------------------------------------------------------------------------- joke


def test_joke_comes_from_the_context_rng() -> None:
    assert run("joke", context=ctx(seed=1)) == random.Random(1).choice(JOKES)
    assert run("joke", context=ctx(seed=1)) == run("joke", context=ctx(seed=1))
    context = ctx(seed=5)
    told = {run("joke", context=context) for _ in range(200)}
    assert told == set(JOKES)


# --------------------------------------------------------------------------- echo


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((), ""),
        (("hello",), "hello"),
        (("hello", "world"), "hello world"),
        (("  spaced  ",), "  spaced  "),
        ((1, 2.5, "x"), "1 2.5 x"),
        ((3.0, -0.0), "3 0"),
        ((1e20, 10**20), "1e+20 100000000000000000000"),
    ],
)
def test_echo(args: tuple[Arg, ...], text: str) -> None:
    assert run("echo", *args) == text


# --------------------------------------------------------------------------- sum


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((), "0"),
        ((1, 2, 3), "6"),
        ((1, 2.5, "3"), "6.5"),
        (("1.5", "2"), "3.5"),
        (("-4", 4), "0"),
        ((1.5, 1.5), "3"),
        ((0.1, 0.2), "0.30000000000000004"),
        ((0.1,) * 10, "1"),  # fsum: exactly rounded
        (("1e3", " 7 "), "1007"),
        ((10**30, 1), "1000000000000000000000000000001"),
        ((1e16, 2.0), "1.0000000000000002e+16"),
    ],
)
def test_sum(args: tuple[Arg, ...], text: str) -> None:
    assert run("sum", *args) == text


@pytest.mark.parametrize(
    "args",
    [("x",), (1, "two"), ("",), ("0x10",), ("nan",), ("inf",), ("-Infinity",), (True,),
     (float("nan"),), (float("inf"),), ("1" * 5_000,)],
)
def test_sum_of_non_numbers_is_invalid_args(args: tuple[Arg, ...]) -> None:
    assert refused("sum", *args).code is ErrorCode.INVALID_ARGS


@pytest.mark.parametrize(
    "args",
    [(1e308, 1e308), ("1e308", "1e308"), (10**400, 0.5), (int("9" * 4_300), int("9" * 4_300))],
    ids=["float-overflow", "string-overflow", "int-to-float", "over-4300-digits"],
)
def test_sum_out_of_range_is_invalid_args(args: tuple[Arg, ...]) -> None:
    assert refused("sum", *args).code is ErrorCode.INVALID_ARGS


def test_parse_number() -> None:
    assert parse_number(7) == 7 and isinstance(parse_number(7), int)
    assert parse_number("7") == 7 and isinstance(parse_number("7"), int)
    assert parse_number("7.0") == 7.0 and isinstance(parse_number("7.0"), float)
    assert parse_number(-2.5) == -2.5
    with pytest.raises(PeerError):
        parse_number(False)


@pytest.mark.parametrize(
    ("value", "text"),
    [(6.5, "6.5"), (3.0, "3"), (-0.0, "0"), (7, "7"), (1e16, "1e+16"), (1e15, "1000000000000000"),
     (0.1, "0.1"), (-2.25, "-2.25")],
)
def test_format_number(value: float, text: str) -> None:
    assert format_number(value) == text


# --------------------------------------------------------------------------- unknown, new


@pytest.mark.parametrize("name", ["nope", "", "HELP", " help", "help "])
def test_unknown_commands(name: str) -> None:
    error = refused(name)
    assert error.code is ErrorCode.UNKNOWN_COMMAND
    assert "help" in error.message


def test_a_new_command_is_one_registered_function() -> None:
    registry = CommandRegistry()

    @registry.register("shout", "shout <words...>", "say the words loudly")
    def shout(context: CommandContext, args: Sequence[Arg]) -> str:
        return f"{context.nick}: " + " ".join(str(a) for a in args).upper()

    assert registry.run("shout", ctx(), ("hi", 2)) == "alice: HI 2"
    assert [c.name for c in registry] == ["shout"]
    command = registry.get("shout")
    assert command is not None and command.usage == "shout <words...>"
    assert command.run is shout
    assert registry.get("help") is None

    hub = Hub(rng=random.Random(0), commands=registry)
    hub.open_session(1)
    hub.handle(1, Hello(version=1, nick="bob"), NOW)
    effects = hub.handle(1, RunCommand(name="shout", args=("ok",), id="c1"), NOW)
    assert effects == [Deliver(Result(id="c1", name="shout", result="bob: OK"), (1,))]
    [refusal] = hub.handle(1, RunCommand(name="sum", args=(1,), id="c2"), NOW)
    assert isinstance(refusal, Deliver) and isinstance(refusal.event, Error)
    assert refusal.event.code == "unknown_command" and refusal.event.id == "c2"


def test_a_command_registered_globally_shows_in_help(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(COMMANDS, "_commands", dict(COMMANDS._commands))

    @COMMANDS.register("dice", "dice", "roll a die")
    def dice(context: CommandContext, args: Sequence[Arg]) -> str:
        return str(context.rng.randint(1, 6))

    assert "dice - roll a die" in run("help").split("\n")
    assert run("dice", context=ctx(seed=3)) == str(random.Random(3).randint(1, 6))


def test_commands_run_through_the_hub_answer_with_result() -> None:
    hub = Hub(rng=random.Random(0))
    hub.open_session(1)
    hub.handle(1, Hello(version=1, nick="bob"), NOW)
    [answer] = hub.handle(1, RunCommand(name="sum", args=(1, 2.5, "3"), id="s"), NOW)
    assert answer == Deliver(Result(id="s", name="sum", result="6.5"), (1,))
    [answer] = hub.handle(1, RunCommand(name="time"), NOW)
    assert answer == Deliver(Result(name="time", result="2023-11-14 22:13:20 UTC"), (1,))
    [answer] = hub.handle(1, RunCommand(name="sum", args=("x",), id="bad"), NOW)
    assert isinstance(answer, Deliver) and isinstance(answer.event, Error)
    assert (answer.event.code, answer.event.id) == ("invalid_args", "bad")
