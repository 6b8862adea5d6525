"""The Sequencer (bus/sequencer.py): examples, then a property — whatever the bus does (loses,
repeats, reorders, delays) and however the store's answers come back (late, partial, in any
order), every conversation's messages are released exactly once, in id order, without a gap."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.bus.sequencer import Hole, Sequencer


def ids(released: list[tuple[int, str]]) -> list[int]:
    return [msg_id for msg_id, _ in released]


def test_in_order_is_released_at_once() -> None:
    seq: Sequencer[str] = Sequencer()
    assert seq.expect("#a", 4) == []
    assert seq.offer("#a", 5, "five", 0.0) == [(5, "five")]
    assert seq.offer("#a", 6, "six", 0.0) == [(6, "six")]
    assert seq.mark("#a") == 6
    assert seq.holes(10.0) == [] and seq.next_deadline() is None


def test_old_and_repeated_ids_are_dropped() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.expect("#a", 4)
    assert seq.offer("#a", 3, "old", 0.0) == []
    assert seq.offer("#a", 4, "old", 0.0) == []
    assert seq.offer("#a", 7, "seven", 0.0) == []
    assert seq.offer("#a", 7, "seven again", 0.0) == []
    assert seq.offer("#a", 5, "five", 0.0) == [(5, "five")]
    assert seq.offer("#a", 6, "six", 0.01) == [(6, "six"), (7, "seven")]
    assert seq.offer("#a", 6, "six", 0.02) == []


def test_an_unfollowed_conversation_is_ignored() -> None:
    seq: Sequencer[str] = Sequencer()
    assert seq.offer("#a", 1, "x", 0.0) == []
    assert seq.fill("#a", [(1, "x")]) == []
    seq.stored("#a", 5, 0.0)
    assert seq.holes(10.0) == [] and not seq.following("#a") and seq.mark("#a") is None
    seq.expect("#a", 0)
    seq.forget("#a")
    assert seq.conversations() == []


def test_a_hole_is_handed_out_after_the_timeout_then_filled() -> None:
    seq: Sequencer[str] = Sequencer(hole_timeout=0.1, retry_after=1.0)
    seq.expect("#a", 0)
    assert seq.offer("#a", 1, "1", 0.0) == [(1, "1")]
    assert seq.offer("#a", 4, "4", 0.0) == []
    assert seq.offer("#a", 7, "7", 0.02) == []
    assert seq.next_deadline() == 0.1
    assert seq.holes(0.05) == []  # the bus may only be reordering
    assert seq.holes(0.1) == [Hole("#a", 2, 3), Hole("#a", 5, 6)]
    assert seq.holes(0.2) == []  # being read
    assert seq.next_deadline() == 1.1
    assert seq.fill("#a", [(3, "3"), (2, "2"), (4, "dup"), (1, "old")]) == [
        (2, "2"), (3, "3"), (4, "4")]
    assert seq.holes(0.3) == []  # 5-6 are still being read
    assert seq.fill("#a", [(5, "5"), (6, "6")]) == [(5, "5"), (6, "6"), (7, "7")]
    assert seq.holes(5.0) == [] and seq.next_deadline() is None


def test_a_read_that_failed_is_retried() -> None:
    seq: Sequencer[str] = Sequencer(hole_timeout=0.1, retry_after=1.0)
    seq.expect("#a", 0)
    seq.offer("#a", 2, "2", 0.0)
    assert seq.holes(0.1) == [Hole("#a", 1, 1)]
    assert seq.holes(1.0) == []
    assert seq.holes(1.1) == [Hole("#a", 1, 1)]  # nothing came back: again
    assert seq.fill("#a", []) == []
    assert seq.holes(1.2) == []


def test_a_new_hole_beyond_a_pending_read_is_asked_for() -> None:
    seq: Sequencer[str] = Sequencer(hole_timeout=0.1, retry_after=1.0)
    seq.expect("#a", 0)
    seq.offer("#a", 3, "3", 0.0)
    assert seq.holes(0.1) == [Hole("#a", 1, 2)]
    seq.offer("#a", 6, "6", 0.15)
    assert seq.holes(0.3) == [Hole("#a", 4, 5)]  # not 1-2 again


def test_the_store_reveals_a_lost_tail() -> None:
    seq: Sequencer[str] = Sequencer(hole_timeout=0.1)
    seq.expect("#a", 3)
    seq.stored("#a", 3, 0.0)  # nothing new
    assert seq.next_deadline() is None
    seq.stored("#a", 5, 7.0)  # the bus lost 4 and 5, and nothing came after them
    assert seq.holes(7.0) == [Hole("#a", 4, 5)]  # at once: the store says they exist
    assert seq.fill("#a", [(4, "4"), (5, "5")]) == [(4, "4"), (5, "5")]


def test_through_skips_what_the_store_does_not_have() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.expect("#a", 0)
    seq.offer("#a", 5, "5", 0.0)
    assert seq.fill("#a", [(2, "2")], through=3) == [(2, "2")]
    assert seq.mark("#a") == 3
    assert seq.fill("#a", [(4, "4")]) == [(4, "4"), (5, "5")]


def test_a_later_hole_read_first_skips_nothing_before_it() -> None:
    """(Found by the cluster soak.) Two holes read at once, the later answered first: its
    ``through`` covers only what was read from its ``start``, so the earlier hole is kept."""
    seq: Sequencer[str] = Sequencer(hole_timeout=0.1, retry_after=1.0)
    seq.expect("#a", 0)
    seq.offer("#a", 3, "3", 0.0)
    seq.offer("#a", 6, "6", 0.0)
    assert seq.holes(0.1) == [Hole("#a", 1, 2), Hole("#a", 4, 5)]
    assert seq.fill("#a", [(5, "5")], through=5, start=4) == []  # 4: an edit's id, say
    assert seq.mark("#a") == 0
    assert seq.fill("#a", [(1, "1"), (2, "2")], through=2, start=1) == [
        (1, "1"), (2, "2"), (3, "3")]
    assert seq.holes(1.2) == [Hole("#a", 4, 4)]  # asked again, from the mark now
    assert seq.fill("#a", [], through=4, start=4) == [(5, "5"), (6, "6")]


def test_expect_advances_and_never_goes_back() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.expect("#a", 2)
    seq.offer("#a", 5, "5", 0.0)
    seq.offer("#a", 7, "7", 0.0)
    assert seq.expect("#a", 1) == [] and seq.mark("#a") == 2
    assert seq.expect("#a", 4) == [(5, "5")]
    assert seq.expect("#a", 6) == [(7, "7")]
    assert seq.next_deadline() is None


def test_too_many_waiting_are_left_to_the_store() -> None:
    seq: Sequencer[str] = Sequencer(max_waiting=2, hole_timeout=0.1)
    seq.expect("#a", 0)
    for msg_id in (2, 3, 4, 5):
        seq.offer("#a", msg_id, str(msg_id), 0.0)
    assert seq.holes(0.1) == [Hole("#a", 1, 1), Hole("#a", 4, 5)]
    assert ids(seq.fill("#a", [(n, str(n)) for n in range(1, 6)])) == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------------- the property


@dataclass
class World:
    """Two conversations' store, the bus's messages in flight, reads not yet answered."""

    seq: Sequencer[str]
    start: dict[str, int]
    committed: dict[str, int]
    now: float = 0.0
    in_flight: list[tuple[str, int]] = field(default_factory=list)
    reads: list[tuple[Hole, bool]] = field(default_factory=list)  # the hole, complete?
    released: dict[str, list[int]] = field(default_factory=dict)

    def take(self, conversation: str, got: list[tuple[int, str]]) -> None:
        for msg_id, payload in got:
            assert payload == f"{conversation}:{msg_id}"
        self.released.setdefault(conversation, []).extend(ids(got))
        done = self.released[conversation]
        assert done == list(range(self.start[conversation] + 1,
                                   self.start[conversation] + 1 + len(done)))

    def answer(self, hole: Hole, complete: bool) -> None:
        last = min(hole.last, self.committed[hole.conversation])
        items = [(n, f"{hole.conversation}:{n}") for n in range(hole.first, last + 1)]
        if not complete:
            items = items[::2]  # a partial answer (say, a read cut short)
        items.reverse()  # any order
        self.take(hole.conversation, self.seq.fill(hole.conversation, items))


CONVERSATIONS = ("#a", "@b,c")
operations = st.lists(st.one_of(
    st.tuples(st.just("commit"), st.sampled_from(CONVERSATIONS)),
    st.tuples(st.just("deliver"), st.integers(0, 50), st.booleans()),  # keep it: a repeat
    st.tuples(st.just("lose"), st.integers(0, 50)),
    st.tuples(st.just("tick"), st.sampled_from([0.0, 0.03, 0.1, 0.5, 1.5])),
    st.tuples(st.just("holes"), st.booleans()),  # answered at once, or later
    st.tuples(st.just("answer"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("check"), st.sampled_from(CONVERSATIONS)),
), max_size=150)


@settings(max_examples=300, deadline=None)
@given(starts=st.tuples(st.integers(0, 3), st.integers(0, 3)), ops=operations)
def test_released_exactly_once_in_order_without_gaps(
    starts: tuple[int, int], ops: list[tuple[object, ...]],
) -> None:
    start = dict(zip(CONVERSATIONS, starts, strict=True))
    world = World(Sequencer(hole_timeout=0.1, retry_after=1.0), start, dict(start))
    for conversation in CONVERSATIONS:
        assert world.seq.expect(conversation, start[conversation]) == []
    for op in ops:
        match op:
            case ("commit", str(conversation)):
                world.committed[conversation] += 1
                world.in_flight.append((conversation, world.committed[conversation]))
            case ("deliver", int(k), bool(keep)) if world.in_flight:
                conversation, msg_id = world.in_flight[k % len(world.in_flight)]
                if not keep:
                    world.in_flight.remove((conversation, msg_id))
                world.take(conversation, world.seq.offer(
                    conversation, msg_id, f"{conversation}:{msg_id}", world.now))
            case ("lose", int(k)) if world.in_flight:
                world.in_flight.pop(k % len(world.in_flight))
            case ("tick", float(dt)):
                world.now += dt
            case ("holes", bool(at_once)):
                for hole in world.seq.holes(world.now):
                    assert hole.first <= hole.last <= world.committed[hole.conversation]
                    if at_once:
                        world.answer(hole, True)
                    else:
                        world.reads.append((hole, bool(len(world.reads) % 2)))
            case ("answer", int(k), bool(_)) if world.reads:
                world.answer(*world.reads.pop(k % len(world.reads)))
            case ("check", str(conversation)):
                world.seq.stored(conversation, world.committed[conversation], world.now)
    # The bus goes quiet; the node's timer goes on checking the store: everything arrives.
    world.in_flight.clear()
    for _ in range(10):
        world.now += 1.5
        for conversation in CONVERSATIONS:
            world.seq.stored(conversation, world.committed[conversation], world.now)
        for hole in world.seq.holes(world.now):
            world.answer(hole, True)
    for conversation in CONVERSATIONS:
        assert world.released.get(conversation, []) == list(
            range(start[conversation] + 1, world.committed[conversation] + 1))
        assert world.seq.mark(conversation) == world.committed[conversation]
    assert world.seq.next_deadline() is None
