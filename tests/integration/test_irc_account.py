"""IRC ACCOUNT over a real socket: change a password, log in with the new one via PASS (the
old one is refused), delete the account (ERROR and close; the nick is free)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from palaver.client import Client
from palaver.protocol.messages import Register
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc import RawIrc

OLD, NEW = "correct horse", "battery staple twice"


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver")


@pytest.fixture
async def irc_port(server: Server) -> int:
    return await server.open_irc(0)


async def logged_in(port: int, nick: str, password: str) -> RawIrc:
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    await peer.send(f"PASS :{password}", f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    await peer.numeric("001")
    return peer


async def test_account_password_over_irc_then_pass_takes_only_the_new_one(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    owner = await connect("dave")
    await owner.request(Register(nick="dave", password="dave-password"))
    await owner.quit()
    dave = await logged_in(irc_port, "dave", "dave-password")
    other = await logged_in(irc_port, "dave", "dave-password")  # a second connection
    await dave.send(f"ACCOUNT PASSWORD not-the-password :{NEW}")
    assert await dave.line_with(" FAIL ACCOUNT ") == (
        ":palaver FAIL ACCOUNT AUTH_FAILED :wrong password")
    await dave.send("ACCOUNT PASSWORD dave-password short")
    assert " FAIL ACCOUNT INVALID_PASSWORD :a password is " in await dave.line_with(" FAIL ")
    await dave.send(f"ACCOUNT PASSWORD dave-password :{NEW}")
    assert await dave.line_with(" NOTICE ") == (
        ":palaver NOTICE dave :ACCOUNT: the password of dave is changed; "
        "its other connections are closed")
    assert (await other.lines_until_closed())[-1] == (
        "ERROR :Closing link: dave (password changed)")
    await dave.send("PING :still-here")
    assert "still-here" in await dave.line_with("PONG")  # this connection stays
    for peer in (dave, other):
        peer.writer.close()
    refused = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await refused.send("PASS dave-password", "NICK dave", "USER dave 0 * :dave")
    assert await refused.lines_until_closed() == [
        ":palaver 464 * :Password incorrect", "ERROR :Closing link: * (Password incorrect)"]
    refused.writer.close()
    again = await logged_in(irc_port, "dave", NEW)
    again.writer.close()


async def test_account_delete_over_irc_ends_the_connection_and_frees_the_nick(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    owner = await connect("erin")
    await owner.request(Register(nick="erin", password=OLD))
    await owner.quit()
    erin = await logged_in(irc_port, "erin", OLD)
    await erin.send("ACCOUNT DELETE :not it at all")
    assert await erin.line_with(" FAIL ACCOUNT ") == (
        ":palaver FAIL ACCOUNT AUTH_FAILED :wrong password")
    await erin.send(f"ACCOUNT DELETE :{OLD}")
    rest = await erin.lines_until_closed()
    assert rest[0].startswith(":palaver NOTICE erin :ACCOUNT: erin is deleted (its messages ")
    assert rest[-1] == "ERROR :Closing link: erin (account deleted)"
    erin.writer.close()
    guest = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await guest.send("NICK erin", "USER erin 0 * :erin")
    assert (await guest.numeric("001"))[0] == "erin"  # a guest may take the nick now
    guest.writer.close()
