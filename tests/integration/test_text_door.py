"""The plain-text door on the main port, over real sockets: an nc-like client that waits for the
prompt, clients of the three older line dialects, and JSON clients in the same rooms.

Every wait is for bytes or the end of the stream, bounded; the sniff timeout is made small where a
test waits for the prompt (silence is how a text client is recognised)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC

import pytest

from palaver.client import Client, ServerError
from palaver.client.render import clock
from palaver.protocol.messages import Message, Ping, Presence, Say
from palaver.server.app import Server

StartServer = Callable[..., Awaitable[Server]]
TIME = re.compile(rb"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\r\n")


class TextPeer:
    """What ``nc 127.0.0.1 PORT`` does: write bytes, read lines."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> TextPeer:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def line(self, timeout: float = 10.0) -> bytes:
        """The next line, its CR LF included (b"" at the end of the stream)."""
        async with asyncio.timeout(timeout):
            return await self.reader.readline()

    async def exactly(self, expected: bytes, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            got = await self.reader.readexactly(len(expected))
        assert got == expected

    async def until(self, last: bytes) -> list[bytes]:
        """Lines up to and including ``last``."""
        seen: list[bytes] = []
        while (line := await self.line()) != last:
            assert line, f"closed before {last!r}; saw {seen!r}"
            seen.append(line)
        return [*seen, line]

    async def rest(self) -> bytes:
        async with asyncio.timeout(10.0):
            return await self.reader.read()

    def close(self) -> None:
        self.writer.close()


async def json_client(server: Server, nick: str) -> Client:
    return await Client.connect("127.0.0.1", server.port, nick)


async def test_silent_client_gets_the_prompt_and_chats_with_a_json_client(
    start_server: StartServer,
) -> None:
    server = await start_server(text_sniff_timeout=0.05)
    alice = await json_client(server, "alice")
    bob = await TextPeer.open(server.port)
    await bob.exactly(b"Welcome to palaver. Choose a nickname:\r\n")  # sent nothing, got asked
    await bob.send(b"bob\r\n")
    await bob.until(b"* you joined #lobby (2 here: alice, bob)\r\n")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="join", room="#lobby")

    await bob.send(b"hello alice\n")
    seen = await alice.wait_for(Message)
    assert (seen.sender, seen.room, seen.text) == ("bob", "#lobby", "hello alice")
    assert await bob.line() == f"[{clock(seen.ts, UTC)}] <bob> hello alice\r\n".encode()

    ack = await alice.request(Say(room="#lobby", text="hi bob"))
    assert isinstance(ack, Message)
    assert await bob.line() == f"[{clock(ack.ts, UTC)}] <alice> hi bob\r\n".encode()
    bob.close()
    await alice.close()


async def test_user_msg_dir_dialect_byte_exact(server: Server) -> None:
    alice = await json_client(server, "alice")
    bob = await TextPeer.open(server.port)
    await bob.send(b"USER|bob\nMSG|hello\nDIR\n")  # at once: no prompt for this one
    await bob.exactly(b"USER_OK\r\nMSG_OK\r\nUsers logged in: alice, bob\r\n")
    seen = await alice.wait_for(Message)
    assert (seen.sender, seen.room, seen.text) == ("bob", "#lobby", "hello")
    await alice.request(Say(room="#lobby", text="hi bob"))
    await bob.exactly(b"alice: hi bob\r\n")  # the classic style, and nothing in between
    bob.close()
    await alice.close()


async def test_name_taken(server: Server) -> None:
    alice = await json_client(server, "alice")
    bob = await TextPeer.open(server.port)
    await bob.send(b"USER|alice\n")
    await bob.exactly(b"ERROR name taken\r\n")
    await bob.send(b"alice\n")
    await bob.exactly(b"! the nick alice is taken (nick_taken)\r\nChoose a nickname:\r\n")
    await bob.send(b"USER|bob\n")
    await bob.exactly(b"USER_OK\r\n")
    bob.close()
    await alice.close()


