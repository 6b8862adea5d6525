"""IRC registration and capabilities against the real server over real sockets: the default
rooms (JSON door) and none (IRC), the IRC door's server password, SASL, and the capabilities
that carry hub events (away-notify, setname, extended-join, account-notify, bot mode)."""

from __future__ import annotations

import asyncio
import base64

from palaver.client import Client
from palaver.protocol.messages import Register
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory

WAIT = 10.0


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
