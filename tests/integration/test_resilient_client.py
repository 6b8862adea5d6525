"""ResilientClient against the real server, through a proxy that cuts connections: nothing lost,
nothing stored twice, nothing shown twice; and across a server restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from palaver.client import (
    Backoff,
    Client,
    ClientEvent,
    Disconnected,
    Reconnected,
    Reconnecting,
    ResilientClient,
)
from palaver.client.connection import ServerError
from palaver.protocol.jsonl import decode_client_frame, encode
from palaver.protocol.messages import (
    Error,
    Gap,
    Hello,
    History,
    HistoryPage,
    Join,
    Message,
    Quit,
    Register,
    RunCommand,
    Say,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.faultproxy import FaultProxy

TIMEOUT = 60.0
FAST = Backoff(initial=0.01, maximum=0.2)
PASSWORD = "correct horse battery"
Connect = Callable[..., Awaitable[Client]]
StartServer = Callable[..., Awaitable[Server]]


@pytest.fixture
async def proxies() -> AsyncIterator[list[FaultProxy]]:
    started: list[FaultProxy] = []
    yield started
    for proxy in started:
        await proxy.close()


@pytest.fixture
async def resilient() -> AsyncIterator[Callable[..., Awaitable[ResilientClient]]]:
    clients: list[ResilientClient] = []

    async def open_client(port: int, nick: str, **options: object) -> ResilientClient:
        options.setdefault("backoff", FAST)
        client = await ResilientClient.connect("127.0.0.1", port, nick, **options)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()


async def proxy_to(port: int, proxies: list[FaultProxy]) -> FaultProxy:
    proxy = await FaultProxy.start(port)
    proxies.append(proxy)
    return proxy


async def stored_texts(port: int, room: str, nick: str = "auditor") -> list[str]:
    """Every stored message of ``room``, oldest first, as a fresh member reads it."""
    async with await Client.connect("127.0.0.1", port, nick) as reader:
        if room != "#lobby":
            await reader.request(Join(room=room))
        after = 0
        texts: list[str] = []
        while True:
            page = await reader.request(History(room=room, after=after, limit=200))
            assert isinstance(page, HistoryPage)
            texts.extend(m.text for m in page.messages)
            ids = [m.msg_id for m in page.messages]
            assert ids == sorted(set(ids))
            if not page.more:
                return texts
            after = ids[-1]


async def collect(client: ResilientClient, sender: str, count: int,
                  seen: list[ClientEvent] | None = None) -> list[Message]:
    """The first ``count`` MESSAGEs from ``sender`` in the client's event stream."""
    got: list[Message] = []
    async with asyncio.timeout(TIMEOUT):
        while len(got) < count:
            event = await client.next_event(timeout=None)
            if seen is not None:
                seen.append(event)
            if isinstance(event, Message) and event.sender == sender:
                got.append(event)
    return got


# --------------------------------------------------------------------------- the sender


@pytest.mark.parametrize("how", ["cut now and then", "cut mid-frame"])
async def test_sender_cut_while_sending_stores_each_message_once(
    server: Server, proxies: list[FaultProxy], resilient: Callable[..., Awaitable[ResilientClient]],
    how: str,
) -> None:
    proxy = await proxy_to(server.port, proxies)
    if how == "cut mid-frame":
        proxy.cut_after(9_000, times=6)  # each of 6 connections dies inside a frame
    alice = await resilient(proxy.port, "alice")
    futures = []
    for n in range(500):
        futures.append(await alice.send_chat("#lobby", f"m{n}"))
        if how == "cut now and then" and n % 100 == 50:
            await asyncio.wait_for(futures[n - 10], TIMEOUT)  # a live, busy connection...
            assert proxy.cut() == 1  # ...cut with messages in flight both ways
    acks = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
    assert [a.text for a in acks] == [f"m{n}" for n in range(500)]
    ids = [a.msg_id for a in acks]
    assert ids == sorted(set(ids))
    assert alice.reconnects >= 5 and proxy.cuts >= 5
    assert await stored_texts(server.port, "#lobby") == [f"m{n}" for n in range(500)]
    # Its own stream shows each message once (replayed or acknowledged, never both).
    await alice.wait_idle()
    mine = [e for e in _drain(alice) if isinstance(e, Message) and e.sender == "alice"]
    assert [m.text for m in mine] == [f"m{n}" for n in range(500)]


def _drain(client: ResilientClient) -> list[ClientEvent]:
    out: list[ClientEvent] = []
    while not client._events.empty():
        item = client._events.get_nowait()
        if item is not None:
            out.append(item)
    return out


