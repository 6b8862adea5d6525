"""Room settings across doors over real sockets: an IRC client (raw lines) and JSON clients in
the same room — keys, limits, moderation with voice, outside messages, an open topic, NAMES and
LIST — and the settings kept across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from palaver.client import Client
from palaver.client.connection import ServerError
from palaver.protocol.messages import (
    GrantOperator,
    GrantVoice,
    Invite,
    Join,
    Joined,
    Message,
    RoomUpdated,
    Say,
    SetRoomMode,
    SetTopic,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc import RawIrc

WAIT = 10.0


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver")


@pytest.fixture
async def irc_port(server: Server) -> int:
    return await server.open_irc(0)


async def irc_client(port: int, nick: str) -> RawIrc:
    peer = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    await peer.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
    await peer.numeric("001")
    return peer


async def refused(client: Client, message: Join | Say | SetRoomMode) -> str:
    with pytest.raises(ServerError) as caught:
        await client.request(message)
    return caught.value.error.code


async def test_a_key_and_a_limit_set_from_json_hold_irc_joins(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#r"))
    update = await alice.request(SetRoomMode(room="#r", key="beer", limit=2))
    assert isinstance(update, RoomUpdated) and update.changed == ("limit", "key")
    bob = await irc_client(irc_port, "bob")
    await bob.send("JOIN #r")
    assert await bob.numeric("475") == ["bob", "#r", ":Cannot", "join", "channel", "(+k)"]
    await bob.send("JOIN #r beer")
    assert await bob.line_with(" 353 ") == ":palaver 353 bob = #r :@alice bob"
    carol = await irc_client(irc_port, "carol")
    await carol.send("JOIN #r beer")
    assert (await carol.numeric("471"))[:2] == ["carol", "#r"]
    await bob.send("MODE #r")
    assert await bob.line_with(" 324 ") == ":palaver 324 bob #r +ntkl beer :2"
    assert (await bob.numeric("329"))[:2] == ["bob", "#r"]
    await carol.send("MODE #r")  # not a member: the key is not shown
    assert await carol.line_with(" 324 ") == ":palaver 324 carol #r +ntkl * :2"
    for peer in (bob, carol):
        peer.writer.close()


async def test_moderation_and_voice_between_irc_and_json(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    op = await irc_client(irc_port, "op")
    await op.send("JOIN #m")
    await op.numeric("366")
    bob = await connect("bob")
    await bob.request(Join(room="#m"))
    await op.send("MODE #m +m")
    assert await op.line_with(" MODE ") == ":op!op@palaver MODE #m +m"
    update = await bob.wait_for(RoomUpdated)
    assert update.moderated and update.changed == ("moderated",)
    assert await refused(bob, Say(room="#m", text="hello?")) == "moderated"
    await op.send("MODE #m +v bob")
    assert await op.line_with(" MODE ") == ":op!op@palaver MODE #m +v bob"
    await bob.request(Say(room="#m", text="hello!"))
    assert await op.line_with(" PRIVMSG ") == ":bob!bob@palaver PRIVMSG #m :hello!"
    await op.send("NAMES #m")
    assert await op.line_with(" 353 ") == ":palaver 353 op = #m :@op +bob"
    await op.send("WHO #m")
    assert " bob H+ " in await op.line_with(" 352 op #m bob ")
    op.writer.close()


async def test_an_irc_member_without_voice_gets_404_in_a_moderated_room(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#m"))
    await alice.request(SetRoomMode(room="#m", moderated=True))
    dan = await irc_client(irc_port, "dan")
    await dan.send("JOIN #m", "PRIVMSG #m :hi", "PING x")
    assert await dan.numeric("404") == ["dan", "#m", ":Cannot", "send", "to", "channel", "(+m)"]
    await alice.request(GrantVoice(room="#m", nick="dan"))
    assert await dan.line_with(" MODE ") == ":alice!alice@palaver MODE #m +v dan"
    await dan.send("PRIVMSG #m :now I may")
    message = await alice.wait_for(Message)
    assert (message.sender, message.text) == ("dan", "now I may")
    dan.writer.close()


async def test_outside_messages_and_an_open_topic(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    op = await irc_client(irc_port, "op")
    await op.send("JOIN #o")
    await op.numeric("366")
    stranger = await connect("stranger")
    assert await refused(stranger, Say(room="#o", text="knock")) == "not_in_room"
    await op.send("MODE #o -nt")
    assert await op.line_with(" MODE ") == ":op!op@palaver MODE #o -nt"
    await stranger.request(Say(room="#o", text="knock knock"))
    assert await op.line_with(" PRIVMSG ") == ":stranger!stranger@palaver PRIVMSG #o :knock knock"
    member = await connect("member")
    await member.request(Join(room="#o"))
    await member.request(SetTopic(room="#o", topic="anyone may"))
    assert await op.line_with(" TOPIC ") == ":member!member@palaver TOPIC #o :anyone may"
    await op.send("MODE #o")
    assert await op.line_with(" 324 ") == ":palaver 324 op #o :+"
    op.writer.close()


async def test_names_list_and_kick_over_irc(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    op = await irc_client(irc_port, "op")
    await op.send("JOIN #a,#b", "MODE #b +s")
    await op.line_with(" MODE ")
    joiners = [await connect(nick) for nick in ("x", "y")]
    for client in joiners:
        await client.request(Join(room="#a"))
    await op.send("NAMES #a,#b")
    assert await op.line_with(" 353 ") == ":palaver 353 op = #a :@op x y"
    assert await op.line_with(" 353 ") == ":palaver 353 op @ #b :@op"
    assert await op.line_with(" 366 ") == ":palaver 366 op #a,#b :End of /NAMES list"
    outsider = await irc_client(irc_port, "outsider")
    await outsider.send("LIST >1", "LIST *b")
    assert await outsider.line_with(" 322 ") == ":palaver 322 outsider #a 3 :"
    await outsider.numeric("323")
    assert (await outsider.numeric("323"))[0] == "outsider"  # #b is secret: not listed
    await op.send("KICK #a x,y :out")
    assert await op.line_with(" KICK ") == ":op!op@palaver KICK #a x :out"
    assert await op.line_with(" KICK ") == ":op!op@palaver KICK #a y :out"
    for peer in (op, outsider):
        peer.writer.close()


async def test_the_allow_list_and_invitations_between_irc_and_json(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#vip"))
    await alice.request(SetRoomMode(room="#vip", invite_only=True))
    op = await irc_client(irc_port, "op")
    await alice.request(Invite(room="#vip", nick="op"))
    await op.send("INVITE")
    assert await op.line_with(" 336 ") == ":palaver 336 op :#vip"
    await op.send("JOIN #vip")
    await op.numeric("366")
    await alice.request(GrantOperator(room="#vip", nick="op"))
    await op.send("MODE #vip +I Bar!*@*")
    assert await op.line_with(" MODE #vip +I") == ":op!op@palaver MODE #vip +I Bar!*@*"
    bar = await connect("bar")
    joined = await bar.request(Join(room="#vip"))
    assert isinstance(joined, Joined) and joined.invite_only
    await op.send("MODE #vip I")
    assert (await op.line_with(" 346 ")).startswith(":palaver 346 op #vip bar!*@* op!op@palaver :")
    assert (await op.numeric("347"))[:2] == ["op", "#vip"]
    op.writer.close()


async def test_a_mute_set_over_irc_silences_a_json_member_until_voiced(
    irc_port: int, connect: Callable[..., Awaitable[Client]],
) -> None:
    op = await irc_client(irc_port, "op")
    await op.send("JOIN #q")
    await op.numeric("366")
    eve = await connect("eve")
    await eve.request(Join(room="#q"))
    await op.send("MODE #q +b m:eve!*@*")
    assert await op.line_with(" MODE #q +b") == ":op!op@palaver MODE #q +b m:eve!*@*"
    assert await refused(eve, Say(room="#q", text="hello?")) == "muted"
    await op.send("MODE #q b")
    assert (await op.line_with(" 367 ")).startswith(":palaver 367 op #q m:eve!*@* op!op@palaver")
    await op.send("MODE #q +v eve")
    await op.line_with(" MODE #q +v")
    await eve.request(Say(room="#q", text="voiced"))
    assert await op.line_with(" PRIVMSG ") == ":eve!eve@palaver PRIVMSG #q :voiced"
    op.writer.close()


async def test_room_settings_survive_a_restart(tmp_path: Path) -> None:
    settings = Settings(port=0, data_dir=str(tmp_path), web_port=0, irc_port=0,
                        argon2_time_cost=1, argon2_memory_kib=8)
    async with running(settings) as first:
        alice = await Client.connect("127.0.0.1", first.port, "alice")
        await alice.request(Join(room="#keep"))
        await alice.request(SetRoomMode(room="#keep", key="k", limit=9, moderated=True,
                                        open_topic=True))
        await alice.close()
    async with running(settings) as again:
        bob = await Client.connect("127.0.0.1", again.port, "bob")
        assert await refused(bob, Join(room="#keep")) == "bad_key"
        joined = await bob.request(Join(room="#keep", key="k"))
        assert isinstance(joined, Joined)
        assert (joined.key, joined.limit, joined.moderated, joined.open_topic) == (
            "k", 9, True, True)
        assert joined.created_at is not None
        await bob.close()