async def test_command_dialect_before_and_after_a_nickname(server: Server) -> None:
    peer = await TextPeer.open(server.port)
    for _ in range(2):
        await peer.send(b"get_time\necho some text\ncalculate_sum 1 2 3.5\n")
        assert TIME.fullmatch(await peer.line())
        assert await peer.line() == b"some text\r\n"
        assert await peer.line() == b"6.5\r\n"
        await peer.send(b"USER|carol\n")
        await peer.exactly(b"USER_OK\r\n")
        await peer.send(b"DIR\n")
        await peer.exactly(b"Users logged in: carol\r\n")
        await peer.send(b"USER|carol\n")  # the same name again: still fine
        await peer.exactly(b"USER_OK\r\n")
    peer.close()


async def test_slash_commands_of_the_older_chat_program(server: Server) -> None:
    peer = await TextPeer.open(server.port)
    await peer.send(b"/time\n/joke\n/help\n")
    assert TIME.fullmatch(await peer.line())
    assert (await peer.line()).endswith(b"\r\n")  # a joke
    help_lines = await peer.until(b"Any other line is said in the current room.\r\n")
    assert help_lines[0] == b"Commands:\r\n"
    peer.close()


async def test_text_and_json_clients_see_each_others_joins_and_quits(
    server: Server,
) -> None:
    alice = await json_client(server, "alice")
    bob = await TextPeer.open(server.port)
    await bob.send(b"bob\n")
    await bob.until(b"* you joined #lobby (2 here: alice, bob)\r\n")
    carol = await json_client(server, "carol")
    await bob.exactly(b"* carol joined #lobby\r\n")
    await carol.quit("off to lunch")
    await bob.exactly(b"* carol quit (off to lunch)\r\n")
    await bob.send(b"/join #dev\n/quit see you\n")
    await bob.exactly(b"* you joined #dev (1 here: bob)\r\n* disconnected: bye\r\n")
    assert await bob.rest() == b""
    events = [await alice.wait_for(Presence) for _ in range(4)]
    assert events[-1] == Presence(nick="bob", event="quit", reason="see you")
    bob.close()
    await alice.close()


async def test_bidi_overrides_and_nick_edges_are_neutralised(server: Server) -> None:
    nick = "Z" + "a_-9" * 7 + "xyz"  # 32 characters, every kind allowed
    sender = await json_client(server, nick)
    bob = await TextPeer.open(server.port)
    await bob.send(b"bob\n")
    await bob.until(f"* you joined #lobby (2 here: {nick}, bob)\r\n".encode())
    with pytest.raises(ServerError) as refused:  # bidi overrides: refused (docs/fuzzing.md)
        await sender.request(Say(room="#lobby", text="\u202etxet\u202c isolated \u2066x\u2069"))
    assert refused.value.code == "invalid_text"
    ack = await sender.request(Say(room="#lobby", text="txet\u200f\tmarked\nline two"))
    assert isinstance(ack, Message)
    prefix = f"[{clock(ack.ts, UTC)}] <{nick}> "
    await bob.exactly(
        f"{prefix}txet\u200f\tmarked\r\n".encode()
        + (" " * len(prefix) + "line two\r\n").encode())
    bob.close()
    await sender.close()


async def test_over_long_line_gets_an_error_line_and_is_closed(
    start_server: StartServer,
) -> None:
    server = await start_server(max_frame=1_024)
    peer = await TextPeer.open(server.port)
    await peer.send(b"x" * 5_000)
    assert await peer.rest() == b"! line exceeds the limit of 1024 bytes (frame_too_large)\r\n"
    peer.close()


async def test_silent_text_client_is_not_dropped_for_idleness(
    start_server: StartServer,
) -> None:
    server = await start_server(ping_interval=0.05, idle_timeout=0.15)
    bob = await TextPeer.open(server.port)
    await bob.send(b"USER|bob\n")
    await bob.exactly(b"USER_OK\r\n")
    awake = await json_client(server, "awake")
    # Three pings to the JSON client, each answered, span more than the idle timeout; bob, who
    # cannot answer a PING, said nothing all along and is still there.
    for _ in range(3):
        await awake.wait_for(Ping)
    await awake.request(Say(room="#lobby", text="still there?"))
    await bob.until(b"awake: still there?\r\n")
    bob.close()
    await awake.close()


