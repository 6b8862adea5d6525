"""Answers on one connection leave in the order of the commands they answer, on every door: an
answer the door makes itself (an IRC PONG, a text-door line) never overtakes the acknowledgement
of a message that is still being stored. Clients and conformance suites use PING as a barrier.

Both commands go out in one write, so the second is handled while the first is still being
committed (the commit runs in a task that cannot start before the read is handled)."""

from __future__ import annotations

import asyncio

from palaver.server.app import Server

WAIT = 10.0


async def lines_until(reader: asyncio.StreamReader, last: bytes) -> list[bytes]:
    seen: list[bytes] = []
    async with asyncio.timeout(WAIT):
        while True:
            line = await reader.readline()
            assert line, f"closed before {last!r}; saw {seen!r}"
            seen.append(line)
            if last in line:
                return seen


async def test_an_irc_pong_waits_for_the_messages_before_it(server: Server) -> None:
    port = await server.open_irc(0)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"CAP REQ :echo-message\r\nNICK ann\r\nUSER ann 0 * :Ann\r\nCAP END\r\n"
                 b"JOIN #order\r\n")
    await lines_until(reader, b" 366 ann #order ")
    writer.write(b"PRIVMSG #order :one\r\nPRIVMSG #order :two\r\nPING :barrier\r\n")
    seen = await lines_until(reader, b"PONG")
    assert [line.split(b" ", 1)[1] for line in seen] == [
        b"PRIVMSG #order :one\r\n", b"PRIVMSG #order :two\r\n",
        b"PONG " + seen[-1].split(b"PONG ", 1)[1]]
    assert seen[-1].endswith(b" :barrier\r\n")
    writer.close()


async def test_a_text_door_line_waits_for_the_message_before_it(server: Server) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"bob\n")
    await lines_until(reader, b"* you joined #lobby")
    writer.write(b"hello there\n/style classic\n")
    seen = await lines_until(reader, b"style classic")
    assert [line for line in seen if b"hello there" in line or b"style" in line] == seen
    assert seen[0].endswith(b"<bob> hello there\r\n") and b"style classic" in seen[1]
    writer.close()
