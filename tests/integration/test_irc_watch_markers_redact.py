"""Watch lists, read markers and deletion over real sockets: an IRC client (raw lines) and a
JSON client on the same server (SQLite in a temporary data directory)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
import pytest

from palaver.client import Client
from palaver.protocol.messages import (
    Delete,
    Deleted,
    Hello,
    History,
    HistoryPage,
    Join,
    MarkRead,
    Message,
    Offline,
    Online,
    ReadMarker,
    Register,
    Say,
    ServerMessage,
    SetAway,
    Watch,
    Watching,
    Welcome,
)
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory

WAIT = 10.0
PASSWORD = "correct horse"
TS = "2019-01-04T14:33:26.123Z"


class RawIrc:
    """An IRC connection that reads line by line."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.burst: list[str] = []  # what registration brought (irc fixture)

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
        await self.writer.drain()

    async def line_with(self, part: str) -> str:
        """The next line holding ``part`` (others are skipped)."""
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.reader.readline()
                assert raw, f"connection closed before {part!r}"
                if part in (line := raw.decode().rstrip("\r\n")):
                    return line

    async def lines_until(self, part: str) -> list[str]:
        """Every line up to and with the next one holding ``part``."""
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.reader.readline()
                assert raw, f"connection closed before {part!r}"
                out.append(raw.decode().rstrip("\r\n"))
                if part in out[-1]:
                    return out


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver")


