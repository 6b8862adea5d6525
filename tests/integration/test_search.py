"""Full-text search over real sockets, SQLite in a temporary data directory: JSON clients, the
text door (nc-like) and a raw IRC client, all on the same server (SEARCH, /search, IRC SEARCH)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path

import pytest

from palaver.client import Client, ServerError
from palaver.client.render import clock
from palaver.protocol.messages import (
    Delete,
    Join,
    Message,
    Say,
    Search,
    SearchResults,
    SendDirect,
    SetRoomMode,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc_watch_markers_redact import RawIrc
from tests.integration.test_text_door import TextPeer

Connect = Callable[..., Awaitable[Client]]


async def search(client: Client, **fields: object) -> SearchResults:
    answer = await client.request(Search(**fields))  # type: ignore[arg-type]
    assert isinstance(answer, SearchResults), answer
    return answer


async def said(client: Client, room: str, text: str) -> Message:
    ack = await client.request(Say(room=room, text=text))
    assert isinstance(ack, Message)
    return ack


async def test_json_search_finds_what_one_may_read_newest_first_in_pages(
    connect: Connect,
) -> None:
    alice, bob, carol = await connect("alice"), await connect("bob"), await connect("carol")
    for client in (alice, bob):
        await client.request(Join(room="#dev"))
    await carol.request(Join(room="#vault"))
    await carol.request(SetRoomMode(room="#vault", private=True))
    await said(carol, "#vault", "the vault combination is 1234")
    first = await said(bob, "#dev", "the combination of Größe and ÜBERGRÖSSE")
    await bob.request(SendDirect(to="alice", text="combination for you"))
    await said(bob, "#dev", "a combination lock")
    await carol.request(SendDirect(to="bob", text="combination between us"))

    page = await search(alice, query="COMBINATION", limit=2, id="s1")
    assert page.id == "s1" and page.next is not None
    assert [(h.room, h.peer, h.text) for h in page.hits] == [
        ("#dev", None, "a combination lock"), (None, "bob", "combination for you")]
    assert page.hits[0].marks == ((2, 13),) and page.hits[0].sender == "bob"
    older = await search(alice, query="COMBINATION", limit=2, before=page.next)
    assert [(h.room, h.msg_id, h.ts) for h in older.hits] == [("#dev", first.msg_id, first.ts)]
    assert older.next is None
    assert [h.text for h in (await search(alice, query="größe")).hits] == [first.text]

    with pytest.raises(ServerError) as refused:
        await search(alice, query="vault", room="#vault")
    assert refused.value.code == "no_such_room"
    assert (await search(alice, query="vault")).hits == ()
    with pytest.raises(ServerError) as short:
        await search(alice, query="of combination")
    assert (short.value.code, short.value.error.field) == ("invalid_field", "query")


async def test_a_deleted_message_is_no_longer_found(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#dev"))
    oops = await said(alice, "#dev", "my password is swordfish")
    assert [h.msg_id for h in (await search(alice, query="swordfish")).hits] == [oops.msg_id]
    await alice.request(Delete(room="#dev", msg_id=oops.msg_id))
    assert (await search(alice, query="swordfish")).hits == ()


async def test_what_was_stored_is_found_after_a_restart(tmp_path: Path) -> None:
    settings = Settings(port=0, data_dir=str(tmp_path), web_port=0, irc_port=0,
                        argon2_time_cost=1, argon2_memory_kib=8)
    async with running(settings) as server:
        alice = await Client.connect("127.0.0.1", server.port, "alice")
        await said(alice, "#lobby", "remember the milk")
        await alice.quit()
    async with running(settings) as again:
        bob = await Client.connect("127.0.0.1", again.port, "bob")
        try:
            assert [h.text for h in (await search(bob, query="milk")).hits] == [
                "remember the milk"]
        finally:
            await bob.close()


async def test_the_text_door_searches_with_slash_search(start_server: ServerFactory) -> None:
    server = await start_server(text_sniff_timeout=0.05)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    ack = await said(alice, "#lobby", "needle in a haystack")
    bob = await TextPeer.open(server.port)
    await bob.exactly(b"Welcome to palaver. Choose a nickname:\r\n")
    await bob.send(b"bob\r\n")
    await bob.until(b"* you joined #lobby (2 here: alice, bob)\r\n")
    await bob.send(b"/search NEEDLE\r\n")
    assert await bob.until(b"* 1 message found for \"NEEDLE\":\r\n")
    assert await bob.line() == (
        f"  [{clock(ack.ts, UTC)}] #lobby <alice> needle in a haystack\r\n".encode())
    await bob.send(b"/search ab\r\n")
    line = await bob.line()
    assert line.startswith(b"! each word of a search is at least 3 characters")
    assert line.endswith(b"(invalid_field)\r\n")
    bob.close()
    await alice.close()


@pytest.fixture
async def irc_port(server: Server) -> int:
    return await server.open_irc(0)


async def test_irc_search_is_answered_with_notices(
    server: Server, irc_port: int, connect: Connect,
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#dev"))
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await peer.send("NICK ann", "USER ann 0 * :Ann", "JOIN #dev")
    await peer.line_with(" 366 ")
    ack = await said(alice, "#dev", "ship the release\non friday")
    await alice.request(SendDirect(to="ann", text="release notes?"))
    await peer.line_with("release notes?")
    await peer.send("SEARCH * :RELEASE")
    lines = await peer.lines_until("End of SEARCH")
    notices = [line.split(" :", 1)[1] for line in lines if " NOTICE ann :" in line]
    when = ack.ts[:16].replace("T", " ")
    assert notices[0] == 'SEARCH "RELEASE": 2 messages, newest first'
    assert notices[1].endswith("alice <alice> release notes? (msgid dm/alice,ann/1)")
    assert notices[2] == (f"[{when}] #dev <alice> ship the release on friday "
                          f"(msgid #dev/{ack.msg_id})")
    assert notices[3] == "End of SEARCH"
    await peer.send("SEARCH #nowhere :release")
    assert "no_such_room" in await peer.line_with("NOTICE ann")
    peer.writer.close()
