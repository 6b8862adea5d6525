"""RedisBus through the fault proxy (tests/fault_proxy.py) to a real redis-server (the session's,
tests/redis_server.py; each test on a channel prefix of its own): what the bus says and does when
its link to Redis is reset, blackholed, slow, refused or cut in the middle of a message.

The bus runs with short settings (ping every 0.1 s, dead after 0.5 s without a PONG, commands
0.5 s), so that each fault is found out quickly; every wait is on the bus's receiver (Inbox) or
the proxy's counters, bounded."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable

import pytest

from palaver.bus.redis_bus import RedisBus
from tests.bus.test_bus_conformance import Inbox
from tests.fault_proxy import TO_CLIENT, FaultProxy
from tests.redis_server import RedisServer

PING_INTERVAL = 0.1
PING_TIMEOUT = 0.5
COMMAND_TIMEOUT = 0.5
CONNECT_TIMEOUT = 0.5
BACKOFF_MAX = 0.2
SLACK = 5.0  # seconds added to each bound: two shared cores, other tests running
# The longest a dead link can go unnoticed: a quiet read (ping_interval) before the PING is sent,
# then ping_timeout, checked at the next quiet read.
DOWN_WITHIN = PING_INTERVAL + PING_TIMEOUT + PING_INTERVAL


@pytest.fixture
async def proxy(redis_server: RedisServer) -> AsyncIterator[FaultProxy]:
    async with FaultProxy("127.0.0.1", redis_server.port) as proxy:
        yield proxy


@pytest.fixture
async def node(proxy: FaultProxy, redis_server: RedisServer,
               ) -> AsyncIterator[tuple[RedisBus, Inbox]]:
    bus = RedisBus(proxy.url(redis_server.url), prefix=f"test-{uuid.uuid4().hex[:12]}:",
                   connect_timeout=CONNECT_TIMEOUT, command_timeout=COMMAND_TIMEOUT,
                   ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT,
                   backoff_min=0.02, backoff_max=BACKOFF_MAX)
    inbox = Inbox()
    await bus.open(inbox)
    await inbox.all_up(1)
    await bus.subscribe("#lobby")
    yield bus, inbox
    await bus.close()


async def roundtrip(bus: RedisBus, inbox: Inbox, msg_id: int, payload: bytes = b"x") -> None:
    assert await bus.publish("#lobby", msg_id, payload)
    assert await inbox.next() == ("#lobby", msg_id, payload)


async def timed(work: Awaitable[object]) -> float:
    """How long ``work`` took, in seconds (reported, not asserted: no timing assertions)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    await work
    return loop.time() - started