@pytest.fixture
async def irc(server: Server) -> AsyncIterator[Callable[..., Awaitable[RawIrc]]]:
    port = await server.open_irc(0)
    peers: list[RawIrc] = []

    async def connect(nick: str, caps: str = "", password: str | None = None) -> RawIrc:
        peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
        peers.append(peer)
        lines = [f"CAP REQ :{caps}", "CAP END"] if caps else []
        if password is not None:
            lines.insert(0, f"PASS {password}")
        await peer.send(*lines, f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        await peer.line_with(" 001 ")
        await peer.send("PING :ready")
        peer.burst = await peer.lines_until("PONG")  # the welcome burst
        return peer

    yield connect
    for peer in peers:
        peer.writer.close()


async def account(server: Server, nick: str) -> Client:
    """A JSON client logged in to the account ``nick`` (made on first use)."""
    client = await Client.connect("127.0.0.1", server.port)
    try:
        await client.request(Hello(version=1, nick=nick, password=PASSWORD))
    except Exception:
        await client.close()
        maker = await Client.connect("127.0.0.1", server.port, nick)
        await maker.request(Register(nick=nick, password=PASSWORD))
        await maker.quit()
        client = await Client.connect("127.0.0.1", server.port)
        welcome = await client.request(Hello(version=1, nick=nick, password=PASSWORD))
        assert isinstance(welcome, Welcome) and welcome.account
    return client


def bare(event: ServerMessage) -> ServerMessage:
    """``event`` without its request id."""
    return msgspec.structs.replace(event, id=None)


# --------------------------------------------------------------------------- MONITOR / WATCH


async def test_monitor_sees_a_json_user_come_and_go_and_watch_sees_an_irc_one(
    server: Server, irc: Callable[..., Awaitable[RawIrc]],
    connect: Callable[..., Awaitable[Client]],
) -> None:
    foo = await irc("foo")
    await foo.send("MONITOR + bar,baz")
    assert await foo.line_with(" 731 ") == ":palaver 731 foo :bar,baz"
    watcher = await connect("watcher")
    assert bare(await watcher.request(Watch(add=("qux",)))) == Watching(offline=("qux",))
    bar = await connect("bar")
    assert await foo.line_with(" 730 ") == ":palaver 730 foo :bar!bar@palaver"
    await bar.quit()
    assert await foo.line_with(" 731 ") == ":palaver 731 foo :bar"
    qux = await irc("qux")
    assert await watcher.wait_for(Online) == Online(nick="qux")
    await qux.send("NICK quux")
    assert await watcher.wait_for(Offline) == Offline(nick="qux")
    await foo.send("MONITOR L")
    assert await foo.lines_until(" 733 ") == [":palaver 732 foo :bar,baz",
                                              ":palaver 733 foo :End of MONITOR list"]


async def test_extended_monitor_tells_an_irc_watcher_of_a_json_user_s_away(
    irc: Callable[..., Awaitable[RawIrc]], connect: Callable[..., Awaitable[Client]],
) -> None:
    foo = await irc("foo", caps="extended-monitor away-notify")
    plain = await irc("plain", caps="away-notify")  # watches too, without extended-monitor
    bar = await connect("bar")  # in #lobby; the IRC users are in no channel
    await foo.send("MONITOR + bar")
    await plain.send("MONITOR + bar")
    assert await foo.line_with(" 730 ") == ":palaver 730 foo :bar!bar@palaver"
    assert await plain.line_with(" 730 ") == ":palaver 730 plain :bar!bar@palaver"
    await bar.request(SetAway(message="afk"))
    assert await foo.line_with("AWAY") == ":bar!bar@palaver AWAY :afk"
    await bar.request(SetAway())
    assert await foo.line_with("AWAY") == ":bar!bar@palaver AWAY"
    await plain.send("PING :after")
    assert not any("AWAY" in line for line in await plain.lines_until("PONG"))


# --------------------------------------------------------------------------- read markers


async def test_a_marker_set_on_irc_reaches_the_json_session_and_back(
    server: Server, irc: Callable[..., Awaitable[RawIrc]],
) -> None:
    json_alice = await account(server, "alice")
    await json_alice.request(Join(room="#test"))
    irc_alice = await irc("alice", caps="draft/read-marker", password=PASSWORD)
    assert ":palaver MARKREAD #test *" in irc_alice.burst  # it is in #test already
    await irc_alice.send(f"MARKREAD #test timestamp={TS}")
    assert await irc_alice.line_with("MARKREAD") == f":palaver MARKREAD #test timestamp={TS}"
    assert await json_alice.wait_for(ReadMarker) == ReadMarker(room="#test", ts=TS)

    await json_alice.request(Say(room="#test", text="one"))
    said = await json_alice.request(Say(room="#test", text="two"))
    assert isinstance(said, Message)
    moved = await json_alice.request(MarkRead(room="#test", msg_id=said.msg_id))
    assert bare(moved) == ReadMarker(room="#test", msg_id=2, ts=said.ts)
    assert await irc_alice.line_with("MARKREAD") == f":palaver MARKREAD #test timestamp={said.ts}"


async def test_markers_are_stored_and_come_back_at_the_next_login(
    server: Server, irc: Callable[..., Awaitable[RawIrc]],
) -> None:
    alice = await account(server, "alice")
    await alice.request(Join(room="#test"))
    await alice.request(MarkRead(room="#test", ts=TS))
    await alice.quit()
    again = await irc("alice", caps="draft/read-marker", password=PASSWORD)
    await again.send("JOIN #test")  # already in it (remembered): JOIN answers with its state
    burst = await again.lines_until(" 366 ")
    assert f":palaver MARKREAD #test timestamp={TS}" in burst
    await again.send("MARKREAD #test")
    assert await again.line_with("MARKREAD") == f":palaver MARKREAD #test timestamp={TS}"


async def test_a_guest_marker_answers_and_refusals(
    irc: Callable[..., Awaitable[RawIrc]],
) -> None:
    ann = await irc("ann", caps="draft/read-marker")
    await ann.send("JOIN #test")
    burst = await ann.lines_until(" 366 ")
    assert burst[-2:] == [":palaver MARKREAD #test *", ":palaver 366 ann #test :End of /NAMES list"]
    await ann.send("MARKREAD #test timestamp=2019-06-01T12:00:00.000Z",
                   "MARKREAD #test timestamp=2019-01-01T00:00:00.000Z")
    for _ in range(2):  # the older one leaves it where it is
        assert await ann.line_with("MARKREAD") == (
            ":palaver MARKREAD #test timestamp=2019-06-01T12:00:00.000Z")
    await ann.send("MARKREAD #test timestamp=not-a-timestamp")
    assert (await ann.line_with("FAIL")).startswith(":palaver FAIL MARKREAD INVALID_PARAMS #test")
    await ann.send("MARKREAD")
    assert (await ann.line_with("FAIL")).startswith(":palaver FAIL MARKREAD NEED_MORE_PARAMS")


# --------------------------------------------------------------------------- deletion


async def test_an_irc_operator_redacts_a_json_message_and_history_keeps_a_tombstone(
    irc: Callable[..., Awaitable[RawIrc]], connect: Callable[..., Awaitable[Client]],
) -> None:
    alice = await irc("alice", caps="draft/message-redaction message-tags echo-message")
    await alice.send("JOIN #chan")  # alice makes #chan: its operator
    await alice.line_with(" 366 ")
    bob = await connect("bob")
    await bob.request(Join(room="#chan"))
    said = await bob.request(Say(room="#chan", text="spam"))
    assert isinstance(said, Message)
    line = await alice.line_with("PRIVMSG #chan")
    msgid = line.split("msgid=")[1].split(" ")[0].split(";")[0]
    assert msgid == f"#chan/{said.msg_id}"
    await alice.send(f"REDACT #chan {msgid} :no spam")
    assert await alice.line_with("REDACT") == f":alice!alice@palaver REDACT #chan {msgid} :no spam"
    assert await bob.wait_for(Deleted) == Deleted(msg_id=said.msg_id, by="alice", room="#chan",
                                                  sender="bob", reason="no spam",
                                                  seq=said.msg_id + 1)
    page = await bob.request(History(room="#chan"))
    assert isinstance(page, HistoryPage)
    [tombstone] = [m for m in page.messages if m.msg_id == said.msg_id]
    assert tombstone.deleted and tombstone.text == "" and tombstone.sender == "bob"


async def test_a_json_sender_deletes_its_message_and_irc_is_told_or_refused(
    irc: Callable[..., Awaitable[RawIrc]], connect: Callable[..., Awaitable[Client]],
) -> None:
    bob = await connect("bob")
    await bob.request(Join(room="#chan"))  # bob makes #chan: its operator
    carol = await irc("carol", caps="draft/message-redaction message-tags")
    await carol.send("JOIN #chan")
    await carol.line_with(" 366 ")
    said = await bob.request(Say(room="#chan", text="typo"))
    assert isinstance(said, Message)
    await carol.line_with("PRIVMSG #chan")
    await carol.send(f"REDACT #chan #chan/{said.msg_id}")  # not hers, not an operator
    assert await carol.line_with("FAIL") == (
        f":palaver FAIL REDACT REDACT_FORBIDDEN #chan #chan/{said.msg_id} "
        ":only its sender or an operator of the room may delete a message")
    deleted = await bob.request(Delete(room="#chan", msg_id=said.msg_id))
    assert isinstance(deleted, Deleted) and deleted.by == "bob"
    assert await carol.line_with("REDACT") == f":bob!bob@palaver REDACT #chan #chan/{said.msg_id}"
    await carol.send("REDACT #chan nonexistent123", "REDACT #nowhere #nowhere/1")
    assert (await carol.line_with("FAIL")).startswith(
        ":palaver FAIL REDACT UNKNOWN_MSGID #chan nonexistent123 :")
    assert (await carol.line_with("FAIL")).startswith(
        ":palaver FAIL REDACT INVALID_TARGET #nowhere :")
