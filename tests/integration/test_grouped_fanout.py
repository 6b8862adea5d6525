"""A big room's messages through the grouped fan-out (server/audiences.py), over real sockets:
every door gets its own rendering, a sender without echo-message is skipped, and a client that
changes its capabilities, a client that leaves and one that joins are seen at the next message.

The audiences are grouped from 32 sessions on; these tests lower that to 2 so that a handful of
clients takes the grouped path (the second message to the same membership onwards)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from palaver.client import Client
from palaver.protocol.messages import Join, Message, Say
from palaver.server import core as server_core
from palaver.server.app import Server
from tests.integration import test_history_and_resume as history_and_resume
from tests.integration import test_send_queue as send_queue
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc_tags import RawIrc
from tests.integration.test_irc_websocket import WsIrc
from tests.integration.test_text_door import TextPeer


@pytest.fixture(autouse=True)
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_core, "GROUPED_MIN", 2)


def privmsgs(lines: list[object]) -> list[tuple[str, bool]]:
    """(text, has a server-time tag) of each PRIVMSG among ``lines``."""
    return [(line.params[-1], "time" in line.tags) for line in lines  # type: ignore[attr-defined]
            if line.command == "PRIVMSG"]  # type: ignore[attr-defined]


async def until_contains(peer: TextPeer, part: bytes) -> list[bytes]:
    """Lines up to and including the first that contains ``part``."""
    lines = [await peer.line()]
    while part not in lines[-1]:
        assert lines[-1], f"closed before {part!r}; saw {lines!r}"
        lines.append(await peer.line())
    return lines


async def test_every_door_gets_its_rendering_and_capability_changes_are_seen_at_once(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann")  # the sender: no echo-message, so skipped
    bea = await RawIrc.register(port, "bea")
    cid = await RawIrc.register(port, "cid", "server-time")
    dan = await connect("dan")
    await dan.request(Join(room="#r"))
    for peer in (ann, bea, cid):
        await peer.synced()
    for n in (1, 2, 3):  # the first goes through the audience; the next ones are grouped
        ann.send(f"PRIVMSG #r :hello {n}\r\n")
    assert privmsgs(await ann.synced()) == []  # its own lines are not echoed back
    assert privmsgs(await bea.synced()) == [(f"hello {n}", False) for n in (1, 2, 3)]
    assert privmsgs(await cid.synced()) == [(f"hello {n}", True) for n in (1, 2, 3)]

    bea.send("CAP REQ :server-time\r\n")  # rendered differently from now on
    await bea.until(lambda line: line.command == "CAP" and line.params[1] == "ACK")
    for n in (4, 5):
        ann.send(f"PRIVMSG #r :hello {n}\r\n")
    await ann.synced()
    assert privmsgs(await bea.synced()) == [("hello 4", True), ("hello 5", True)]
    assert privmsgs(await cid.synced()) == [("hello 4", True), ("hello 5", True)]
    texts = [(await dan.wait_for(Message)).text for _ in range(5)]
    assert texts == [f"hello {n}" for n in (1, 2, 3, 4, 5)]


async def test_the_room_changing_is_seen_at_the_next_message(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann, bea = await RawIrc.register(port, "ann"), await RawIrc.register(port, "bea")
    text_port = server.port
    for n in (1, 2):
        ann.send(f"PRIVMSG #r :before {n}\r\n")
    await ann.synced()
    assert [t for t, _ in privmsgs(await bea.synced())] == ["before 1", "before 2"]

    bea.close()  # gone: a connection of the grouped audience closes
    cid = await RawIrc.register(port, "cid")  # and one joins
    text = await TextPeer.open(text_port)  # the text door: rendered for each its own
    await text.send(b"tex\r\n/join #r\r\n")
    await until_contains(text, b"#r")
    for n in (1, 2):
        ann.send(f"PRIVMSG #r :after {n}\r\n")
    await ann.synced()
    assert [t for t, _ in privmsgs(await cid.synced())] == ["after 1", "after 2"]
    lines = await until_contains(text, b"after 2")
    assert [line.split(b"] ", 1)[1] for line in lines if b"after" in line] == [
        b"<ann> after 1\r\n", b"<ann> after 2\r\n"]
    dan = await connect("dan")
    await dan.request(Join(room="#r"))
    await dan.request(Say(room="#r", text="from json"))
    assert ("from json", False) in privmsgs(await cid.synced())


# The send-queue rule and a resume's replay, with the room's messages grouped.

async def test_a_slow_reader_in_a_grouped_audience_is_cut_and_the_readers_get_all(
        start_server: ServerFactory) -> None:
    await send_queue.test_a_burst_reaches_every_reader_and_only_the_sloth_is_cut(start_server)


async def test_a_websocket_slow_reader_in_a_grouped_audience_is_reset(
        start_server: ServerFactory) -> None:
    await send_queue.test_a_websocket_sloth_is_reset_and_a_reader_stays(start_server)


async def test_a_resume_holds_what_a_grouped_audience_gets_behind_its_replay(
        server: Server, connect: Callable[..., Awaitable[Client]]) -> None:
    await history_and_resume.test_resume_while_messages_keep_coming(server, connect)


async def test_a_capability_asked_for_over_websocket_is_seen_at_the_next_message(
        start_server: ServerFactory) -> None:
    server = await start_server()
    web_port = await server.open_web(0)
    irc_port = await server.open_irc(0)
    ann, bea = await RawIrc.register(irc_port, "ann"), await RawIrc.register(irc_port, "bea")
    async with aiohttp.ClientSession() as http, http.ws_connect(
            f"http://127.0.0.1:{web_port}/irc", protocols=("text.ircv3.net",)) as ws:
        web = WsIrc(ws)
        await web.send("NICK web", "USER web 0 * :web", "JOIN #r")
        await web.synced()
        for n in (1, 2):
            ann.send(f"PRIVMSG #r :before {n}\r\n")
        await ann.synced()
        assert [line for line in await web.synced() if "PRIVMSG" in line] == [
            ":ann!ann@palaver PRIVMSG #r :before 1", ":ann!ann@palaver PRIVMSG #r :before 2"]
        await web.send("CAP REQ :server-time")
        await web.line_with("ACK")
        ann.send("PRIVMSG #r :after\r\n")
        await ann.synced()
        after = [line for line in await web.synced() if "PRIVMSG" in line]
        assert len(after) == 1 and after[0].startswith("@time=")
        assert [t for t, _ in privmsgs(await bea.synced())] == ["before 1", "before 2", "after"]