async def test_reset_is_down_then_up_and_messages_flow_again(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    bus, inbox = node
    await roundtrip(bus, inbox, 1)
    assert proxy.reset() == 2  # the subscriber's connection and the publisher's
    await inbox.until(lambda: inbox.states == [(0, True), (0, False), (0, True)])
    await roundtrip(bus, inbox, 2)  # the publisher reconnects on its one retry
    assert inbox.messages.empty()


async def test_a_publish_right_after_a_reset_is_sent_or_says_false(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    """Before the subscriber has noticed the reset, a PUBLISH finds its connection dead: its
    one retry reconnects and sends it (True), or the shard is already down (False). Never an
    exception, never longer than the command timeout."""
    bus, inbox = node
    proxy.reset()
    async with asyncio.timeout(COMMAND_TIMEOUT + SLACK):
        sent = await bus.publish("#lobby", 1, b"x")
    await inbox.until(lambda: inbox.states[-1:] == [(0, True)] and len(inbox.states) == 3)
    if sent:  # sent while the subscriber was reconnecting: it may have missed it (a hint)
        while not inbox.messages.empty():  # bounded: what is queued
            assert inbox.messages.get_nowait() == ("#lobby", 1, b"x")
    await roundtrip(bus, inbox, 2)


async def test_a_blackhole_is_down_within_the_ping_timeout_and_up_after_heal(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    bus, inbox = node
    await roundtrip(bus, inbox, 1)
    proxy.blackhole()
    took = await timed(inbox.until(lambda: inbox.up[0] is False, timeout=DOWN_WITHIN + SLACK))
    assert not bus.is_up(0)
    print(f"down {took:.2f} s after the blackhole (bound {DOWN_WITHIN:.2f} s)")
    # it keeps trying: connections are accepted, then nothing answers its handshake
    opened = proxy.stats.opened
    await proxy.wait_until(lambda s: s.opened >= opened + 2)
    assert inbox.states == [(0, True), (0, False)]  # no flapping
    proxy.heal()
    await inbox.until(lambda: inbox.up[0] is True, timeout=BACKOFF_MAX + 2 * CONNECT_TIMEOUT
                      + SLACK)
    assert inbox.states == [(0, True), (0, False), (0, True)]
    await roundtrip(bus, inbox, 2)
    assert inbox.messages.empty()


async def test_a_publish_into_a_blackhole_says_false_within_the_command_timeout(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    """While the bus still thinks the shard is up, the PUBLISH is sent and no answer comes:
    False after the command timeout, not a hang. Once the shard is down: False at once."""
    bus, inbox = node
    await roundtrip(bus, inbox, 1)
    proxy.blackhole()
    assert bus.is_up(0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(COMMAND_TIMEOUT + SLACK):
        assert await bus.publish("#lobby", 2, b"swallowed") is False
    took = loop.time() - started
    assert took >= COMMAND_TIMEOUT * 0.9 or not bus.is_up(0)
    print(f"publish into the blackhole: False after {took:.2f} s "
          f"(command timeout {COMMAND_TIMEOUT} s)")
    await inbox.until(lambda: inbox.up[0] is False, timeout=DOWN_WITHIN + SLACK)
    started = loop.time()
    assert await bus.publish("#lobby", 3, b"down") is False
    assert loop.time() - started < COMMAND_TIMEOUT  # at once: it does not try
    proxy.heal()
    await inbox.until(lambda: inbox.up[0] is True)
    # the publisher's connection lost a PUBLISH and its answer; the next one must still be
    # answered right (a reused connection would be out of step): redis-py dropped it
    await roundtrip(bus, inbox, 4)
    await roundtrip(bus, inbox, 5)
    assert inbox.messages.empty()


async def test_latency_below_the_ping_timeout_changes_nothing(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    bus, inbox = node
    proxy.latency(0.05)
    for msg_id in range(1, 11):
        await roundtrip(bus, inbox, msg_id)
    assert inbox.states == [(0, True)]


async def test_a_reply_later_than_the_command_timeout_is_false_and_the_next_is_right(
    proxy: FaultProxy, redis_server: RedisServer,
) -> None:
    """A PUBLISH whose answer comes after the command timeout says False, and its connection is
    dropped (a late answer must not be taken for the next PUBLISH's). The subscriber here has a
    ping timeout longer than the delay, so it stays up and gets the message late: the PUBLISH
    was done (a hint may come though False was said: the store has the message anyway)."""
    bus = RedisBus(proxy.url(redis_server.url), prefix=f"test-{uuid.uuid4().hex[:12]}:",
                   command_timeout=COMMAND_TIMEOUT, ping_interval=PING_INTERVAL,
                   ping_timeout=5.0)
    inbox = Inbox()
    await bus.open(inbox)
    try:
        await inbox.all_up(1)
        await bus.subscribe("#lobby")
        assert await bus.publish("#lobby", 0, b"x")  # the publisher's connection is made
        assert await inbox.next() == ("#lobby", 0, b"x")
        proxy.latency(COMMAND_TIMEOUT + 0.3, TO_CLIENT)
        async with asyncio.timeout(COMMAND_TIMEOUT + SLACK):
            assert await bus.publish("#lobby", 1, b"slow") is False
        proxy.latency(0.0)
        await proxy.wait_until(lambda s: s.eof_from_client >= 1)  # redis-py closed it
        assert await inbox.next() == ("#lobby", 1, b"slow")  # late (perhaps twice: a retry)
        for msg_id in (2, 3):
            assert await bus.publish("#lobby", msg_id, b"x")
            assert await next_but(inbox, {1}) == ("#lobby", msg_id, b"x")
        assert inbox.states == [(0, True)]
    finally:
        await bus.close()


async def next_but(inbox: Inbox, stale: set[int]) -> tuple[str, int, bytes]:
    """The next message told whose id is not in ``stale`` (late repeats of those are skipped)."""
    for _ in range(100):  # bounded: a few repeats at most
        told = await inbox.next()
        if told[1] not in stale:
            return told
    raise AssertionError("only stale messages")


async def test_refused_reconnects_keep_trying_with_backoff_then_up(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    bus, inbox = node
    proxy.refuse(True)
    proxy.reset()
    await inbox.until(lambda: inbox.up[0] is False)
    assert await bus.publish("#lobby", 1, b"x") is False
    refused = proxy.stats.refused
    await proxy.wait_until(lambda s: s.refused >= refused + 3)  # retried, not given up
    assert inbox.states == [(0, True), (0, False)]
    proxy.refuse(False)
    await inbox.until(lambda: inbox.up[0] is True, timeout=BACKOFF_MAX + SLACK)
    await roundtrip(bus, inbox, 2)


async def test_a_message_cut_in_the_middle_is_down_up_and_the_next_flows(
    node: tuple[RedisBus, Inbox], proxy: FaultProxy,
) -> None:
    """The subscriber's connection is cut inside a message frame: the bus drops the half
    message (the store has it), says down, reconnects, says up; later messages flow."""
    bus, inbox = node
    await roundtrip(bus, inbox, 1)
    proxy.cut_after(100, TO_CLIENT, current=True)  # both connections: the frame is 4 kB
    assert await bus.publish("#lobby", 2, b"m" * 4000)  # the publisher's answer: 4 bytes
    await proxy.wait_until(lambda s: s.cuts >= 1)
    await inbox.until(lambda: inbox.states == [(0, True), (0, False), (0, True)])
    assert proxy.stats.cuts == 1  # the publisher's connection carried less than 100 bytes
    assert inbox.messages.empty()  # half a message is no message
    await roundtrip(bus, inbox, 3)
    await roundtrip(bus, inbox, 4)
