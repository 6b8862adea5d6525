"""Replies and reactions end to end, over real sockets: JSON clients, the text door and IRC
clients (with and without message-tags) in the same room; history, resume and a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Delete,
    Hello,
    History,
    HistoryPage,
    Join,
    Message,
    Quote,
    React,
    Reacted,
    Say,
    SendDirect,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc_watch_markers_redact import RawIrc
from tests.integration.test_text_door import TextPeer

Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver", text_sniff_timeout=0.05)


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
        await peer.lines_until("PONG")
        return peer

    yield connect
    for peer in peers:
        peer.writer.close()


async def heard(client: Client, sender: str) -> Message:
    """The next message from ``sender`` (one's own answers are skipped)."""
    while True:
        message = await client.wait_for(Message)
        if message.sender == sender:
            return message


async def said(client: Client, room: str, text: str, **fields: object) -> Message:
    message = await client.request(Say(room=room, text=text, **fields))  # type: ignore[arg-type]
    assert isinstance(message, Message)
    return message


async def test_json_replies_and_reactions_live_in_history_and_on_resume(
    server: Server, connect: Connect,
) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    first = await said(alice, "#lobby", "who broke\nthe build?")
    await heard(bob, "alice")
    answer = await said(bob, "#lobby", "me, sorry", reply_to=first.msg_id)
    quote = Quote(msg_id=first.msg_id, sender="alice", text="who broke the build?")
    assert (answer.reply_to, answer.quote) == (first.msg_id, quote)
    seen = await heard(alice, "bob")
    assert (seen.reply_to, seen.quote, seen.text) == (first.msg_id, quote, "me, sorry")

    reacted = await bob.request(React(room="#lobby", msg_id=first.msg_id, reaction="👍"))
    assert isinstance(reacted, Reacted) and reacted.quote == quote
    told = await alice.wait_for(Reacted)
    assert (told.by, told.reaction, told.msg_id, told.remove) == ("bob", "👍", first.msg_id,
                                                                   False)
    again = await bob.request(React(room="#lobby", msg_id=first.msg_id, reaction="👍"))
    assert isinstance(again, Reacted)  # idempotent: answered, nobody else told
    await alice.request(React(room="#lobby", msg_id=first.msg_id, reaction="👍"))
    await bob.wait_for(Reacted)
    await alice.request(React(room="#lobby", msg_id=answer.msg_id, reaction="ok"))
    await alice.request(React(room="#lobby", msg_id=answer.msg_id, reaction="ok", remove=True))

    page = await alice.request(History(room="#lobby"))
    assert isinstance(page, HistoryPage)
    shown = {m.msg_id: m for m in page.messages}
    assert shown[first.msg_id].reactions == {"👍": ("bob", "alice")}
    assert shown[answer.msg_id].reactions is None and shown[answer.msg_id].quote == quote

    with pytest.raises(ServerError) as refused:
        await bob.request(Say(room="#lobby", text="?", reply_to=99))
    assert refused.value.code == "no_such_message"
    await alice.request(Delete(room="#lobby", msg_id=first.msg_id))
    with pytest.raises(ServerError) as deleted:
        await bob.request(React(room="#lobby", msg_id=first.msg_id, reaction="x"))
    assert deleted.value.code == "message_deleted"

    reader = Client(*await asyncio.open_connection("127.0.0.1", server.port))
    welcome = await reader.request(Hello(version=1, nick="carol", since={"#lobby": 0}))
    assert isinstance(welcome, Welcome)
    replayed = [await reader.wait_for(Message) for _ in range(2)]
    assert replayed[0].deleted and replayed[0].reactions is None  # a tombstone shows none
    assert replayed[1].reply_to == first.msg_id
    assert replayed[1].quote == Quote(msg_id=first.msg_id, sender="alice", deleted=True)
    await reader.close()


async def test_direct_replies_and_reactions(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    carol = await connect("carol")
    first = await alice.request(SendDirect(to="bob", text="lunch?"))
    assert isinstance(first, Message)
    await heard(bob, "alice")
    answer = await bob.request(SendDirect(to="alice", text="yes", reply_to=first.msg_id))
    assert isinstance(answer, Message) and answer.quote is not None
    assert (await heard(alice, "bob")).quote == Quote(msg_id=first.msg_id, sender="alice",
                                                          text="lunch?")
    await bob.request(React(peer="alice", msg_id=first.msg_id, reaction="🍜"))
    told = await alice.wait_for(Reacted)
    assert (told.by, told.sender, told.to) == ("bob", "alice", "bob")
    with pytest.raises(ServerError):
        await carol.request(React(peer="alice", msg_id=first.msg_id + 5, reaction="x"))


async def test_the_text_door_replies_reacts_and_sees_both(server: Server, connect: Connect,
                                                           ) -> None:
    alice = await connect("alice")
    first = await said(alice, "#lobby", "shipped it")
    bob = await TextPeer.open(server.port)
    await bob.exactly(b"Welcome to palaver. Choose a nickname:\r\n")
    await bob.send(b"bob\r\n")
    await bob.until(b"* you joined #lobby (2 here: alice, bob)\r\n")
    await bob.send(f"/reply {first.msg_id} well done\r\n".encode())
    seen = await heard(alice, "bob")
    assert (seen.sender, seen.text, seen.reply_to) == ("bob", "well done", first.msg_id)
    assert await bob.line() == f"  > alice #{first.msg_id}: shipped it\r\n".encode()
    assert (await bob.line()).endswith(b"<bob> well done\r\n")
    await bob.send(f"/react {first.msg_id} \U0001f389\r\n".encode())
    told = await alice.wait_for(Reacted)
    assert (told.by, told.reaction) == ("bob", "🎉")
    assert await bob.line() == (f"* bob reacted 🎉 to #{first.msg_id} "
                                f"(alice: shipped it)\r\n").encode()
    await alice.request(React(room="#lobby", msg_id=first.msg_id, reaction="👍"))
    assert await bob.line() == (f"* alice reacted 👍 to #{first.msg_id} "
                                f"(alice: shipped it)\r\n").encode()
    reply = await said(alice, "#lobby", "thanks", reply_to=seen.msg_id)
    assert await bob.line() == f"  > bob #{seen.msg_id}: well done\r\n".encode()
    assert (await bob.line()).endswith(b"<alice> thanks\r\n")
    assert reply.quote is not None
    await bob.send(b"/react 999999 x\r\n")
    assert (await bob.line()).startswith(b"! ")
    bob.close()


async def test_irc_clients_reply_and_react_with_tags_and_see_fallbacks_without(
    connect: Connect, irc: Callable[..., Awaitable[RawIrc]],
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#chan"))
    tagged = await irc("tagged", caps="message-tags echo-message")
    plain = await irc("plain")
    for peer in (tagged, plain):
        await peer.send("JOIN #chan")
        await peer.line_with(" 366 ")
    first = await said(alice, "#chan", "who broke the build?")
    line = await tagged.line_with("PRIVMSG #chan")
    msgid = line.split("msgid=")[1].split(" ")[0].split(";")[0]
    assert msgid == f"#chan/{first.msg_id}"
    await plain.line_with("PRIVMSG #chan")

    await tagged.send(f"@+draft/reply={msgid} PRIVMSG #chan :me, sorry")
    seen = await heard(alice, "tagged")
    assert (seen.sender, seen.text, seen.reply_to) == ("tagged", "me, sorry", first.msg_id)
    assert seen.quote == Quote(msg_id=first.msg_id, sender="alice", text="who broke the build?")
    echo = await tagged.line_with("PRIVMSG #chan")
    assert f"+draft/reply={msgid}" in echo and echo.endswith(":me, sorry")
    assert await plain.line_with("PRIVMSG #chan") == (  # no quote line without message-tags
        ":tagged!tagged@palaver PRIVMSG #chan :me, sorry")

    await tagged.send(f"@+draft/react=👍;+draft/reply={msgid} TAGMSG #chan")
    told = await alice.wait_for(Reacted)
    assert (told.by, told.reaction, told.msg_id) == ("tagged", "👍", first.msg_id)
    assert await plain.line_with("NOTICE #chan") == (
        ":palaver NOTICE #chan :* tagged reacted 👍 to alice: who broke the build?")
    echoed = await tagged.line_with("TAGMSG #chan")
    assert "+draft/react=👍" in echoed and f"+draft/reply={msgid}" in echoed

    await alice.request(React(room="#chan", msg_id=first.msg_id, reaction="👀"))
    assert "+draft/react=👀" in await tagged.line_with("TAGMSG #chan")
    await alice.request(React(room="#chan", msg_id=first.msg_id, reaction="👀", remove=True))
    line = await tagged.line_with("TAGMSG #chan")
    assert line.startswith("@") and "+draft/unreact=👀" in line
    assert line.endswith(":alice!alice@palaver TAGMSG #chan")

    page = await alice.request(History(room="#chan"))
    assert isinstance(page, HistoryPage)
    assert page.messages[0].reactions == {"👍": ("tagged",)}
    assert page.messages[1].reply_to == first.msg_id


async def test_replies_and_reactions_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(port=0, data_dir=str(tmp_path), web_port=0, irc_port=0,
                        argon2_time_cost=1, argon2_memory_kib=8)
    async with running(settings) as server:
        alice = await Client.connect("127.0.0.1", server.port, "alice")
        first = await said(alice, "#lobby", "before the restart")
        await said(alice, "#lobby", "me again", reply_to=first.msg_id)
        await alice.request(React(room="#lobby", msg_id=first.msg_id, reaction="🔁"))
        await alice.close()
    async with running(settings) as server:
        bob = await Client.connect("127.0.0.1", server.port, "bob")
        page = await bob.request(History(room="#lobby"))
        assert isinstance(page, HistoryPage)
        old, reply = page.messages
        assert old.reactions == {"🔁": ("alice",)}
        assert reply.reply_to == first.msg_id and reply.quote == Quote(
            msg_id=first.msg_id, sender="alice", text="before the restart")
        answer = await said(bob, "#lobby", "welcome back", reply_to=reply.msg_id)
        assert answer.quote == Quote(msg_id=reply.msg_id, sender="alice", text="me again")
        await bob.close()
        resumed = Client(*await asyncio.open_connection("127.0.0.1", server.port))
        welcome = await resumed.request(Hello(version=1, nick="dave", since={"#lobby": 0}))
        assert isinstance(welcome, Welcome)
        replayed = [await resumed.wait_for(Message) for _ in range(3)]
        assert replayed[0].reactions == {"🔁": ("alice",)}  # a replay carries reactions
        assert [m.reply_to for m in replayed] == [None, first.msg_id, reply.msg_id]
        await resumed.close()
