"""Edits, deletions and reactions are events: a client that resumes learns of those made to
the messages it already had while it was away (docs/protocol.md §15), over real sockets and
SQLite, in order with the messages it missed; a resent change adds no second event."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import msgspec

from palaver.client import Client
from palaver.protocol.messages import (
    Delete,
    Deleted,
    Edit,
    Edited,
    Gap,
    Hello,
    Joined,
    Message,
    React,
    Reacted,
    Register,
    Say,
    SendDirect,
    ServerMessage,
    Welcome,
)
from palaver.server.app import Server

PASSWORD = "correct horse battery"
Connect = Callable[..., Awaitable[Client]]
StartServer = Callable[..., Awaitable[Server]]


async def hello(port: int, **fields: object) -> tuple[Client, Welcome]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Client(reader, writer)
    welcome = await client.request(Hello(version=1, **fields))  # type: ignore[arg-type]
    assert isinstance(welcome, Welcome)
    return client, welcome


async def until(client: Client, done: Callable[[ServerMessage], bool]) -> list[ServerMessage]:
    """Every event up to and including the first ``done`` one (WELCOME, JOINED left out)."""
    seen: list[ServerMessage] = []
    while not seen or not done(seen[-1]):
        event = await client.next_event()
        if not isinstance(event, Welcome | Joined):
            seen.append(event)
    return seen


async def test_resume_replays_the_changes_to_messages_the_client_had(
        server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    reader, welcome = await hello(server.port, nick="reader")
    first = await alice.request(Say(room="#lobby", text="teh plan"))
    second = await alice.request(Say(room="#lobby", text="oops, wrong room"))
    assert isinstance(first, Message) and isinstance(second, Message)
    while (await reader.wait_for(Message)).msg_id < second.msg_id:
        pass
    reader.abort()  # gone without a word, having everything up to message 2
    edited = await alice.request(Edit(room="#lobby", msg_id=1, text="the plan"))
    reacted = await alice.request(React(room="#lobby", msg_id=1, reaction="👍"))
    missed = await alice.request(Say(room="#lobby", text="while you were away"))
    deleted = await alice.request(Delete(room="#lobby", msg_id=2, reason="wrong room"))
    # a change to a message the reader never had: it gets that message as it is now
    late = await alice.request(Edit(room="#lobby", msg_id=missed.msg_id,  # type: ignore[union-attr]
                                    text="while you were away (edited)"))
    assert isinstance(edited, Edited) and isinstance(reacted, Reacted)
    assert isinstance(missed, Message) and isinstance(deleted, Deleted)
    assert isinstance(late, Edited)
    # each change took the next id of #lobby, in order with the messages
    assert [edited.seq, reacted.seq, missed.msg_id, deleted.seq, late.seq] == [3, 4, 5, 6, 7]

    back, _ = await hello(server.port, nick="reader", token=welcome.token,
                          since={"#lobby": second.msg_id})
    replay = await until(back, lambda e: isinstance(e, Deleted))
    assert replay == [
        Edited(msg_id=1, text="the plan", edited_at=edited.edited_at, by="alice",
               room="#lobby", sender="alice", seq=3),
        Reacted(msg_id=1, by="alice", reaction="👍", room="#lobby", sender="alice",
                quote=reacted.quote, seq=4),
        Message(msg_id=5, ts=missed.ts, sender="alice", text="while you were away (edited)",
                room="#lobby", edited_at=late.edited_at),
        Deleted(msg_id=2, by="alice", room="#lobby", sender="alice", reason="wrong room",
                seq=6),
    ]
    live = await alice.request(Say(room="#lobby", text="live"))  # then live traffic only
    assert isinstance(live, Message)
    assert [e for e in await until(back, lambda e: isinstance(e, Message))
            if not isinstance(e, Message) or e.text != "live"] == []
    # A client that comes back up to date is sent no replay at all
    back.abort()
    again, _ = await hello(server.port, nick="reader", token=welcome.token,
                           since={"#lobby": live.msg_id})
    await alice.request(Say(room="#lobby", text="next"))
    seen = await until(again, lambda e: isinstance(e, Message))
    assert [e for e in seen if isinstance(e, Message | Edited | Deleted | Reacted | Gap)] == [
        seen[-1]] and seen[-1].text == "next"  # type: ignore[union-attr]
    await again.close()


async def test_a_resent_change_is_one_event(server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    reader, welcome = await hello(server.port, nick="reader")
    said = await alice.request(Say(room="#lobby", text="hi"))
    assert isinstance(said, Message)
    await reader.wait_for(Message)
    reader.abort()
    for _ in range(3):  # the same requests again, as a client unsure of its answers would
        edit = await alice.request(Edit(id="e1", room="#lobby", msg_id=1, text="hello"))
        react = await alice.request(React(id="r1", room="#lobby", msg_id=1, reaction="👋"))
        assert isinstance(edit, Edited) and isinstance(react, Reacted)
    back, _ = await hello(server.port, nick="reader", token=welcome.token,
                          since={"#lobby": said.msg_id})
    await alice.request(Say(room="#lobby", text="end"))
    seen = await until(back, lambda e: isinstance(e, Message))
    changes = [e for e in seen if isinstance(e, Edited | Reacted)]
    assert [(type(e).__name__, e.seq) for e in changes] == [("Edited", 2), ("Reacted", 3)]
    await back.close()


async def test_direct_conversations_replay_their_changes_in_time_order(
        server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    bob, _ = await hello(server.port, nick="bob")
    await bob.request(Register(nick="bob", password=PASSWORD))  # a DM reaches it offline
    dm = await alice.request(SendDirect(to="bob", text="meet at 3"))
    assert isinstance(dm, Message)
    await bob.wait_for(Message)
    bob.abort()
    edit = await alice.request(Edit(peer="bob", msg_id=dm.msg_id, text="meet at 4"))
    assert isinstance(edit, Edited)
    later = await alice.request(SendDirect(to="bob", text="ok?"))
    back, _ = await hello(server.port, nick="bob", password=PASSWORD,
                          since={"@alice": dm.msg_id})
    seen = await until(back, lambda e: isinstance(e, Message))
    assert [e for e in seen if isinstance(e, Edited | Message)] == [
        Edited(msg_id=1, text="meet at 4", edited_at=edit.edited_at, by="alice",
               sender="alice", to="bob", seq=2),
        msgspec.structs.replace(later, id=None)]
    await back.close()


async def test_more_changes_than_the_cap_start_with_a_gap(start_server: StartServer) -> None:
    server = await start_server(replay_cap=4)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    reader, welcome = await hello(server.port, nick="reader")
    await alice.request(Say(room="#lobby", text="react to me"))
    await reader.wait_for(Message)
    reader.abort()
    for n in range(6):  # ids 2..7: three added, three taken back
        await alice.request(React(room="#lobby", msg_id=1, reaction="👍", remove=n % 2 == 1))
    back, _ = await hello(server.port, nick="reader", token=welcome.token, since={"#lobby": 1})
    await alice.request(Say(room="#lobby", text="end"))
    seen = await until(back, lambda e: isinstance(e, Message))
    assert seen[0] == Gap(room="#lobby", after=1, before=4)  # the newest 4 of ids 2..7
    assert [e.seq for e in seen if isinstance(e, Reacted)] == [4, 5, 6, 7]
    await back.close()
    await alice.close()
