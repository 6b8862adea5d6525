"""An IRC load-generator worker process: holds a share of the IRC benchmark's connections.

How this works: like :mod:`benchmarks.loadgen` (same driver, :mod:`benchmarks.workers`, same
JSON-lines commands on stdin and events on stdout), but every connection speaks plain IRC, so the
same load can be pointed at palaver's IRC door and at C IRC servers. Commands: ``connect``
(open TCP connections), ``register`` (NICK/USER in batches, waiting for each batch's ``001``, then
JOIN the bench channel in batches, waiting for each connection's own ``366`` end of NAMES),
``say`` (one PRIVMSG from the first connection), ``sync`` (wait until every connection has seen a
token), ``reset``, ``run``, ``report`` and ``close``. ``done`` is sent unasked once every
connection has had its expected messages. Every wait is bounded by a timeout given in the command.

The connections never parse IRC: each read is cut at its last newline, PRIVMSG lines to the bench
channel are counted with ``bytes.count`` of `` PRIVMSG #bench :B`` (the text of every benchmark
message starts with ``B<19-digit send time in ns>:``), sampled connections read that time for the
latency, and only ``PING`` and ``ERROR`` lines are looked for besides. IRC does not echo a
PRIVMSG to its sender, so a sender expects every message but its own.
"""

from __future__ import annotations

import asyncio
import collections
import json
import sys
import time
from typing import Any, Final, cast

from benchmarks.loadgen import emit
from benchmarks.sender import Senders

CHANNEL: Final = "#bench"
CONNECT_CONCURRENCY = 256
MESSAGE_TAG: Final = b" PRIVMSG " + CHANNEL.encode() + b" :B"
STAMP_DIGITS: Final = 19
WELCOME_TAG: Final = b" 001 "


class IrcFrames:
    """Pre-built PRIVMSG lines with a send timestamp (ns) at the start of a ~``size``-byte text."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, channel: str = CHANNEL, size: int = 100) -> None:
        self._prefix = b"PRIVMSG " + channel.encode() + b" :B"
        self._suffix = b":" + b"x" * max(0, size - STAMP_DIGITS - 2) + b"\r\n"

    def frame(self, stamp_ns: int) -> bytes:
        return b"%b%019d%b" % (self._prefix, stamp_ns, self._suffix)


class IrcConnection(asyncio.Protocol):
    __slots__ = (
        "closed",
        "index",
        "join_tag",
        "joined",
        "latencies",
        "lines",
        "messages",
        "nick",
        "registered",
        "sink",
        "tail",
        "token",
        "transport",
    )

    def __init__(self, sink: Worker, index: int, nick: str, sample: bool) -> None:
        self.sink = sink
        self.index = index
        self.nick = nick
        self.join_tag = b" 366 " + nick.encode() + b" " + CHANNEL.encode() + b" "
        self.tail = b""
        self.lines = 0
        self.messages = 0
        self.registered = False
        self.joined = False
        self.closed = False
        self.token: bytes | None = None
        self.latencies: list[int] | None = [] if sample else None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            self.tail = data[-65_536:]
            return
        if end < len(data):
            self.tail = data[end:]
            data = data[:end]
        else:
            self.tail = b""
        self.lines += data.count(b"\n")
        count = data.count(MESSAGE_TAG)
        if count:
            now_ns = time.monotonic_ns()
            self.messages += count
            if self.latencies is not None:
                self._stamps(data, now_ns)
            self.sink.on_messages(self, count, now_ns)
        if not self.registered and WELCOME_TAG in data:
            self.registered = True
            self.sink.on_settled(self)
        if not self.joined and self.join_tag in data:
            self.joined = True
            self.sink.on_settled(self)
        if self.token is not None and self.token in data:
            self.token = None
            self.sink.on_settled(self)
        if b"PING " in data:
            self._pong(data)
        if data.startswith(b"ERROR ") or b"\nERROR " in data:
            at = data.find(b"ERROR ")
            self._lose("ERROR " + data[at + 6:data.find(b"\n", at)].strip().decode(
                errors="replace"))

    def _pong(self, data: bytes) -> None:
        for line in data.split(b"\n"):
            if line.startswith(b"PING "):
                self.write(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n")

    def _stamps(self, data: bytes, now_ns: int) -> None:
        latencies = self.latencies
        assert latencies is not None
        at = data.find(MESSAGE_TAG)
        while at >= 0:
            start = at + len(MESSAGE_TAG)
            digits = data[start:start + STAMP_DIGITS]
            if digits.isdigit():
                latencies.append(now_ns - int(digits))
            at = data.find(MESSAGE_TAG, start)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lose("reset" if exc is not None else "closed by server")

    def _lose(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.sink.on_lost(self, reason)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class IrcSenders(Senders):
    """:class:`Senders` for IRC, where a sender never gets its own message back. Closed loop: a
    message is in flight until it has reached every *other* sending connection, so sender ``j``
    has ``sent_total - sent[j] - received[j]`` of the others' messages still to come."""

    def _pump(self) -> None:
        conns = self.conns
        n = len(conns)
        total = self._count * n
        in_flight = max(self.sent_total - self.sent[j] - conns[j].messages for j in range(n))
        while in_flight < self._limit and self.sent_total < total:
            j = self._next
            self._next = (j + 1) % n
            if self.sent[j] < self._count:
                self._send(j)
                in_flight += 1
        if self.sent_total >= total and self._finished is not None and not self._finished.done():
            self._finished.set_result(None)


