"""IRC registration and capabilities against the real server over real sockets: the default
rooms (JSON door) and none (IRC), the IRC door's server password, SASL, and the capabilities
that carry hub events (away-notify, setname, extended-join, account-notify, bot mode)."""

from __future__ import annotations

import asyncio
import base64

from palaver.client import Client
from palaver.protocol.messages import Join, Message, Register, SetAway, UserUpdated
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory

WAIT = 10.0
MOTD_NUMERICS = ("375", "372", "376")


class Raw:
    """A raw IRC connection: lines in, lines out."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
        await self.writer.drain()

    async def line(self) -> str:
        async with asyncio.timeout(WAIT):
            raw = await self.reader.readline()
        assert raw, "connection closed"
        return raw.decode().rstrip("\r\n")

    async def until(self, part: str) -> list[str]:
        """Every line up to and including the first one holding ``part``."""
        seen: list[str] = []
        while part not in (line := await self.line()):
            seen.append(line)
        return [*seen, line]

    async def synced(self, token: str = "sync") -> list[str]:
        """Every line before the PONG of a PING sent now (replies leave in command order)."""
        await self.send(f"PING :{token}")
        return (await self.until(f"PONG palaver :{token}"))[:-1]

    async def closed(self) -> list[str]:
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while raw := await self.reader.readline():
                out.append(raw.decode().rstrip("\r\n"))
        return out

    def close(self) -> None:
        self.writer.close()


async def registered(port: int, nick: str, *caps: str, realname: str = "Real Name") -> Raw:
    peer = await Raw.open(port)
    if caps:
        await peer.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
    await peer.send(f"NICK {nick}", f"USER {nick}u 0 * :{realname}")
    if caps:
        await peer.send("CAP END")
    await peer.until(" 001 ")
    await peer.synced("registered")
    return peer


async def irc_server(start_server: ServerFactory, **settings: object) -> tuple[Server, int]:
    server = await start_server(server_name="palaver", **settings)
    return server, await server.open_irc(0)


# --------------------------------------------------------------------------- default rooms


async def test_json_clients_join_the_default_rooms_and_irc_clients_join_none(
    start_server: ServerFactory,
) -> None:
    server, port = await irc_server(start_server, default_rooms=("#lobby", "#news"))
    json_client = await Client.connect("127.0.0.1", server.port, "jay")
    assert json_client.welcome is not None and json_client.welcome.rooms == ("#lobby", "#news")
    peer = await Raw.open(port)
    await peer.send("NICK ivy", "USER ivy 0 * :Ivy")
    after_welcome = await peer.synced()
    assert not [line for line in after_welcome if " JOIN " in line or " 353 " in line]
    await peer.send("JOIN #news")
    assert (await peer.until(" 366 "))[0] == ":ivy!ivy@palaver JOIN #news"
    await json_client.close()
    peer.close()


async def test_the_motd_command_shows_what_the_welcome_did(start_server: ServerFactory) -> None:
    _, port = await irc_server(start_server, motd="Be nice.\nSee you.")
    peer = await Raw.open(port)
    await peer.send("NICK ivy", "USER ivy 0 * :Ivy")
    welcome = [line for line in await peer.until(" 376 ") if line.split()[1] in MOTD_NUMERICS]
    assert welcome[0] == ":palaver 375 ivy :- palaver Message of the day -"
    assert ":palaver 372 ivy :- See you." in welcome
    await peer.send("MOTD")
    assert await peer.until(" 376 ") == welcome
    peer.close()


# --------------------------------------------------------------------------- the door's password


async def test_the_irc_door_s_password_must_be_given_with_pass(
    start_server: ServerFactory,
) -> None:
    _, port = await irc_server(start_server, irc_password="door key")
    for sent in (["NICK ann", "USER ann 0 * :Ann"],
                 ["PASS door", "NICK ann", "USER ann 0 * :Ann", "JOIN #x"]):
        peer = await Raw.open(port)
        await peer.send(*sent)
        assert await peer.closed() == [":palaver 464 * :Password incorrect",
                                       "ERROR :Closing link: * (Password incorrect)"]
        peer.close()
    peer = await Raw.open(port)
    await peer.send("PASS :door key", "NICK ann", "USER ann 0 * :Ann")
    assert (await peer.until(" 001 "))[-1].startswith(":palaver 001 ann ")
    peer.close()


# --------------------------------------------------------------------------- SASL


def plain(account: str, password: str) -> str:
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


async def sasl(peer: Raw, account: str, password: str) -> list[str]:
    await peer.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
    assert await peer.until("AUTHENTICATE +")
    await peer.send(f"AUTHENTICATE {plain(account, password)}")
    return [await peer.line()]


async def test_sasl_plain_logs_in_to_a_palaver_account_under_another_nick(
    start_server: ServerFactory,
) -> None:
    server, port = await irc_server(start_server, irc_password="door key")
    owner = await Client.connect("127.0.0.1", server.port, "jilles")
    await owner.request(Register(nick="jilles", password="sesame12"))
    await owner.quit()
    wrong = await Raw.open(port)
    await wrong.send("PASS :door key")
    assert await sasl(wrong, "jilles", "sesame13") == [
        ":palaver 904 * :SASL authentication failed"]
    await wrong.send("NICK jilles", "USER j 0 * :J", "CAP END")  # a guest may not wear it
    assert (await wrong.until(" 433 "))[-1].startswith(":palaver 433 * jilles :")
    wrong.close()

    peer = await Raw.open(port)
    await peer.send("PASS :door key")
    assert await sasl(peer, "jilles", "sesame12") == [
        ":palaver 900 * *!*@palaver jilles :You are now logged in as jilles"]
    assert await peer.line() == ":palaver 903 * :SASL authentication successful"
    await peer.send("NICK bar", "USER f 0 * :Realname", "CAP END")
    assert (await peer.until(" 001 "))[-1].startswith(":palaver 001 bar ")
    assert server.core is not None
    user = server.core.hub._online["bar"]  # the account, wearing the nick NICK gave
    assert (user.key, user.account) == ("jilles", True)
    peer.close()


# --------------------------------------------------------------------------- room-mates' changes


async def test_away_setname_and_joins_reach_irc_room_mates_with_the_caps_they_asked_for(
    start_server: ServerFactory,
) -> None:
    server, port = await irc_server(start_server)
    watcher = await registered(port, "foo", "away-notify", "setname", "extended-join")
    plain = await registered(port, "baz")
    for peer in (watcher, plain):
        await peer.send("JOIN #chan")
        await peer.until(" 366 ")
    json_client = await Client.connect("127.0.0.1", server.port, "jay")
    await json_client.request(SetAway(message="brb"))
    await json_client.request(Join(room="#chan"))
    assert (await watcher.synced())[-2:] == [":jay!jay@palaver JOIN #chan * :jay",
                                             ":jay!jay@palaver AWAY :brb"]
    assert await plain.synced() == [":jay!jay@palaver JOIN #chan"]
    bar = await registered(port, "bar", "setname", realname="Bar B")
    await bar.send("JOIN #chan")
    await bar.until(" 366 ")
    assert (await watcher.synced())[-1] == ":bar!bar@palaver JOIN #chan * :Bar B"
    await bar.send("AWAY :lunch", "SETNAME :Barbara")
    assert (await bar.synced())[-1] == ":bar!bar@palaver SETNAME :Barbara"
    assert await watcher.synced() == [":bar!bar@palaver AWAY :lunch",
                                      ":bar!bar@palaver SETNAME :Barbara"]
    assert await plain.synced() == [":bar!bar@palaver JOIN #chan"]  # neither cap: no more
    change = await json_client.wait_for(UserUpdated)  # the JSON door sees the same changes
    assert (change.nick, change.change, change.away) == ("bar", "away", "lunch")
    change = await json_client.wait_for(UserUpdated)
    assert (change.nick, change.change, change.realname) == ("bar", "realname", "Barbara")
    await json_client.close()
    for peer in (watcher, plain, bar):
        peer.close()


async def test_a_bot_is_plus_b_in_the_hub_for_every_door(start_server: ServerFactory) -> None:
    server, port = await irc_server(start_server)
    bot = await registered(port, "botnick", "echo-message", "message-tags")
    user = await registered(port, "usernick", "message-tags")
    await bot.send("MODE botnick +B")
    assert (await bot.synced())[-1] == ":botnick!botnick@palaver MODE botnick :+B"
    await user.send("WHOIS botnick")
    assert ":palaver 335 usernick botnick :is a bot" in await user.synced()
    await bot.send("PRIVMSG usernick :beep boop")
    echo = (await bot.synced())[-1]
    assert echo.startswith("@bot;msgid=") and echo.endswith(" PRIVMSG usernick :beep boop")
    got = await user.line()
    assert got.startswith("@bot;msgid=") and got.endswith(" PRIVMSG usernick :beep boop")
    json_client = await Client.connect("127.0.0.1", server.port, "jay")
    await bot.send("PRIVMSG jay :to json")
    message = await json_client.wait_for(Message)
    assert (message.sender, message.text, message.bot) == ("botnick", "to json", True)
    await json_client.close()
    bot.close()
    user.close()
