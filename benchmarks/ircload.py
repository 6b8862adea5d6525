"""An IRC load-generator worker process: holds a share of the IRC benchmark's connections.

How this works: like :mod:`benchmarks.loadgen` (same driver, :mod:`benchmarks.workers`, same
JSON-lines commands on stdin and events on stdout, mostly :mod:`benchmarks.fanworker`'s), but
every connection speaks plain IRC, so the same load can be pointed at palaver's IRC door and at C
IRC servers. Commands: ``connect`` (open TCP connections), ``register`` (NICK/USER in batches,
waiting for each batch's ``001``, then JOIN the bench channel in batches, waiting for each
connection's own ``366`` end of NAMES), ``say`` (one PRIVMSG from the first connection), ``sync``
(wait until every connection has seen a token), ``reset``, ``run``, ``report`` and ``close``.
``done`` is sent unasked once every connection has had its expected messages. Every wait is
bounded by a timeout given in the command.

The connections never parse IRC (:class:`~benchmarks.leanconn.LineCounter`): each read is cut at
its last newline, PRIVMSG lines to the bench channel are counted with ``bytes.count`` of
`` PRIVMSG #bench :B`` (the text of every benchmark message starts with ``B<19-digit send time in
ns>:``), sampled connections read that time for the latency, and only ``PING`` and ``ERROR``
lines are looked for besides. IRC does not echo a PRIVMSG to its sender, so a sender expects
every message but its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from benchmarks import workerloop
from benchmarks.fanworker import FanoutWorker
from benchmarks.leanconn import STAMP_DIGITS, LineCounter, Sink
from benchmarks.sender import Senders
from benchmarks.workerloop import emit

CHANNEL: Final = "#bench"
MESSAGE_TAG: Final = b" PRIVMSG " + CHANNEL.encode() + b" :B"
WELCOME_TAG: Final = b" 001 "


class IrcFrames:
    """Pre-built PRIVMSG lines with a send timestamp (ns) at the start of a ~``size``-byte text."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, channel: str = CHANNEL, size: int = 100) -> None:
        self._prefix = b"PRIVMSG " + channel.encode() + b" :B"
        self._suffix = b":" + b"x" * max(0, size - STAMP_DIGITS - 2) + b"\r\n"

    def frame(self, stamp_ns: int) -> bytes:
        return b"%b%019d%b" % (self._prefix, stamp_ns, self._suffix)


class IrcConnection(LineCounter):
    __slots__ = ("join_tag", "joined", "registered")

    MESSAGE_TAG = MESSAGE_TAG
    STAMP_TAG = MESSAGE_TAG
    MAX_TAIL = 65_536

    def __init__(self, sink: Sink, index: int, nick: str, sample: bool) -> None:
        super().__init__(sink, index, nick, sample)
        self.join_tag = b" 366 " + nick.encode() + b" " + CHANNEL.encode() + b" "
        self.registered = False
        self.joined = False

    def scan(self, data: bytes) -> None:
        if not self.registered and WELCOME_TAG in data:
            self.registered = True
            self.sink.on_settled(self)
        if not self.joined and self.join_tag in data:
            self.joined = True
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


def _nick_user(conn: IrcConnection) -> None:
    conn.write(b"NICK %b\r\nUSER %b 0 * :bench\r\n" % ((conn.nick.encode(),) * 2))


def _join(conn: IrcConnection) -> None:
    conn.write(b"JOIN " + CHANNEL.encode() + b"\r\n")


class IrcSenders(Senders):
    """:class:`Senders` for IRC, where a sender never gets its own message back. Closed loop: a
    message is in flight until it has reached every *other* sending connection, so sender ``j``
    has ``sent_total - sent[j] - received[j]`` of the others' messages still to come."""

    def _in_flight(self) -> int:
        conns = self.conns
        return max(self.sent_total - self.sent[j] - conns[j].messages for j in range(len(conns)))


class Worker(FanoutWorker):
    senders_class = IrcSenders

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port, IrcFrames())

    def connection(self, index: int, nick: str, sample: bool) -> IrcConnection:
        return IrcConnection(self, index, nick, sample)

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {**super().commands(), "register": self.register}

    def on_lost(self, conn: LineCounter, reason: str) -> None:
        super().on_lost(conn, reason[:80])

    async def register(self, batch: int, timeout: float) -> None:
        """NICK/USER a batch, wait for its 001s; JOIN the batch, wait for its 366s; next batch."""
        start = time.monotonic()
        deadline = start + timeout
        conns: list[IrcConnection] = self.conns  # type: ignore[assignment]  # all are
        pending = [c for c in conns if not c.joined and not c.closed]
        for at in range(0, len(pending), batch):
            group = [c for c in pending[at:at + batch] if not c.closed]
            if await self.settle([c for c in group if not c.registered], _nick_user, deadline):
                break
            group = [c for c in group if c.registered and not c.closed]
            if await self.settle(group, _join, deadline):
                break
        emit(event="registered",
             registered=sum(c.registered and not c.closed for c in conns),
             ok=sum(c.joined and not c.closed for c in conns),
             lost=dict(self.lost), seconds=time.monotonic() - start)

    def say(self, text: str) -> None:
        live = [c for c in self.conns if not c.closed]
        if live:
            live[0].write(b"PRIVMSG " + CHANNEL.encode() + b" :" + text.encode() + b"\r\n")
            live[0].token = None  # IRC does not echo: the speaker has its own token already
            self.on_settled(live[0])


def main() -> None:
    workerloop.main(Worker)


if __name__ == "__main__":
    main()
