"""A load-generator worker for the cluster benchmark: the fan-out worker, plus acks and origins.

How this works: ``python -m benchmarks.clusterload HOST PORT NODE`` is
:mod:`benchmarks.loadgen`'s worker (connect, HELLO into #lobby, sync, reset, run, report) with
two differences. Its senders' CHATs carry an id, as a real client's do (the id is the send
time, so it is unique per connection), and their text says which node they were sent to
(``"B<19-digit send ns>:<NODE>xxxx…"``). So a connection can tell three kinds of MESSAGE apart:
its **acknowledgement** (the MESSAGE carrying its own CHAT's id, which only the sender gets),
a message sent on **this** node, and one sent on **another** node (NODE differs from this
worker's), which crossed the bus. Each kind's latency (read − send, ``time.monotonic_ns``, one
clock for all processes) goes to its own list: acknowledgements on every sending connection,
deliveries on every ``sample_every``-th connection and on the senders. ``report`` answers them
as ``ack_us``, ``local_us`` and ``remote_us`` besides the fan-out worker's counts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Final

from benchmarks import workerloop
from benchmarks.leanconn import STAMP_DIGITS, Sink
from benchmarks.loadconn import STAMP, BenchConnection
from benchmarks.loadgen import ROOM, Worker
from benchmarks.workerloop import emit
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import Say

ID: Final = b'"id":"'


class NodeFrames:
    """CHAT frames with an id: ``"text":"B<stamp>:<node>xxx…"``, ``"id":"<stamp>"``."""

    __slots__ = ("_middle", "_prefix", "_suffix")

    def __init__(self, room: str, node: str, size: int = 100) -> None:
        pad = node + "x" * max(0, size - STAMP_DIGITS - 2 - len(node))
        zeros = "0" * STAMP_DIGITS
        sample = encode(Say(room=room, text=f"B{zeros}:{pad}", id=zeros))
        first = sample.index(STAMP) + len(STAMP)
        second = sample.index(ID) + len(ID)
        self._prefix = sample[:first]
        self._middle = sample[first + STAMP_DIGITS:second]
        self._suffix = sample[second + STAMP_DIGITS:]

    def frame(self, stamp_ns: int) -> bytes:
        return b"%b%019d%b%019d%b" % (self._prefix, stamp_ns, self._middle, stamp_ns,
                                      self._suffix)


class NodeConnection(BenchConnection):
    __slots__ = ("acks", "node", "remote")

    def __init__(self, sink: Sink, index: int, nick: str, sample: bool, node: bytes) -> None:
        super().__init__(sink, index, nick, sample)
        self.node = node
        self.acks: list[int] = []
        self.remote: list[int] = []

    def _stamps(self, data: bytes, now_ns: int) -> None:
        local = self.latencies
        assert local is not None
        tag, node, width = STAMP, self.node, len(self.node)
        at = data.find(tag)
        while at >= 0:
            start = at + len(tag)
            digits = data[start:start + STAMP_DIGITS]
            if digits.isdigit():
                latency = now_ns - int(digits)
                end = data.find(b"\n", start)
                if data.find(ID, start, end) >= 0:
                    self.acks.append(latency)
                elif data[start + STAMP_DIGITS + 1:start + STAMP_DIGITS + 1 + width] == node:
                    local.append(latency)
                else:
                    self.remote.append(latency)
            at = data.find(tag, start)


class NodeWorker(Worker):
    def __init__(self, host: str, port: int, node: str) -> None:
        super().__init__(host, port)
        self.node = node
        self.frames = NodeFrames(ROOM, node)

    def connection(self, index: int, nick: str, sample: bool) -> NodeConnection:
        # a sender always records: its acknowledgements are the point
        return NodeConnection(self, index, nick, sample or nick.startswith("s"),
                              self.node.encode())

    def reset(self, expect_per_conn: int, senders: Sequence[str] = (), own: int = 0) -> None:
        for conn in self.conns:
            assert isinstance(conn, NodeConnection)
            conn.acks.clear()
            conn.remote.clear()
        super().reset(expect_per_conn, senders, own)

    def report(self) -> None:
        local: list[int] = []
        remote: list[int] = []
        acks: list[int] = []
        for conn in self.conns:
            assert isinstance(conn, NodeConnection)
            if conn.latencies:
                local.extend(lat // 1_000 for lat in conn.latencies)
            remote.extend(lat // 1_000 for lat in conn.remote)
            acks.extend(lat // 1_000 for lat in conn.acks)
        emit(
            event="report",
            node=self.node,
            delivered=self.delivered,
            expected=self.expected,
            connections=len(self.conns),
            live=sum(not c.closed for c in self.conns),
            frames=sum(c.frames for c in self.conns),
            lost=dict(self.lost),
            first_ns=self.first_ns,
            last_ns=self.last_ns,
            latencies_us=local + remote,
            local_us=local,
            remote_us=remote,
            ack_us=acks,
        )


def main() -> None:
    node = sys.argv[3] if len(sys.argv) > 3 else "a"
    workerloop.main(lambda host, port: NodeWorker(host, port, node))


if __name__ == "__main__":
    main()
