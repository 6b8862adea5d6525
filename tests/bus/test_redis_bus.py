"""RedisBus when Redis goes away: it says down, reconnects with bounded backoff when Redis is
back, says up, and what was subscribed is subscribed again (real redis-server processes of the
test's own, tests/redis_server.py). Every wait is on an event, bounded."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from palaver.bus.redis_bus import RedisBus, redacted
from tests.bus.test_bus_conformance import Inbox
from tests.redis_server import RedisServer, _free_port


def quick_bus(urls: str | list[str]) -> RedisBus:
    return RedisBus(urls, prefix=f"test-{uuid.uuid4().hex[:12]}:", connect_timeout=1.0,
                    command_timeout=1.0, ping_interval=0.1, ping_timeout=0.5,
                    backoff_min=0.02, backoff_max=0.2)


@pytest.fixture
async def node(redis_own: RedisServer) -> AsyncIterator[tuple[RedisBus, Inbox]]:
    bus, inbox = quick_bus(redis_own.url), Inbox()
    await bus.open(inbox)
    await inbox.all_up(1)
    yield bus, inbox
    await bus.close()


async def roundtrip(bus: RedisBus, inbox: Inbox, conversation: str, msg_id: int) -> None:
    assert await bus.publish(conversation, msg_id, b"x")
    assert await inbox.next() == (conversation, msg_id, b"x")


async def test_a_killed_redis_is_down_then_up_when_back(
    node: tuple[RedisBus, Inbox], redis_own: RedisServer,
) -> None:
    bus, inbox = node
    await bus.subscribe("#lobby")
    await roundtrip(bus, inbox, "#lobby", 1)
    redis_own.kill()
    await inbox.until(lambda: inbox.up[0] is False)
    assert not bus.is_up(0)
    assert await bus.publish("#lobby", 2, b"lost") is False  # at once: the store has it
    await bus.subscribe("#while-down")  # made when it is back, before it says up
    redis_own.start()  # the same port
    await inbox.until(lambda: inbox.up[0] is True)
    assert inbox.states == [(0, True), (0, False), (0, True)]
    await roundtrip(bus, inbox, "#lobby", 3)
    await roundtrip(bus, inbox, "#while-down", 1)
    assert inbox.messages.empty()


async def test_a_dropped_connection_reconnects(
    node: tuple[RedisBus, Inbox], redis_own: RedisServer,
) -> None:
    bus, inbox = node
    await bus.subscribe("#lobby")
    admin = Redis.from_url(redis_own.url)
    try:
        killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    finally:
        await admin.aclose()
    assert killed == 1
    await inbox.until(lambda: inbox.states[-1:] == [(0, True)] and len(inbox.states) == 3)
    assert inbox.states == [(0, True), (0, False), (0, True)]
    await roundtrip(bus, inbox, "#lobby", 1)


async def test_a_redis_that_stops_answering_is_down(
    node: tuple[RedisBus, Inbox], redis_own: RedisServer,
) -> None:
    """A frozen server (SIGSTOP: the connection stays open, nothing answers) is found out by
    the PINGs; when it thaws, the bus is up again."""
    bus, inbox = node
    await bus.subscribe("#lobby")
    assert redis_own.process is not None
    pid = redis_own.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        await inbox.until(lambda: inbox.up[0] is False)
    finally:
        os.kill(pid, signal.SIGCONT)
    await inbox.until(lambda: inbox.up[0] is True)
    await roundtrip(bus, inbox, "#lobby", 1)


async def test_no_redis_yet_costs_nothing_and_it_comes_up_later() -> None:
    port = _free_port()
    bus, inbox = quick_bus(f"redis://127.0.0.1:{port}/0"), Inbox()
    await bus.open(inbox)
    server = RedisServer()
    try:
        await bus.subscribe("#lobby")  # returns at once: made on connect
        assert await bus.publish("#lobby", 1, b"x") is False
        assert inbox.states == []
        server.port = port
        server.start()
        await inbox.until(lambda: inbox.up.get(0) is True)
        await roundtrip(bus, inbox, "#lobby", 2)
    finally:
        await bus.close()
        server.remove()


async def test_a_shard_down_leaves_the_other_up(redis_own: RedisServer,
                                                redis_server: RedisServer) -> None:
    bus, inbox = quick_bus([redis_own.url, redis_server.url]), Inbox()
    await bus.open(inbox)
    try:
        await inbox.all_up(2)
        on_own = next(f"#r{n}" for n in range(1000) if bus.shard_of(f"#r{n}") == 0)
        on_other = next(f"#r{n}" for n in range(1000) if bus.shard_of(f"#r{n}") == 1)
        await bus.subscribe(on_own)
        await bus.subscribe(on_other)
        redis_own.kill()
        await inbox.until(lambda: inbox.up[0] is False)
        assert inbox.up[1] is True
        assert await bus.publish(on_own, 1, b"x") is False
        await roundtrip(bus, inbox, on_other, 1)
        redis_own.start()
        await inbox.until(lambda: inbox.up[0] is True)
        await roundtrip(bus, inbox, on_own, 2)
    finally:
        await bus.close()


async def test_close_while_reconnecting_is_prompt() -> None:
    with socket.socket() as sock:  # a port that accepts nothing
        sock.bind(("127.0.0.1", 0))
        url = f"redis://127.0.0.1:{sock.getsockname()[1]}/0"
        bus = RedisBus(url, backoff_min=5.0, backoff_max=5.0)
        await bus.open(Inbox())
        async with asyncio.timeout(3):
            await bus.close()


def test_passwords_are_not_logged() -> None:
    assert redacted("redis://:secret@host:6379/0") == "redis://:***@host:6379/0"
    assert redacted("redis://user:secret@host/0") == "redis://user:***@host/0"
    assert redacted("redis://host:6379/0") == "redis://host:6379/0"
