"""Accounts over real sockets: register, log in, several devices, offline direct messages."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec
import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Hello,
    Join,
    Joined,
    Message,
    Presence,
    Register,
    Registered,
    Say,
    SendDirect,
    SetNick,
    Welcome,
)
from palaver.server.app import Server

Connect = Callable[..., Awaitable[Client]]
PASSWORD = "correct horse battery"


async def login(port: int, nick: str, password: str, **fields: object) -> tuple[Client, Welcome]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Client(reader, writer)
    try:
        welcome = await client.request(
            Hello(version=1, nick=nick, password=password, **fields))  # type: ignore[arg-type]
    except BaseException:
        await client.close()
        raise
    assert isinstance(welcome, Welcome)
    return client, welcome


async def register(connect: Connect, nick: str, *rooms: str) -> None:
    client = await connect(nick)
    for room in rooms:
        await client.request(Join(room=room))
    registered = await client.request(Register(nick=nick, password=PASSWORD))
    assert isinstance(registered, Registered) and registered.nick == nick
    await client.quit()


async def test_register_then_log_in(server: Server, connect: Connect) -> None:
    await register(connect, "alice", "#dev")
    alice, welcome = await login(server.port, "ALICE", PASSWORD)
    assert welcome.account and welcome.nick == "alice" and welcome.token is None
    assert welcome.rooms == ("#lobby", "#dev")  # an account stays a member of its rooms
    for room in ("#lobby", "#dev"):  # JOINED carries the room's creation time (329 on IRC)
        joined = await alice.wait_for(Joined)
        assert joined.created_at and msgspec.structs.replace(joined, created_at=None) == Joined(
            room=room, members=("alice",), topic="")
    await alice.close()


@pytest.mark.parametrize(("nick", "password", "code"), [
    ("alice", "wrong password", "auth_failed"),
    ("nobody", PASSWORD, "auth_failed"),  # same answer: no hint that the account is missing
])
async def test_bad_logins(server: Server, connect: Connect, nick: str, password: str,
                          code: str) -> None:
    await register(connect, "alice")
    with pytest.raises(ServerError) as refused:
        await login(server.port, nick, password)
    assert refused.value.code == code


async def test_guest_cannot_use_a_registered_nick(connect: Connect) -> None:
    await register(connect, "alice")
    with pytest.raises(ServerError) as refused:
        await connect("Alice")
    assert refused.value.code == "nick_registered"
    bob = await connect("bob")
    with pytest.raises(ServerError) as renamed:
        await bob.request(SetNick(nick="alice"))
    assert renamed.value.code == "nick_registered"


@pytest.mark.parametrize(("request_", "code"), [
    (Register(nick="someone", password=PASSWORD), "invalid_nick"),  # not your nick
    (Register(nick="carol", password="short"), "invalid_password"),
])
async def test_register_refusals(connect: Connect, request_: Register, code: str) -> None:
    carol = await connect("carol")
    with pytest.raises(ServerError) as refused:
        await carol.request(request_)
    assert refused.value.code == code


async def test_register_twice(server: Server, connect: Connect) -> None:
    await register(connect, "alice")
    alice, _ = await login(server.port, "alice", PASSWORD)
    with pytest.raises(ServerError) as refused:
        await alice.request(Register(nick="alice", password=PASSWORD))
    assert refused.value.code == "account_exists"
    await alice.close()


async def test_messages_after_login_wait_for_it(server: Server, connect: Connect) -> None:
    """Frames sent right behind a HELLO with a password are handled after the login."""
    await register(connect, "alice")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    client = Client(reader, writer)
    await client.send_raw(
        b'{"type":"HELLO","version":1,"nick":"alice","password":"%s","id":"h"}\n'
        b'{"type":"JOIN","room":"#after","id":"j"}\n'
        b'{"type":"CHAT","room":"#after","text":"in order","id":"m"}\n' % PASSWORD.encode())
    ack = await client.wait_for(Message)
    assert (ack.id, ack.room, ack.text) == ("m", "#after", "in order")
    await client.close()


async def test_several_devices(server: Server, connect: Connect) -> None:
    await register(connect, "alice")
    witness = await connect("witness")
    phone, _ = await login(server.port, "alice", PASSWORD)
    await witness.wait_for(Presence)  # alice (the phone) joined
    laptop, welcome = await login(server.port, "alice", PASSWORD)
    assert welcome.rooms == ("#lobby",)
    ack = await laptop.request(Say(room="#lobby", text="from the laptop"))
    echo = await phone.wait_for(Message)
    assert echo == Message(msg_id=ack.msg_id, ts=ack.ts, sender="alice",  # type: ignore[union-attr]
                           text="from the laptop", room="#lobby", account="alice")
    seen = await witness.wait_for(Message)
    assert seen.text == "from the laptop"
    await laptop.quit()  # one device leaves: nobody is told
    await witness.request(Say(room="#lobby", text="still there?"))
    next_event = await witness.wait_for(Message)
    assert next_event.text == "still there?"
    assert not any(isinstance(e, Presence) for e in witness.pending_events())
    await phone.quit()  # the last one leaves: now alice quits
    quit_event = await witness.wait_for(Presence)
    assert (quit_event.nick, quit_event.event) == ("alice", "quit")


async def test_offline_direct_messages_arrive_in_order_at_next_login(
    server: Server, connect: Connect
) -> None:
    await register(connect, "alice")
    alice, _ = await login(server.port, "alice", PASSWORD)
    bob = await connect("bob")
    await bob.request(SendDirect(to="alice", text="while online"))
    assert (await alice.wait_for(Message)).text == "while online"
    await alice.quit()
    for n in range(5):
        ack = await bob.request(SendDirect(to="alice", text=f"offline {n}"))
        assert isinstance(ack, Message) and ack.to == "alice"
    carol = await connect("carol")
    await carol.request(SendDirect(to="alice", text="from carol"))
    alice, _ = await login(server.port, "alice", PASSWORD)
    got = [(await alice.wait_for(Message)) for _ in range(6)]
    from_bob = [m for m in got if m.sender == "bob"]
    assert [m.text for m in from_bob] == [f"offline {n}" for n in range(5)]  # in order
    assert [m.msg_id for m in from_bob] == [2, 3, 4, 5, 6]
    assert [m.text for m in got if m.sender == "carol"] == ["from carol"]
    assert [m.ts for m in got] == sorted(m.ts for m in got)  # conversations merged by time
    await alice.close()
