"""Durable history, idempotent resends and exact resume, over real sockets and SQLite."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Error,
    Gap,
    Hello,
    History,
    HistoryPage,
    Join,
    Joined,
    Message,
    Presence,
    Say,
    SendDirect,
    Welcome,
)
from palaver.server.app import Server

Connect = Callable[..., Awaitable[Client]]
StartServer = Callable[..., Awaitable[Server]]


async def say_many(client: Client, room: str, count: int, prefix: str = "m") -> list[Message]:
    acks = []
    for n in range(count):
        ack = await client.request(Say(room=room, text=f"{prefix}{n}"))
        assert isinstance(ack, Message)
        acks.append(ack)
    return acks


async def raw_hello(port: int, **fields: object) -> tuple[Client, Welcome]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Client(reader, writer)
    welcome = await client.request(Hello(version=1, **fields))  # type: ignore[arg-type]
    assert isinstance(welcome, Welcome)
    return client, welcome


async def test_history_pages_back_and_forth(connect: Connect) -> None:
    alice = await connect("alice")
    await say_many(alice, "#lobby", 120)
    newest = await alice.request(History(room="#lobby"))
    assert isinstance(newest, HistoryPage) and newest.more and newest.room == "#lobby"
    assert [m.msg_id for m in newest.messages] == list(range(71, 121))
    older = await alice.request(History(room="#LOBBY", before=71, limit=200))
    assert isinstance(older, HistoryPage) and not older.more
    assert [m.text for m in older.messages] == [f"m{n}" for n in range(70)]
    forward = await alice.request(History(room="#lobby", after=100, limit=5))
    assert isinstance(forward, HistoryPage) and forward.more
    assert [m.msg_id for m in forward.messages] == [101, 102, 103, 104, 105]
    assert all(m.sender == "alice" and m.room == "#lobby" for m in forward.messages)


@pytest.mark.parametrize(("request_", "code"), [
    (History(room="#secret"), "no_such_room"),  # exists, but we are not a member
    (History(room="#nowhere"), "no_such_room"),  # does not exist: the same answer
    (History(room="#lobby", limit=201), "invalid_field"),
    (History(room="#lobby", before=5, after=1), "invalid_field"),
    (History(), "invalid_field"),
    (History(peer="ghost"), "no_such_user"),
])
async def test_history_refusals(connect: Connect, request_: History, code: str) -> None:
    owner, stranger = await connect("owner"), await connect("stranger")
    await owner.request(Join(room="#secret"))
    await owner.request(Say(room="#secret", text="private"))
    if request_.limit > 200:  # the client library would not build this; send it raw
        await stranger.send_raw(b'{"type":"HISTORY","room":"#lobby","limit":201,"id":"x"}\n')
        error = await stranger.wait_for(Error)
        assert (error.code, error.field) == (code, "limit")
        return
    with pytest.raises(ServerError) as refused:
        await stranger.request(request_)
    assert refused.value.code == code


async def test_dm_history_for_both_ends_only(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.request(SendDirect(to="bob", text="one"))
    await bob.request(SendDirect(to="alice", text="two"))
    await carol.request(SendDirect(to="bob", text="not yours"))
    for me, peer in ((alice, "bob"), (bob, "alice")):
        page = await me.request(History(peer=peer))
        assert isinstance(page, HistoryPage) and page.peer == peer
        assert [(m.sender, m.text, m.msg_id) for m in page.messages] == [
            ("alice", "one", 1), ("bob", "two", 2)]


async def test_resend_is_stored_once_and_delivered_once(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    first = await alice.request(Say(id="same", room="#lobby", text="hello"))
    again = await alice.request(Say(id="same", room="#lobby", text="hello"))
    assert first == again and isinstance(first, Message)
    await alice.request(Say(room="#lobby", text="marker"))
    texts = []
    while not texts or texts[-1] != "marker":
        event = await bob.wait_for(Message)
        texts.append(event.text)
    assert texts == ["hello", "marker"]
    page = await alice.request(History(room="#lobby"))
    assert isinstance(page, HistoryPage) and [m.text for m in page.messages] == ["hello", "marker"]


async def test_resume_replays_exactly_what_was_missed(server: Server, connect: Connect) -> None:
    talker = await connect("talker")
    reader, welcome = await raw_hello(server.port, nick="reader")
    await say_many(talker, "#lobby", 5)
    last_seen = 0
    while last_seen < 5:
        last_seen = (await reader.wait_for(Message)).msg_id
    await reader.close()  # gone without a word
    await say_many(talker, "#lobby", 7, prefix="missed")
    back, _ = await raw_hello(server.port, nick="reader", token=welcome.token,
                              since={"#lobby": last_seen})
    replayed = [(await back.wait_for(Message)).text for _ in range(7)]
    assert replayed == [f"missed{n}" for n in range(7)]
    await talker.request(Say(room="#lobby", text="live"))
    assert (await back.wait_for(Message)).text == "live"
    await back.close()


async def test_resume_while_messages_keep_coming(server: Server, connect: Connect) -> None:
    """Replay and live traffic meet without a gap or a duplicate."""
    talker = await connect("talker")
    reader, welcome = await raw_hello(server.port, nick="reader")
    await talker.request(Say(room="#lobby", text="first"))
    assert (await reader.wait_for(Message)).msg_id == 1
    await reader.close()
    total = 600

    async def talk() -> None:
        for n in range(total):
            await talker.send(Say(room="#lobby", text=f"t{n}"))
            if n % 50 == 0:
                await talker.request(Say(room="#lobby", text=f"sync{n}"))

    talking = asyncio.create_task(talk())
    await talker.wait_for(Message)  # some are stored before the reader comes back
    back, _ = await raw_hello(server.port, nick="reader", token=welcome.token,
                              since={"#lobby": 1})
    await talking
    last = await talker.request(Say(room="#lobby", text="end"))
    ids = []
    while not ids or ids[-1] != last.msg_id:
        ids.append((await back.wait_for(Message)).msg_id)
    assert ids == list(range(2, last.msg_id + 1))
    await back.close()


async def test_gap_when_more_was_missed_than_the_cap(start_server: StartServer) -> None:
    server = await start_server(replay_cap=10)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    reader, welcome = await raw_hello(server.port, nick="reader")
    await reader.close()
    await say_many(talker, "#lobby", 25)
    back, _ = await raw_hello(server.port, nick="reader", token=welcome.token,
                              since={"#lobby": 0})
    gap = await back.wait_for(Gap)
    assert gap == Gap(room="#lobby", after=0, before=16)
    replayed = [(await back.wait_for(Message)).msg_id for _ in range(10)]
    assert replayed == list(range(16, 26))
    rest = await back.request(History(room="#lobby", before=gap.before, limit=200))
    assert isinstance(rest, HistoryPage)
    assert [m.msg_id for m in rest.messages] == list(range(1, 16))
    await back.close()
    await talker.close()


async def test_guest_token_reclaims_identity_for_resends(server: Server) -> None:
    first, welcome = await raw_hello(server.port, nick="guest")
    assert welcome.token and not welcome.account
    ack = await first.request(Say(id="g-1", room="#lobby", text="once"))
    first.abort()
    again, rewelcome = await raw_hello(server.port, nick="guest", token=welcome.token,
                                       since={"#lobby": 0})
    assert rewelcome.token == welcome.token
    assert await again.request(Say(id="g-1", room="#lobby", text="once")) == ack
    page = await again.request(History(room="#lobby"))
    assert isinstance(page, HistoryPage) and [m.text for m in page.messages] == ["once"]
    await again.close()


async def test_a_stranger_with_the_same_nick_is_someone_else(server: Server) -> None:
    first, welcome = await raw_hello(server.port, nick="guest")
    await first.request(Say(id="g-1", room="#lobby", text="mine"))
    await first.quit()
    stranger, other = await raw_hello(server.port, nick="guest")  # no token
    assert other.token != welcome.token
    ack = await stranger.request(Say(id="g-1", room="#lobby", text="theirs"))
    assert isinstance(ack, Message) and ack.text == "theirs" and ack.msg_id == 2
    await stranger.close()


async def test_presence_is_not_replayed(server: Server, connect: Connect) -> None:
    """Only messages are history: a resumed client gets no stale PRESENCE."""
    talker = await connect("talker")
    reader, welcome = await raw_hello(server.port, nick="reader")
    await reader.close()
    await talker.request(Say(room="#lobby", text="while away"))
    back, _ = await raw_hello(server.port, nick="reader", token=welcome.token,
                              since={"#lobby": 0})
    message = await back.wait_for(Message)
    assert message.text == "while away"
    assert not any(isinstance(e, Presence) for e in back.pending_events())
    await back.close()


async def test_bye_waits_for_answers_still_being_read(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    client = Client(reader, writer)
    await client.send_raw(b'{"type":"HELLO","version":1,"nick":"quick"}\n'
                          b'{"type":"HISTORY","room":"#lobby","id":"h"}\n'
                          b'{"type":"BYE","id":"b"}\n')
    kinds = [type(event).__name__ async for event in client.events()]
    assert kinds[-2:] == ["HistoryPage", "Goodbye"]
    await client.close()


async def test_joined_tells_where_the_room_stands(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.request(Join(room="#dev"))
    await say_many(alice, "#dev", 3)
    joined = await bob.request(Join(room="#dev"))
    assert isinstance(joined, Joined) and joined.last_id == 3
