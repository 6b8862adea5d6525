"""A NOTICE stays a NOTICE on its way through palaver (bots must never answer one): to IRC users
as NOTICE, to JSON clients as a MESSAGE with ``notice``, and in history."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from palaver.client import Client
from palaver.protocol.messages import History, HistoryPage, Join, Message
from palaver.server.app import Server

WAIT = 10.0


class RawIrc:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def register(cls, port: int, nick: str) -> RawIrc:
        peer = cls(*await asyncio.open_connection("127.0.0.1", port))
        peer.writer.write(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nJOIN #ops\r\n".encode())
        await peer.until(f" 366 {nick} #ops ".encode())
        return peer

    async def until(self, part: bytes) -> bytes:
        async with asyncio.timeout(WAIT):
            while True:
                line = await self.reader.readline()
                assert line, f"closed before {part!r}"
                if part in line:
                    return line


async def test_notices_reach_irc_and_json_users_as_notices(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    bot = await RawIrc.register(port, "bot")
    ann = await RawIrc.register(port, "ann")
    bob = await connect("bob")
    await bob.request(Join(room="#ops"))
    bot.writer.write(b"NOTICE #ops :build passed\r\nNOTICE ann :you are up\r\n"
                     b"PRIVMSG #ops :a plain message\r\n")
    assert (await ann.until(b"build passed")).endswith(b" NOTICE #ops :build passed\r\n")
    assert (await ann.until(b"you are up")).endswith(b" NOTICE ann :you are up\r\n")
    assert (await ann.until(b"a plain message")).endswith(b" PRIVMSG #ops :a plain message\r\n")
    notice = await bob.wait_for(Message)
    plain = await bob.wait_for(Message)
    assert (notice.text, notice.notice) == ("build passed", True)
    assert (plain.text, plain.notice) == ("a plain message", False)
    page = await bob.request(History(room="#ops"))
    assert isinstance(page, HistoryPage)
    assert [(m.text, m.notice) for m in page.messages] == [
        ("build passed", True), ("a plain message", False)]
