"""Nothing acknowledged is lost, nothing resent is stored twice: kill -9 under load, for real.

How this works: ``palaver serve`` runs as a subprocess on a temporary data dir. A few account
holders keep CHATs with ids in flight in #lobby (each CHAT's text is its id), noting which ids
came back acknowledged (the MESSAGE carrying the id). Once at least ``K`` acknowledgements are in,
the server gets SIGKILL — no shutdown code runs — and is started again on the same data dir.
The whole room history, read page by page with HISTORY, must hold every acknowledged message
exactly once with strictly increasing msg_ids, and the SQLite file must pass
``PRAGMA integrity_check``. Then every id ever sent (acknowledged or not) is sent again: each
gets a MESSAGE with its id, an acknowledged one its original msg_id, and the history grows to
exactly one message per distinct id. Senders are accounts, whose identity (and so the
idempotency key) survives a restart. Waits are on events with timeouts; every loop is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from palaver.client.session import ClientSession
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Error,
    Hello,
    History,
    HistoryPage,
    Message,
    Register,
    Registered,
    Say,
    ServerMessage,
    Welcome,
    Wire,
)
from palaver.server.config import Settings

LISTENING = re.compile(rb"json-lines tcp://127\.0\.0\.1:(\d+)")
CONFIG = "argon2_time_cost = 1\nargon2_memory_kib = 8\nshutdown_grace = 1.0\n" + "".join(
    f"{door} = 0\n" for door in ("web_port", "irc_port")  # only JSON lines, no fixed ports
    if door in Settings.__struct_fields__) + "".join(  # not the rate limiter's test
    f"{name} = {value}\n" for name, value in (("rate_burst", 1_000_000),
                                               ("rate_per_second", 1_000_000.0))
    if name in Settings.__struct_fields__)
PASSWORD = "correct horse battery"
ROOM = "#lobby"
NICKS = ("alice", "bob", "carol", "dave")
WINDOW = 16  # CHATs in flight per sender
MAX_PER_ROUND = 3_000  # a sender stops after this many in one round, killed or not
ACKS_BEFORE_KILL = 300  # across all senders
TIMEOUT = 15.0


# --------------------------------------------------------------------------- the server process


class ServeProcess:
    """``palaver serve`` on ``data_dir``; SIGKILL and restart keep the data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.config = data_dir / "test.toml"
        self.process: asyncio.subprocess.Process | None = None
        self.port = 0
        self.starts = 0

    @property
    def db(self) -> Path:
        return self.data_dir / "palaver.db"

    async def start(self) -> None:
        assert self.process is None or self.process.returncode is not None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(CONFIG)
        self.starts += 1
        with (self.data_dir / f"stderr-{self.starts}.log").open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "palaver.cli", "serve", "--port", "0", "--web-port", "0",
                "--data-dir", str(self.data_dir), "--config", str(self.config),
                stdout=asyncio.subprocess.PIPE, stderr=stderr,
            )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        match = LISTENING.search(line)
        assert match, (line, self.stderr_text())
        self.port = int(match.group(1))

    async def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown, no flush, no checkpoint
        assert await asyncio.wait_for(self.process.wait(), TIMEOUT) == -9

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    def stderr_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in
                         sorted(self.data_dir.glob("stderr-*.log")))


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    server = ServeProcess(tmp_path / "data")
    yield server
    await server.stop()


def integrity_check(db: Path) -> list[str]:
    """``PRAGMA integrity_check`` read-only (a WAL left by a crash is read, not checkpointed)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


# --------------------------------------------------------------------------- a raw client


class Peer:
    """A bare asyncio client: frames in order, no request bookkeeping of its own."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.session = ClientSession()
        self.ready: list[ServerMessage] = []

    @classmethod
    async def open(cls, port: int) -> Peer:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port),
                                                TIMEOUT)
        return cls(reader, writer)

    def write(self, *messages: Wire) -> None:
        self.writer.write(b"".join(self.session.data_to_send(m) for m in messages))

    async def frame(self) -> ServerMessage | None:
        """The next frame, or None when the connection has ended (EOF or reset)."""
        while not self.ready:
            try:
                data = await self.reader.read(65_536)
            except (ConnectionError, OSError):
                return None
            if not data:
                return None
            for item in self.session.receive_data(data):
                assert not isinstance(item, PeerError), item
                self.ready.append(item)
        return self.ready.pop(0)

    async def reply(self, request_id: str) -> ServerMessage:
        """Skip frames until the one carrying ``request_id``."""
        async with asyncio.timeout(TIMEOUT):
            while (frame := await self.frame()) is not None:
                if frame.id == request_id:
                    return frame
        raise AssertionError(f"connection ended before the reply to {request_id}")

    async def login(self, nick: str) -> Welcome:
        self.write(Hello(id="hello", version=PROTOCOL_VERSION, nick=nick, password=PASSWORD))
        welcome = await self.reply("hello")
        assert isinstance(welcome, Welcome) and welcome.account, welcome
        return welcome

    async def history(self, room: str = ROOM) -> list[Message]:
        """The whole history of ``room``, oldest first, page by page (after=0, limit 200)."""
        out: list[Message] = []
        after = 0
        for page_no in range(10_000):  # bounded: far more pages than any test writes
            request_id = f"h{page_no}"
            self.write(History(id=request_id, room=room, after=after, limit=200))
            page = await self.reply(request_id)
            assert isinstance(page, HistoryPage), page
            out.extend(page.messages)
            if not page.more:
                return out
            assert page.messages, "more=true on an empty page"
            after = page.messages[-1].msg_id
        raise AssertionError("history never ended")

    def close(self) -> None:
        self.writer.close()


