"""One conformance suite for every Bus backend: LocalBus, RedisBus on one Redis server, and
RedisBus sharded over two (real redis-server processes, tests/redis_server.py; skipped, saying
why, when Redis is not installed). Each test makes a few nodes (buses) on one bus."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from palaver.bus import Bus, BusError, LocalBroker, LocalBus
from tests.redis_server import RedisServer

WAIT = 10.0  # seconds any one wait may take before the test fails


class Inbox:
    """A BusReceiver that keeps what it is told, and lets a test wait for it (bounded)."""

    def __init__(self) -> None:
        self.messages: asyncio.Queue[tuple[str, int, bytes]] = asyncio.Queue()
        self.states: list[tuple[int, bool]] = []
        self.up: dict[int, bool] = {}
        self._changed = asyncio.Event()

    def bus_message(self, conversation: str, msg_id: int, payload: bytes) -> None:
        self.messages.put_nowait((conversation, msg_id, payload))

    def bus_state(self, shard: int, up: bool) -> None:
        self.states.append((shard, up))
        self.up[shard] = up
        self._changed.set()

    async def next(self) -> tuple[str, int, bytes]:
        async with asyncio.timeout(WAIT):
            return await self.messages.get()

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():  # bounded by the timeout
                self._changed.clear()
                await self._changed.wait()

    async def all_up(self, shards: int) -> None:
        await self.until(lambda: all(self.up.get(s) for s in range(shards)))


Node = tuple[Bus, Inbox]
MakeNode = Callable[[], Awaitable[Node]]


@pytest.fixture(params=["local", "redis", "redis-2-shards"])
async def make_node(request: pytest.FixtureRequest) -> AsyncIterator[MakeNode]:
    """Makes nodes on one bus, each open and up; closes them at the end."""
    made: list[Bus] = []
    broker = LocalBroker()
    urls: list[str] = []
    if request.param == "redis":
        urls = [request.getfixturevalue("redis_server").url]
    elif request.param == "redis-2-shards":
        urls = [server.url for server in request.getfixturevalue("redis_servers")]
    prefix = f"test-{uuid.uuid4().hex[:12]}:"  # tests sharing a server keep apart

    async def make() -> Node:
        bus: Bus
        if urls:
            from palaver.bus.redis_bus import RedisBus

            bus = RedisBus(urls, prefix=prefix)
        else:
            bus = LocalBus(broker)
        inbox = Inbox()
        made.append(bus)
        await bus.open(inbox)
        await inbox.all_up(bus.shards)
        return bus, inbox

    yield make
    for bus in made:
        await bus.close()


def same_shard(bus: Bus, conversation: str) -> str:
    """Another conversation on the shard of ``conversation`` (the order of what is published
    holds within a shard only)."""
    for n in itertools.count():  # bounded: about one in ``shards`` names will do
        other = f"#marker{n}"
        if bus.shard_of(other) == bus.shard_of(conversation):
            return other
        assert n < 1000
    raise AssertionError("unreachable")


async def test_every_shard_says_up(make_node: MakeNode) -> None:
    bus, inbox = await make_node()
    assert sorted(inbox.states) == [(shard, True) for shard in range(bus.shards)]


async def test_every_subscriber_receives_what_is_published(make_node: MakeNode) -> None:
    (a, a_in), (b, b_in), (c, c_in) = await make_node(), await make_node(), await make_node()
    await a.subscribe("#lobby")
    await b.subscribe("#lobby")
    assert await a.publish("#lobby", 7, b"hello") is True
    assert await a_in.next() == ("#lobby", 7, b"hello")  # its own, too
    assert await b_in.next() == ("#lobby", 7, b"hello")
    marker = same_shard(c, "#lobby")
    await c.subscribe(marker)
    await a.publish(marker, 1, b"after")
    assert await c_in.next() == (marker, 1, b"after")  # c was not subscribed to #lobby
    assert c_in.messages.empty()


async def test_payloads_and_ids_arrive_as_sent(make_node: MakeNode) -> None:
    (a, _), (b, b_in) = await make_node(), await make_node()
    conversation = "@alice,bob"
    await b.subscribe(conversation)
    sent = [(1, b""), (2, bytes(range(256))), (2**63 - 1, b"\x00" * 70_000),
            (3, "ünïcødé ✓".encode())]
    for msg_id, payload in sent:
        assert await a.publish(conversation, msg_id, payload)
    assert [await b_in.next() for _ in sent] == [(conversation, i, p) for i, p in sent]


async def test_order_is_kept_per_conversation(make_node: MakeNode) -> None:
    (a, _), (b, b_in) = await make_node(), await make_node()
    await b.subscribe("#busy")
    for msg_id in range(1, 301):
        await a.publish("#busy", msg_id, b"%d" % msg_id)
    got = [await b_in.next() for _ in range(300)]
    assert [msg_id for _, msg_id, _ in got] == list(range(1, 301))


async def test_conversations_are_kept_apart(make_node: MakeNode) -> None:
    (a, _), (b, b_in) = await make_node(), await make_node()
    names = [f"#room{n}" for n in range(20)]
    for name in names[::2]:
        await b.subscribe(name)
    for n, name in enumerate(names):
        await a.publish(name, n, name.encode())
    got = sorted([await b_in.next() for _ in names[::2]])
    assert got == sorted((name, n, name.encode()) for n, name in enumerate(names) if n % 2 == 0)
    marker = same_shard(b, names[-1])
    await b.subscribe(marker)
    await a.publish(marker, 1, b"end")
    assert await b_in.next() == (marker, 1, b"end")
    assert b_in.messages.empty()


async def test_subscribing_twice_is_once_and_unsubscribe_stops(make_node: MakeNode) -> None:
    (a, _), (b, b_in) = await make_node(), await make_node()
    await b.subscribe("#x")
    await b.subscribe("#x")
    await a.publish("#x", 1, b"one")
    assert await b_in.next() == ("#x", 1, b"one")
    await b.unsubscribe("#x")
    await b.unsubscribe("#x")  # twice is once
    await b.unsubscribe("#never")
    marker = same_shard(b, "#x")
    await b.subscribe(marker)
    await a.publish("#x", 2, b"two")
    await a.publish(marker, 1, b"end")
    assert await b_in.next() == (marker, 1, b"end")
    assert b_in.messages.empty()


async def test_close_tells_nothing_more(make_node: MakeNode) -> None:
    (a, _), (b, b_in) = await make_node(), await make_node()
    (c, c_in) = await make_node()
    await b.subscribe("#x")
    await c.subscribe("#x")
    await b.close()
    await b.close()  # twice is once
    with pytest.raises(BusError):
        await b.publish("#x", 1, b"")
    with pytest.raises(BusError):
        await b.subscribe("#y")
    await a.publish("#x", 1, b"after")
    assert await c_in.next() == ("#x", 1, b"after")
    assert b_in.messages.empty()


async def test_conversations_are_spread_over_the_shards(make_node: MakeNode) -> None:
    (a, _), (b, b_in) = await make_node(), await make_node()
    names = [f"#shard{n}" for n in range(40)]
    shards = {a.shard_of(name) for name in names}
    assert shards == set(range(a.shards))
    assert all(a.shard_of(name) == b.shard_of(name) for name in names)  # stable
    for name in names:
        await b.subscribe(name)
    for n, name in enumerate(names):
        await a.publish(name, n + 1, b"x")
    got = {(conversation, msg_id) for conversation, msg_id, _ in
           [await b_in.next() for _ in names]}
    assert got == {(name, n + 1) for n, name in enumerate(names)}


# ---------------------------------------------------------------------- LocalBus only


async def test_a_local_bus_down_loses_what_is_published_and_says_so() -> None:
    broker = LocalBroker()
    a, b = LocalBus(broker), LocalBus(broker)
    a_in, b_in = Inbox(), Inbox()
    await a.open(a_in)
    await b.open(b_in)
    await b_in.all_up(1)
    await b.subscribe("#x")
    broker.set_up(False)
    assert await a.publish("#x", 1, b"lost") is False
    await b_in.until(lambda: b_in.up[0] is False)
    broker.set_up(True)
    await b_in.until(lambda: b_in.up[0] is True)
    assert b_in.states == [(0, True), (0, False), (0, True)]
    assert await a.publish("#x", 2, b"kept")
    assert await b_in.next() == ("#x", 2, b"kept")
    assert b_in.messages.empty()
    await a.close()
    await b.close()


async def test_a_local_bus_is_not_reentered_by_publish() -> None:
    bus = LocalBus()
    inbox = Inbox()
    await bus.open(inbox)
    await bus.subscribe("#x")
    await bus.publish("#x", 1, b"")
    assert inbox.messages.empty()  # told on the loop's next turn
    assert await inbox.next() == ("#x", 1, b"")
    with pytest.raises(BusError):
        await bus.open(inbox)
    await bus.close()


async def test_a_sharded_redis_bus_uses_both_servers(redis_servers: list[RedisServer]) -> None:
    """Each conversation's channel is on its shard's server, and only there."""
    from redis.asyncio import Redis

    from palaver.bus.redis_bus import RedisBus

    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    bus = RedisBus([server.url for server in redis_servers], prefix=prefix)
    inbox = Inbox()
    await bus.open(inbox)
    try:
        await inbox.all_up(2)
        names = [f"#s{n}" for n in range(20)]
        for name in names:
            await bus.subscribe(name)
        for index, server in enumerate(redis_servers):
            client = Redis.from_url(server.url)
            try:
                channels = {c.decode() for c in await client.pubsub_channels(f"{prefix}*")}
            finally:
                await client.aclose()
            assert channels == {prefix + name for name in names if bus.shard_of(name) == index}
    finally:
        await bus.close()
