"""The Sequencer: a conversation's messages released in id order, gap-free, each once.

How this works: messages reach a node from the bus (a fast hint that may lose, repeat or
reorder them) and from the store (the truth, read when the bus seems to have lost something).
Ids are dense per conversation, so for every conversation it follows the sequencer keeps the
*mark*: the last id released. An offered id ``mark + 1`` is released at once, with whatever was
waiting right behind it; an id at or below the mark is dropped (already released: a repeat, or
the store got there first); an id further ahead waits. The ids between the mark and the highest
one known to exist (offered, or reported by the store with :meth:`Sequencer.stored`) that are
not waiting are *holes*. A hole that has lasted ``hole_timeout`` (~100 ms: the bus reorders
within far less) is handed out by :meth:`Sequencer.holes`, to be read from the store and given
back with :meth:`Sequencer.fill`; a conversation whose holes were handed out is not asked for
again before ``retry_after`` (a read that failed is retried then). The store's word for how far
a conversation goes (:meth:`Sequencer.stored`, on every bus reconnect and on a timer) makes the
missing tail a hole at once: that is how a message whose broadcast was lost, with nothing after
it to reveal the gap, still arrives.

It is sans-I/O: nothing here reads a clock, sleeps or does I/O; ``now`` (seconds, any monotonic
clock) is passed in, and :meth:`Sequencer.next_deadline` says when :meth:`Sequencer.holes` may
next have something. What is released is the caller's to deliver; the payload's type is the
caller's (the bus's bytes, or frames made from stored messages).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Generic, NamedTuple, TypeVar

T = TypeVar("T")

HOLE_TIMEOUT: Final = 0.1  # seconds a hole may last before it is read from the store
RETRY_AFTER: Final = 1.0  # seconds before holes handed out and not filled are handed out again
MAX_WAITING: Final = 10_000  # messages held per conversation; beyond, they are left to the store


class Hole(NamedTuple):
    """Ids ``first`` to ``last`` (both included) of ``conversation`` to read from the store."""

    conversation: str
    first: int
    last: int


@dataclass
class _Stream(Generic[T]):
    mark: int  # the last id released
    known: int  # the highest id known to exist (>= mark)
    waiting: dict[int, T] = field(default_factory=dict)  # ids > mark + 1 held back
    due_at: float | None = None  # when the missing head (mark + 1) is to be read from the store
    asked_at: float | None = None  # when its holes were last handed out
    asked_through: int = 0  # the highest id they covered


class Sequencer(Generic[T]):
    def __init__(self, *, hole_timeout: float = HOLE_TIMEOUT, retry_after: float = RETRY_AFTER,
                 max_waiting: int = MAX_WAITING) -> None:
        self.hole_timeout = hole_timeout
        self.retry_after = retry_after
        self.max_waiting = max_waiting
        self._streams: dict[str, _Stream[T]] = {}

    # ------------------------------------------------------------------ following

    def expect(self, conversation: str, last_id: int) -> list[tuple[int, T]]:
        """Follow ``conversation`` from ``last_id`` (everything up to it counts as released:
        the store's last id when the node starts following it), or advance its mark there
        (never back). What now follows the mark without a gap is released, in order."""
        stream = self._streams.get(conversation)
        if stream is None:
            self._streams[conversation] = _Stream(mark=last_id, known=last_id)
            return []
        if last_id <= stream.mark:
            return []
        stream.mark = last_id
        stream.known = max(stream.known, last_id)
        for msg_id in [i for i in stream.waiting if i <= last_id]:
            del stream.waiting[msg_id]
        return self._release(stream, None)

    def forget(self, conversation: str) -> None:
        """Stop following ``conversation`` (its last local member left); what waits is dropped."""
        self._streams.pop(conversation, None)

    def following(self, conversation: str) -> bool:
        return conversation in self._streams

    def mark(self, conversation: str) -> int | None:
        """The last id released in ``conversation``; None when it is not followed."""
        stream = self._streams.get(conversation)
        return None if stream is None else stream.mark

    def conversations(self) -> list[str]:
        return list(self._streams)

    # ------------------------------------------------------------------ messages in

    def offer(self, conversation: str, msg_id: int, payload: T,
              now: float) -> list[tuple[int, T]]:
        """A message from the bus: what may be released now, in id order (it, and what waited
        behind it), or nothing (it is old, a repeat, ahead of a hole, or of a conversation
        not followed)."""
        stream = self._streams.get(conversation)
        if stream is None or msg_id <= stream.mark or msg_id in stream.waiting:
            return []
        if msg_id > stream.known:
            stream.known = msg_id
        if msg_id == stream.mark + 1:
            stream.mark = msg_id
            return self._release(stream, now, [(msg_id, payload)])
        if len(stream.waiting) < self.max_waiting:
            stream.waiting[msg_id] = payload  # else the store has it: it is known, a hole
        if stream.due_at is None:
            stream.due_at = now + self.hole_timeout
        return []

    def supersede(self, conversation: str, msg_id: int, payload: T) -> bool:
        """Put ``payload`` in place of the one waiting for ``msg_id`` (a node's own message,
        read from the store before its commit was answered); False if none waits."""
        stream = self._streams.get(conversation)
        if stream is None or msg_id not in stream.waiting:
            return False
        stream.waiting[msg_id] = payload
        return True

    def fill(self, conversation: str, items: Iterable[tuple[int, T]], *,
             through: int | None = None, start: int | None = None) -> list[tuple[int, T]]:
        """Messages read from the store, in any order: what may be released now, in id order.
        ``through``: the store was asked for everything from ``start`` (None: from the mark)
        up to that id and ``items`` is all it has, so an id up to it that is not among them
        will never come and is skipped — only if the read began at or before the mark's next
        id (else ids before ``start`` are not covered by it: they stay holes, asked for
        again)."""
        stream = self._streams.get(conversation)
        if stream is None:
            return []
        for msg_id, payload in items:
            if msg_id > stream.mark and msg_id not in stream.waiting:
                stream.waiting[msg_id] = payload
                stream.known = max(stream.known, msg_id)
        released: list[tuple[int, T]] = []
        if start is not None and start > stream.mark + 1:
            through = None  # another read is to fill what lies before it
        if through is not None and through > stream.mark:
            stream.known = max(stream.known, through)
            for msg_id in sorted(i for i in stream.waiting if i <= through):
                released.append((msg_id, stream.waiting.pop(msg_id)))
            stream.mark = through
        return self._release(stream, None, released)

    def stored(self, conversation: str, last_id: int, now: float) -> None:
        """The store says ``conversation`` goes up to ``last_id`` (a check on reconnect or on
        the timer): what the node has not released up to it is a hole to read at once."""
        stream = self._streams.get(conversation)
        if stream is None or last_id <= stream.mark:
            return
        stream.known = max(stream.known, last_id)
        if stream.due_at is None or stream.due_at > now:
            stream.due_at = now

    # ------------------------------------------------------------------ holes

    def holes(self, now: float) -> list[Hole]:
        """The holes that have lasted ``hole_timeout``, to read from the store, except those
        already handed out in the last ``retry_after``; they count as handed out at ``now``."""
        found: list[Hole] = []
        for conversation, stream in self._streams.items():
            if stream.due_at is None or now < stream.due_at:
                continue
            gaps = self._gaps(conversation, stream)
            if stream.asked_at is not None and now - stream.asked_at < self.retry_after:
                # Asked for recently (being read): only what lies beyond that request.
                after = stream.asked_through
                gaps = [Hole(conversation, max(h.first, after + 1), h.last)
                        for h in gaps if h.last > after]
            if gaps:
                stream.asked_at = now
                found.extend(gaps)
            stream.asked_through = stream.known  # nothing beyond it is missing unasked
        return found

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`holes` may hand something out; None: not before a
        message is offered or the store reports more."""
        soonest: float | None = None
        for stream in self._streams.values():
            if stream.due_at is None:
                continue
            at = stream.due_at
            if stream.asked_at is not None and stream.known <= stream.asked_through:
                at = max(at, stream.asked_at + self.retry_after)
            soonest = at if soonest is None else min(soonest, at)
        return soonest

    @staticmethod
    def _gaps(conversation: str, stream: _Stream[T]) -> list[Hole]:
        gaps: list[Hole] = []
        start = stream.mark + 1
        for msg_id in sorted(stream.waiting):
            if msg_id > start:
                gaps.append(Hole(conversation, start, msg_id - 1))
            start = msg_id + 1
        if start <= stream.known:
            gaps.append(Hole(conversation, start, stream.known))
        return gaps

    # ------------------------------------------------------------------ release

    def _release(self, stream: _Stream[T], now: float | None,
                 released: list[tuple[int, T]] | None = None) -> list[tuple[int, T]]:
        """Release what follows the mark without a gap; note whether the head is missing."""
        out = released if released is not None else []
        progressed = bool(out)
        for _ in range(len(stream.waiting)):  # bounded: each turn releases one
            head = stream.mark + 1
            if head not in stream.waiting:
                break
            out.append((head, stream.waiting.pop(head)))
            stream.mark = head
            progressed = True
        if stream.known <= stream.mark:
            stream.known = stream.mark
            stream.due_at = None
            stream.asked_at = None
        elif progressed or stream.due_at is None:
            # The head moved and is missing again (or a fill left it missing): it waits anew.
            if now is not None:
                stream.due_at = now + self.hole_timeout
            elif stream.due_at is None:
                stream.due_at = float("-inf")  # known to be missing: due at once
        return out