async def register_accounts(port: int) -> None:
    for nick in NICKS:
        peer = await Peer.open(port)
        peer.write(Hello(id="hello", version=PROTOCOL_VERSION, nick=nick),
                   Register(id="reg", nick=nick, password=PASSWORD))
        assert isinstance(await peer.reply("reg"), Registered)
        peer.close()


# --------------------------------------------------------------------------- senders under load


@dataclass
class Tally:
    """Acknowledgements across all senders; ``enough`` fires at ``threshold``."""

    threshold: int
    count: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self) -> None:
        self.count += 1
        if self.count >= self.threshold:
            self.enough.set()


@dataclass
class Sender:
    nick: str
    sent: list[str] = field(default_factory=list)  # every id written, in order, all rounds
    acked: dict[str, int] = field(default_factory=dict)  # id -> msg_id of its acknowledgement

    async def pump(self, port: int, round_no: int, tally: Tally) -> None:
        """Keep WINDOW CHATs in flight until the connection dies (or MAX_PER_ROUND are sent)."""
        peer = await Peer.open(port)
        await peer.login(self.nick)
        in_flight: set[str] = set()
        sent_this_round = 0

        def top_up() -> None:
            nonlocal sent_this_round
            batch = []
            while len(in_flight) < WINDOW and sent_this_round < MAX_PER_ROUND:
                msg_id = f"{self.nick}-{round_no}-{sent_this_round}"
                sent_this_round += 1
                self.sent.append(msg_id)
                in_flight.add(msg_id)
                batch.append(Say(id=msg_id, room=ROOM, text=msg_id))
            if batch:
                peer.write(*batch)

        top_up()
        while (frame := await peer.frame()) is not None:
            if isinstance(frame, Message) and frame.id in in_flight:
                assert frame.text == frame.id and frame.sender == self.nick
                assert frame.id not in self.acked, f"{frame.id} acknowledged twice"
                in_flight.discard(frame.id)
                self.acked[frame.id] = frame.msg_id
                tally.add()
                top_up()
            elif isinstance(frame, Error):
                raise AssertionError(f"{self.nick}: {frame}")
        peer.close()


def check_history(history: list[Message], senders: list[Sender]) -> dict[str, Message]:
    """No duplicates, ids strictly increasing, every acknowledged message there as acked."""
    msg_ids = [m.msg_id for m in history]
    assert all(a < b for a, b in itertools.pairwise(msg_ids)), "msg_ids not increasing"
    texts = [m.text for m in history]
    assert len(set(texts)) == len(texts), "a message is stored twice"
    by_text = {m.text: m for m in history}
    for sender in senders:
        for request_id, msg_id in sender.acked.items():
            stored = by_text.get(request_id)
            assert stored is not None, f"acknowledged {request_id} is lost"
            assert (stored.msg_id, stored.sender) == (msg_id, sender.nick)
    return by_text


async def resend_everything(port: int, sender: Sender, by_text: dict[str, Message]) -> None:
    """Send every id again: each comes back with its id, a stored one as it was stored."""
    peer = await Peer.open(port)
    await peer.login(sender.nick)
    peer.write(*(Say(id=i, room=ROOM, text=i) for i in sender.sent))
    replies: dict[str, Message] = {}
    async with asyncio.timeout(TIMEOUT):
        while len(replies) < len(sender.sent):
            frame = await peer.frame()
            assert frame is not None, "connection ended during the resend"
            assert not isinstance(frame, Error), frame
            if isinstance(frame, Message) and frame.id is not None:
                assert frame.id not in replies, f"{frame.id} answered twice"
                replies[frame.id] = frame
    for request_id, reply in replies.items():
        assert reply.text == request_id
        if request_id in sender.acked:
            assert reply.msg_id == sender.acked[request_id]
        if request_id in by_text:  # stored before: the original, ts and all
            original = by_text[request_id]
            assert (reply.msg_id, reply.ts) == (original.msg_id, original.ts)
        sender.acked[request_id] = reply.msg_id
    peer.close()


# --------------------------------------------------------------------------- the tests


