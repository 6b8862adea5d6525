"""IRC message-level IRCv3 over real sockets: client-only tags and TAGMSG between IRC and JSON
clients (typing notifications), labeled responses, draft/multiline, STATUSMSG."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from palaver.client import Client
from palaver.protocol.irc.wire import IrcLine, parse_line
from palaver.protocol.messages import (
    History,
    HistoryPage,
    Join,
    Message,
    Say,
    SendTags,
    StatusMessage,
    Tagged,
)
from palaver.server.app import Server

WAIT = 10.0


class RawIrc:
    """One IRC connection that speaks lines (with the capabilities it asked for)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def register(cls, port: int, nick: str, caps: str = "",
                       room: str = "#r") -> RawIrc:
        peer = cls(*await asyncio.open_connection("127.0.0.1", port))
        cap = f"CAP REQ :{caps}\r\nCAP END\r\n" if caps else ""
        peer.send(f"{cap}NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN {room}\r\n")
        await peer.until(lambda line: line.command == "366")
        return peer

    def send(self, text: str | bytes) -> None:
        self.writer.write(text.encode() if isinstance(text, str) else text)

    async def line(self) -> IrcLine:
        async with asyncio.timeout(WAIT):
            raw = await self.reader.readline()
        assert raw, "closed"
        return parse_line(raw.rstrip(b"\r\n"))

    async def until(self, check: Callable[[IrcLine], bool]) -> IrcLine:
        while True:
            line = await self.line()
            if check(line):
                return line

    async def synced(self) -> list[IrcLine]:
        """Every line until the answer to a PING of ours: what came before it."""
        self.send("PING sync\r\n")
        lines: list[IrcLine] = []
        while (line := await self.line()).command != "PONG" or line.params[-1] != "sync":
            lines.append(line)
        return lines

    def close(self) -> None:
        self.writer.close()


async def joined(client: Client, room: str = "#r") -> None:
    await client.request(Join(room=room))


async def test_typing_notifications_go_between_irc_and_json_clients_and_are_not_stored(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann", "message-tags")
    cid = await RawIrc.register(port, "cid")  # no message-tags: sees no TAGMSG
    bob = await connect("bob")
    await joined(bob)
    await ann.synced()
    await cid.synced()
    ann.send("@+typing=active;+draft/reply=#r/1 TAGMSG #r\r\n")
    tagged = await bob.wait_for(Tagged)
    assert (tagged.sender, tagged.room, tagged.tags) == (
        "ann", "#r", {"+typing": "active", "+draft/reply": "#r/1"})
    await bob.send(SendTags(room="#r", tags={"+typing": "paused"}))
    line = await ann.until(lambda line: line.command == "TAGMSG")
    assert line.source == "bob!bob@palaver" and line.params == ["#r"]
    assert line.tags["+typing"] == "paused" and line.tags["msgid"]
    await bob.request(Say(room="#r", text="done typing", tags={"+typing": "done"}))
    said = await ann.until(lambda line: line.command == "PRIVMSG")
    assert said.tags["+typing"] == "done" and said.params == ["#r", "done typing"]
    assert [line.command for line in await cid.synced()] == ["PRIVMSG"]  # no TAGMSG at all
    page = await bob.request(History(room="#r"))
    assert isinstance(page, HistoryPage)
    assert [(m.text, m.tags) for m in page.messages] == [("done typing", None)]


async def test_a_labeled_command_gets_its_answer_labeled(server: Server) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann", "batch labeled-response echo-message")
    await ann.synced()
    ann.send("@label=one PRIVMSG #r :hello\r\n@label=two JOIN #other\r\n@label=3 PONG x\r\n")
    echo = await ann.line()
    assert echo.command == "PRIVMSG" and echo.tags["label"] == "one"
    start = await ann.line()
    assert start.command == "BATCH" and start.params[1] == "labeled-response"
    assert start.tags["label"] == "two"
    batch = await ann.until(lambda line: line.command == "BATCH")
    assert batch.params == ["-" + start.params[0][1:]]
    ack = await ann.line()
    assert (ack.command, ack.tags) == ("ACK", {"label": "3"})


async def test_a_multiline_batch_is_one_message_for_everyone(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    caps = "batch draft/multiline message-tags"
    ann = await RawIrc.register(port, "ann", caps)
    dan = await RawIrc.register(port, "dan", caps)
    cid = await RawIrc.register(port, "cid")
    bob = await connect("bob")
    await joined(bob)
    for peer in (ann, dan, cid):
        await peer.synced()
    ann.send("BATCH +b1 draft/multiline #r\r\n@batch=b1 PRIVMSG #r :first\r\n"
             "@batch=b1 PRIVMSG #r :#how is \r\n"
             "@batch=b1;draft/multiline-concat PRIVMSG #r :everyone?\r\nBATCH -b1\r\n")
    message = await bob.wait_for(Message)
    assert (message.text, message.breaks) == ("first\n#how is everyone?", (14,))
    relayed = await dan.synced()
    assert [line.command for line in relayed] == ["BATCH", "PRIVMSG", "PRIVMSG", "PRIVMSG",
                                                 "BATCH"]
    assert "draft/multiline-concat" in relayed[3].tags
    assert [line.params[1] for line in await cid.synced()] == ["first", "#how is ",
                                                                "everyone?"]
    page = await bob.request(History(room="#r"))
    assert isinstance(page, HistoryPage)
    assert [(m.text, m.breaks) for m in page.messages] == [("first\n#how is everyone?", ())]


async def test_statusmsg_reaches_the_operators_only(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann", room="#fresh")  # the creator: its operator
    bob = await connect("bob")
    await joined(bob, "#fresh")
    cid = await RawIrc.register(port, "cid", room="#fresh")
    await ann.synced()
    cid.send("PRIVMSG @#fresh :for the operators\r\n")
    line = await ann.until(lambda line: line.command == "PRIVMSG")
    assert line.params == ["@#fresh", "for the operators"] and line.source == "cid!cid@palaver"
    assert await cid.synced() == []  # no echo, no error
    await bob.send(Say(room="#fresh", text="to the ops too", only="operators"))
    assert (await ann.until(lambda line: line.command == "PRIVMSG")).params[1] == (
        "to the ops too")
    first = await bob.wait_for(StatusMessage)  # bob is no operator: cid's never came
    assert (first.sender, first.text) == ("bob", "to the ops too")
