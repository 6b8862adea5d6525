"""Server operators, user modes and the questions about users over real sockets: OPER (checked
by the real Argon2 pool), KILL, WALLOPS, +i, WHO/WHOX, WHOIS, WHOWAS, LUSERS — on the IRC door
and, where it is a chat feature, on the JSON door."""

from __future__ import annotations

import asyncio

import argon2
import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    BecomeOperator,
    ListPastUsers,
    PastUsers,
    SendWallops,
    SetUserMode,
    UserMode,
    Wallops,
)
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc import RawIrc

PASSWORD = "operpassword"
HASH = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="irc.test", server_info="test server",
                              operator_logins={"operuser": HASH})


@pytest.fixture
async def irc_port(server: Server) -> int:
    return await server.open_irc(0)


async def irc(port: int, nick: str, user: str | None = None) -> RawIrc:
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    await peer.send(f"NICK {nick}", user or f"USER {nick} 0 * :{nick}")
    await peer.numeric("376")  # the end of the MOTD: registered
    return peer


async def oper(peer: RawIrc) -> None:
    await peer.send(f"OPER operuser {PASSWORD}")
    await peer.numeric("381")


async def until_pong(peer: RawIrc, token: str) -> list[str]:
    """Every line before the PONG that answers ``PING token`` (sent now): what was on its way."""
    await peer.send(f"PING {token}")
    seen: list[str] = []
    async with asyncio.timeout(10):
        while True:
            line = (await peer.reader.readline()).decode().rstrip("\r\n")
            assert line, "connection closed"
            if " PONG " in line and line.endswith(token):
                return seen
            seen.append(line)


async def test_oper_wrong_then_right_and_the_operator_shows_everywhere(irc_port: int) -> None:
    baz = await irc(irc_port, "baz")
    other = await irc(irc_port, "other")
    await baz.send("OPER operuser wrong", "OPER nobody operpassword")
    assert await baz.numeric("464") == ["baz", ":Password", "incorrect"]
    assert await baz.numeric("464") == ["baz", ":Password", "incorrect"]  # a name: the same
    await baz.send(f"OPER operuser {PASSWORD}")
    assert await baz.line_with(" 381 ") == ":irc.test 381 baz :You are now an IRC operator"
    assert await baz.line_with(" MODE ") == ":baz!baz@palaver MODE baz :+o"
    await other.send("WHO baz")
    assert await other.line_with(" 352 ") == (
        ":irc.test 352 other * baz palaver irc.test baz H* :0 baz")
    await other.send("WHOIS baz")
    assert await other.line_with(" 313 ") == ":irc.test 313 other baz :is an IRC operator"
    await other.send("LUSERS")
    assert await other.line_with(" 252 ") == ":irc.test 252 other 1 :operator(s) online"
    await baz.send("MODE baz -o")
    assert await baz.line_with(" MODE ") == ":baz!baz@palaver MODE baz :-o"
    await other.send("LUSERS")
    assert await other.line_with(" 252 ") == ":irc.test 252 other 0 :operator(s) online"


async def test_kill_is_refused_to_users_and_closes_the_victim_for_an_operator(
    irc_port: int,
) -> None:
    ircop, alice, bob = [await irc(irc_port, n) for n in ("ircop", "alice", "bob")]
    await oper(ircop)
    await alice.send("KILL bob :some arbitrary reason")
    assert await alice.numeric("481") == ["alice", ":Permission", "Denied-", "You're", "not",
                                          "an", "IRC", "operator"]
    for peer in (ircop, bob):
        await peer.send("JOIN #room")
        await peer.numeric("366")
    await ircop.send("KILL bob :some arbitrary reason")
    assert await bob.lines_until_closed() == [
        "ERROR :Closing link: bob (killed by ircop: some arbitrary reason)"]
    assert await ircop.line_with(" QUIT ") == (
        ":bob!bob@palaver QUIT :killed by ircop: some arbitrary reason")
    await ircop.send("KILL bob")
    assert (await ircop.numeric("401"))[:2] == ["ircop", "bob"]
    await alice.send("WHOWAS bob")
    assert await alice.line_with(" 314 ") == ":irc.test 314 alice bob bob palaver * :bob"
    assert (await alice.numeric("369"))[:2] == ["alice", "bob"]


