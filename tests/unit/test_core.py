"""The server core with fake connections: effects carried out, bugs contained."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import get_args

import msgspec
import pytest

from palaver.hub import Hub
from palaver.hub.commands import COMMANDS, CommandRegistry
from palaver.hub.effects import Deliver, Effect, Persist
from palaver.protocol.jsonl import decode_server_frame, encode
from palaver.protocol.messages import (
    Error,
    Hello,
    Message,
    Result,
    RunCommand,
    Say,
    ServerMessage,
)
from palaver.server.core import ServerCore
from palaver.server.liveness import Timeouts
from palaver.server.passwords import Passwords
from palaver.store.memory import MemoryStore


class FakeConnection:
    encode_key = "json"
    resends = True
    encode = staticmethod(encode)

    def __init__(self) -> None:
        self.sid = 0
        self.opened_at = self.last_seen = 0.0
        self.pinged = False
        self.peer = "test"
        self.sent: list[bytes] = []
        self.queued: list[bytes] = []

    def send(self, data: bytes) -> None:
        self.queued.append(data)

    def send_each(self, conns: list[FakeConnection], data: bytes,
                  skip: FakeConnection | None) -> int:
        for conn in conns:
            if conn is not skip:
                conn.send(data)
        return sum(conn is not skip for conn in conns)

    def flush(self) -> None:
        self.sent.extend(self.queued)
        self.queued.clear()

    def close(self, farewell: bytes | None) -> None:
        self.flush()

    def abort(self) -> None:
        self.queued.clear()

    def hold(self) -> None: ...

    def release(self, first: list[bytes]) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def frames(self) -> list[ServerMessage]:
        self.flush()
        return [decode_server_frame(b.rstrip(b"\n")) for b in self.sent]


def broken_registry() -> CommandRegistry:
    registry = CommandRegistry()
    for command in COMMANDS:
        registry.register(command.name, command.usage, command.summary)(command.run)

    @registry.register("crash", "crash", "a command with a bug")
    def _crash(ctx: object, args: object) -> str:
        raise RuntimeError("secret internals")

    return registry


async def test_a_bug_in_a_handler_is_an_internal_error_and_the_session_goes_on() -> None:
    core = ServerCore(Hub(commands=broken_registry()), MemoryStore(),
                      Passwords(time_cost=1, memory_kib=8), timeouts=Timeouts(),
                      send_queue_limit=65_536)
    conn = FakeConnection()
    conn.sid = core.attach(conn)
    core.receive(conn, Hello(version=1, nick="alice"))
    core.receive(conn, RunCommand(id="boom", name="crash"))
    core.receive(conn, RunCommand(id="ok", name="echo", args=("still", "here")))
    frames = conn.frames()
    error = next(f for f in frames if isinstance(f, Error))
    assert (error.code, error.id) == ("internal_error", "boom")
    assert "secret" not in msgspec.json.encode(error).decode()
    assert frames[-1] == Result(id="ok", name="echo", result="still here")


async def test_a_welcomed_connection_has_no_handshake_deadline_left() -> None:
    core = ServerCore(Hub(), MemoryStore(), Passwords(time_cost=1, memory_kib=8),
                      timeouts=Timeouts(), send_queue_limit=65_536)
    waiting, welcomed = FakeConnection(), FakeConnection()
    for conn in (waiting, welcomed):
        conn.opened_at = 5.0
        conn.sid = core.attach(conn)
    core.receive(welcomed, Hello(version=1, nick="alice"))
    assert (waiting.opened_at, welcomed.opened_at) == (5.0, 0.0)  # (its float let go)


class FlakyStore(MemoryStore):
    """A store whose first ``append`` fails, as a full disk would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 1

    async def append(self, batch):  # type: ignore[no-untyped-def]
        if self.failures:
            self.failures -= 1
            raise OSError("disk full")
        return await super().append(batch)


async def test_a_resend_during_a_failed_commit_is_not_acknowledged() -> None:
    store = FlakyStore()
    core = ServerCore(Hub(), store, Passwords(time_cost=1, memory_kib=8), timeouts=Timeouts(),
                      send_queue_limit=65_536)
    conn = FakeConnection()
    conn.sid = core.attach(conn)
    core.receive(conn, Hello(version=1, nick="alice"))
    core.receive(conn, Say(id="m", room="#lobby", text="hi"))
    core.receive(conn, Say(id="m", room="#lobby", text="hi"))  # before the store answered
    await core.pipeline.wait_idle()
    replies = [f for f in conn.frames() if isinstance(f, Error | Message)]
    assert [(type(r).__name__, r.id) for r in replies] == [("Error", "m"), ("Error", "m")]
    assert all(r.code == "unavailable" for r in replies if isinstance(r, Error))
    assert (await store.last_ids()) == {}
    core.receive(conn, Say(id="m", room="#lobby", text="hi"))  # the client tries again
    await core.pipeline.wait_idle()
    ack = conn.frames()[-1]
    assert isinstance(ack, Message) and ack.id == "m" and ack.text == "hi"
    assert (await store.last_ids()) == {"#lobby": ack.msg_id}


