"""QueuedSender.send_each (transports/outbox.py): what send does for each of a group of
connections, in one loop — with a fake core, no sockets."""

from __future__ import annotations

from dataclasses import dataclass, field

from palaver.server.limits import Limits, SendQueueRule
from palaver.transports.outbox import SENDER_SLOTS, QueuedSender


@dataclass
class FakeCore:
    limits: Limits = field(default_factory=lambda: Limits(
        send_queue=SendQueueRule(limit=100, grace=5.0, ceiling=1_000)))
    dirty: list[object] = field(default_factory=list)
    cut: list[tuple[object, str]] = field(default_factory=list)

    def mark_dirty(self, conn: object) -> None:
        self.dirty.append(conn)

    def mark_all_dirty(self, conns: list[object]) -> None:
        self.dirty.extend(conns)

    def overflowed(self, conn: object, why: str = "") -> None:
        self.cut.append((conn, why))
        conn.closing = True  # type: ignore[attr-defined]  # as the core's cut does

    def monotonic(self) -> float:
        return 0.0


class Conn(QueuedSender):
    __slots__ = (*SENDER_SLOTS, "_core", "closing", "name")

    def __init__(self, core: FakeCore, name: str) -> None:
        self._core = core  # type: ignore[assignment]
        self.closing = False
        self.name = name
        self._init_outbox()

    def _write_buffer_size(self) -> int:
        return 0


def test_each_gets_the_bytes_but_the_skipped_one_and_the_new_dirty_are_told_once() -> None:
    core = FakeCore()
    a, b, c = Conn(core, "a"), Conn(core, "b"), Conn(core, "c")
    b.send(b"earlier")  # already dirty: not told again
    assert core.dirty == [b]
    assert a.send_each([a, b, c], b"x", skip=c) == 2
    assert (a._outbox, b._outbox, c._outbox) == ([b"x"], [b"earlier", b"x"], [])
    assert core.dirty == [b, a]


def test_a_closing_or_held_connection_goes_through_send() -> None:
    core = FakeCore()
    a, closing, held = Conn(core, "a"), Conn(core, "closing"), Conn(core, "held")
    closing.closing = True
    held.hold()
    assert a.send_each([a, closing, held], b"x", skip=None) == 3  # counted as sent, as send
    assert (a._outbox, closing._outbox, held._outbox, held._held) == ([b"x"], [], [], [b"x"])
    held.release([b"replayed"])
    assert held._outbox == [b"replayed", b"x"]  # behind the replay, not lost


def test_what_one_loop_queues_past_the_ceiling_cuts_that_connection_there() -> None:
    core = FakeCore()
    a, b = Conn(core, "a"), Conn(core, "b")
    b.send(b"y" * 900)  # b has most of its ceiling (1,000 bytes) queued already
    a.send_each([a, b], b"x" * 200, skip=None)
    assert [(conn.name, why.startswith("1,100 bytes waiting")) for conn, why in core.cut] == [
        ("b", True)]
    assert a._outbox == [b"x" * 200]