# --------------------------------------------------------------------------- the receiver


@pytest.mark.parametrize("replay_cap", [1_000, 25])
async def test_receiver_cut_repeatedly_sees_every_message_once_in_order(
    start_server: StartServer, proxies: list[FaultProxy],
    resilient: Callable[..., Awaitable[ResilientClient]], replay_cap: int,
) -> None:
    server = await start_server(replay_cap=replay_cap)
    proxy = await proxy_to(server.port, proxies)
    bob = await resilient(proxy.port, "bob")
    await bob.wait_idle()  # its mark for #lobby is set
    proxy.cut_after(40_000, times=8)
    proxy.cut()  # the current connection, and the next eight after 40 kB each
    alice = await resilient(server.port, "alice")
    sent = [f"n{n}" for n in range(2_500)]
    futures = [await alice.send_chat("#lobby", text) for text in sent]
    seen: list[ClientEvent] = []
    got = await collect(bob, "alice", len(sent), seen)
    await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
    assert [m.text for m in got] == sent
    assert [m.msg_id for m in got] == sorted({m.msg_id for m in got})
    assert sum(isinstance(e, Reconnected) for e in seen) >= 8
    assert not any(isinstance(e, Gap) for e in seen)  # filled in, not shown
    if replay_cap < 100:
        assert bob.tracker.gaps > 0  # filled in with HISTORY


async def test_receiver_without_gap_filling_is_shown_the_gap(
    start_server: StartServer, resilient: Callable[..., Awaitable[ResilientClient]],
    proxies: list[FaultProxy],
) -> None:
    server = await start_server(replay_cap=10)
    proxy = await proxy_to(server.port, proxies)
    bob = await resilient(proxy.port, "bob", fill_gaps=False, backoff=Backoff(0.01, 0.2))
    await bob.wait_idle()
    alice = await resilient(server.port, "alice")
    first = await (await alice.send_chat("#lobby", "before"))
    assert [m.text for m in await collect(bob, "alice", 1)] == ["before"]
    proxy.retarget(1)  # nothing listens on port 1: bob cannot come back yet
    proxy.cut()
    assert isinstance(await bob.next_event(), Disconnected)
    futures = [await alice.send_chat("#lobby", f"x{n}") for n in range(30)]
    await asyncio.gather(*futures)
    proxy.retarget(server.port)
    events: list[ClientEvent] = []
    got = await collect(bob, "alice", 10, events)
    gaps = [e for e in events if isinstance(e, Gap)]
    assert gaps == [Gap(room="#lobby", after=first.msg_id, before=got[0].msg_id)]
    assert [m.text for m in got] == [f"x{n}" for n in range(20, 30)]
    assert any(isinstance(e, Reconnecting) for e in events)


# --------------------------------------------------------------------------- a server restart


def settings_for(data_dir: Path) -> Settings:
    """As the ``start_server`` fixture makes them: port 0, cheap Argon2, no other doors."""
    fields: dict[str, object] = {"port": 0, "data_dir": str(data_dir), "argon2_time_cost": 1,
                                 "argon2_memory_kib": 8}
    for door in ("web_port", "irc_port"):  # off: fixed default ports clash between runs
        if door in Settings.__struct_fields__:
            fields[door] = 0
    if "rate_burst" in Settings.__struct_fields__:  # bursts of 100 CHATs: not the limiter's test
        fields.update(rate_burst=1_000_000, rate_per_second=1_000_000.0)
    return msgspec.convert(fields, Settings)


async def test_restart_resumes_and_resends(tmp_path: Path, resilient: Callable[
        ..., Awaitable[ResilientClient]]) -> None:
    settings = settings_for(tmp_path)
    async with running(settings) as first:
        port = first.port
        alice = await resilient(port, "alice")
        await alice.request(Register(nick="alice", password=PASSWORD))
        assert alice.tracker.password == PASSWORD  # from now on it logs in
        bob = await resilient(port, "bob")  # a guest: its token, rooms and marks bring it back
        await bob.join("#dev")
        await alice.join("#dev")
        await bob.wait_idle()
        futures = [await alice.send_chat("#dev", f"a{n}") for n in range(100)]
        await asyncio.gather(*futures)
        more = [await alice.send_chat("#dev", f"b{n}") for n in range(100)]  # some in flight
    async with running(msgspec.structs.replace(settings, port=port)):
        more += [await alice.send_chat("#dev", f"c{n}") for n in range(100)]
        acks = await asyncio.wait_for(asyncio.gather(*more), TIMEOUT)
        sent = [f"a{n}" for n in range(100)] + [f"b{n}" for n in range(100)] + [
            f"c{n}" for n in range(100)]
        assert [a.text for a in acks] == sent[100:]
        got = await collect(bob, "alice", len(sent))
        assert [m.text for m in got] == sent
        assert alice.reconnects == bob.reconnects == 1
        assert alice.welcome is not None and alice.welcome.account
        assert await stored_texts(port, "#dev") == sent



