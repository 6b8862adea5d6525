"""A restart on the same data dir forgets nothing: history, msg_ids, accounts, rooms, DMs.

Each test runs the real server in-process (``running()``) on one temporary data dir, stops it
(the graceful path: BYE, commit what is in flight, close the store) and starts a new one there.
Clients leave before a stop so that it does not wait out their linger. Waiting is on replies:
a PING's PONG marks the end of what the server sent before it, on that connection, in order.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Hello,
    History,
    HistoryPage,
    Join,
    Joined,
    Leave,
    Message,
    Ping,
    Pong,
    Register,
    Registered,
    Say,
    SendDirect,
    ServerMessage,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings

PASSWORD = "correct horse battery"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    doors_off: dict[str, Any] = {  # only JSON lines, no fixed ports
        door: 0 for door in ("web_port", "irc_port")
                 if door in Settings.__struct_fields__}
    return Settings(port=0, data_dir=str(tmp_path), argon2_time_cost=1, argon2_memory_kib=8,
                    shutdown_grace=1.0, **doors_off)


async def guest(server: Server, nick: str) -> Client:
    return await Client.connect("127.0.0.1", server.port, nick)


async def register(server: Server, nick: str) -> Client:
    client = await guest(server, nick)
    registered = await client.request(Register(nick=nick, password=PASSWORD))
    assert isinstance(registered, Registered) and registered.nick == nick
    return client


async def login(server: Server, nick: str, password: str = PASSWORD,
                since: dict[str, int] | None = None) -> tuple[Client, Welcome]:
    client = await Client.connect("127.0.0.1", server.port)
    welcome = await client.request(Hello(version=PROTOCOL_VERSION, nick=nick, password=password,
                                         since=since))
    assert isinstance(welcome, Welcome) and welcome.account
    return client, welcome


async def settled(client: Client) -> list[ServerMessage]:
    """Everything the server sent ``client`` before the PONG to a PING sent now."""
    await client.request(Ping())
    return [e for e in client.pending_events() if not isinstance(e, Ping | Pong)]


async def history(client: Client, *, room: str | None = None,
                  peer: str | None = None) -> list[Message]:
    out: list[Message] = []
    after = 0
    for _ in range(1_000):
        page = await client.request(History(room=room, peer=peer, after=after, limit=200))
        assert isinstance(page, HistoryPage)
        out.extend(page.messages)
        if not page.more:
            return out
        after = page.messages[-1].msg_id
    raise AssertionError("history never ended")


def fresh_id() -> str:
    """A request id never used before: the server keeps an account's request ids forever, and
    a reused one is taken for a resend."""
    return uuid.uuid4().hex


async def say(client: Client, room: str, text: str) -> Message:
    ack = await client.request(Say(id=fresh_id(), room=room, text=text))
    assert isinstance(ack, Message)
    return ack


async def dm(client: Client, to: str, text: str) -> Message:
    ack = await client.request(SendDirect(id=fresh_id(), to=to, text=text))
    assert isinstance(ack, Message)
    return ack


def plain(messages: list[Message]) -> list[tuple[int, str, str, str]]:
    return [(m.msg_id, m.ts, m.sender, m.text) for m in messages]


async def test_history_and_msg_ids_continue_per_room_and_dm(settings: Settings) -> None:
    async with running(settings) as server:
        alice, bob = await register(server, "alice"), await register(server, "bob")
        await alice.request(Join(room="#dev"))
        await bob.request(Join(room="#dev"))
        lobby = [await say(alice, "#lobby", f"lobby {n}") for n in range(3)]
        dev = [await say(bob, "#dev", f"dev {n}") for n in range(2)]
        dms = [await dm(bob, "alice", "psst"), await dm(alice, "bob", "what")]
        assert [m.msg_id for m in lobby] == [1, 2, 3]
        assert [m.msg_id for m in dev] == [1, 2]
        assert [m.msg_id for m in dms] == [1, 2]
        await alice.quit()
        await bob.quit()

    async with running(settings) as server:
        alice, _ = await login(server, "alice")
        bob, _ = await login(server, "bob")
        assert plain(await history(alice, room="#lobby")) == plain(lobby)
        assert plain(await history(bob, room="#dev")) == plain(dev)
        assert plain(await history(alice, peer="bob")) == plain(dms)
        # the next id is the last one + 1, per room and per direct conversation
        assert (await say(bob, "#lobby", "after")).msg_id == 4
        assert (await say(alice, "#dev", "after")).msg_id == 3
        assert (await dm(alice, "bob", "after")).msg_id == 3
        await alice.request(Join(room="#fresh"))
        assert (await say(alice, "#fresh", "first")).msg_id == 1
        await alice.quit()
        await bob.quit()

    async with running(settings) as server:  # and once more: the new ones were stored too
        alice, _ = await login(server, "alice")
        assert [m.text for m in await history(alice, room="#lobby")][-1] == "after"
        assert (await say(alice, "#lobby", "third run")).msg_id == 5
        assert (await dm(alice, "bob", "third run")).msg_id == 4
        await alice.quit()


async def test_accounts_survive_a_restart(settings: Settings) -> None:
    async with running(settings) as server:
        alice = await register(server, "alice")
        await alice.quit()

    async with running(settings) as server:
        alice, welcome = await login(server, "alice")
        assert welcome.nick == "alice" and welcome.token is None
        await alice.quit()

        intruder = await Client.connect("127.0.0.1", server.port)
        with pytest.raises(ServerError) as wrong:
            await intruder.request(Hello(version=PROTOCOL_VERSION, nick="alice",
                                         password="not the password"))
        assert wrong.value.error.code == "auth_failed"
        await intruder.close()

        impostor = await Client.connect("127.0.0.1", server.port)
        with pytest.raises(ServerError) as taken:
            await impostor.request(Hello(version=PROTOCOL_VERSION, nick="Alice"))
        assert taken.value.error.code == "nick_registered"
        await impostor.close()

        # and registering it again is refused: the account is there
        other = await guest(server, "mallory")
        with pytest.raises(ServerError) as exists:
            await other.request(Register(nick="alice", password=PASSWORD))
        assert exists.value.error.code in {"account_exists", "invalid_nick"}
        await other.quit()


async def test_account_rooms_are_rejoined_after_a_restart(settings: Settings) -> None:
    async with running(settings) as server:
        alice = await register(server, "alice")
        for room in ("#dev", "#ops", "#Music"):
            await alice.request(Join(room=room))
        await alice.request(Leave(room="#ops"))
        await say(alice, "#dev", "kept")
        await alice.quit()

    async with running(settings) as server:
        bob = await guest(server, "bob")
        alice, welcome = await login(server, "alice")
        assert set(welcome.rooms) == {"#lobby", "#dev", "#Music"}
        joined = {e.room for e in await settled(alice) if isinstance(e, Joined)}
        assert joined == {"#lobby", "#dev", "#Music"}
        # a member again for real: history is readable, messages reach her
        assert [m.text for m in await history(alice, room="#dev")] == ["kept"]
        await bob.request(Join(room="#dev"))
        await say(bob, "#dev", "hi alice")
        got = [e for e in await settled(alice) if isinstance(e, Message)]
        assert [(m.room, m.text, m.msg_id) for m in got] == [("#dev", "hi alice", 2)]
        with pytest.raises(ServerError) as left:
            await alice.request(History(room="#ops"))
        assert left.value.error.code == "no_such_room"
        await alice.quit()
        await bob.quit()


async def test_offline_direct_messages_arrive_in_order_across_a_restart(
    settings: Settings,
) -> None:
    async with running(settings) as server:
        alice = await register(server, "alice")
        await alice.quit()  # offline: her marks are saved
        bob = await register(server, "bob")
        before = [await dm(bob, "alice", f"before restart {n}") for n in range(3)]
        await bob.quit()

    async with running(settings) as server:
        bob, _ = await login(server, "bob")
        after = [await dm(bob, "alice", f"after restart {n}") for n in range(2)]
        await bob.quit()
        carol = await guest(server, "carol")  # a guest: a conversation of her own
        from_carol = await dm(carol, "alice", "hello from carol")
        await carol.quit()
        alice, _ = await login(server, "alice")
        got = [e for e in await settled(alice) if isinstance(e, Message)]
        assert all(m.to == "alice" and m.id is None for m in got)
        assert plain([m for m in got if m.sender == "bob"]) == plain(before + after)
        assert [m.msg_id for m in before + after] == [1, 2, 3, 4, 5]
        assert plain([m for m in got if m.sender == "carol"]) == plain([from_carol])
        assert len(got) == 6
        await alice.quit()

        # delivered once: the next login (marks saved when she left) replays nothing
        alice, _ = await login(server, "alice")
        assert not [e for e in await settled(alice) if isinstance(e, Message)]
        await alice.quit()


async def test_direct_messages_seen_live_are_not_replayed_after_a_restart(
    settings: Settings,
) -> None:
    async with running(settings) as server:
        alice = await register(server, "alice")
        bob = await guest(server, "bob")
        sent = await dm(bob, "alice", "seen live")
        assert [m.text for m in await settled(alice) if isinstance(m, Message)] == [sent.text]
        await bob.quit()
        # alice is still online when the server stops

    async with running(settings) as server:
        alice, _ = await login(server, "alice")
        replayed = [e for e in await settled(alice) if isinstance(e, Message)]
        await alice.quit()
    assert replayed == []
