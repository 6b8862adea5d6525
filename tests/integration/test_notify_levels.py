"""Notification levels over real sockets, SQLite in a temporary data directory: JSON clients,
the text door (nc-like) and a raw IRC client on the same server (NOTIFY, NOTIFY_LEVEL, /notify,
IRC NOTIFY). A level set on one session reaches the account's other sessions on every door,
and every later login, also after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Hello,
    Join,
    NotificationLevel,
    Register,
    SendDirect,
    ServerMessage,
    SetNotifyLevel,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.conftest import ServerFactory
from tests.integration.test_accounts import PASSWORD, login
from tests.integration.test_irc_watch_markers_redact import RawIrc
from tests.integration.test_text_door import TextPeer

Connect = Callable[..., Awaitable[Client]]


async def account(connect: Connect, nick: str) -> None:
    """Make ``nick`` an account (as a guest who registers, then leaves)."""
    client = await connect(nick)
    await client.request(Register(nick=nick, password=PASSWORD))
    await client.quit()


async def notify(client: Client, **fields: object) -> NotificationLevel:
    answer = await client.request(SetNotifyLevel(**fields))  # type: ignore[arg-type]
    assert isinstance(answer, NotificationLevel), answer
    return answer


async def told(client: Client) -> NotificationLevel:
    """The next NOTIFY_LEVEL that answers no request of this client (others skipped: a
    client's answers are events too)."""
    while True:
        event = await client.wait_for(NotificationLevel)
        if event.id is None:
            return event


async def levels_after_welcome(client: Client, count: int) -> list[ServerMessage]:
    """The next ``count`` NOTIFY_LEVELs told (other events skipped)."""
    return [await told(client) for _ in range(count)]


async def test_a_level_reaches_the_other_sessions_and_every_later_login(
    server: Server, connect: Connect,
) -> None:
    await account(connect, "alice")
    await account(connect, "bob")
    first, _ = await login(server.port, "alice", PASSWORD)
    second, _ = await login(server.port, "alice", PASSWORD)
    try:
        await first.request(Join(room="#dev"))
        answer = await notify(first, room="#DEV", level="mentions", id="n1")
        assert answer == NotificationLevel(id="n1", room="#dev", level="mentions")
        assert await told(second) == NotificationLevel(
            room="#dev", level="mentions")
        dm = await notify(second, peer="Bob", level="none")
        assert (dm.peer, dm.level) == ("bob", "none")
        assert await told(first) == NotificationLevel(peer="bob",
                                                                           level="none")
        asked = await notify(second, room="#dev")  # a question
        assert asked.level == "mentions"
        with pytest.raises(ServerError) as bad:
            await first.request(SetNotifyLevel(room="#dev", level="loud"))  # type: ignore
        assert (bad.value.code, bad.value.error.field) == ("invalid_field", "level")
        with pytest.raises(ServerError) as outside:
            await notify(first, room="#elsewhere", level="none")
        assert outside.value.code == "not_in_room"
        with pytest.raises(ServerError) as nobody:
            await notify(first, peer="nobody", level="none")
        assert nobody.value.code == "no_such_user"

        third, welcome = await login(server.port, "alice", PASSWORD)  # online already
        try:
            assert welcome.account
            assert sorted(await levels_after_welcome(third, 2), key=repr) == sorted(
                [NotificationLevel(room="#dev", level="mentions"),
                 NotificationLevel(peer="bob", level="none")], key=repr)
        finally:
            await third.close()
    finally:
        await first.quit()
        await second.quit()
    again, _ = await login(server.port, "alice", PASSWORD)  # the first session again: stored
    try:
        assert sorted(await levels_after_welcome(again, 2), key=repr) == sorted(
            [NotificationLevel(room="#dev", level="mentions"),
             NotificationLevel(peer="bob", level="none")], key=repr)
    finally:
        await again.close()


async def test_a_guest_has_its_levels_back_with_its_token(connect: Connect, server: Server,
                                                          ) -> None:
    guest = await connect("gus")
    assert guest.welcome is not None and guest.welcome.token is not None
    token = guest.welcome.token
    await notify(guest, room="#lobby", level="none")
    await guest.quit()
    back = Client(*await asyncio.open_connection("127.0.0.1", server.port))
    try:
        welcome = await back.request(Hello(version=1, nick="gus", token=token))
        assert isinstance(welcome, Welcome)
        assert await told(back) == NotificationLevel(room="#lobby",
                                                                          level="none")
    finally:
        await back.close()


async def test_levels_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(port=0, data_dir=str(tmp_path), web_port=0, irc_port=0,
                        argon2_time_cost=1, argon2_memory_kib=8)
    async with running(settings) as server:
        alice = await Client.connect("127.0.0.1", server.port, "alice")
        await alice.request(Register(nick="alice", password=PASSWORD))
        await notify(alice, room="#lobby", level="mentions")
        await alice.quit()
    async with running(settings) as again:
        alice, _ = await login(again.port, "alice", PASSWORD)
        try:
            assert await told(alice) == NotificationLevel(
                room="#lobby", level="mentions")
        finally:
            await alice.close()


async def test_the_text_door_sets_levels_with_slash_notify(
    start_server: ServerFactory,
) -> None:
    server = await start_server(text_sniff_timeout=0.05)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    await alice.request(Register(nick="alice", password=PASSWORD))
    peer = await TextPeer.open(server.port)
    try:
        await peer.exactly(b"Welcome to palaver. Choose a nickname:\r\n")
        await peer.send(f"/login alice {PASSWORD}\r\n".encode())
        await peer.until(b"* you joined #lobby (1 here: alice)\r\n")
        await peer.send(b"/notify mentions\r\n")
        assert await peer.until(b"* notifications of #lobby: mentions (only mentions and "
                                b"direct messages notify you)\r\n")
        assert await told(alice) == NotificationLevel(
            room="#lobby", level="mentions")  # the same account, on the JSON door
        await peer.send(b"/notify\r\n")
        assert await peer.line() == (b"* notifications of #lobby: mentions (only mentions and "
                                     b"direct messages notify you)\r\n")
        await peer.send(b"/notify loud\r\n")
        assert await peer.line() == b"! usage: /notify [#room|@nick] [all|mentions|none]\r\n"
        await peer.send(b"/notify #nowhere none\r\n")
        line = await peer.line()
        assert line.startswith(b"! you are not in #nowhere") and line.endswith(
            b"(not_in_room)\r\n")
    finally:
        peer.close()
        await alice.close()


async def test_irc_notify_is_answered_with_notices(server: Server, connect: Connect) -> None:
    await account(connect, "ann")
    json_ann, _ = await login(server.port, "ann", PASSWORD)
    bob = await connect("bob")
    port = await server.open_irc(0)
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    try:
        await peer.send(f"PASS {PASSWORD}", "NICK ann", "USER ann 0 * :Ann", "JOIN #dev")
        await peer.line_with(" 366 ")
        await peer.send("NOTIFY #dev none")
        assert (await peer.line_with("NOTICE ann")).endswith(
            ":NOTIFY #dev: none (nothing notifies)")
        assert await told(json_ann) == NotificationLevel(room="#dev",
                                                                              level="none")
        await peer.send("NOTIFY #dev")
        assert (await peer.line_with("NOTICE ann")).endswith(
            ":NOTIFY #dev: none (nothing notifies)")
        await bob.request(SendDirect(to="ann", text="hi"))
        await peer.line_with("PRIVMSG ann :hi")
        await notify(json_ann, peer="bob", level="mentions")  # not shown on IRC: asked there
        await peer.send("NOTIFY bob")
        assert (await peer.line_with("NOTICE ann")).endswith(
            ":NOTIFY bob: mentions (only mentions and direct messages notify)")
        await peer.send("NOTIFY #nowhere all")
        assert "not_in_room" in await peer.line_with("NOTICE ann")
        await peer.send("NOTIFY #dev loud")
        assert "invalid_field: level is all, mentions or none" in await peer.line_with(
            "NOTICE ann")
    finally:
        peer.writer.close()
        await json_ann.close()
