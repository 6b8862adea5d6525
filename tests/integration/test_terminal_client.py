"""`palaver chat` as a real process, stdin a pipe, against a real (or a hostile fake) server."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from palaver.client import Client
from palaver.protocol.jsonl import decode_client_frame, encode
from palaver.protocol.messages import (
    Error,
    Goodbye,
    Hello,
    History,
    HistoryPage,
    Join,
    Joined,
    Message,
    Presence,
    Quit,
    Register,
    Say,
    SendDirect,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings

TIMEOUT = 20.0
ANN_PASSWORD = "ann's long password"
STAMP = r"\[\d\d:\d\d\]"
Connect = Callable[..., Awaitable[Client]]


class Chat:
    """A running ``palaver chat`` whose stdin we write to and whose stdout we read line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[str] = []

    @classmethod
    async def start(cls, port: int, *args: str) -> Chat:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "palaver.cli", "chat", "--port", str(port), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process)

    async def type(self, *lines: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("".join(line + "\n" for line in lines).encode())
        await self.process.stdin.drain()

    async def expect(self, pattern: str) -> str:
        """Read stdout until a line matches ``pattern`` (a regex), and return that line."""
        assert self.process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            while True:
                raw = await self.process.stdout.readline()
                assert raw, f"stdout ended before {pattern!r}; saw {self.seen}"
                line = raw.decode().rstrip("\n")
                self.seen.append(line)
                if re.fullmatch(pattern, line):
                    return line

    async def finish(self) -> tuple[int, str, str]:
        """Close stdin, wait for exit; the exit status and the rest of stdout and stderr."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        out, err = await asyncio.wait_for(self.process.communicate(), TIMEOUT)
        assert self.process.returncode is not None
        return self.process.returncode, out.decode(), err.decode()


async def run_chat(port: int, script: str, *args: str) -> tuple[int, str, str]:
    """Run ``palaver chat`` with ``script`` piped to stdin; exit status, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "chat", "--port", str(port), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(script.encode()), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def message_from(client: Client, sender: str) -> Message:
    """The next MESSAGE that ``sender`` sent (skipping everything else)."""
    while True:
        event = await client.wait_for(Message, timeout=TIMEOUT)
        if isinstance(event, Message) and event.sender == sender:
            return event


@pytest.fixture
async def chats() -> AsyncIterator[list[Chat]]:
    """Chats started by a test; killed at the end if a failed test left one running."""
    started: list[Chat] = []
    yield started
    for chat in started:
        if chat.process.returncode is None:
            chat.process.kill()
            await chat.process.wait()


# --------------------------------------------------------------------------- scripts


async def test_script_joins_says_sums_and_exits_0(server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#dev"))
    code, out, err = await run_chat(
        server.port, "/join #dev\nhello\n/sum 1 2 3.5\n", "--nick", "bob"
    )
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:3] == [
        "* connected to palaver/0.1.0 as bob",
        "* Welcome to palaver. Type /help for commands.",
        "* you joined #lobby (2 here: alice, bob)",
    ]
    assert lines[3] == "* you joined #dev (2 here: alice, bob)"
    assert re.fullmatch(rf"{STAMP} <bob> hello", lines[4]), lines
    assert lines[5:] == ["6.5"]
    said = await message_from(alice, "bob")
    assert (said.room, said.text) == ("#dev", "hello")


async def test_every_reply_arrives_before_bye(server: Server) -> None:
    script = "".join(f"/sum {n} 0.5\n" for n in range(100))
    code, out, _ = await run_chat(server.port, script, "--nick", "bob")
    assert code == 0
    assert out.splitlines()[3:] == [f"{n}.5" for n in range(100)]


async def test_commands_errors_and_local_lines(server: Server) -> None:
    script = "\n".join([
        "",
        "/foo",
        "/echo  two  spaces",
        "//not a command",
        "/leave #nowhere",
        "/msg nobody hi",
        "/join #dev",
        "/who #dev",
        "/rooms",
        "/leave",
        "back in the lobby",
        "/nick rob",
        "/msg rob note to self",
        "/help",
        "/quit",
        "never sent",
    ]) + "\n"
    code, out, err = await run_chat(server.port, script, "--nick", "bob")
    assert (code, err) == (0, "")
    lines = out.splitlines()[3:]
    assert lines[:12] == [
        "! unknown command /foo; type /help for the list",
        " two  spaces",
        lines[2],
        "! you are not in #nowhere (not_in_room)",
        "! nobody called 'nobody' is here (no_such_user)",
        "* you joined #dev (1 here: bob)",
        "* 1 in #dev: bob",
        "* 2 rooms:",
        "  #dev (1 member)",
        "  #lobby (1 member)",
        "* you left #dev",
        "* now talking in #lobby",
    ]
    assert re.fullmatch(rf"{STAMP} <bob> /not a command", lines[2])
    assert re.fullmatch(rf"{STAMP} <bob> back in the lobby", lines[12])
    assert lines[13] == "* bob is now known as rob"
    assert re.fullmatch(rf"{STAMP} -> \*rob\* note to self", lines[14])
    assert lines[15] == "Commands:" and "  /quit [reason]     leave the chat" in lines
    assert "never sent" not in out and "disconnected" not in out


async def test_a_line_over_the_limits_is_refused_once_and_never_sent(server: Server) -> None:
    script = "x" * 70_000 + "\n/echo " + "e" * 70_000 + "\nafter\n"
    code, out, err = await run_chat(server.port, script, "--nick", "bob")
    assert (code, err) == (0, "")
    lines = out.splitlines()[3:]
    assert lines[:2] == [
        "! a message is at most 4,000 characters (this one has 70,000) (invalid_text)",
        lines[1],
    ]
    assert re.fullmatch(r"! too long to send: 70,\d\d\d bytes, the server takes at most "
                        r"65,536 \(frame_too_large\)", lines[1])
    assert re.fullmatch(rf"{STAMP} <bob> after", lines[2])
    assert len(lines) == 3 and "disconnected" not in out


async def test_every_run_for_one_account_stores_its_own_messages(
    server: Server, connect: Connect,
) -> None:
    # The server keeps a sender's request ids forever per account: a second run (or a second
    # client at the same time) must not reuse the first one's, or its lines are taken for resends.
    ann = await connect("ann")
    await ann.request(Register(nick="ann", password=ANN_PASSWORD))
    await ann.quit()
    for _ in range(2):
        code, out, err = await run_chat(server.port, "same words\n/sum 1 1\n", "--nick", "ann",
                                        "--password", ANN_PASSWORD)
        assert (code, err) == (0, ""), out
    reader = await connect("reader")
    page = await reader.request(History(room="#lobby", limit=10))
    assert isinstance(page, HistoryPage)
    assert [(m.sender, m.text) for m in page.messages] == [("ann", "same words")] * 2


async def test_nick_from_the_first_line_when_not_given(server: Server) -> None:
    code, out, _ = await run_chat(server.port, "\ncarol\nhi\n")
    assert code == 0
    assert "Nickname:" not in out  # no prompt when stdin is not a terminal
    assert out.splitlines()[0] == "* connected to palaver/0.1.0 as carol"
    assert re.fullmatch(rf"{STAMP} <carol> hi", out.splitlines()[-1])


# --------------------------------------------------------------------------- live, with others


async def test_talking_with_another_client(
    server: Server, connect: Connect, chats: list[Chat]
) -> None:
    alice = await connect("alice")
    bob = await Chat.start(server.port, "--nick", "bob")
    chats.append(bob)
    await bob.expect(r"\* you joined #lobby \(2 here: alice, bob\)")
    assert await alice.wait_for(Presence) == Presence(nick="bob", event="join", room="#lobby")

    await alice.send(Say(room="#lobby", text="hi bob\nsecond line"))
    await bob.expect(rf"!{STAMP} <alice> hi bob")  # it names bob: a mention, marked "!"
    assert await bob.expect(r" +second line") == " " * len("![hh:mm] <alice> ") + "second line"

    await alice.send(SendDirect(to="bob", text="psst"))
    await bob.expect(rf"{STAMP} \*alice\* psst")
    await bob.type("/msg alice hello there", "/join #dev")
    await bob.expect(rf"{STAMP} -> \*alice\* hello there")
    direct = await message_from(alice, "bob")
    assert (direct.to, direct.text) == ("alice", "hello there")

    await bob.expect(r"\* you joined #dev \(1 here: bob\)")
    await alice.send(Say(room="#lobby", text="over here"))
    await bob.expect(rf"{STAMP} #lobby <alice> over here")

    await alice.request(Join(room="#dev"))
    await bob.expect(r"\* alice joined #dev")
    await alice.quit("lunch")
    await bob.expect(r"\* alice quit \(lunch\)")
    code, _, err = await bob.finish()
    assert (code, err) == (0, "")


async def test_quit_with_a_reason(server: Server, connect: Connect, chats: list[Chat]) -> None:
    alice = await connect("alice")
    bob = await Chat.start(server.port, "--nick", "bob")
    chats.append(bob)
    await alice.wait_for(Presence)
    await bob.type("/quit gone fishing")
    assert await alice.wait_for(Presence) == Presence(
        nick="bob", event="quit", reason="gone fishing"
    )
    code, out, _ = await bob.finish()
    assert code == 0 and "disconnected" not in out


async def test_bidi_override_from_another_user_is_neutralised(
    server: Server, connect: Connect, chats: list[Chat]
) -> None:
    alice = await connect("alice")
    bob = await Chat.start(server.port, "--nick", "bob")
    chats.append(bob)
    await alice.wait_for(Presence)
    # The server refuses bidi overrides and isolates in texts (docs/fuzzing.md); the terminal's
    # own neutralising of them is tested against a hostile server below.
    await alice.send(Say(room="#lobby", text="txt.\u202eexe.sh\u2066x\u2069", id="b1"))
    refused = await alice.wait_for(Error)
    assert (refused.code, refused.id) == ("invalid_text", "b1")
    await alice.send(Say(room="#lobby", text="\u05e9\u05dc\u05d5\u05dd\u200f ok"))  # a mark
    line = await bob.expect(rf"{STAMP} <alice> .*")
    assert line.endswith("<alice> \u05e9\u05dc\u05d5\u05dd\u200f ok")
    code, out, _ = await bob.finish()
    assert code == 0 and "\u202e" not in out


async def test_server_shutdown_prints_the_reason_and_exits_0(
    tmp_path: Path, chats: list[Chat]
) -> None:
    async with running(Settings(port=0, web_port=0, irc_port=0, data_dir=str(tmp_path))) as server:
        bob = await Chat.start(server.port, "--nick", "bob")
        chats.append(bob)
        await bob.expect(r"\* you joined #lobby .*")
    await bob.expect(r"\* disconnected: server shutting down")
    code, _, err = await bob.finish()
    assert (code, err) == (0, "")


# --------------------------------------------------------------------------- a hostile server

ESC_TEXT = "\x1b[2J\x1b[31mred\x1b]0;pwned\x07\x9b6n\x7f\u202eevil"
ESC_SHOWN = "^[[2J^[[31mred^[]0;pwned^G<U+009B>6n<U+007F><U+202E>evil"


async def _hostile_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Speaks the protocol but relays control sequences that a real server refuses."""
    while line := await reader.readline():
        frame = decode_client_frame(line.rstrip(b"\n"))
        if isinstance(frame, Hello):
            for event in (
                Welcome(id=frame.id, version=1, nick=frame.nick, server="evil\x1b[8m",
                        rooms=("#lobby",), motd="motd\x1b[?25l"),
                Joined(room="#lobby", members=(frame.nick, "m\x1bllory"), topic=""),
                Message(msg_id=1, ts="2026-11-20T12:00:00.000Z", sender="m\x1b[0mallory",
                        room="#lobby", text=ESC_TEXT + "\nline two\x1b[A"),
                Presence(nick="mallory", event="quit", reason="\x1bc reset"),
                Error(code="oops\x1b", message="\x1b[1mloud"),
            ):
                writer.write(encode(event))
        elif isinstance(frame, Quit):
            writer.write(encode(Goodbye(id=frame.id, reason="bye")))
            break
    writer.close()


async def test_escape_sequences_from_the_server_are_neutralised() -> None:
    listener = await asyncio.start_server(_hostile_peer, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "palaver.cli", "chat", "--port", str(port), "--nick", "bob",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None and process.stdin is not None
        seen: list[bytes] = []
        async with asyncio.timeout(TIMEOUT):  # read up to the last event before closing stdin
            while not seen or b"loud" not in seen[-1]:
                line = await process.stdout.readline()
                assert line, seen
                seen.append(line)
        process.stdin.close()
        rest, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    out = b"".join(seen) + rest
    assert process.returncode == 0, err
    for byte in b"\x1b\x07\x7f":
        assert bytes([byte]) not in out
    text = out.decode()
    assert not re.search("[\x80-\x9f\u202a-\u202e\u2066-\u2069]", text)
    assert text.splitlines() == [
        "* connected to evil^[[8m as bob",
        "* motd^[[?25l",
        "* you joined #lobby (2 here: bob, m^[llory)",
        text.splitlines()[3],
        " " * len("[hh:mm] <m^[[0mallory> ") + "line two^[[A",
        "* mallory quit (^[c reset)",
        "! ^[[1mloud (oops^[)",
    ]
    assert re.fullmatch(rf"{STAMP} <m\^\[\[0mallory> " + re.escape(ESC_SHOWN),
                        text.splitlines()[3])


# --------------------------------------------------------------------------- failing to start


async def test_nick_taken_with_piped_stdin_exits_1(server: Server, connect: Connect) -> None:
    await connect("bob")
    code, out, err = await run_chat(server.port, "hello\n", "--nick", "bob")
    assert code == 1
    assert err == "palaver: the nick bob is taken (nick_taken)\n"
    assert out == ""


async def test_invalid_nick_with_piped_stdin_exits_1(server: Server) -> None:
    code, _, err = await run_chat(server.port, "", "--nick", "9lives")
    assert code == 1
    assert err.startswith("palaver: a nick is") and err.endswith("(invalid_nick)\n")


async def test_no_nick_and_empty_stdin_exits_1(server: Server) -> None:
    code, _, err = await run_chat(server.port, "")
    assert (code, err) == (1, "palaver: no nickname given\n")


async def test_connection_refused_exits_1_without_traceback() -> None:
    with socket.socket() as unused:  # bound, never listening: connecting is refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
        code, out, err = await run_chat(port, "hello\n", "--nick", "bob")
    assert code == 1
    assert out == ""
    assert err == f"palaver: cannot connect to 127.0.0.1:{port}: Connection refused\n"


# --------------------------------------------------------------------------- not palaver at all


async def _http_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers the first line as an HTTP server would, then closes."""
    with contextlib.suppress(ConnectionError):
        await reader.readline()
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
    writer.close()


async def _irc_like(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Greets first, as many IRC servers do, then waits for NICK/USER that never come."""
    writer.write(b":irc.example NOTICE * :*** Looking up your hostname...\r\n")
    with contextlib.suppress(ConnectionError):
        while await reader.readline():
            writer.write(b":irc.example 421 * {\"type\":\"PING\" :Unknown command\r\n")
    writer.close()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads and never says a word."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65_536):
            pass
    writer.close()


@pytest.mark.parametrize(("peer", "said"), [
    (_http_like, "it said: HTTP/1.1 400 Bad Request"),
    (_irc_like, "it said: :irc.example NOTICE * :*** Looking up your hostname..."),
    (_silent, "no answer within 0.2 s"),
])
async def test_a_port_that_is_not_palaver_says_so_and_exits_1(
    peer: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]], said: str,
) -> None:
    listener = await asyncio.start_server(peer, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        code, out, err = await run_chat(port, "hello\n", "--nick", "bob",
                                        "--handshake-timeout", "0.2")
    assert (code, out) == (1, "")
    assert err == f"palaver: 127.0.0.1:{port} is not palaver's JSON port: {said}\n"


async def test_palavers_own_irc_port_is_not_its_json_port(server: Server) -> None:
    irc_port = await server.open_irc(0)
    code, _, err = await run_chat(irc_port, "hello\n", "--nick", "bob")
    assert code == 1
    assert err.startswith(f"palaver: 127.0.0.1:{irc_port} is not palaver's JSON port: it said: :")


async def test_a_big_room_in_pages_and_batches(start_server: Callable[..., Awaitable[Server]],
                                               chats: list[Chat]) -> None:
    """A room over ``member_page`` (10 here) and ``presence_limit`` (3): ``palaver chat`` says
    ``member_pages``, so JOINED and ``/who`` give a page and ``/who #room more`` the next;
    joins and leaves come as one line per batch (docs/protocol.md §21)."""
    server = await start_server(presence_limit=3, member_page=10, presence_interval=0.1)
    crowd = [await Client.connect("127.0.0.1", server.port, f"m{n:02d}") for n in range(12)]
    try:
        zed = await Chat.start(server.port, "--nick", "zed")
        chats.append(zed)
        first = ", ".join(f"m{n:02d}" for n in range(10))
        await zed.expect(rf"\* you joined #lobby \(13 here: {first} and 3 more\)")
        await zed.expect(r"\* #lobby: (m\d\d, )*zed joined \(13 here\)")  # its own too
        await zed.type("/who #lobby", "/who #lobby more", "/who more")
        await zed.expect(rf"\* 10 of 13 in #lobby: {first} \(/who #lobby more: the next page\)")
        await zed.expect(r"\* 3 of 13 in #lobby: m10, m11, zed")
        await zed.expect(r"! no further page of #lobby's members \(/who #lobby lists them from "
                         r"the start\)")
        await crowd[0].close()
        await zed.expect(r"\* #lobby: m00 left \(12 here\)")
        crowd.append(await Client.connect("127.0.0.1", server.port, "m12"))
        await zed.expect(r"\* #lobby: m12 joined \(13 here\)")
        code, _, err = await zed.finish()
        assert (code, err) == (0, "")
    finally:
        for client in crowd:
            await client.close()
