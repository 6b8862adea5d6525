"""Two nodes on one PostgreSQL and one Redis behave as one server (docs/architecture.md, "A
cluster of nodes"): over real sockets, members of a room on either node see every message once,
in the same order, with ids dense across nodes; direct messages cross; resume on the other node
is exact; with the bus down, delivery goes on through the store.

The servers are tests/pg_server.py's PostgreSQL and tests/redis_server.py's Redis (skipped when
either is not installed; `make test` installs both).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import generate_latest

from palaver.claims.base import Claims
from palaver.client import Client
from palaver.client.connection import ServerError
from palaver.hub.lookalikes import skeleton
from palaver.protocol.messages import (
    Ban,
    Delete,
    Deleted,
    Edit,
    Edited,
    GrantOperator,
    Hello,
    History,
    HistoryPage,
    Join,
    Joined,
    Kick,
    Leave,
    Left,
    ListRooms,
    ListUsers,
    Message,
    Presence,
    React,
    Reacted,
    Register,
    Registered,
    RoomList,
    RoomUpdated,
    Say,
    SendDirect,
    SetNick,
    SetTopic,
    Users,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from palaver.server.metrics import make_registry
from tests.integration.test_history_and_resume import raw_hello as hello
from tests.redis_server import RedisServer

PASSWORD = "correct horse battery"


def node_settings(tmp_path: Path, name: str, pg_url: str, redis_url: str,
                  **overrides: Any) -> Settings:
    (tmp_path / name).mkdir(exist_ok=True)
    return Settings(port=0, web_port=0, irc_port=0, data_dir=str(tmp_path / name), store=pg_url,
                    bus=(redis_url,), node_id=name, argon2_time_cost=1, argon2_memory_kib=8,
                    shutdown_grace=1.0, rate_burst=1_000_000, rate_per_second=1_000_000.0,
                    **overrides)


@contextlib.asynccontextmanager
async def two_nodes(tmp_path: Path, pg_url: str, redis_url: str, **overrides: Any
                    ) -> AsyncIterator[tuple[Server, Server]]:
    async with running(node_settings(tmp_path, "a", pg_url, redis_url, **overrides)) as a, \
            running(node_settings(tmp_path, "b", pg_url, redis_url, **overrides)) as b:
        yield a, b


async def messages_until(client: Client, count: int, timeout: float = 10.0) -> list[Message]:
    """The next ``count`` MESSAGEs ``client`` receives (its own acks included)."""
    got: list[Message] = []
    while len(got) < count:
        got.append(await client.wait_for(Message, timeout=timeout))
    return got


async def test_a_room_across_two_nodes_one_order(tmp_path: Path, pg_url: str,
                                                 redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        carol = await Client.connect("127.0.0.1", b.port, "carol")
        per_sender = 30
        for n in range(per_sender):  # both nodes at once: interleaved as they commit
            alice.write(Say(id=f"a{n}", room="#lobby", text=f"alice {n}"))
            bob.write(Say(id=f"b{n}", room="#lobby", text=f"bob {n}"))
        await alice.drain()
        await bob.drain()
        seen = {name: await messages_until(client, 2 * per_sender)
                for name, client in (("alice", alice), ("bob", bob), ("carol", carol))}
        orders = {name: [(m.msg_id, m.sender, m.text) for m in got]
                  for name, got in seen.items()}
        assert orders["alice"] == orders["bob"] == orders["carol"]
        assert [msg_id for msg_id, _, _ in orders["carol"]] == list(range(1, 2 * per_sender + 1))
        for sender in ("alice", "bob"):  # each sender's in the order sent
            assert [text for _, who, text in orders["carol"] if who == sender] == [
                f"{sender} {n}" for n in range(per_sender)]
        acks = [m for m in seen["alice"] if m.sender == "alice"]
        assert [m.id for m in acks] == [f"a{n}" for n in range(per_sender)]
        for client in (alice, bob, carol):
            page = await client.request(History(room="#lobby", limit=100))
            assert isinstance(page, HistoryPage)
            assert [(m.msg_id, m.sender, m.text) for m in page.messages] == orders["carol"]
        for client in (alice, bob, carol):
            await client.quit()


async def test_direct_messages_and_resume_on_the_other_node(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        dora = await Client.connect("127.0.0.1", a.port, "dora")
        assert isinstance(await dora.request(Register(nick="dora", password=PASSWORD)),
                          Registered)
        erin = await Client.connect("127.0.0.1", b.port, "erin")
        assert isinstance(await erin.request(Register(nick="erin", password=PASSWORD)),
                          Registered)
        sent = await dora.request(SendDirect(id="d1", to="erin", text="hello across"))
        assert isinstance(sent, Message)
        got = await erin.wait_for(Message)
        assert (got.sender, got.text, got.msg_id) == ("dora", "hello across", sent.msg_id)
        # erin leaves node B; the room goes on on node A; she comes back on node A
        said = await dora.request(Say(id="s1", room="#lobby", text="before"))
        assert isinstance(said, Message)
        while (await erin.wait_for(Message)).msg_id != said.msg_id:
            pass
        await erin.close()
        missed = [await dora.request(Say(id=f"m{n}", room="#lobby", text=f"missed {n}"))
                  for n in range(5)]
        back, _ = await hello(a.port, nick="erin", password=PASSWORD,
                              since={"#lobby": said.msg_id})
        replayed = await messages_until(back, 5)
        assert [(m.msg_id, m.text) for m in replayed] == [
            (m.msg_id, m.text) for m in missed if isinstance(m, Message)]
        for client in (dora, back):
            await client.quit()


async def test_delivery_goes_on_with_the_bus_down(tmp_path: Path, pg_url: str,
                                                  redis_own: RedisServer) -> None:
    """Redis killed: nothing is published, and each node finds the others' messages in the
    store (the check every second); back up, the bus carries them again."""
    async with two_nodes(tmp_path, pg_url, redis_own.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        first = await alice.request(Say(id="1", room="#lobby", text="on the bus"))
        assert isinstance(first, Message)
        assert (await bob.wait_for(Message)).text == "on the bus"
        redis_own.kill()
        texts = [f"through the store {n}" for n in range(3)]
        for n, text in enumerate(texts):
            assert isinstance(await alice.request(Say(id=f"x{n}", room="#lobby", text=text)),
                              Message)
        assert [m.text for m in await messages_until(bob, 3, timeout=15.0)] == texts
        assert b.core is not None
        scraped = generate_latest(make_registry(b.core)).decode()
        assert 'palaver_cluster_node_info{node="b"} 1.0' in scraped
        assert 'palaver_cluster_bus_up{shard="0"} 0.0' in scraped  # it said so
        filled = next(line for line in scraped.splitlines()
                      if line.startswith("palaver_cluster_filled_total"))
        assert float(filled.split()[-1]) >= 3  # read from the store
        assert "palaver_cluster_lag_seconds_count" in scraped
        redis_own.start()
        assert a.core is not None and a.core.cluster is not None
        cluster = a.core.cluster
        published = cluster.published
        for _ in range(200):  # bounded: the bus is back once a message is published on it
            said = await alice.request(Say(room="#lobby", text="back on the bus"))
            assert isinstance(said, Message)
            assert (await bob.wait_for(Message, timeout=15.0)).msg_id == said.msg_id
            if cluster.published > published:
                break
        else:
            pytest.fail("the bus did not come back")
        await alice.quit()
        await bob.quit()


async def try_hello(port: int, nick: str, password: str | None = None) -> str:
    """``welcome`` or the error code a HELLO as ``nick`` (with ``password``) gets."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = Client(reader, writer)
    try:
        await client.request(Hello(version=1, nick=nick, password=password))
        return "welcome"
    except ServerError as error:
        return error.error.code
    finally:
        await client.close()


