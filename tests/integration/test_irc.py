"""The IRC door against the real server: the ``irc`` package's asyncio client, JSON clients,
and a raw socket for the error numerics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import irc.client
import irc.client_aio
import pytest

from palaver.client import Client
from palaver.protocol.messages import (
    Away,
    Join,
    Joined,
    ListUsers,
    Message,
    Presence,
    Register,
    Say,
    SendDirect,
    SetAway,
    SetNick,
    Users,
)
from palaver.server.app import Server
from palaver.transports.irc_port import host_name
from tests.integration.conftest import ServerFactory

WAIT = 10.0


class IrcUser:
    """One ``irc`` package connection; every event it sees lands in a queue."""

    def __init__(self, reactor: irc.client_aio.AioReactor) -> None:
        self.reactor = reactor
        self.conn: Any = reactor.server()
        self.events: asyncio.Queue[irc.client.Event] = asyncio.Queue()
        self.conn.add_global_handler("all_events", self._seen, -1)

    def _seen(self, connection: Any, event: irc.client.Event) -> None:
        if connection is self.conn:
            self.events.put_nowait(event)

    async def expect(self, kind: str, check: Callable[[irc.client.Event], bool] = lambda e: True,
                     ) -> irc.client.Event:
        async with asyncio.timeout(WAIT):
            while True:
                event = await self.events.get()
                if event.type == kind and check(event):
                    return event


async def message_from(client: Client, sender: str) -> Message:
    """The next chat message from ``sender`` (the client's own acknowledgements are skipped)."""
    while True:
        got = await client.wait_for(Message)
        if got.sender == sender:
            return got


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver")  # the tests read ":palaver 001 ..."


@pytest.fixture
async def irc_port(server: Server) -> int:
    return await server.open_irc(0)


@pytest.fixture
async def irc_user(irc_port: int) -> AsyncIterator[Callable[..., Awaitable[IrcUser]]]:
    users: list[IrcUser] = []

    async def connect(nick: str, password: str | None = None, caps: str = "",
                      registered: bool = True) -> IrcUser:
        user = IrcUser(irc.client_aio.AioReactor(loop=asyncio.get_running_loop()))
        users.append(user)
        await user.conn.connect("127.0.0.1", irc_port, nick, password=password)
        if registered:  # IRC clients join only what they ask for: these tests meet in #lobby
            await user.expect("welcome")
            user.conn.join("#lobby")
            await user.expect("endofnames")
        if caps:
            user.conn.cap("REQ", *caps.split())
            await user.expect("cap", lambda e: e.arguments[0] == "ACK")
        return user

    yield connect
    for user in users:
        if user.conn.connected:
            user.conn.disconnect("done")


async def test_irc_and_json_users_talk_in_the_lobby_and_a_channel(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    bob = await connect("bob")
    ann = await irc_user("ann")
    assert await bob.wait_for(Presence) == Presence(nick="ann", event="join", room="#lobby",
                                                    realname="ann")  # USER's (the irc package)

    await bob.request(Say(room="#lobby", text="hello irc"))
    event = await ann.expect("pubmsg")
    assert (event.source, event.target, event.arguments) == (
        "bob!bob@palaver", "#lobby", ["hello irc"])

    ann.conn.privmsg("#lobby", "hello json")
    got = await message_from(bob, "ann")
    assert (got.sender, got.room, got.text) == ("ann", "#lobby", "hello json")

    ann.conn.join("#dev.team")
    await ann.expect("join", lambda e: e.target == "#dev.team")
    await bob.request(SendDirect(to="ann", text="come to #dev.team"))
    assert (await ann.expect("privmsg")).arguments == ["come to #dev.team"]
    joined = await bob.request(Join(room="#dev.team"))
    assert isinstance(joined, Joined) and set(joined.members) == {"ann", "bob"}
    assert (await ann.expect("join", lambda e: e.source.nick == "bob")).target == "#dev.team"

    ann.conn.notice("#dev.team", "a notice")
    assert (await message_from(bob, "ann")).text == "a notice"
    ann.conn.action("#dev.team", "waves")
    assert (await message_from(bob, "ann")).text == "* ann waves"
    await bob.request(Say(room="#dev.team", text="* bob waves back"))
    assert (await ann.expect("action")).arguments == ["waves back"]
    ann.conn.privmsg("bob", "a direct one")
    direct = await message_from(bob, "ann")
    assert (direct.sender, direct.to, direct.text) == ("ann", "bob", "a direct one")


async def test_nick_changes_and_quits_are_seen_by_both(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    bob = await connect("bob")
    ann = await irc_user("ann")
    await bob.wait_for(Presence)
    ann.conn.nick("anna")
    assert (await ann.expect("nick")).target == "anna"
    assert await bob.wait_for(Presence) == Presence(nick="ann", event="nick", new_nick="anna")
    await bob.request(SetNick(nick="bobby"))
    event = await ann.expect("nick")
    assert (event.source.nick, event.target) == ("bob", "bobby")
    ann.conn.quit("off to bed")
    while (presence := await bob.wait_for(Presence)).event != "quit":
        pass
    assert presence == Presence(nick="anna", event="quit", reason="off to bed")


async def test_who_whois_list_names(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    await connect("bob")
    ann = await irc_user("ann")
    ann.conn.who("#lobby")
    nicks = {(await ann.expect("whoreply")).arguments[4] for _ in range(2)}
    assert nicks == {"ann", "bob"}
    await ann.expect("endofwho")
    ann.conn.whois(["bob"])
    assert (await ann.expect("whoisuser")).arguments[0] == "bob"
    await ann.expect("endofwhois")
    ann.conn.whois(["nobody"])
    await ann.expect("nosuchnick")
    ann.conn.list()
    assert (await ann.expect("list")).arguments[:2] == ["#lobby", "2"]
    await ann.expect("listend")
    ann.conn.names(["#lobby"])
    assert set((await ann.expect("namreply")).arguments[2].split()) == {"ann", "bob"}
    ann.conn.mode("#lobby", "")
    assert (await ann.expect("channelmodeis")).arguments == ["#lobby", "+nt"]


async def test_server_time_and_echo_message(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    bob = await connect("bob")
    ann = await irc_user("ann", caps="server-time message-tags echo-message")
    ann.conn.privmsg("#lobby", "echo me")
    echo = await ann.expect("pubmsg")
    assert echo.source.nick == "ann" and echo.arguments == ["echo me"]
    stored = await message_from(bob, "ann")
    tags = {t["key"]: t["value"] for t in echo.tags}
    assert tags == {"time": stored.ts, "msgid": f"#lobby/{stored.msg_id}"}


async def test_long_and_multiline_texts_are_split_not_cut(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    bob = await connect("bob")
    ann = await irc_user("ann")
    long_line = " ".join(f"word{n}" for n in range(400))  # about 3,500 bytes
    await bob.request(Say(room="#lobby", text=f"first\nsecond\n{long_line}"))
    assert (await ann.expect("pubmsg")).arguments == ["first"]
    assert (await ann.expect("pubmsg")).arguments == ["second"]
    pieces: list[str] = []
    while "".join(pieces) != long_line:
        pieces.append((await ann.expect("pubmsg")).arguments[0])
        assert len("".join(pieces)) <= len(long_line)
    assert len(pieces) > 6


async def test_pass_logs_in_to_an_account_and_a_wrong_one_is_464(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    owner = await connect("carol")
    await owner.request(Register(nick="carol", password="correct horse"))
    await owner.quit()
    wrong = await irc_user("carol", password="battery staple", registered=False)
    await wrong.expect("passwdmismatch")
    right = await irc_user("carol", password="correct horse")
    bob = await connect("bob")
    await right.expect("join", lambda e: e.source.nick == "bob")
    right.conn.privmsg("#lobby", "logged in")
    assert (await message_from(bob, "carol")).text == "logged in"


async def test_a_wrong_password_ends_with_error_and_a_close_at_once(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    owner = await connect("carol")
    await owner.request(Register(nick="carol", password="correct horse"))
    await owner.quit()
    wrong = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await wrong.send("PASS battery staple", "NICK carol", "USER carol 0 * :Carol", "JOIN #x")
    assert await wrong.lines_until_closed() == [
        ":palaver 464 * :Password incorrect", "ERROR :Closing link: * (Password incorrect)"]
    wrong.writer.close()


# --------------------------------------------------------------------------- raw numerics


class RawIrc:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
        await self.writer.drain()

    async def numeric(self, code: str) -> list[str]:
        """The parameters of the next line with command ``code`` (others are skipped)."""
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.reader.readline()
                assert raw, "connection closed"
                parts = raw.decode().rstrip("\r\n").split(" ")
                if len(parts) > 1 and parts[1] == code:
                    return parts[2:]

    async def lines_until_closed(self) -> list[str]:
        """Every line until the server closes the connection."""
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while raw := await self.reader.readline():
                out.append(raw.decode().rstrip("\r\n"))
        return out


    async def line_with(self, part: str) -> str:
        """The next line holding ``part`` (others are skipped)."""
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.reader.readline()
                assert raw, f"connection closed before {part!r}"
                if part in (line := raw.decode().rstrip("\r\n")):
                    return line


async def registered_raw(port: int, nick: str, user: str | None = None) -> RawIrc:
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    await peer.send(f"NICK {nick}", user or f"USER {nick} 0 * :{nick}", "JOIN #lobby")
    await peer.numeric("366")  # the lobby's names: registration is over, we are in #lobby
    return peer


async def test_username_and_realname_are_shown_by_whois_and_who(irc_port: int) -> None:
    bad = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await bad.send("NICK ann", "USER annie 0 * :")
    assert (await bad.numeric("461"))[:2] == ["*", "USER"]
    bad.writer.close()
    ann = await registered_raw(irc_port, "ann", "USER annie 0 * :Ann Smith")
    bob = await registered_raw(irc_port, "bob")
    await bob.send("WHOIS ann")
    assert await bob.line_with(" 311 ") == ":palaver 311 bob ann annie palaver * :Ann Smith"
    await bob.send("WHO #lobby")
    assert await bob.line_with(" 352 ") == (
        ":palaver 352 bob #lobby annie palaver palaver ann H :0 Ann Smith")
    assert await bob.line_with(" 352 ") == (
        ":palaver 352 bob #lobby bob palaver palaver bob H :0 bob")
    ann.writer.close()
    bob.writer.close()


async def test_a_part_reason_reaches_irc_and_json_members(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    cat = await connect("cat")
    ann = await registered_raw(irc_port, "ann")
    bob = await registered_raw(irc_port, "bob")
    await ann.send("PART #lobby :\x02off\x02 to lunch")
    assert await ann.line_with(" PART ") == ":ann!ann@palaver PART #lobby :off to lunch"
    assert await bob.line_with(" PART ") == ":ann!ann@palaver PART #lobby :off to lunch"
    while (presence := await cat.wait_for(Presence)).event != "leave":
        pass
    assert presence == Presence(nick="ann", event="leave", room="#lobby", reason="off to lunch")
    ann.writer.close()
    bob.writer.close()


async def test_away_across_doors(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    ann = await registered_raw(irc_port, "ann")
    bob = await registered_raw(irc_port, "bob")
    cat = await connect("cat")
    await ann.send("AWAY :at lunch")
    assert await ann.line_with(" 306 ") == ":palaver 306 ann :You have been marked as being away"
    await bob.send("PRIVMSG ann :are you there?")
    assert await bob.line_with(" 301 ") == ":palaver 301 bob ann :at lunch"
    await bob.send("WHOIS ann")
    assert await bob.line_with(" 301 ") == ":palaver 301 bob ann :at lunch"
    await bob.send("USERHOST ann bob")
    assert await bob.line_with(" 302 ") == ":palaver 302 bob :ann=-ann@palaver bob=+bob@palaver"
    await cat.request(SendDirect(to="ann", text="hello?"))
    assert await cat.wait_for(Away) == Away(nick="ann", message="at lunch")
    users = await cat.request(ListUsers(details=True))
    assert isinstance(users, Users)
    assert [i.away for i in users.info if i.nick == "ann"] == ["at lunch"]
    await cat.request(SetAway(message="feeding the cat"))
    await ann.send("PRIVMSG cat :hi")
    assert await ann.line_with(" 301 ") == ":palaver 301 ann cat :feeding the cat"
    await ann.send("AWAY")
    assert await ann.line_with(" 305 ") == (
        ":palaver 305 ann :You are no longer marked as being away")
    await bob.send("PRIVMSG ann :back?", "PING :barrier")
    async with asyncio.timeout(WAIT):
        while not (line := (await bob.reader.readline()).decode()).startswith(":palaver PONG"):
            assert " 301 " not in line, line
    ann.writer.close()
    bob.writer.close()


async def test_mode_b_lists_a_channels_bans(irc_port: int) -> None:
    ann = await registered_raw(irc_port, "ann")
    bob = await registered_raw(irc_port, "bob")
    await ann.send("JOIN #r", "MODE #r +b eve!*@*", "MODE #r +b Mallory")
    assert await ann.line_with(" MODE #r +b M") == ":ann!ann@palaver MODE #r +b Mallory!*@*"
    await bob.send("MODE #r b")
    assert await bob.line_with(" 442 ") == ":palaver 442 bob #r :You're not on that channel"
    await bob.send("JOIN #r", "MODE #r +b")
    # each ban with its setter and the time it was set
    assert (await bob.line_with(" 367 ")).startswith(
        ":palaver 367 bob #r eve!*@* ann!ann@palaver :")
    assert (await bob.line_with(" 367 ")).startswith(
        ":palaver 367 bob #r mallory!*@* ann!ann@palaver :")
    assert await bob.line_with(" 368 ") == ":palaver 368 bob #r :End of channel ban list"
    ann.writer.close()
    bob.writer.close()


async def test_userhost_for_other_users(irc_port: int) -> None:
    ann = await registered_raw(irc_port, "ann", "USER annie 0 * :Ann")
    bob = await registered_raw(irc_port, "bob")
    await bob.send("USERHOST ann nobody bob a b c")
    assert await bob.line_with(" 302 ") == (
        ":palaver 302 bob :ann=+annie@palaver bob=+bob@palaver")
    ann.writer.close()
    bob.writer.close()


async def test_a_nick_with_a_unicode_space_or_a_control_character_is_432_and_not_echoed(
    irc_port: int,
) -> None:
    ivy = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await ivy.send("NICK iv\u0085il", "USER ivy 0 * :Ivy")  # NEL: not a separator
    assert (await ivy.numeric("432"))[:2] == ["*", "iv\ufffdil"]
    await ivy.send("NICK iv\x07il")
    assert (await ivy.numeric("432"))[:2] == ["*", "iv\ufffdil"]
    await ivy.send("NICK ivil")
    assert (await ivy.numeric("001"))[0] == "ivil"
    await ivy.send("JOIN #a\x02bold")
    assert (await ivy.numeric("479"))[:2] == ["ivil", "#a\ufffdbold"]
    ivy.writer.close()


async def test_a_nick_to_ones_own_nick_says_nothing(irc_port: int) -> None:
    nia = await registered_raw(irc_port, "nia")
    await nia.send("NICK nia", "PING :barrier")
    async with asyncio.timeout(WAIT):
        while not (line := (await nia.reader.readline()).decode()).startswith(":palaver PONG"):
            assert " NICK " not in line and " 433 " not in line, line
    nia.writer.close()


@pytest.mark.parametrize("name", ["irc.example.test", None])
async def test_the_server_name_is_the_source_of_numerics_and_pings(
    start_server: ServerFactory, name: str | None,
) -> None:
    server = await start_server(server_name=name)
    port = await server.open_irc(0)
    expected = name or host_name()  # the default: the machine's host name
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    await peer.send("NICK ned", "USER ned 0 * :Ned", "PING :x")
    assert await peer.line_with(" 001 ") == (
        f":{expected} 001 ned :Welcome to the palaver IRC network, ned!ned@palaver")
    assert await peer.line_with(" PONG ") == f":{expected} PONG {expected} :x"
    peer.writer.close()


async def test_an_endless_line_gets_417_then_error_and_the_connection_closes(
    irc_port: int,
) -> None:
    eve = await registered_raw(irc_port, "eve")
    eve.writer.write(b"PRIVMSG #lobby :" + b"x" * 100_000)  # never a newline
    rest = await eve.lines_until_closed()
    assert rest == [":palaver 417 eve :Input line was too long",
                    "ERROR :Closing link: eve (Input line was too long)"]
    eve.writer.close()


async def test_error_numerics_on_a_raw_socket(irc_port: int) -> None:
    first = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await first.send("JOIN #x")
    assert await first.numeric("451") == ["*", ":You", "have", "not", "registered"]
    await first.send("NICK dora", "USER dora 0 * :Dora")
    await first.numeric("001")
    await first.send("FROB x")
    assert (await first.numeric("421"))[:2] == ["dora", "FROB"]
    await first.send("JOIN")
    assert (await first.numeric("461"))[:2] == ["dora", "JOIN"]
    await first.send("PART #nowhere")
    assert (await first.numeric("442"))[:2] == ["dora", "#nowhere"]
    await first.send("NAMES #nowhere", "MODE #nowhere")
    assert (await first.numeric("403"))[:2] == ["dora", "#nowhere"]
    await first.send("PRIVMSG #lobby :" + "x" * 600)
    await first.numeric("417")
    await first.send("PING :still-here")
    assert (await first.numeric("PONG"))[-1] == ":still-here"

    second = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await second.send("NICK dora", "USER d 0 * :D")
    assert await second.numeric("433") == ["*", "dora", ":Nickname", "is", "already", "in", "use"]
    await second.send("NICK dora2")
    await second.numeric("001")
    first.writer.close()
    second.writer.close()
