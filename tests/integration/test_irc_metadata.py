"""Metadata over real sockets: an IRC client (raw lines, draft/metadata-3) and a JSON client on
the same server, and what a restart keeps (SQLite in a temporary data directory)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    GetMetadata,
    Hello,
    Join,
    Joined,
    MetadataEntry,
    MetadataSubscriptions,
    MetadataValues,
    Ping,
    Register,
    SetMetadata,
    SubscribeMetadata,
    Welcome,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings
from tests.integration.conftest import ServerFactory

WAIT = 10.0
PASSWORD = "correct horse"


class RawIrc:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, *lines: str) -> None:
        self.writer.write("".join(f"{line}\r\n" for line in lines).encode())
        await self.writer.drain()

    async def lines_until(self, part: str) -> list[str]:
        """Every line up to and with the next one holding ``part``."""
        out: list[str] = []
        async with asyncio.timeout(WAIT):
            while True:
                raw = await self.reader.readline()
                assert raw, f"connection closed before {part!r}"
                out.append(raw.decode().rstrip("\r\n"))
                if part in out[-1]:
                    return out

    async def settled(self) -> list[str]:
        """Every line the server sent before the PONG to a PING sent now (waits on it)."""
        await self.send("PING :settled")
        return (await self.lines_until("PONG"))[:-1]


def untagged(lines: list[str]) -> list[str]:
    """The lines without their tags."""
    return [line.split(" ", 1)[1] if line.startswith("@") else line for line in lines]


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name="palaver")


async def test_an_irc_and_a_json_client_share_metadata(server: Server) -> None:
    port = await server.open_irc(0)
    ann = RawIrc(*await asyncio.open_connection("127.0.0.1", port))
    # before-connect: a value set while registering is the user's, in the burst's batch
    await ann.send("CAP LS 302")
    ls = await ann.lines_until(" LS :")  # the last line of CAP LS (the others say "LS *")
    assert "draft/metadata-3=before-connect,max-subs=50,max-keys=20,max-value-bytes=300" in (
        " ".join(ls))
    await ann.send("CAP REQ :draft/metadata-3 batch", "METADATA * SET display-name :Ann A.",
                   "METADATA * SUB status url")
    early = await ann.lines_until(" 770 ")
    assert ":palaver 761 * * display-name * :Ann A." in early
    assert early[-1] == ":palaver 770 * status :url"
    await ann.send("NICK ann", "USER ann 0 * :Ann", "CAP END")
    burst = untagged(await ann.lines_until(" 376 "))
    assert ":palaver 761 ann ann display-name * :Ann A." in burst
    start = next(i for i, line in enumerate(burst) if line.startswith(":palaver BATCH +"))
    assert burst[start].endswith(" metadata ann")

    bob = await Client.connect("127.0.0.1", server.port, "bob")
    subs = await bob.request(SubscribeMetadata(add=("display-name", "status", "url")))
    assert isinstance(subs, MetadataSubscriptions) and subs.keys == ("display-name", "status",
                                                                      "url")
    await ann.send("JOIN #meta")
    await ann.lines_until(" 366 ")
    await ann.send("METADATA #meta SET url :https://meta.example")  # ann made #meta: its op
    assert (await ann.lines_until(" 761 "))[-1] == (
        ":palaver 761 ann #meta url * :https://meta.example")
    joined = await bob.request(Join(room="#meta"))
    assert isinstance(joined, Joined)
    brought = await bob.wait_for(MetadataValues)  # what the JOIN brought, subscribed keys only
    assert brought == MetadataValues(room="#meta", entries=(
        MetadataEntry(key="url", value="https://meta.example", room="#meta"),
        MetadataEntry(key="display-name", value="Ann A.", nick="ann")))

    # a JSON change reaches the subscribed IRC client as 761 with "*"; a room-mate's too
    await bob.request(SetMetadata(key="status", value="lunch"))
    assert (await ann.lines_until(" 761 "))[-1] == ":palaver 761 * bob status * :lunch"
    await bob.request(SetMetadata(key="avatar", value="b.png"))  # not subscribed: nothing
    await ann.send("METADATA * SET display-name :Ann Again")
    change = await bob.wait_for(MetadataValues)
    while change.id is not None:  # bob's own answers come by too
        change = await bob.wait_for(MetadataValues)
    assert (change.change, change.by, change.entries) == (True, "ann", (MetadataEntry(
        key="display-name", value="Ann Again", nick="ann"),))
    settled = untagged(await ann.settled())
    assert settled == [":palaver 761 ann ann display-name * :Ann Again"]

    # reading: GET in a batch, WHOIS with 760, refusals as FAIL METADATA
    await ann.send("METADATA bob GET avatar pronouns")
    got = untagged(await ann.settled())
    assert got[1:-1] == [":palaver 761 ann bob avatar * :b.png",
                         ":palaver 766 ann bob pronouns :key not set"]
    assert got[0].endswith(" metadata bob")
    await ann.send("WHOIS bob")
    whois = await ann.lines_until(" 318 ")
    assert [line for line in whois if " 760 " in line] == [
        ":palaver 760 ann bob status * :lunch", ":palaver 760 ann bob avatar * :b.png"]
    await ann.send("METADATA bob SET status :hacked", "METADATA nobody LIST")
    assert await ann.settled() == [
        ":palaver FAIL METADATA KEY_NO_PERMISSION bob status :only server operators may "
        "change another user's metadata",
        ":palaver FAIL METADATA INVALID_TARGET nobody :nobody called nobody is here"]
    with pytest.raises(ServerError) as refused:
        await bob.request(SetMetadata(key="url", value="defaced", room="#meta"))
    assert refused.value.error.code == "not_operator"
    await bob.request(Ping())  # nothing more reached bob than what is asserted above
    assert not [e for e in bob.pending_events()
                if isinstance(e, MetadataValues) and e.id is None]
    await bob.quit()
    ann.writer.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    doors_off: dict[str, Any] = {door: 0 for door in ("web_port", "irc_port")}
    return Settings(port=0, data_dir=str(tmp_path), argon2_time_cost=1, argon2_memory_kib=8,
                    shutdown_grace=1.0, **doors_off)


async def test_accounts_and_rooms_keep_their_metadata_across_a_restart(
    settings: Settings,
) -> None:
    async with running(settings) as server:
        alice = await Client.connect("127.0.0.1", server.port, "alice")
        await alice.request(SetMetadata(key="pronouns", value="she/her"))  # as a guest
        await alice.request(Register(nick="alice", password=PASSWORD))  # kept in the account
        await alice.request(SetMetadata(key="avatar", value="a.png"))
        await alice.request(Join(room="#kept"))
        await alice.request(SetMetadata(key="url", value="https://kept.example", room="#kept"))
        guest = await Client.connect("127.0.0.1", server.port, "guest")
        await guest.request(SetMetadata(key="avatar", value="g.png"))
        await alice.quit()
        await guest.quit()

    async with running(settings) as server:
        alice = await Client.connect("127.0.0.1", server.port)
        welcome = await alice.request(Hello(version=1, nick="alice", password=PASSWORD))
        assert isinstance(welcome, Welcome)
        assert welcome.metadata == {"pronouns": "she/her", "avatar": "a.png"}
        guest = await Client.connect("127.0.0.1", server.port, "guest")
        assert guest.welcome is not None and guest.welcome.metadata is None  # died with it
        await guest.request(Join(room="#kept"))
        room = await guest.request(GetMetadata(room="#kept"))
        assert isinstance(room, MetadataValues) and room.entries == (
            MetadataEntry(key="url", value="https://kept.example", room="#kept"),)
        await alice.quit()
        await guest.quit()