async def freed(claims: Claims, nick: str) -> bool:
    return await claims.holder(skeleton(nick)) is None


async def until_async(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait for ``condition`` about the cluster's state (bounded: 10 s)."""
    for _ in range(1_000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the cluster never got there")


async def test_nick_races_across_nodes_have_one_winner(tmp_path: Path, pg_url: str,
                                                       redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        holders = []
        for n in range(100):  # each nick asked for on both nodes at once; the winners stay
            reader_a, writer_a = await asyncio.open_connection("127.0.0.1", a.port)
            reader_b, writer_b = await asyncio.open_connection("127.0.0.1", b.port)
            on_a, on_b = Client(reader_a, writer_a), Client(reader_b, writer_b)
            results = await asyncio.gather(*(
                client.request(Hello(version=1, nick=f"racer{n}")) for client in (on_a, on_b)),
                return_exceptions=True)
            won = [r for r in results if isinstance(r, Welcome)]
            lost = [r for r in results if isinstance(r, ServerError)]
            assert len(won) == 1 and len(lost) == 1, results
            assert lost[0].error.code == "nick_taken"
            holders.append(on_a if isinstance(results[0], Welcome) else on_b)
            await (on_b if holders[-1] is on_a else on_a).close()
        # a lookalike is taken too; once its holder has gone, the nick is free on either node
        assert await try_hello(b.port, "RACER0") == "nick_taken" or await try_hello(
            a.port, "RACER0") == "nick_taken"
        await holders[0].quit()
        assert a.core is not None and a.core.nick_claims is not None
        claims = a.core.nick_claims.claims
        await until_async(lambda: freed(claims, "racer0"))  # released in the background
        assert await try_hello(b.port, "racer0") == "welcome"
        await until_async(lambda: freed(claims, "racer0"))
        assert await try_hello(a.port, "racer0") == "welcome"
        for holder in holders[1:]:
            await holder.close()


async def test_a_resend_on_both_nodes_at_once_is_stored_once(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        owner = await Client.connect("127.0.0.1", a.port, "fern")
        assert isinstance(await owner.request(Register(nick="fern", password=PASSWORD)),
                          Registered)
        other, _ = await hello(b.port, nick="fern", password=PASSWORD)
        for n in range(20):  # the same id on both nodes at once: one message, one id
            answers = await asyncio.gather(
                owner.request(Say(id=f"same{n}", room="#lobby", text=f"once {n}")),
                other.request(Say(id=f"same{n}", room="#lobby", text=f"once {n}")))
            assert all(isinstance(m, Message) for m in answers)
            assert answers[0].msg_id == answers[1].msg_id  # type: ignore[union-attr]
        page = await owner.request(History(room="#lobby", limit=100))
        assert isinstance(page, HistoryPage)
        assert [m.text for m in page.messages] == [f"once {n}" for n in range(20)]
        await owner.quit()
        await other.quit()


async def names_of(client: Client, room: str) -> set[str]:
    page = await client.request(ListUsers(room=room))
    assert isinstance(page, Users)
    return set(page.users)


async def presence(client: Client, event: str, nick: str, room: str | None = None
                   ) -> Presence:
    """The next PRESENCE ``event`` of ``nick`` (in ``room``; others skipped, bounded by the
    timeout)."""
    while True:
        got = await client.wait_for(Presence, timeout=10.0)
        if got.event == event and got.nick == nick and room in (None, got.room):
            return got


async def test_room_members_span_the_nodes(tmp_path: Path, pg_url: str,
                                           redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        assert isinstance(await alice.request(Join(room="#span")), Joined)
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        joined = await bob.request(Join(room="#span"))
        assert isinstance(joined, Joined)
        await presence(alice, "join", "bob", "#span")  # told on node A
        for client in (alice, bob):  # both listed on both nodes
            for _ in range(100):  # bounded: bob's JOINED may come before A's list is read
                if await names_of(client, "#span") == {"alice", "bob"}:
                    break
                await client.wait_for(Presence, timeout=2.0)
            assert await names_of(client, "#span") == {"alice", "bob"}
        assert isinstance(await bob.request(SetNick(nick="robert")), Presence)
        renamed = await presence(alice, "nick", "bob")
        assert renamed.new_nick == "robert"
        assert isinstance(await bob.request(Leave(room="#span")), Left)
        await presence(alice, "leave", "robert", "#span")
        assert await names_of(alice, "#span") == {"alice"}
        await bob.close()  # gone without a word: its #lobby membership goes too
        await presence(alice, "leave", "robert")
        await alice.quit()


async def test_a_room_made_on_one_node_keeps_its_rules_on_the_other(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    """Its first member on node B is not made its operator, and sees the topic set on A."""
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        made = await alice.request(Join(room="#rules"))
        assert isinstance(made, Joined) and made.operators == ("alice",)
        await alice.request(SetTopic(room="#rules", topic="set on node A"))
        assert a.core is not None
        await a.core.settled()  # the rules are written in the background
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        joined = await bob.request(Join(room="#rules"))
        assert isinstance(joined, Joined)
        assert joined.topic == "set on node A" and "bob" not in joined.operators
        await alice.quit()
        await bob.quit()


async def until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition`` about the node's state (bounded: 10 s)."""
    for _ in range(10_000):
        if condition():
            return
        await asyncio.sleep(0.001)
    pytest.fail("the node never got there")


async def test_a_message_stored_while_a_member_resumes_is_told_to_it_once(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    """(Found by the cluster soak.) A message posted before a member's HELLO and stored after
    it: the replay counts up to where the room is told when the replay goes out, so it is in
    the replay — not lost between a replay made too early and an audience made too early."""
    async with running(node_settings(tmp_path, "a", pg_url, redis_server.url)) as a:
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        bob = await Client.connect("127.0.0.1", a.port, "bob")
        assert isinstance(await bob.request(Register(nick="bob", password=PASSWORD)),
                          Registered)
        first = await alice.request(Say(id="1", room="#lobby", text="one"))
        assert isinstance(first, Message)
        while (await bob.wait_for(Message)).msg_id != first.msg_id:
            pass
        await bob.close()
        assert a.core is not None
        core, store = a.core, a.core.store
        append, gate, held = store.append, asyncio.Event(), asyncio.Event()

        async def held_append(batch: Any) -> Any:
            held.set()
            await gate.wait()  # a commit that takes its time
            return await append(batch)

        store.append = held_append  # type: ignore[method-assign]
        await until(lambda: not core.hub.nick_in_use("bob"))
        alice.write(Say(id="2", room="#lobby", text="two"))  # posted; its commit held
        await asyncio.wait_for(held.wait(), 10)
        back_reader, back_writer = await asyncio.open_connection("127.0.0.1", a.port)
        back = Client(back_reader, back_writer)
        back.write(Hello(version=1, nick="bob", password=PASSWORD, since={"#lobby": 1}))
        await until(lambda: core.hub.nick_in_use("bob"))  # back in the room, "two" unstored
        store.append = append  # type: ignore[method-assign]
        gate.set()
        assert isinstance(await back.wait_for(Welcome), Welcome)
        third = await alice.request(Say(id="3", room="#lobby", text="three"))
        assert isinstance(third, Message)
        got: list[Message] = []
        while not got or got[-1].msg_id < third.msg_id:
            got.append(await back.wait_for(Message))
        assert [m.text for m in got] == ["two", "three"]
        await alice.quit()
        await back.quit()


class Lines:
    """A line-based client (IRC, the text door) on a raw socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Lines:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())

    async def until(self, part: str) -> str:
        """The next line containing ``part`` (bounded: 10 s)."""
        while True:
            line = await asyncio.wait_for(self.reader.readline(), 10)
            assert line, f"closed before {part!r}"
            text = line.decode()
            if text.startswith("PING "):
                self.send("PONG " + text[5:].strip())
            if part in text:
                return text

    async def until_all(self, parts: set[str]) -> None:
        """Until a line has contained each of ``parts``, in any order (bounded: 10 s each)."""
        missing = set(parts)
        while missing:
            line = await self.until("")
            missing = {part for part in missing if part not in line}

    def close(self) -> None:
        self.writer.close()


async def test_every_door_on_either_node_hears_the_others(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    """JSON lines and IRC on node A; plain text and WebSocket on node B: one room."""
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        irc_port = await a.open_irc(0)
        web_port = await b.open_web(0)
        json_a = await Client.connect("127.0.0.1", a.port, "jay")
        irc = await Lines.open(irc_port)
        irc.send("NICK ira", "USER ira 0 * :Ira", "JOIN #lobby")
        await irc.until(" 366 ")  # end of NAMES: in the room
        text = await Lines.open(b.port)
        text.send("tess")
        await text.until("you joined #lobby")
        async with aiohttp.ClientSession() as http, http.ws_connect(
                f"http://127.0.0.1:{web_port}/ws") as ws:
            await ws.send_str(json.dumps({"type": "HELLO", "version": 1, "nick": "wes",
                                          "id": "h"}))
            while json.loads((await ws.receive(timeout=10)).data)["type"] != "WELCOME":
                pass
            await json_a.request(Say(room="#lobby", text="from json on A"))
            irc.send("PRIVMSG #lobby :from irc on A")
            text.send("from text on B")
            await ws.send_str(json.dumps({"type": "CHAT", "room": "#lobby",
                                          "text": "from ws on B"}))
            said = {"from json on A", "from irc on A", "from text on B", "from ws on B"}
            heard_ws: set[str] = set()
            while heard_ws != said - {"from ws on B"}:
                frame = json.loads((await ws.receive(timeout=10)).data)
                if frame["type"] == "MESSAGE":
                    heard_ws.add(frame["text"])
        await irc.until_all(said - {"from irc on A"})
        await text.until_all(said - {"from text on B"})
        heard_json = {(await json_a.wait_for(Message)).text for _ in range(4)}
        assert heard_json == said
        irc.send("QUIT :bye")
        text.close()
        irc.close()
        await json_a.quit()


async def alice_and_bob(a: Server, b: Server, room: str) -> tuple[Client, Client]:
    """alice on node A and bob on node B, both in ``room``, bob shown on node A."""
    alice = await Client.connect("127.0.0.1", a.port, "alice")
    assert isinstance(await alice.request(Join(room=room)), Joined)
    bob = await Client.connect("127.0.0.1", b.port, "bob")
    assert isinstance(await bob.request(Join(room=room)), Joined)
    await presence(alice, "join", "bob", room)
    return alice, bob


async def room_update(client: Client, change: str) -> RoomUpdated:
    while True:  # bounded by wait_for's timeout
        got = await client.wait_for(RoomUpdated, timeout=10.0)
        if got.change == change and got.id is None:  # not the answer to its own request
            return got


async def test_rules_changed_on_one_node_are_told_on_the_other(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        assert isinstance(await alice.request(Join(room="#rules")), Joined)
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        assert isinstance(await bob.request(Join(room="#rules")), Joined)
        await presence(alice, "join", "bob", "#rules")  # bob is listed on node A
        await alice.request(SetTopic(room="#rules", topic="from node A"))
        told = await room_update(bob, "topic")
        assert (told.room, told.topic, told.by) == ("#rules", "from node A", "alice")
        await alice.request(GrantOperator(room="#rules", nick="bob"))
        opped = await room_update(bob, "op")
        assert opped.nick == "bob" and "bob" in opped.operators
        # bob, an operator now on node B too, changes the topic there: told on node A
        await bob.request(SetTopic(room="#rules", topic="from node B"))
        back = await room_update(alice, "topic")
        assert (back.topic, back.by) == ("from node B", "bob")
        await alice.quit()
        await bob.quit()


async def test_an_operator_on_one_node_kicks_and_bans_a_member_on_the_other(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice, bob = await alice_and_bob(a, b, "#mod")
        await alice.request(Kick(room="#mod", nick="bob", reason="out"))
        kicked = await presence(bob, "kick", "bob", "#mod")  # on node B, by node A's operator
        assert (kicked.by, kicked.reason) == ("alice", "out")
        assert isinstance(await bob.request(Join(room="#mod")), Joined)
        await presence(alice, "join", "bob", "#mod")
        await alice.request(Ban(room="#mod", nick="bob"))
        banned = await presence(bob, "kick", "bob", "#mod")
        assert banned.reason == "banned"
        with pytest.raises(ServerError) as refused:
            await bob.request(Join(room="#mod"))
        assert refused.value.error.code == "banned"
        await alice.quit()
        await bob.quit()


async def test_wrong_passwords_count_across_the_nodes(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url, login_failures=2) as (a, b):
        nick = f"gail{uuid.uuid4().hex[:8]}"  # the Redis (and its counts) is the session's
        owner = await Client.connect("127.0.0.1", a.port, nick)
        assert isinstance(await owner.request(Register(nick=nick, password=PASSWORD)),
                          Registered)
        await owner.quit()
        assert [await try_hello(a.port, nick, "not the password") for _ in range(2)] == [
            "auth_failed", "auth_failed"]
        # node B has seen no wrong password from here, but the cluster has: refused unchecked
        assert await try_hello(b.port, nick, PASSWORD) == "auth_throttled"


async def test_edits_reactions_and_deletions_are_told_on_the_other_node(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        said = await alice.request(Say(id="1", room="#lobby", text="helo"))
        assert isinstance(said, Message)
        assert (await bob.wait_for(Message)).msg_id == said.msg_id
        edited = await alice.request(Edit(msg_id=said.msg_id, room="#lobby", text="hello"))
        assert isinstance(edited, Edited)
        seen = await bob.wait_for(Edited)
        assert (seen.msg_id, seen.text, seen.seq) == (said.msg_id, "hello", edited.seq)
        reacted = await bob.request(React(msg_id=said.msg_id, room="#lobby", reaction="👍"))
        assert isinstance(reacted, Reacted)
        heard = await alice.wait_for(Reacted)
        assert (heard.by, heard.reaction, heard.seq) == ("bob", "👍", reacted.seq)
        deleted = await alice.request(Delete(msg_id=said.msg_id, room="#lobby"))
        assert isinstance(deleted, Deleted)
        gone = await bob.wait_for(Deleted)
        assert (gone.msg_id, gone.seq) == (said.msg_id, deleted.seq)
        # ids stay one sequence across the nodes: message, edit, reaction, deletion
        assert [said.msg_id, edited.seq, reacted.seq, deleted.seq] == list(
            range(said.msg_id, said.msg_id + 4))
        await alice.quit()
        await bob.quit()


async def test_a_direct_message_reaches_a_guest_on_the_other_node(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        guest = await Client.connect("127.0.0.1", b.port, "Gus")
        await presence(alice, "join", "Gus", "#lobby")  # node A knows of Gus (the roster)
        sent = await alice.request(SendDirect(id="d", to="gus", text="psst"))
        assert isinstance(sent, Message) and sent.to == "Gus"
        got = await guest.wait_for(Message)
        assert (got.sender, got.text, got.to) == ("alice", "psst", "Gus")
        back = await guest.request(SendDirect(id="r", to="alice", text="hi"))
        assert isinstance(back, Message)
        while (heard := await alice.wait_for(Message)).id is not None:  # her own first
            pass
        assert (heard.sender, heard.text) == ("Gus", "hi")
        await alice.quit()
        await guest.quit()


async def test_list_shows_rooms_whose_members_are_all_on_the_other_node(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        assert isinstance(await bob.request(Join(room="#Elsewhere")), Joined)
        await bob.request(SetTopic(room="#Elsewhere", topic="over there"))
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        assert a.core is not None
        hub = a.core.hub
        await until(lambda: "#elsewhere" in hub._roster)
        listed = await alice.request(ListRooms())
        assert isinstance(listed, RoomList)
        rooms = {info.room: info.members for info in listed.rooms}
        assert rooms["#Elsewhere"] == 1 and rooms["#lobby"] == 2
        await alice.quit()
        await bob.quit()


async def test_a_new_room_opened_on_both_nodes_at_once_has_one_first_operator(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        bob = await Client.connect("127.0.0.1", b.port, "bob")
        for n in range(20):
            joined = await asyncio.gather(alice.request(Join(room=f"#race{n}")),
                                          bob.request(Join(room=f"#race{n}")))
            operators = [j.operators for j in joined if isinstance(j, Joined)]
            assert len(operators) == 2
            made_by = {op for ops in operators for op in ops}
            assert made_by in ({"alice"}, {"bob"}), operators  # one maker, told to both
        await alice.quit()
        await bob.quit()


async def test_a_guest_that_moves_to_the_other_node_keeps_its_nick(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    """Its first node may be dead with its lease still running (30 s): the guest's token says
    it is the same guest, and the nick goes with it at once; nobody else gets it."""
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        first, welcome = await hello(a.port, nick="Gus")
        assert welcome.token is not None
        assert a.core is not None and a.core.nick_claims is not None
        await a.core.settled()  # the claim has learnt whose it is
        assert await try_hello(b.port, "gus") == "nick_taken"  # another guest: no
        moved, again = await hello(b.port, nick="Gus", token=welcome.token)
        assert again.nick == "Gus" and again.token == welcome.token
        assert await try_hello(b.port, "GUS") == "nick_taken"
        await moved.quit()
        first.abort()


async def test_a_member_on_the_other_node_is_shown_joining_before_its_first_message(
        tmp_path: Path, pg_url: str, redis_server: RedisServer) -> None:
    """Presence in order with the messages: the roster may tell a join later than the
    joiner's first message crosses the bus; the message brings its sender's join along."""
    async with two_nodes(tmp_path, pg_url, redis_server.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        assert isinstance(await alice.request(Join(room="#order")), Joined)
        for n in range(10):
            bob = await Client.connect("127.0.0.1", b.port, f"bob{n}")
            bob.write(Join(room="#order"))
            bob.write(Say(room="#order", text=f"first words {n}"))
            await bob.drain()
            joined_first = False
            while True:  # bounded by wait_for's timeout
                event = await alice.next_event(timeout=10.0)
                if isinstance(event, Presence) and event.room == "#order" and (
                        event.nick, event.event) == (f"bob{n}", "join"):
                    joined_first = True
                if isinstance(event, Message) and event.room == "#order":
                    assert event.text == f"first words {n}" and joined_first, n
                    break
            await bob.quit()
        await alice.quit()


async def test_the_answer_to_a_resend_on_another_node_comes_in_id_order(
        tmp_path: Path, pg_url: str, redis_own: RedisServer) -> None:
    """(Found by the cluster soak.) A message stored by node A is resent (same id) through
    node B before B has told the ids ahead of it: B answers with the original only after
    them, so the client never sees an id before a smaller one."""
    async with two_nodes(tmp_path, pg_url, redis_own.url) as (a, b):
        alice = await Client.connect("127.0.0.1", a.port, "alice")
        fern_a = await Client.connect("127.0.0.1", a.port, "fern")
        assert isinstance(await fern_a.request(Register(nick="fern", password=PASSWORD)),
                          Registered)
        fern_b, _ = await hello(b.port, nick="fern", password=PASSWORD)
        redis_own.kill()  # node B now learns node A's messages from the store, a little later
        before = await alice.request(Say(id="a1", room="#lobby", text="ahead"))
        original = await fern_a.request(Say(id="f1", room="#lobby", text="mine"))
        assert isinstance(before, Message) and isinstance(original, Message)
        answer = await fern_b.request(Say(id="f1", room="#lobby", text="mine"))
        assert isinstance(answer, Message) and answer.msg_id == original.msg_id
        order = [(e.msg_id, e.id) for e in fern_b.pending_events() if isinstance(e, Message)]
        assert (before.msg_id, None) in order, order  # told before the answer
        assert order.index((before.msg_id, None)) < order.index((original.msg_id, "f1"))
        await alice.quit()
        await fern_a.quit()
        await fern_b.close()


async def test_rules_changed_while_the_bus_was_down_are_told_when_it_is_back(
        tmp_path: Path, pg_url: str, redis_own: RedisServer) -> None:
    async with two_nodes(tmp_path, pg_url, redis_own.url) as (a, b):
        alice, bob = await alice_and_bob(a, b, "#quiet")
        redis_own.kill()
        await alice.request(SetTopic(room="#quiet", topic="said while Redis was down"))
        redis_own.start()  # node B, back on the bus, reads the open rooms' rules again
        told = await room_update(bob, "topic")
        assert told.topic == "said while Redis was down"
        await alice.quit()
        await bob.quit()
