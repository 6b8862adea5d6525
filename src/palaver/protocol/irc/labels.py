"""IRCv3 labeled-response, sans-I/O: every reply to a labeled command, gathered and labeled.

How this works: a command may be answered by the dialect at once (numerics, PONG), by the hub
(one request or several: a PRIVMSG to three targets is three), or both, in any order. When the
client labels a command (``@label=x``, with the ``labeled-response`` capability), nothing of its
answer is sent until all of it is known: :meth:`Labels.answer` keeps the bytes made at once, in
their place among the hub requests the command made, and sends one more request after them, a
``PING`` to the hub (the *fence*). The hub answers in order and its ``PONG`` comes after every
answer to the requests before it (a stored message's answer too: the commit pipeline keeps the
order), so :meth:`Labels.collect` gathers what :meth:`IrcDialect.encode` renders for those
ids and, when the fence's ``PONG`` comes, sends it all as one answer: no line is an ``ACK``, one
line carries the label, a single batch carries it on its start line, more lines go in a
``labeled-response`` batch (only with the ``batch`` capability; without it they go unlabeled).
A CHATHISTORY's request (answered by the store) is also *awaited*: the answer is complete when
the fence and every awaited id have come — the store's answers keep their place in the commit
pipeline, so this only guards against a store answer that would ever come after the fence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import PeerError
from palaver.protocol.irc.batches import CRLF, add_tag, single_batch, split_lines, wrap
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import format_line
from palaver.protocol.messages import Ping

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

MAX_LABEL: Final = 64  # bytes; a longer label is not honoured (the answer goes unlabeled)
MAX_OPEN: Final = 256  # labeled commands awaiting their answer; past this, answers go unlabeled
AWAITED: Final = frozenset({"chathistory", "targets"})  # answered after the hub's order


@dataclass(slots=True)
class _Answer:
    label: str
    parts: list[bytes | str] = field(default_factory=list)  # bytes, or a request id
    rendered: dict[str, list[bytes]] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)  # the fence and the awaited ids


class Labels:
    """The labeled commands of one connection whose answer is not complete yet."""

    __slots__ = ("_by_id", "_count", "_open", "aside")

    def __init__(self) -> None:
        self._by_id: dict[str, _Answer] | None = None  # None: no answer open (made on use)
        self._open = 0
        self._count = 0  # for batch references
        # Lines rendered with an answer but no part of it, sent before it (never held nor
        # labeled) by IrcDialect.encode; None: none.
        self.aside: list[bytes] | None = None

    def label_of(self, irc: IrcDialect, tags: dict[str, str]) -> str | None:
        """The label to honour on a command with these tags, if any."""
        label = tags.get("label")
        if not label or "labeled-response" not in irc.caps:
            return None
        if len(label.encode("utf-8", "replace")) > MAX_LABEL or self._open >= MAX_OPEN:
            return None
        return label

    def answer(self, irc: IrcDialect, label: str, items: list[Inbound]) -> list[Inbound]:
        """What a command labeled ``label`` made (``items``: bytes, hub requests) as what to
        send now: the labeled answer itself if it needs no hub, else the requests and a fence
        (the bytes wait for the answer)."""
        requests = [item for item in items if not isinstance(item, bytes | PeerError)]
        if not requests:
            data = b"".join(item for item in items if isinstance(item, bytes))
            rest: list[Inbound] = [item for item in items if isinstance(item, PeerError)]
            return [self.labeled(irc, label, data), *rest]
        answer = _Answer(label)
        if self._by_id is None:
            self._by_id = {}
        out: list[Inbound] = []
        for item in items:
            if isinstance(item, bytes):
                answer.parts.append(item)
                continue
            out.append(item)
            if isinstance(item, PeerError) or item.id is None:
                continue
            answer.parts.append(item.id)
            answer.rendered[item.id] = []
            self._by_id[item.id] = answer
            pending = irc.pending.get(item.id) if irc.pending is not None else None
            if pending is not None and pending.kind in AWAITED:
                answer.waiting.add(item.id)
        fence = irc.request(Ping, Pending("fence"))
        assert fence.id is not None
        answer.waiting.add(fence.id)
        self._by_id[fence.id] = answer
        self._open += 1
        out.append(fence)
        return out

    def collect(self, irc: IrcDialect, request_id: str, data: bytes) -> bytes | None:
        """``data`` rendered for an event answering ``request_id``: None if that is no labeled
        command's (send ``data`` as it is), else what to send now (b"" until the answer is
        complete, then all of it, labeled)."""
        answer = self._by_id.get(request_id) if self._by_id is not None else None
        if answer is None:
            return None
        if request_id in answer.rendered:
            answer.rendered[request_id].append(data)
        if request_id in answer.waiting:
            answer.waiting.discard(request_id)
            if not answer.waiting:
                return self._complete(irc, answer)
        return b""

    def _complete(self, irc: IrcDialect, answer: _Answer) -> bytes:
        self._open -= 1
        chunks: list[bytes] = []
        for part in answer.parts:
            if isinstance(part, bytes):
                chunks.append(part)
            else:
                chunks.extend(answer.rendered.get(part, ()))
        assert self._by_id is not None  # the answer is in it
        for request_id in [rid for rid, a in self._by_id.items() if a is answer]:
            del self._by_id[request_id]
        if not self._by_id:
            self._by_id = None
        return self.labeled(irc, answer.label, b"".join(chunks))

    def labeled(self, irc: IrcDialect, label: str, data: bytes) -> bytes:
        """The whole answer ``data`` to a command labeled ``label``, labeled."""
        lines = split_lines(data)
        if not lines:
            return format_line("ACK", source=irc.server, tags={"label": label})
        if len(lines) == 1 or single_batch(lines):
            return add_tag(lines[0], "label", label) + CRLF + b"".join(
                line + CRLF for line in lines[1:])
        if "batch" not in irc.caps:
            return data  # a labeled answer of several lines needs a batch
        return wrap(lines, self.reference(), "labeled-response", source=irc.server,
                    tags={"label": label})

    def reference(self) -> str:
        """A new batch reference, unique on this connection."""
        self._count += 1
        return f"L{self._count}"