async def test_wallops_reach_plus_w_users_only(irc_port: int) -> None:
    nick1, nick2, nick3 = [await irc(irc_port, n) for n in ("nick1", "nick2", "nick3")]
    await nick2.send("MODE nick2 -w")  # already off: nothing said
    await nick3.send("MODE nick3 +w")
    assert await nick3.line_with(" MODE ") == ":nick3!nick3@palaver MODE nick3 :+w"
    await nick1.send("WALLOPS :hi everyone")
    assert (await nick1.numeric("481"))[0] == "nick1"
    await oper(nick1)
    await nick1.send("WALLOPS :hi everyone")
    assert await nick3.line_with("WALLOPS") == ":nick1!nick1@palaver WALLOPS :hi everyone"
    assert await nick1.line_with("WALLOPS") == ":nick1!nick1@palaver WALLOPS :hi everyone"
    assert await until_pong(nick2, "barrier") == []  # the WALLOPS went out before this PONG


async def test_invisible_users_are_left_out_of_masks_for_strangers(irc_port: int) -> None:
    evan = await irc(irc_port, "evan", "USER evan 0 * :Evan E")
    shiv = await irc(irc_port, "shiv")
    await evan.send("MODE evan +i")
    assert await evan.line_with(" MODE ") == ":evan!evan@palaver MODE evan :+i"
    await shiv.send("WHO eva*")
    assert await until_pong(shiv, "t1") == [":irc.test 315 shiv eva* :End of /WHO list"]
    await shiv.send("WHO evan")
    assert await until_pong(shiv, "t2") == [
        ":irc.test 352 shiv * evan palaver irc.test evan H :0 Evan E",
        ":irc.test 315 shiv evan :End of /WHO list"]
    await evan.send("JOIN #test")
    await evan.numeric("366")
    await shiv.send("JOIN #test", "WHO eva*")
    lines = await until_pong(shiv, "t3")
    assert ":irc.test 352 shiv * evan palaver irc.test evan H :0 Evan E" in lines
    await shiv.send("WHO evan %tnfl,42", "WHOIS evan")
    lines = await until_pong(shiv, "t4")
    assert lines[0].startswith(":irc.test 354 shiv 42 evan H :")  # the idle seconds
    assert ":irc.test 319 shiv evan :@#test" in lines
    assert ":irc.test 312 shiv evan irc.test :test server" in lines
    await shiv.send("LUSERS")
    assert await shiv.line_with(" 251 ") == (
        ":irc.test 251 shiv :There are 1 users and 1 invisible on 1 servers")


async def test_the_json_door_has_oper_user_modes_wallops_and_whowas(
    irc_port: int, server: Server,
) -> None:
    root = await Client.connect("127.0.0.1", server.port, "root")
    watcher = await irc(irc_port, "watcher")
    await watcher.send("MODE watcher +w")
    await watcher.line_with(" MODE ")
    with pytest.raises(ServerError) as wrong:
        await root.request(BecomeOperator(name="operuser", password="nope"))
    assert wrong.value.code == "auth_failed"
    became = await root.request(BecomeOperator(name="operuser", password=PASSWORD))
    assert isinstance(became, UserMode) and became.operator and became.changed == ("operator",)
    modes = await root.request(SetUserMode(invisible=True))
    assert isinstance(modes, UserMode) and modes.invisible and modes.changed == ("invisible",)
    echo = await root.request(SendWallops(text="from json"))
    assert echo == Wallops(id=echo.id, sender="root", text="from json")
    assert await watcher.line_with("WALLOPS") == ":root!root@palaver WALLOPS :from json"
    await watcher.send("QUIT :bye")
    await watcher.lines_until_closed()
    past = await root.request(ListPastUsers(nick="watch*"))
    assert isinstance(past, PastUsers) and [u.nick for u in past.users] == ["watcher"]
    await root.close()



async def test_wrong_oper_passwords_are_throttled_like_logins(start_server: ServerFactory) -> None:
    server = await start_server(server_name="irc.test", login_failures=1,
                                operator_logins={"operuser": HASH})
    port = await server.open_irc(0)
    guesser = await irc(port, "guesser")
    await guesser.send("OPER operuser wrong")
    assert await guesser.line_with(" 464 ") == ":irc.test 464 guesser :Password incorrect"
    await guesser.send(f"OPER operuser {PASSWORD}")  # even the right one, while throttled
    throttled = await guesser.line_with(" 464 ")
    assert throttled.startswith(":irc.test 464 guesser :too many operator logins: try again in")
    await guesser.send("WHOIS guesser")
    assert " 313 " not in "".join(await until_pong(guesser, "t"))