# --------------------------------------------------------------------------- never resent for ever


async def test_over_the_limits_is_refused_at_once_and_never_sent(
    server: Server, resilient: Callable[..., Awaitable[ResilientClient]],
) -> None:
    alice = await resilient(server.port, "alice")
    for text, code in (("x" * 70_000, "invalid_text"), (" \t ", "invalid_text")):
        future = await alice.send_chat("#lobby", text)
        with pytest.raises(ServerError) as refused:
            await asyncio.wait_for(future, TIMEOUT)
        assert refused.value.code == code
        assert await next_error(alice) == refused.value.error  # in the stream, once
    echo = await alice.submit(RunCommand(name="echo", args=("e" * 70_000,)))
    with pytest.raises(ServerError, match="frame_too_large"):
        await asyncio.wait_for(echo, TIMEOUT)
    ack = await asyncio.wait_for(await alice.send_chat("#lobby", "still here"), TIMEOUT)
    assert ack.text == "still here"
    assert alice.reconnects == 0 and alice.tracker.pending == []
    assert await stored_texts(server.port, "#lobby") == ["still here"]


async def test_a_frame_the_server_refuses_is_given_up_not_resent(
    start_server: StartServer, resilient: Callable[..., Awaitable[ResilientClient]],
) -> None:
    server = await start_server(max_frame=2_048)  # smaller than the client believes
    alice = await resilient(server.port, "alice")
    big = await alice.send_chat("#lobby", "y" * 3_000)
    with pytest.raises(ServerError) as refused:
        await asyncio.wait_for(big, TIMEOUT)
    assert refused.value.code == "frame_too_large"
    ack = await asyncio.wait_for(await alice.send_chat("#lobby", "after"), TIMEOUT)
    assert ack.text == "after"
    assert alice.reconnects == 1  # the server closed on the big one, once
    again = await alice.send_chat("#lobby", "z" * 3_000)  # known too large now: not sent
    with pytest.raises(ServerError, match="frame_too_large"):
        await asyncio.wait_for(again, TIMEOUT)
    await alice.wait_idle()
    assert alice.reconnects == 1
    assert await stored_texts(server.port, "#lobby") == ["after"]


async def next_error(client: ResilientClient) -> Error:
    async with asyncio.timeout(TIMEOUT):
        while not isinstance(event := await client.next_event(timeout=None), Error):
            pass
    return event


class PoisonServer:
    """Speaks just enough protocol: WELCOME, a MESSAGE for each CHAT — and drops the connection
    on reading a CHAT that says ``poison``, each time."""

    def __init__(self) -> None:
        self.connections = 0
        self.poisoned = 0
        self.msg_id = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        while line := await reader.readline():
            frame = decode_client_frame(line.rstrip(b"\n"))
            if isinstance(frame, Hello):
                writer.write(encode(Welcome(id=frame.id, version=1, nick=frame.nick,
                                            server="fake", rooms=(), motd="")))
            elif isinstance(frame, Say) and frame.text == "poison":
                self.poisoned += 1
                writer.transport.abort()
                return
            elif isinstance(frame, Say):
                self.msg_id += 1
                writer.write(encode(Message(id=frame.id, msg_id=self.msg_id, sender="alice",
                                            ts="2026-01-01T00:00:00Z", room=frame.room,
                                            text=frame.text)))
            elif isinstance(frame, Quit):
                break
        writer.close()


async def test_a_request_the_connection_always_dies_on_is_given_up(
    resilient: Callable[..., Awaitable[ResilientClient]],
) -> None:
    fake = PoisonServer()
    listener = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        alice = await resilient(port, "alice")
        poison = await alice.send_chat("#x", "poison")
        with pytest.raises(ServerError) as refused:
            await asyncio.wait_for(poison, TIMEOUT)
        assert refused.value.code == "abandoned"
        ack = await asyncio.wait_for(await alice.send_chat("#x", "fine"), TIMEOUT)
        assert ack.text == "fine"
        assert fake.poisoned == 3 and fake.connections == 4
        await alice.close()