async def test_every_kind_of_effect_is_carried_out_in_one_place() -> None:
    """Delivered or stored by the core itself, carried out by a handler of its table, or asked
    of the store in its place in the pipeline's queue: each kind of effect is in exactly one of
    these (one in none would be dropped in silence; an ask never reaches the table)."""
    core = ServerCore(Hub(), MemoryStore(), Passwords(time_cost=1, memory_kib=8),
                      timeouts=Timeouts(), send_queue_limit=65_536)
    places = [{Deliver, Persist}, set(core._handlers), set(core.pipeline._asks)]
    assert set().union(*places) == set(get_args(Effect))
    assert sum(len(place) for place in places) == len(get_args(Effect))


class RecordingLoop:
    """The running loop, with what the core asks of it to flush written down."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.asked: list[tuple[str, float]] = []

    def call_soon(self, callback: Callable[[], object]) -> asyncio.Handle:
        self.asked.append(("soon", 0.0))
        return self.loop.call_soon(callback)

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        self.asked.append(("later", round(delay, 6)))
        return self.loop.call_later(delay, callback)

    def __getattr__(self, name: str) -> object:
        return getattr(self.loop, name)


class SlowFlush(FakeConnection):
    """A connection whose writes take ``took`` seconds of the test's clock."""

    def __init__(self, clock: list[float], took: float) -> None:
        super().__init__()
        self.clock, self.took = clock, took

    def flush(self) -> None:
        self.clock[0] += self.took
        super().flush()


@pytest.mark.parametrize(("coalesce", "took", "then"), [
    (0.005, 0.002, ("later", 0.005)),  # 4 × 2 ms, at most 5 ms
    (0.005, 0.0005, ("later", 0.002)),  # 4 × 0.5 ms
    (0.005, 0.0001, ("soon", 0.0)),  # 0.4 ms: not worth a timer
    (0.0, 0.002, ("soon", 0.0)),  # off: every loop turn
])
async def test_after_a_long_flush_the_next_writes_wait_a_little(
        coalesce: float, took: float, then: tuple[str, float]) -> None:
    core = ServerCore(Hub(), MemoryStore(), Passwords(time_cost=1, memory_kib=8),
                      timeouts=Timeouts(), send_queue_limit=65_536, write_coalesce=coalesce)
    clock = [100.0]
    core._perf_counter = lambda: clock[0]
    loop = RecordingLoop(asyncio.get_running_loop())
    core._loop = loop  # type: ignore[assignment]
    slow = SlowFlush(clock, took)
    core.mark_dirty(slow)
    core._flush()  # as the loop would
    assert loop.asked == [("soon", 0.0)]  # nothing flushed before: at once
    core.mark_dirty(FakeConnection())  # the next write, right after
    assert loop.asked[1] == then
    core.mark_dirty(FakeConnection())  # already waiting: no second call
    assert len(loop.asked) == 2


async def test_a_grouped_audience_counts_its_deliveries_and_never_renders_for_the_skipped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from palaver.server import core as server_core

    monkeypatch.setattr(server_core, "GROUPED_MIN", 2)

    class Other(FakeConnection):
        encode_key = "other"
        encoded = 0

        def encode(self, event: object) -> bytes:  # type: ignore[override]
            Other.encoded += 1
            return encode(event)  # type: ignore[arg-type]

    core = ServerCore(Hub(), MemoryStore(), Passwords(time_cost=1, memory_kib=8),
                      timeouts=Timeouts(), send_queue_limit=65_536)
    conns = [FakeConnection(), Other(), FakeConnection(), FakeConnection()]
    sender, other = conns[:2]
    for conn in conns:
        conn.sid = core.attach(conn)
    audience = tuple(conn.sid for conn in conns)
    event = Message(room="#r", sender="a", text="hi", msg_id=1, ts="2026-01-01T00:00:00.000Z")
    before = core.metrics.deliveries
    for _ in range(2):  # seen once, then grouped: the same either way
        core._deliver(Deliver(event, audience, skip=sender.sid))
        core._deliver(Deliver(event, audience, skip=other.sid))
    assert core.metrics.deliveries - before == 4 * 3
    assert [len(conn.queued) for conn in conns] == [2, 2, 4, 4]
    assert Other.encoded == 2  # rendered for "other" only when it was not the one skipped
