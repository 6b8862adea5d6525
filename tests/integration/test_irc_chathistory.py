"""CHATHISTORY over real sockets and the real store: what IRC and JSON users said, read back by
msgid and by timestamp, and TARGETS (the conversations active in a window)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from palaver.client import Client
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import History, HistoryPage, Join, Say, SendDirect
from palaver.server.app import Server
from tests.integration.test_irc_tags import RawIrc

CAPS = "batch server-time message-tags echo-message draft/chathistory"


async def batch_of(peer: RawIrc, kind: str) -> list[IrcLine]:
    """The lines inside the next batch of type ``kind``."""
    start = await peer.until(lambda line: line.command == "BATCH" and line.params[1:2] == [kind])
    inside: list[IrcLine] = []
    while (line := await peer.line()).command != "BATCH":
        assert line.tags["batch"] == start.params[0][1:]
        inside.append(line)
    assert line.params == ["-" + start.params[0][1:]]
    return inside


async def test_chathistory_reads_back_what_everyone_said(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann", CAPS)
    bob = await connect("bob")
    await bob.request(Join(room="#r"))
    for n in range(1, 6):
        await bob.request(Say(room="#r", text=f"from bob {n}"))
    ann.send("PRIVMSG #r :from ann\r\n")
    echo = await ann.until(lambda line: line.command == "PRIVMSG" and line.source == (
        "ann!ann@palaver"))
    ann.send("CHATHISTORY LATEST #r * 3\r\n")
    latest = await batch_of(ann, "chathistory")
    assert [line.params[1] for line in latest] == ["from bob 4", "from bob 5", "from ann"]
    ann.send(f"CHATHISTORY BEFORE #r msgid={echo.tags['msgid']} 2\r\n")
    before = await batch_of(ann, "chathistory")
    assert [line.params[1] for line in before] == ["from bob 4", "from bob 5"]
    when = before[0].tags["time"]  # messages sent in the same millisecond are not after it
    later = [line.params[1] for line in latest if line.tags["time"] > when]
    ann.send(f"CHATHISTORY AFTER #r timestamp={when} 10\r\n")
    assert [line.params[1] for line in await batch_of(ann, "chathistory")] == later
    ann.send("CHATHISTORY LATEST #nowhere * 3\r\n")
    fail = await ann.until(lambda line: line.command == "FAIL")
    assert fail.params[:4] == ["CHATHISTORY", "INVALID_TARGET", "LATEST", "#nowhere"]
    page = await bob.request(History(room="#r", after_ts=when))
    assert isinstance(page, HistoryPage)
    assert [m.text for m in page.messages] == later


async def test_targets_name_the_conversations_active_in_the_window(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann", CAPS)
    bob = await connect("bob")
    await bob.request(Join(room="#r"))
    await bob.request(Say(room="#r", text="in the room"))
    await bob.request(SendDirect(to="ann", text="just you"))
    ann.send("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00Z "
             "timestamp=2262-01-01T00:00:00Z 10\r\n")
    targets = await batch_of(ann, "draft/chathistory-targets")
    assert {(line.command, *line.params[:2]) for line in targets} == {
        ("CHATHISTORY", "TARGETS", "#r"), ("CHATHISTORY", "TARGETS", "bob")}
    times = {line.params[1]: line.params[2] for line in targets}
    assert [line.params[2] for line in targets] == sorted(times.values())  # oldest first
    ann.send(f"CHATHISTORY TARGETS timestamp={times['#r']} timestamp=2262-01-01T00:00:00Z "
             "10\r\n")  # after the room's newest message (exclusive)
    later = await batch_of(ann, "draft/chathistory-targets")
    assert [line.params[1] for line in later] == (["bob"] if times["bob"] > times["#r"] else [])


async def test_a_pong_never_overtakes_the_history_asked_before_it(
    server: Server, connect: Callable[..., Awaitable[Client]],
) -> None:
    port = await server.open_irc(0)
    ann = await RawIrc.register(port, "ann", CAPS)
    bob = await connect("bob")
    await bob.request(Join(room="#r"))
    await bob.request(Say(room="#r", text="stored"))
    await ann.synced()
    ann.send("CHATHISTORY LATEST #r * 5\r\nPING after\r\n")  # the store answers in its place
    commands = []
    while (line := await ann.line()).command != "PONG":
        commands.append(line.command)
    assert commands == ["BATCH", "PRIVMSG", "BATCH"]