async def test_json_clients_are_unaffected_by_the_sniffer(server: Server) -> None:
    alice, bob = await json_client(server, "alice"), await json_client(server, "bob")
    await alice.request(Say(room="#lobby", text="plain old json"))
    seen = await bob.wait_for(Message)
    assert seen.text == "plain old json"
    await alice.close()
    await bob.close()


async def test_register_then_login_from_a_text_client(server: Server) -> None:
    bob = await TextPeer.open(server.port)
    await bob.send(b"bob\n")
    await bob.until(b"* you joined #lobby (1 here: bob)\r\n")
    await bob.send(b"/register secret-words\n")
    await bob.exactly(b"* bob is now an account: next time, log in with /login bob <password>\r\n")
    await bob.send(b"/quit\n")
    assert await bob.rest() == b"* disconnected: bye\r\n"
    bob.close()

    again = await TextPeer.open(server.port)
    await again.send(b"bob\n")
    await again.exactly(b"! bob is a registered account: log in with its password "
                        b"(nick_registered)\r\nChoose a nickname:\r\n")
    await again.send(b"/login bob wrong-words\n")
    await again.exactly(b"! wrong nick or password (auth_failed)\r\nChoose a nickname:\r\n")
    await again.send(b"/login bob secret-words\nhello as an account\n")
    lines = await again.until(b"* you joined #lobby (1 here: bob)\r\n")
    assert lines[0].startswith(b"* connected to palaver/") and lines[0].endswith(b" as bob\r\n")
    assert (await again.line()).endswith(b"<bob> hello as an account\r\n")
    again.close()


async def test_an_account_says_something_new_on_every_text_connection(
    connect: Callable[..., Awaitable[Client]], server: Server,
) -> None:
    """The text door numbers its requests t1, t2, ... again on each connection. Those are its own
    correlation tags, not the client's resend ids: an account that reconnects and speaks is heard
    (before the fix, the room never heard "second message!" and bob got his first one back)."""
    setup = await TextPeer.open(server.port)
    await setup.send(b"bob\n")
    await setup.until(b"* you joined #lobby (1 here: bob)\r\n")
    await setup.send(b"/register secret-words\n")
    await setup.exactly(b"* bob is now an account: next time, log in with /login bob "
                        b"<password>\r\n")
    await setup.send(b"/quit\n")
    await setup.rest()
    setup.close()
    alice = await connect("alice")
    heard: list[str] = []
    for text in (b"first message", b"second message!"):
        bob = await TextPeer.open(server.port)
        await bob.send(b"/login bob secret-words\n" + text + b"\n")
        await bob.until(b"* you joined #lobby (2 here: alice, bob)\r\n")
        assert (await bob.line()).endswith(b"<bob> " + text + b"\r\n")
        seen = await alice.wait_for(Message)
        heard.append(seen.text)
        await bob.send(b"/quit\n")
        await bob.rest()
        bob.close()
    assert heard == ["first message", "second message!"]


async def test_a_json_line_typed_at_the_nickname_prompt_makes_a_json_client(
    start_server: StartServer,
) -> None:
    """The README's nc example typed by a person: the sniff has made the connection a text client
    (and asked for a nickname), and then the first line is JSON: it is a JSON client after all."""
    server = await start_server(text_sniff_timeout=0.05)
    person = await TextPeer.open(server.port)
    await person.exactly(b"Welcome to palaver. Choose a nickname:\r\n")
    await person.send(b'{"type":"HELLO","version":1,"nick":"nc"}\n')
    assert (await person.line()).startswith(b'{"type":"WELCOME","version":1,"nick":"nc"')
    assert (await person.line()).startswith(b'{"type":"JOINED","room":"#lobby"')
    await person.send(b'{"type":"CHAT","room":"#lobby","text":"hi"}\n')
    line = await person.line()
    assert line.startswith(b'{"type":"MESSAGE","msg_id":1,') and b'"text":"hi"' in line
    # Once a nickname is chosen, a line starting with { is just something said.
    bob = await TextPeer.open(server.port)
    await bob.exactly(b"Welcome to palaver. Choose a nickname:\r\n")
    await bob.send(b"bob\n")
    await bob.until(b"* you joined #lobby (2 here: nc, bob)\r\n")
    await bob.send(b"{braces}\n")
    assert (await bob.line()).endswith(b"<bob> {braces}\r\n")
    person.close()
    bob.close()
