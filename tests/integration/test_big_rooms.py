"""Big rooms over real sockets (hub/crowds.py): with `presence_limit` and `member_page` set low,
joins and leaves reach JSON clients as MEMBERS_CHANGED batches and IRC clients as JOIN/PART
lines; a client that takes member pages reads the whole list page by page; IRC's NAMES stays
complete."""

from __future__ import annotations

import asyncio
import json

from palaver.client import Client
from palaver.protocol.messages import Leave, MembersChanged
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc import RawIrc

WAIT = 10.0


async def raw_json(port: int, nick: str, **hello: object) -> tuple[asyncio.StreamReader,
                                                                    asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(json.dumps({"type": "HELLO", "version": 1, "nick": nick, **hello}).encode()
                 + b"\n")
    await writer.drain()
    return reader, writer


async def frame(reader: asyncio.StreamReader, kind: str) -> dict[str, object]:
    """The next frame of type ``kind`` (others are skipped)."""
    for _ in range(1_000):  # bounded: far more frames than any test here sends
        line = await asyncio.wait_for(reader.readline(), WAIT)
        assert line, f"closed before a {kind}"
        decoded = json.loads(line)
        if decoded["type"] == kind:
            return dict(decoded)
    raise AssertionError(f"no {kind}")


async def test_joins_and_leaves_of_a_big_room_come_in_batches_on_every_door(
    start_server: ServerFactory,
) -> None:
    server = await start_server(presence_limit=3, presence_interval=0.05, member_page=10)
    irc_port = await server.open_irc(0)
    first = await Client.connect("127.0.0.1", server.port, "first")
    irc = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await irc.send("NICK ircer", "USER ircer 0 * :I", "JOIN #lobby")
    assert (await irc.line_with(" 366 ")).startswith(":")
    others = [await Client.connect("127.0.0.1", server.port, f"u{i}") for i in range(3)]
    seen: set[str] = set()
    for _ in range(10):  # bounded: batches may split the joins across intervals
        batch = await first.wait_for(MembersChanged, timeout=WAIT)
        seen.update(batch.joined)
        if seen >= {"u1", "u2"}:
            break
    # u0 came while the room had 3 members (a PRESENCE); u1 and u2 made it a crowd
    assert seen == {"u1", "u2"}
    irc_joins = {(await irc.line_with(f"u{i}!")).split()[0] for i in (1, 2)}
    assert irc_joins == {":u1!u1@palaver", ":u2!u2@palaver"}

    await others[2].request(Leave(room="#lobby"))
    while True:  # bounded by wait_for's timeout: each wait either yields or raises
        batch = await first.wait_for(MembersChanged, timeout=WAIT)
        if batch.left:
            break
    assert batch.left == ("u2",) and batch.count == 4
    assert await irc.line_with("PART #lobby") == ":u2!u2@palaver PART #lobby"
    await irc.send("NAMES #lobby")
    names = (await irc.line_with(" 353 ")).split(":", 2)[2].split()
    assert sorted(names) == ["first", "ircer", "u0", "u1"]
    for client in [first, *others]:
        await client.close()
    irc.writer.close()


async def test_a_client_that_takes_pages_reads_the_whole_list_page_by_page(
    start_server: ServerFactory,
) -> None:
    server = await start_server(presence_limit=5, member_page=10)
    crowd = [await Client.connect("127.0.0.1", server.port, f"m{i:02}") for i in range(24)]
    reader, writer = await raw_json(server.port, "Zed", member_pages=True)
    joined = await frame(reader, "JOINED")
    assert joined["members_total"] == 25 and len(joined["members"]) == 10  # type: ignore
    names = list(joined["members"])  # type: ignore[call-overload]
    after = joined.get("members_next")
    for n in range(5):  # bounded: 3 pages
        if after is None:
            break
        writer.write(json.dumps({"type": "WHO", "room": "#lobby", "after": after,
                                 "id": f"w{n}"}).encode() + b"\n")
        page = await frame(reader, "USERS")
        names.extend(page["users"])  # type: ignore[arg-type]
        after = page.get("next")
    assert after is None and len(names) == len(set(names)) == 25
    assert names == sorted(names, key=str.lower)
    # an old client (no member_pages) still gets the whole list in one JOINED
    old_reader, old_writer = await raw_json(server.port, "old")
    assert len((await frame(old_reader, "JOINED"))["members"]) == 26  # type: ignore[arg-type]
    for w in (writer, old_writer):
        w.close()
    for client in crowd:
        await client.close()