class Worker:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.conns: list[IrcConnection] = []
        self.lost: collections.Counter[str] = collections.Counter()
        self.delivered = 0
        self.expected = 0
        self.first_ns = 0
        self.last_ns = 0
        self.done_sent = False
        self.frames = IrcFrames()
        self.senders: IrcSenders | None = None
        self._waiting: set[IrcConnection] = set()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()

    # ------------------------------------------------------------------ from connections

    def on_messages(self, conn: IrcConnection, count: int, now_ns: int) -> None:
        if not self.first_ns:
            self.first_ns = now_ns
        self.last_ns = now_ns
        self.delivered += count
        if self.senders is not None:
            self.senders.on_messages(conn)  # type: ignore[arg-type]  # duck-typed connection
        if self.expected and not self.done_sent and self.delivered >= self.expected:
            self.done_sent = True
            emit(event="done", last_ns=now_ns, delivered=self.delivered)

    def on_settled(self, conn: IrcConnection) -> None:
        self._waiting.discard(conn)
        if not self._waiting:
            self._wake.set()

    def on_lost(self, conn: IrcConnection, reason: str) -> None:
        self.lost[reason[:80]] += 1
        self.on_settled(conn)

    async def _wait_settled(self, timeout: float) -> int:
        """Wait until no connection is still waiting; returns how many still are."""
        if self._waiting:
            self._wake.clear()
            try:
                async with asyncio.timeout(max(0.0, timeout)):
                    await self._wake.wait()
            except TimeoutError:
                pass
        return len(self._waiting)

    # ------------------------------------------------------------------ commands

    async def connect(self, nicks: list[str], sample_every: int, timeout: float,
                      concurrency: int = CONNECT_CONCURRENCY) -> None:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(max(1, concurrency))
        failures: collections.Counter[str] = collections.Counter()
        start = time.monotonic()

        async def one(index: int, nick: str) -> None:
            sample = sample_every > 0 and index % sample_every == 0
            async with gate:
                try:
                    _, conn = await loop.create_connection(
                        lambda: IrcConnection(self, index, nick, sample), self.host, self.port
                    )
                except OSError as exc:
                    failures[type(exc).__name__] += 1
                    return
            self.conns.append(conn)

        base = len(self.conns)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*(one(base + i, n) for i, n in enumerate(nicks)))
        except TimeoutError:
            failures["timeout"] += 1
        emit(event="connected", ok=len(self.conns) - base, failed=dict(failures),
             seconds=time.monotonic() - start)

    async def register(self, batch: int, timeout: float) -> None:
        """NICK/USER a batch, wait for its 001s; JOIN the batch, wait for its 366s; next batch."""
        start = time.monotonic()
        deadline = start + timeout
        pending = [c for c in self.conns if not c.joined and not c.closed]
        for at in range(0, len(pending), batch):
            group = [c for c in pending[at:at + batch] if not c.closed]
            self._waiting = {c for c in group if not c.registered}
            for conn in self._waiting:
                conn.write(b"NICK %b\r\nUSER %b 0 * :bench\r\n" % ((conn.nick.encode(),) * 2))
            if await self._wait_settled(deadline - time.monotonic()):
                break
            group = [c for c in group if c.registered and not c.closed]
            self._waiting = set(group)
            for conn in group:
                conn.write(b"JOIN " + CHANNEL.encode() + b"\r\n")
            if await self._wait_settled(deadline - time.monotonic()):
                break
        emit(event="registered",
             registered=sum(c.registered and not c.closed for c in self.conns),
             ok=sum(c.joined and not c.closed for c in self.conns),
             lost=dict(self.lost), seconds=time.monotonic() - start)

    def say(self, text: str) -> None:
        live = [c for c in self.conns if not c.closed]
        if live:
            live[0].write(b"PRIVMSG " + CHANNEL.encode() + b" :" + text.encode() + b"\r\n")
            live[0].token = None  # IRC does not echo: the speaker has its own token already
            self.on_settled(live[0])

    async def sync(self, token: str, timeout: float) -> None:
        start = time.monotonic()
        raw = token.encode()
        live = [c for c in self.conns if not c.closed]
        self._waiting = set(live)
        for conn in live:
            conn.token = raw
        emit(event="armed")
        missing = await self._wait_settled(timeout)
        for conn in live:
            conn.token = None
        emit(event="synced", missing=missing, lost=dict(self.lost),
             frames=sum(c.lines for c in self.conns), seconds=time.monotonic() - start)

    def reset(self, expect_per_conn: int, own: int, senders: list[str]) -> None:
        live = [c for c in self.conns if not c.closed]
        for conn in self.conns:
            conn.messages = 0
            if conn.latencies is not None:
                conn.latencies.clear()
        self.delivered = self.first_ns = self.last_ns = 0
        wanted = set(senders)
        mine = [c for c in live if c.nick in wanted]
        self.expected = expect_per_conn * len(live) - own * len(mine)
        self.done_sent = False
        self.senders = IrcSenders(mine, self.frames) if mine else None  # type: ignore[arg-type]
        emit(event="reset", expected=self.expected, senders=len(mine))

    async def run(self, count: int, rate: float, window: int, timeout: float) -> None:
        if self.senders is None:
            emit(event="sent", sent=0, first_ns=0, last_ns=0)
            return
        try:
            async with asyncio.timeout(timeout):
                await self.senders.run(count, rate, window)
        except TimeoutError:
            pass
        s = self.senders
        emit(event="sent", sent=s.sent_total, first_ns=s.first_ns, last_ns=s.last_ns)

    def report(self) -> None:
        latencies: list[int] = []
        for conn in self.conns:
            if conn.latencies:
                latencies.extend(conn.latencies)
        emit(
            event="report",
            delivered=self.delivered,
            expected=self.expected,
            connections=len(self.conns),
            live=sum(not c.closed for c in self.conns),
            frames=sum(c.lines for c in self.conns),
            lost=dict(self.lost),
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            latencies_us=[lat // 1_000 for lat in latencies],
        )

    def close(self) -> None:
        for conn in self.conns:
            conn.abort()
        self._stop.set()

    # ------------------------------------------------------------------ the control loop

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        tasks: set[asyncio.Task[None]] = set()
        emit(event="ready")
        while not self._stop.is_set():
            line = await reader.readline()
            if not line:
                break
            cmd: dict[str, Any] = json.loads(line)
            task = loop.create_task(self.dispatch(cmd))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        self.close()

    async def dispatch(self, cmd: dict[str, Any]) -> None:
        name = cmd.pop("cmd")
        if name == "connect":
            await self.connect(cmd["nicks"], cmd.get("sample_every", 0), cmd["timeout"],
                               cmd.get("concurrency", CONNECT_CONCURRENCY))
        elif name == "register":
            await self.register(cmd["batch"], cmd["timeout"])
        elif name == "say":
            self.say(cmd["text"])
        elif name == "sync":
            await self.sync(cmd["token"], cmd["timeout"])
        elif name == "reset":
            self.reset(cmd["expect_per_conn"], cmd.get("own", 0), cmd.get("senders", []))
        elif name == "run":
            await self.run(cmd["count"], cmd["rate"], cmd["window"], cmd["timeout"])
        elif name == "report":
            self.report()
        elif name == "close":
            self.close()
        else:
            emit(event="error", message=f"unknown command {name!r}")


async def _main(host: str, port: int) -> None:
    await Worker(host, port).serve()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    try:
        import uvloop
    except ImportError:
        asyncio.run(_main(host, port))
    else:
        uvloop.run(_main(host, port))


if __name__ == "__main__":
    main()
