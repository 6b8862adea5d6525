"""Rooms with rules over real sockets: JSON clients and IRC clients (the ``irc`` package) under
the same rules; a restart keeps them (docs/rooms.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import irc.client_aio
import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Ban,
    GrantOperator,
    Hello,
    Invite,
    Invited,
    Join,
    Joined,
    ListRooms,
    Presence,
    Register,
    RoomList,
    RoomUpdated,
    SetRoomMode,
    SetTopic,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.test_irc import IrcUser

PASSWORD = "correct horse battery"


@pytest.fixture
async def irc_user(server: Server) -> AsyncIterator[Callable[..., Awaitable[IrcUser]]]:
    port = await server.open_irc(0)
    users: list[IrcUser] = []

    async def connect(nick: str) -> IrcUser:
        user = IrcUser(irc.client_aio.AioReactor(loop=asyncio.get_running_loop()))
        users.append(user)
        await user.conn.connect("127.0.0.1", port, nick)
        await user.expect("welcome")
        await user.expect("endofmotd")  # registered (IRC clients join only what they ask for)
        return user

    yield connect
    for user in users:
        if user.conn.connected:
            user.conn.disconnect("done")


async def refused(client: Client, message: object) -> str:
    with pytest.raises(ServerError) as caught:
        await client.request(message)  # type: ignore[arg-type]
    return caught.value.error.code


async def test_an_irc_operator_kicks_a_json_user(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    ann = await irc_user("ann")
    ann.conn.join("#den")
    names = await ann.expect("namreply", lambda e: e.arguments[1] == "#den")
    assert names.arguments[2] == "@ann"  # the creator is the operator
    bob = await connect("bob")
    joined = await bob.request(Join(room="#den"))
    assert isinstance(joined, Joined) and joined.operators == ("ann",)
    await ann.expect("join", lambda e: e.source.nick == "bob")

    assert await refused(bob, SetTopic(room="#den", topic="mine now")) == "not_operator"
    ann.conn.kick("#den", "bob", "too loud")
    kicked = await bob.wait_for(Presence)
    assert (kicked.event, kicked.nick, kicked.room, kicked.by, kicked.reason) == (
        "kick", "bob", "#den", "ann", "too loud")
    seen = await ann.expect("kick")
    assert (seen.target, seen.arguments) == ("#den", ["bob", "too loud"])
    assert await refused(bob, SetTopic(room="#den", topic="x")) == "not_in_room"

    ann.conn.send_raw("KICK #den bob :again")  # not there any more: 441
    assert (await ann.expect("usernotinchannel")).arguments[:2] == ["bob", "#den"]


async def test_a_json_operator_sets_the_topic_irc_sees_it(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#tea"))
    ann = await irc_user("ann")
    ann.conn.join("#tea")
    await ann.expect("endofnames")
    update = await alice.request(SetTopic(room="#tea", topic="green or black?"))
    assert isinstance(update, RoomUpdated) and (update.change, update.topic, update.by) == (
        "topic", "green or black?", "alice")
    topic = await ann.expect("topic")
    assert (topic.source.nick, topic.target, topic.arguments) == (
        "alice", "#tea", ["green or black?"])

    ann.conn.topic("#tea", "hijacked")  # not an operator: 482, and nothing changes
    assert (await ann.expect("chanoprivsneeded")).arguments[0] == "#tea"
    ann.conn.topic("#tea")
    assert (await ann.expect("currenttopic")).arguments == ["#tea", "green or black?"]

    ann.conn.part("#tea")  # 332 and 333 on a join
    await ann.expect("part")
    ann.conn.join("#tea")
    assert (await ann.expect("currenttopic")).arguments == ["#tea", "green or black?"]
    assert (await ann.expect("topicinfo")).arguments[:2] == ["#tea", "alice"]


async def test_bans_and_invitations_apply_across_doors(
    irc_user: Callable[..., Awaitable[IrcUser]], connect: Callable[..., Awaitable[Client]],
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#club"))
    ann = await irc_user("ann")
    ann.conn.join("#club")
    await ann.expect("endofnames")
    await alice.request(Ban(room="#club", nick="ann"))
    assert (await ann.expect("kick")).arguments[0] == "ann"
    ann.conn.join("#club")
    assert (await ann.expect("bannedfromchan")).arguments[0] == "#club"

    ann.conn.send_raw("MODE #club +b alice!*@*")  # not in the room any more: 442
    assert (await ann.expect("notonchannel")).arguments[0] == "#club"

    # invite-only, set over IRC by an operator; a JSON guest needs an invitation
    carol = await irc_user("carol")
    await alice.request(Join(room="#vip"))
    await alice.request(Invite(room="#vip", nick="carol"))
    invite = await carol.expect("invite")
    assert (invite.source.nick, invite.arguments) == ("alice", ["#vip"])
    carol.conn.join("#vip")
    await carol.expect("endofnames")
    await alice.request(GrantOperator(room="#vip", nick="carol"))
    assert (await carol.expect("mode")).arguments == ["+o", "carol"]
    carol.conn.mode("#vip", "+is")
    assert (await carol.expect("mode")).arguments == ["+is"]  # one MODE line for both
    dave = await connect("dave")
    assert await refused(dave, Join(room="#vip")) == "no_such_room"  # private: invisible
    rooms = await dave.request(ListRooms())
    assert isinstance(rooms, RoomList) and "#vip" not in [r.room for r in rooms.rooms]
    carol.conn.invite("dave", "#vip")
    assert (await carol.expect("inviting")).arguments == ["dave", "#vip"]
    assert (await dave.wait_for(Invited)).by == "carol"
    joined = await dave.request(Join(room="#vip"))
    assert isinstance(joined, Joined) and joined.invite_only and joined.private


def settings_for(tmp_path: object) -> Settings:
    return Settings(port=0, web_port=0, irc_port=0, data_dir=str(tmp_path),
                    argon2_time_cost=1, argon2_memory_kib=8, server_operators=("root",))


async def test_a_restart_keeps_topics_operators_bans_and_flags(tmp_path: object) -> None:
    settings = settings_for(tmp_path)
    async with running(settings) as server:
        alice = await Client.connect("127.0.0.1", server.port, "alice")
        await alice.request(Register(nick="alice", password=PASSWORD))
        await alice.request(Join(room="#kept"))
        await alice.request(SetTopic(room="#kept", topic="still here"))
        await alice.request(Ban(room="#kept", nick="mallory"))
        await alice.request(SetRoomMode(room="#kept", invite_only=True))
        await alice.quit()

    async with running(settings) as server:
        mallory = await Client.connect("127.0.0.1", server.port, "mallory")
        assert await refused(mallory, Join(room="#kept")) == "banned"
        bob = await Client.connect("127.0.0.1", server.port, "bob")
        assert await refused(bob, Join(room="#kept")) == "invite_only"
        alice = await Client.connect("127.0.0.1", server.port)
        await alice.request(Hello(version=1, nick="alice", password=PASSWORD))
        joined = await alice.wait_for(Joined)
        while joined.room != "#kept":
            joined = await alice.wait_for(Joined)
        assert (joined.topic, joined.topic_by, joined.operators, joined.invite_only) == (
            "still here", "alice", ("alice",), True)
        await alice.request(Invite(room="#kept", nick="bob"))
        assert isinstance(await bob.request(Join(room="#kept")), Joined)
        for client in (mallory, bob, alice):
            await client.quit()
