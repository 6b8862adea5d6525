"""Every protocol v1 flow, over real sockets against the real server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    ListUsers,
    Message,
    Ping,
    Pong,
    Presence,
    Result,
    RoomInfo,
    RoomList,
    RunCommand,
    Say,
    SendDirect,
    SetNick,
    Users,
)
from palaver.server.app import Server

Connect = Callable[..., Awaitable[Client]]
T = TypeVar("T", Joined, RoomInfo)


async def test_handshake_and_lobby(connect: Connect) -> None:
    alice = await connect("alice")
    assert alice.welcome is not None and alice.welcome.rooms == ("#lobby",)
    assert alice.welcome.motd
    assert _untimed(await alice.wait_for(Joined)) == Joined(room="#lobby", members=("alice",),
                                                            topic="")
    bob = await connect("bob")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="join", room="#lobby")
    assert _untimed(await bob.wait_for(Joined)) == Joined(room="#lobby", members=("alice", "bob"),
                                                          topic="")


async def test_chat_in_rooms(connect: Connect) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await alice.request(Join(room="#dev"))
    await bob.request(Join(room="#dev"))
    ack = await alice.request(Say(room="#dev", text="hello dev"))
    assert isinstance(ack, Message) and ack.room == "#dev" and ack.msg_id == 1
    seen = await bob.wait_for(Message)
    assert isinstance(seen, Message)
    assert (seen.sender, seen.text, seen.msg_id, seen.ts, seen.id) == (
        "alice", "hello dev", 1, ack.ts, None)
    # carol, not in #dev, got nothing from it; her next message is the lobby one
    await bob.request(Say(room="#lobby", text="lobby"))
    lobby = await carol.wait_for(Message)
    assert isinstance(lobby, Message) and lobby.room == "#lobby" and lobby.text == "lobby"


async def test_leave(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    await alice.request(Join(room="#dev"))
    await bob.request(Join(room="#dev"))
    left = await bob.request(Leave(room="#dev"))
    assert left == Left(room="#dev", id=left.id) and left.id
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="join", room="#lobby")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="join", room="#dev")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="leave", room="#dev")


async def test_direct_messages(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    sent = await alice.request(SendDirect(to="bob", text="psst"))
    assert isinstance(sent, Message) and sent.to == "bob" and sent.room is None
    got = await bob.wait_for(Message)
    assert isinstance(got, Message) and (got.sender, got.to, got.text) == ("alice", "bob", "psst")


async def test_nick_who_rooms_commands_ping(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    renamed = await alice.request(SetNick(nick="al"))
    assert renamed == Presence(id=renamed.id, nick="alice", event="nick", new_nick="al")
    assert await bob.wait_for(Presence) == Presence(nick="alice", event="nick", new_nick="al")
    users = await bob.request(ListUsers())
    assert isinstance(users, Users) and users.users == ("al", "bob")
    rooms = await bob.request(ListRooms())
    assert isinstance(rooms, RoomList)
    assert [_untimed(r) for r in rooms.rooms] == [RoomInfo(room="#lobby", members=2)]
    for name, args, expected in [("sum", (1, 2, 3.5), "6.5"), ("echo", ("a", "b"), "a b")]:
        result = await bob.request(RunCommand(name=name, args=args))
        assert isinstance(result, Result) and result.result == expected
    for name in ("help", "time", "joke"):
        result = await bob.request(RunCommand(name=name))
        assert isinstance(result, Result) and result.result
    assert isinstance(await bob.request(Ping()), Pong)


async def test_bye_and_abrupt_disconnects_tell_others(connect: Connect, server: Server) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    await bob.quit("see you")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="join", room="#lobby")
    assert await alice.wait_for(Presence) == Presence(nick="carol", event="join", room="#lobby")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="quit", reason="see you")
    carol.abort()  # RST
    quit_event = await alice.wait_for(Presence)
    assert isinstance(quit_event, Presence) and quit_event.nick == "carol"
    assert quit_event.event == "quit" and quit_event.reason in {"connection reset",
                                                                "connection closed"}
    # nothing leaked: only alice is left, and her nick-less peers' names are free again
    assert server.core is not None and server.core.connection_count == 1
    assert server.core.hub.user_count == 1
    again = await connect("bob")
    assert again.nick == "bob"


async def test_nick_taken_ignores_case(connect: Connect) -> None:
    await connect("alice")
    with pytest.raises(ServerError) as caught:
        await connect("ALICE")
    assert caught.value.code == "nick_taken"


async def test_many_clients_and_a_flood_arrive_in_order(connect: Connect) -> None:
    sender = await connect("sender")
    listeners = [await connect(f"l{n}") for n in range(20)]
    count = 2_000
    frames = b"".join(
        b'{"type":"CHAT","room":"#lobby","text":"message %d"}\n' % n for n in range(count)
    )
    await sender.send_raw(frames)  # 2,000 frames in one write
    for listener in listeners:
        texts = []
        while len(texts) < count:
            event = await listener.next_event()
            if isinstance(event, Message):
                texts.append(event.text)
        assert texts == [f"message {n}" for n in range(count)]


def _untimed(item: T) -> T:
    """A JOINED or a room's entry without its creation time (which must be there: an ISO time)."""
    created_at = getattr(item, "created_at", None)
    assert isinstance(created_at, str) and created_at.endswith("Z")
    return msgspec.structs.replace(item, created_at=None)
