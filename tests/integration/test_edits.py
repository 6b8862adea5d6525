"""Message edits over real sockets (SQLite in a temporary data directory): JSON lines, the
text door and IRC on one server; history and resume after an edit; a restart keeps it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import pytest

from palaver.client import Client, ServerError
from palaver.client.render import clock
from palaver.protocol.messages import (
    Deleted,
    Edit,
    Edited,
    EditList,
    Hello,
    History,
    HistoryPage,
    Join,
    ListEdits,
    Message,
    Say,
    SendDirect,
    Welcome,
)
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc_watch_markers_redact import RawIrc
from tests.integration.test_text_door import TextPeer

Connect = Callable[..., Awaitable[Client]]
EventT = TypeVar("EventT", Message, Edited)


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver")


@pytest.fixture
async def irc(server: Server) -> AsyncIterator[Callable[..., Awaitable[RawIrc]]]:
    port = await server.open_irc(0)
    peers: list[RawIrc] = []

    async def connect(nick: str, caps: str = "") -> RawIrc:
        peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
        peers.append(peer)
        lines = [f"CAP REQ :{caps}", "CAP END"] if caps else []
        await peer.send(*lines, f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await peer.line_with(" 001 ")
        await peer.send("PING :ready")
        peer.burst = await peer.lines_until("PONG")
        return peer

    yield connect
    for peer in peers:
        peer.writer.close()


async def next_from(client: Client, kind: type[EventT], nick: str) -> EventT:
    """The next ``kind`` event sent by ``nick`` (a client's own answers come as events too)."""
    while True:
        event = await client.wait_for(kind)
        if getattr(event, "by", None) == nick or getattr(event, "sender", None) == nick:
            return event


async def said(client: Client, room: str, text: str) -> Message:
    ack = await client.request(Say(room=room, text=text))
    assert isinstance(ack, Message)
    return ack


async def test_json_clients_see_an_edit_and_history_shows_the_new_text(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    original = await said(alice, "#lobby", "teh build is red")
    assert (await bob.wait_for(Message)).text == "teh build is red"
    answer = await alice.request(Edit(room="#lobby", msg_id=original.msg_id,
                                      text="the build is red"))
    assert isinstance(answer, Edited) and answer.text == "the build is red"
    seen = await bob.wait_for(Edited)
    assert (seen.msg_id, seen.text, seen.by, seen.sender, seen.id) == (
        original.msg_id, "the build is red", "alice", "alice", None)
    page = await bob.request(History(room="#lobby"))
    assert isinstance(page, HistoryPage)
    [message] = [m for m in page.messages if m.msg_id == original.msg_id]
    assert (message.text, message.edited_at, message.ts) == (
        "the build is red", answer.edited_at, original.ts)
    listed = await alice.request(ListEdits(room="#lobby", msg_id=original.msg_id))
    assert isinstance(listed, EditList)
    assert [v.text for v in listed.versions] == ["teh build is red", "the build is red"]


async def test_refusals_have_stable_codes(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    original = await said(alice, "#lobby", "mine")
    for client, request, code in [
        (bob, Edit(room="#lobby", msg_id=original.msg_id, text="yours?"), "not_sender"),
        (alice, Edit(room="#lobby", msg_id=999, text="x"), "no_such_message"),
        (alice, Edit(room="#lobby", msg_id=original.msg_id, text=""), "invalid_text"),
        (bob, ListEdits(room="#lobby", msg_id=original.msg_id), "not_operator"),
    ]:
        with pytest.raises(ServerError) as refused:
            await client.request(request)
        assert refused.value.code == code, request


async def test_the_edit_window_closes(start_server: ServerFactory) -> None:
    server = await start_server(edit_window=0.001)  # a message is too old at once
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    original = await said(alice, "#lobby", "fixed in stone")
    sent = datetime.fromisoformat(original.ts)
    for _ in range(100_000):  # until the clock is past the window, bounded
        # Times have ms resolution: 2 ms between the stamps is more than 1 ms elapsed, which
        # one ms (a stamp just past the original's) does not guarantee.
        probe = await said(alice, "#lobby", "tick")
        if (datetime.fromisoformat(probe.ts) - sent).total_seconds() >= 0.002:
            break
    with pytest.raises(ServerError) as refused:
        await alice.request(Edit(room="#lobby", msg_id=original.msg_id, text="soft"))
    assert refused.value.code == "edit_window_closed"
    await alice.close()


async def test_a_direct_message_edit_reaches_both_ends(connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    dm = await alice.request(SendDirect(to="bob", text="at 2"))
    assert isinstance(dm, Message)
    await bob.wait_for(Message)
    await alice.request(Edit(peer="bob", msg_id=dm.msg_id, text="at 3"))
    seen = await bob.wait_for(Edited)
    assert (seen.text, seen.sender, seen.to) == ("at 3", "alice", "bob")


async def test_resume_after_an_edit_replays_the_new_text(server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    reader = await Client.connect("127.0.0.1", server.port)
    welcome = await reader.request(Hello(version=1, nick="reader"))
    assert isinstance(welcome, Welcome)
    first = await said(alice, "#lobby", "seen before")
    assert (await reader.wait_for(Message)).msg_id == first.msg_id
    await reader.close()  # gone without a word
    missed = await said(alice, "#lobby", "teh typo")
    await alice.request(Edit(room="#lobby", msg_id=missed.msg_id, text="the typo, fixed"))
    back = await Client.connect("127.0.0.1", server.port)
    await back.request(Hello(version=1, nick="reader", token=welcome.token,
                             since={"#lobby": first.msg_id}))
    replayed = await back.wait_for(Message)
    assert (replayed.msg_id, replayed.text) == (missed.msg_id, "the typo, fixed")
    assert replayed.edited_at is not None
    await back.close()


async def test_an_edit_survives_a_restart(start_server: ServerFactory) -> None:
    server = await start_server()
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    original = await said(alice, "#lobby", "v1")
    await alice.request(Edit(room="#lobby", msg_id=original.msg_id, text="v2"))
    await alice.close()
    await server.stop()
    again = await start_server()
    bob = await Client.connect("127.0.0.1", again.port, "bob")
    page = await bob.request(History(room="#lobby"))
    assert isinstance(page, HistoryPage)
    [message] = [m for m in page.messages if m.msg_id == original.msg_id]
    assert (message.text, message.edited_at is not None) == ("v2", True)
    await bob.close()


async def test_the_text_door_edits_and_shows_edits(server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    bob = await TextPeer.open(server.port)
    await bob.send(b"bob\r\n")
    await bob.until(b"* you joined #lobby (2 here: alice, bob)\r\n")
    await bob.send(b"helo\r\n")
    mine = await alice.wait_for(Message)
    assert await bob.line() == f"[{clock(mine.ts, UTC)}] <bob> helo\r\n".encode()
    await bob.send(f"/edit {mine.msg_id} hello\r\n".encode())
    seen = await alice.wait_for(Edited)
    assert (seen.msg_id, seen.text, seen.by) == (mine.msg_id, "hello", "bob")
    assert await bob.line() == f"* bob edited message {mine.msg_id} of #lobby: hello\r\n".encode()
    theirs = await said(alice, "#lobby", "hi bob")
    assert await bob.line() == f"[{clock(theirs.ts, UTC)}] <alice> hi bob\r\n".encode()
    await alice.request(Edit(room="#lobby", msg_id=theirs.msg_id, text="hi, bob"))
    assert await bob.line() == (f"* alice edited message {theirs.msg_id} of #lobby: "
                                f"hi, bob\r\n").encode()
    await bob.send(f"/edit {theirs.msg_id} mine now\r\n".encode())
    assert (await bob.line()).startswith(b"! only its sender may edit a message")
    await bob.send(f"/delete {mine.msg_id} typo\r\n".encode())  # and a deletion
    gone = await alice.wait_for(Deleted)
    assert (gone.msg_id, gone.by, gone.reason) == (mine.msg_id, "bob", "typo")
    assert await bob.line() == f"* bob deleted message {mine.msg_id} of #lobby (typo)\r\n".encode()
    bob.close()


async def test_irc_sees_an_edit_and_edits_with_its_own_command(
    server: Server, irc: Callable[..., Awaitable[RawIrc]], connect: Connect,
) -> None:
    tagged = await irc("tagged", caps="message-tags")
    plain = await irc("plain")
    for peer in (tagged, plain):
        await peer.send("JOIN #dev")
        await peer.line_with(" 366 ")
    alice = await connect("alice")
    await alice.request(Join(room="#dev"))
    original = await said(alice, "#dev", "teh plan")
    await alice.request(Edit(room="#dev", msg_id=original.msg_id, text="the plan"))
    assert await tagged.line_with("NOTICE #dev") == (
        f"@+draft/reply=#dev/{original.msg_id} :alice!alice@palaver NOTICE #dev "
        f":* edited: the plan")
    assert await plain.line_with("NOTICE #dev") == (
        ":alice!alice@palaver NOTICE #dev :* edited: the plan")

    await plain.send("PRIVMSG #dev :helo all")
    sent = await next_from(alice, Message, "plain")
    await plain.send(f"EDIT #dev #dev/{sent.msg_id} :hello all")
    edited = await next_from(alice, Edited, "plain")
    assert (edited.msg_id, edited.text, edited.by) == (sent.msg_id, "hello all", "plain")
    assert await plain.line_with("NOTICE #dev") == (
        ":plain!plain@palaver NOTICE #dev :* edited: hello all")
    await plain.send(f"EDIT #dev #dev/{original.msg_id} :hijack")
    assert "not_sender" in await plain.line_with("NOTICE plain")
    await plain.send(f"EDITS #dev #dev/{sent.msg_id}")
    listing = await plain.lines_until("End of EDITS")
    assert [line.split(" :", 1)[1].split("] ")[-1] for line in listing[1:-1]] == [
        "helo all", "hello all"]
    reader = await irc("reader", caps="batch draft/chathistory")
    await reader.send("JOIN #dev")
    await reader.line_with(" 366 ")
    await reader.send("CHATHISTORY LATEST #dev * 10")  # history carries the current text
    history = await reader.lines_until("BATCH -")
    assert any(line.endswith(":hello all") for line in history)
    assert not any(line.endswith(":helo all") for line in history)