async def kill_under_load(serve: ServeProcess, senders: list[Sender], round_no: int) -> None:
    tally = Tally(ACKS_BEFORE_KILL)
    pumps = [asyncio.create_task(s.pump(serve.port, round_no, tally)) for s in senders]
    try:
        async with asyncio.timeout(TIMEOUT):
            done_early = asyncio.ensure_future(asyncio.gather(*pumps))
            enough = asyncio.ensure_future(tally.enough.wait())
            await asyncio.wait([done_early, enough], return_when=asyncio.FIRST_COMPLETED)
            if done_early.done():
                done_early.result()  # a sender failed: raise its error
            assert tally.enough.is_set()
            await serve.kill9()
            await asyncio.gather(*pumps)  # each ends when its connection does
    finally:
        for pump in pumps:
            pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pumps, return_exceptions=True)
    # some were still in flight when the server died: the kill was under load
    assert sum(len(s.sent) for s in senders) > sum(len(s.acked) for s in senders)


async def test_kill_9_under_load_loses_nothing_acknowledged(serve: ServeProcess) -> None:
    await serve.start()
    await register_accounts(serve.port)
    senders = [Sender(nick) for nick in NICKS]

    await kill_under_load(serve, senders, 0)
    assert integrity_check(serve.db) == ["ok"]  # the file as the crash left it (with its WAL)
    await serve.start()

    reader = await Peer.open(serve.port)
    await reader.login("alice")
    by_text = check_history(await reader.history(), senders)
    reader.close()

    for sender in senders:  # un-acknowledged and acknowledged alike, same ids
        await resend_everything(serve.port, sender, by_text)
    reader = await Peer.open(serve.port)
    await reader.login("alice")
    history = await reader.history()
    reader.close()
    distinct = {i for s in senders for i in s.sent}
    assert len(history) == len(distinct)
    assert {m.text for m in history} == distinct
    check_history(history, senders)
    assert integrity_check(serve.db) == ["ok"]


async def test_crash_loop_three_kills_then_resend(serve: ServeProcess) -> None:
    await serve.start()
    await register_accounts(serve.port)
    senders = [Sender(nick) for nick in NICKS]
    for round_no in range(3):
        await kill_under_load(serve, senders, round_no)
        assert integrity_check(serve.db) == ["ok"], f"round {round_no}"
        await serve.start()
        reader = await Peer.open(serve.port)
        await reader.login("alice")
        check_history(await reader.history(), senders)
        reader.close()

    reader = await Peer.open(serve.port)
    await reader.login("alice")
    by_text = check_history(await reader.history(), senders)
    reader.close()
    for sender in senders:
        await resend_everything(serve.port, sender, by_text)
    reader = await Peer.open(serve.port)
    await reader.login("alice")
    history = await reader.history()
    reader.close()
    assert {m.text for m in history} == {i for s in senders for i in s.sent}
    check_history(history, senders)
    await serve.stop()
    assert integrity_check(serve.db) == ["ok"]


# --------------------------------------------------------------------------- resends and restarts


async def test_every_resend_after_a_restart_answers_with_the_original(
    serve: ServeProcess,
) -> None:
    await serve.start()
    await register_accounts(serve.port)
    peer = await Peer.open(serve.port)
    await peer.login("alice")
    peer.write(Say(id="once", room=ROOM, text="once"))
    original = await peer.reply("once")
    assert isinstance(original, Message)
    peer.close()
    await serve.kill9()
    await serve.start()

    peer = await Peer.open(serve.port)
    await peer.login("alice")
    replies = []
    for _ in range(3):
        peer.write(Say(id="once", room=ROOM, text="once"))
        reply = await peer.reply("once")
        assert isinstance(reply, Message)
        replies.append((reply.msg_id, reply.ts))
    assert len(await peer.history()) == 1
    peer.close()
    assert replies == [(original.msg_id, original.ts)] * 3


async def test_a_guest_resend_after_a_restart_is_not_stored_twice(serve: ServeProcess) -> None:
    await serve.start()
    peer = await Peer.open(serve.port)
    peer.write(Hello(id="hello", version=PROTOCOL_VERSION, nick="gina"))
    welcome = await peer.reply("hello")
    assert isinstance(welcome, Welcome) and welcome.token
    peer.write(Say(id="g1", room=ROOM, text="g1"))
    assert isinstance(await peer.reply("g1"), Message)
    peer.close()
    await serve.kill9()
    await serve.start()

    peer = await Peer.open(serve.port)
    peer.write(Hello(id="hello", version=PROTOCOL_VERSION, nick="gina", token=welcome.token))
    assert isinstance(await peer.reply("hello"), Welcome)
    peer.write(Say(id="g1", room=ROOM, text="g1"))  # the network failed before the ack
    assert isinstance(await peer.reply("g1"), Message)
    assert [m.text for m in await peer.history()] == ["g1"]
    peer.close()


async def test_sigterm_right_after_logouts_saves_their_marks_without_errors(
    serve: ServeProcess,
) -> None:
    await serve.start()
    await register_accounts(serve.port)
    peers = []
    for nick in NICKS:
        peer = await Peer.open(serve.port)
        await peer.login(nick)
        peers.append(peer)
    for peer in peers:  # each session's end saves that account's marks...
        peer.close()
    await serve.stop()  # ...and SIGTERM comes at once
    assert serve.process is not None and serve.process.returncode == 0
    assert "Traceback" not in serve.stderr_text()
