"""A load-generator worker for the durable benchmark: senders that count acknowledgements.

How this works: the orchestrator (:mod:`benchmarks.durable`) starts ``python -m benchmarks.ackload
HOST PORT`` and drives it with JSON lines on stdin, like :mod:`benchmarks.loadgen` (the loop:
:mod:`benchmarks.workerloop`). Each connection says HELLO as ``nick`` and rejoins its own room
(``"rooms":["#d<i>"]``), so it is that room's only member: a CHAT there is stored and comes back to
its sender only — the acknowledgement (a MESSAGE carrying the CHAT's ``"id"``) — and nothing else is
delivered, so the cost measured is storing, not fan-out. The request id is the
connection's sequence number. A connection keeps ``window`` CHATs in flight: every
acknowledgement releases the next CHAT, until ``count`` have been sent. A message counts only
when the MESSAGE with its id arrives; its send→ack latency is measured from just before the
``write`` to the read that completed the frame (``time.monotonic_ns`` in the same process).
Commands: ``connect`` (connect and HELLO, wait for every WELCOME), ``barrier`` (PING each
connection, wait for every PONG: all presence traffic before it has arrived), ``run`` and
``close``; ``done`` is sent when every connection has all its acknowledgements. Every wait is
bounded by a timeout given in the command.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Callable
from typing import Any, Final

from benchmarks import workerloop
from benchmarks.leanconn import LeanConnection
from benchmarks.workerloop import WorkerBase, emit
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import PROTOCOL_VERSION, Hello, Ping, Pong, Say

MESSAGE: Final = b'{"type":"MESSAGE"'
ERROR: Final = b'{"type":"ERROR"'
WELCOME: Final = b'{"type":"WELCOME"'
PING: Final = b'{"type":"PING"'
PONG: Final = b'{"type":"PONG"'
BYE: Final = b'{"type":"BYE"'
ID: Final = b'"id":"'
PONG_FRAME: Final = encode(Pong())
PING_FRAME: Final = encode(Ping(id="barrier"))
TEXT: Final = "d" * 100  # ~100-byte texts, like the fan-out benchmark


class AckConnection(LeanConnection):
    """One sender: its own room, a window of CHATs in flight, acknowledgements counted."""

    def __init__(self, worker: AckWorker, nick: str, room: str) -> None:
        super().__init__(worker)  # type: ignore[arg-type]  # settles and loses like a Sink
        self.worker = worker
        self.nick = nick
        self.room = room
        # b'{"type":"CHAT","room":"#d1","text":"ddd…","id":"' + seq + b'"}\n'
        sample = encode(Say(room=room, text=TEXT, id="0"))
        self._prefix = sample[:sample.rindex(ID) + len(ID)]
        self.tail = b""
        self.welcomed = False
        self.ponged = False
        self.count = 0  # messages to send in this run
        self.sent = 0
        self.acked = 0
        self.sent_at: dict[int, int] = {}  # seq -> send time (ns), while in flight
        self.latencies: list[int] = []
        self.unexpected = 0  # MESSAGE frames that acknowledge nothing in flight
        self.errors: collections.Counter[str] = collections.Counter()

    def hello(self) -> None:
        self.write(encode(Hello(version=PROTOCOL_VERSION, nick=self.nick, rooms=(self.room,))))

    def start(self, count: int, window: int) -> None:
        self.count = count
        self.sent = self.acked = self.unexpected = 0
        self.sent_at.clear()
        self.latencies.clear()
        self.errors.clear()
        self._send(min(window, count))

    def _send(self, n: int) -> None:
        if n <= 0 or self.closed:
            return
        now = time.monotonic_ns()
        prefix, sent_at = self._prefix, self.sent_at
        frames = []
        for seq in range(self.sent, self.sent + n):
            frames.append(b'%b%d"}\n' % (prefix, seq))
            sent_at[seq] = now
        self.sent += n
        self.write(b"".join(frames))

    def data_received(self, data: bytes) -> None:
        if self.tail:
            data = self.tail + data
        end = data.rfind(b"\n") + 1
        self.tail = data[end:]
        if end == 0:
            return
        acked = 0
        now = 0
        for line in data[:end - 1].split(b"\n"):
            if line.startswith(MESSAGE):
                at = line.rfind(ID)
                sent = self.sent_at.pop(int(line[at + 6:-2]), None) if at > 0 else None
                if sent is None:
                    self.unexpected += 1
                    continue
                if not now:
                    now = time.monotonic_ns()
                self.latencies.append(now - sent)
                acked += 1
            elif line.startswith(ERROR):
                self.errors[json.loads(line).get("code", "?")] += 1
            elif line.startswith(PING):
                self.write(PONG_FRAME)
            elif line.startswith(WELCOME) and not self.welcomed:
                self.welcomed = True
                self.worker.on_settled(self)
            elif line.startswith(PONG) and not self.ponged:
                self.ponged = True
                self.worker.on_settled(self)
            elif line.startswith(BYE):
                self._lose("BYE " + str(json.loads(line).get("reason")))
        if acked:
            self.acked += acked
            self._send(min(acked, self.count - self.sent))
            self.worker.on_acks(acked, now)


class AckWorker(WorkerBase[AckConnection]):
    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self.expected = 0
        self.acked = 0
        self.first_ns = 0
        self.last_ns = 0
        self.done_sent = False

    def commands(self) -> dict[str, Callable[..., Any]]:
        return {**super().commands(), "connect": self.connect, "barrier": self.barrier,
                "run": self.run, "report": self.report}

    def on_acks(self, count: int, now_ns: int) -> None:
        self.acked += count
        self.last_ns = now_ns
        if self.expected and not self.done_sent and self.acked >= self.expected:
            self.done_sent = True
            emit(event="done", acked=self.acked, last_ns=now_ns)

    # ------------------------------------------------------------------ commands

    async def connect(self, nicks: list[str], rooms: list[str], timeout: float) -> None:
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        failed = 0
        try:
            async with asyncio.timeout(timeout):
                for nick, room in zip(nicks, rooms, strict=True):
                    try:
                        _, conn = await loop.create_connection(
                            lambda n=nick, r=room: AckConnection(self, n, r),  # type: ignore[misc]
                            self.host, self.port)
                    except OSError:
                        failed += 1
                        continue
                    self.conns.append(conn)
                self._waiting = set(self.conns)
                for conn in self.conns:
                    conn.hello()
        except TimeoutError:
            pass
        missing = await self.wait_settled(max(0.0, timeout - (time.monotonic() - start)))
        emit(event="connected", ok=sum(c.welcomed and not c.closed for c in self.conns),
             failed=failed, missing=missing, lost=dict(self.lost),
             seconds=round(time.monotonic() - start, 3))

    async def barrier(self, timeout: float) -> None:
        live = [c for c in self.conns if not c.closed]
        self._waiting = set(live)
        for conn in live:
            conn.ponged = False
            conn.write(PING_FRAME)
        missing = await self.wait_settled(timeout)
        emit(event="synced", missing=missing, lost=dict(self.lost))

    def run(self, count: int, window: int) -> None:
        live = [c for c in self.conns if not c.closed]
        self.expected = count * len(live)
        self.acked = self.last_ns = 0
        self.done_sent = False
        self.first_ns = time.monotonic_ns()
        for conn in live:
            conn.start(count, window)
        emit(event="started", first_ns=self.first_ns, senders=len(live))

    def report(self) -> None:
        latencies: list[int] = []
        errors: collections.Counter[str] = collections.Counter()
        for conn in self.conns:
            latencies.extend(lat // 1_000 for lat in conn.latencies)
            errors.update(conn.errors)
        emit(
            event="report",
            expected=self.expected,
            sent=sum(c.sent for c in self.conns),
            acked=self.acked,
            acked_by_room={c.room: c.acked for c in self.conns},
            in_flight=sum(len(c.sent_at) for c in self.conns),
            unexpected=sum(c.unexpected for c in self.conns),
            errors=dict(errors),
            lost=dict(self.lost),
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            latencies_us=latencies,
        )


def main() -> None:
    workerloop.main(AckWorker)


if __name__ == "__main__":
    main()
