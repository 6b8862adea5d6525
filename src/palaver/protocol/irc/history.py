"""IRCv3 ``draft/chathistory`` onto palaver's HISTORY and CONVERSATIONS, sans-I/O.

How this works: ``CHATHISTORY <sub> <target> <ref>... <limit>`` becomes one HISTORY request
for the room (or the direct conversation with the nick) and a :class:`Query` kept with its
pending id, which says what of the page to keep. A reference is ``msgid=`` (palaver's msgid
tag: ``#room/41``, ``dm/a,b/7``: the ``msg_id`` is what counts) or ``timestamp=`` (HISTORY's
time bounds). ``msg_id``s are dense per conversation, so AROUND a msgid is the page after
``msg_id - ceil(limit/2)``; AROUND a timestamp is the page up to it. BETWEEN and LATEST with a
reference read the page from one end and drop what passes the other (HISTORY takes one
bound). The answer is a ``chathistory`` batch of the messages as they were sent (deleted ones
left out), oldest first. ``CHATHISTORY TARGETS <ts> <ts> <limit>`` is CONVERSATIONS: a
``draft/chathistory-targets`` batch of ``CHATHISTORY TARGETS <target> <time>`` lines, the
conversation active first first. Refusals are standard replies (``FAIL CHATHISTORY ...``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from palaver.hub.conversations import EPOCH, MICROSECOND
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import files
from palaver.protocol.irc.batches import split_lines, wrap
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import (
    Conversations,
    History,
    HistoryPage,
    ListConversations,
    Message,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

MAX_LIMIT: Final = 100  # ISUPPORT CHATHISTORY=100 (HISTORY takes up to 200)
ISUPPORT_TOKENS: Final = (f"CHATHISTORY={MAX_LIMIT}", "MSGREFTYPES=msgid,timestamp")
SUBCOMMANDS: Final = ("AFTER", "AROUND", "BEFORE", "BETWEEN", "LATEST")

# (kind, code) -> a standard reply; "{text}" is the subcommand, "{arg}" the target.
ERROR_NUMERICS: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    **{("chathistory", code): ("FAIL", "CHATHISTORY", "INVALID_TARGET", "{text}", "{arg}")
       for code in (ErrorCode.NO_SUCH_ROOM, ErrorCode.NO_SUCH_USER, ErrorCode.INVALID_ROOM,
                    ErrorCode.NOT_IN_ROOM)},
    ("chathistory", ErrorCode.INVALID_FIELD): ("FAIL", "CHATHISTORY", "INVALID_PARAMS",
                                               "{text}"),
    ("chathistory", ErrorCode.UNAVAILABLE): ("FAIL", "CHATHISTORY", "MESSAGE_ERROR", "{text}"),
    ("targets", ErrorCode.INVALID_FIELD): ("FAIL", "CHATHISTORY", "INVALID_PARAMS", "TARGETS"),
    ("targets", ErrorCode.UNAVAILABLE): ("FAIL", "CHATHISTORY", "MESSAGE_ERROR", "TARGETS"),
}


@dataclass(frozen=True, slots=True)
class Ref:
    """A message reference: a ``msg_id`` or a time (``us``: microseconds since the epoch)."""

    msg_id: int | None = None
    us: int | None = None

    def after(self, message: Message) -> bool:
        """Whether ``message`` comes after this reference."""
        if self.msg_id is not None:
            return message.msg_id > self.msg_id
        assert self.us is not None
        return _us(message.ts) > self.us

    def before(self, message: Message) -> bool:
        if self.msg_id is not None:
            return message.msg_id < self.msg_id
        assert self.us is not None
        return _us(message.ts) < self.us

    def iso(self, shift_ms: int | None = None) -> str:
        """The time as ISO 8601 UTC: exact, or its millisecond plus ``shift_ms``."""
        assert self.us is not None
        us = self.us if shift_ms is None else (self.us // 1000 + shift_ms) * 1000
        return (EPOCH + us * MICROSECOND).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Query:
    """What a CHATHISTORY asked, kept with its HISTORY request."""

    sub: str
    target: str  # as the client wrote it
    limit: int
    above: Ref | None = None  # keep only what comes after this
    below: Ref | None = None  # keep only what comes before this
    newest: bool = True  # more than the limit left: keep the newest (else the oldest)


def _us(ts: str) -> int:
    when = datetime.fromisoformat(ts)
    return ((when if when.tzinfo else when.replace(tzinfo=UTC)) - EPOCH) // MICROSECOND


def _ref(value: str, target: str) -> Ref | None:
    """``msgid=...`` or ``timestamp=...`` (None if it is neither, or not of ``target``)."""
    kind, _, rest = value.partition("=")
    if kind == "timestamp":
        try:
            when = datetime.fromisoformat(rest)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if not 1970 <= when.year <= 9999:
            return None
        return Ref(us=(when - EPOCH) // MICROSECOND)
    if kind != "msgid":
        return None
    prefix, _, number = rest.rpartition("/")
    number = number.partition(".")[0]  # a further line's msgid (#a/41.2) is its message's
    if not number.isdigit() or not number.isascii() or len(number) > 18:
        return None
    if prefix.lower() != target.lower() and not (prefix.startswith("dm/")
                                                 and not target.startswith("#")):
        return None  # another conversation's message
    return Ref(msg_id=int(number))


def _limit(value: str) -> int | None:
    if not value.isdigit() or not value.isascii() or len(value) > 9 or int(value) < 1:
        return None
    return min(int(value), MAX_LIMIT)


# ---------------------------------------------------------------------- commands


def on_chathistory(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    sub = line.params[0].upper()
    params = line.params[1:]
    if sub == "TARGETS":
        _targets(irc, params, out)
        return
    if sub not in SUBCOMMANDS:
        out.append(irc.fail("CHATHISTORY", "INVALID_PARAMS", sub,
                            text="Unknown CHATHISTORY subcommand"))
        return
    wanted = 4 if sub == "BETWEEN" else 3
    if len(params) < wanted:
        out.append(irc.fail("CHATHISTORY", "NEED_MORE_PARAMS", sub,
                            text="Missing parameters"))
        return
    target, refs, limit = params[0], params[1:wanted - 1], _limit(params[wanted - 1])
    parsed = [None if sub == "LATEST" and ref == "*" else _ref(ref, target) for ref in refs]
    if limit is None or (None in parsed and not (sub == "LATEST" and refs == ["*"])):
        out.append(irc.fail("CHATHISTORY", "INVALID_PARAMS", sub, target,
                            text="Bad message reference or limit"))
        return
    query, bounds = _plan(sub, target, limit, parsed)
    where = {"room": target} if target.startswith("#") else {"peer": target}
    out.append(irc.request(History, Pending("chathistory", target, text=sub, detail=query),
                           limit=limit, **where, **bounds))


def _plan(sub: str, target: str, limit: int, refs: list[Ref | None]
          ) -> tuple[Query, dict[str, object]]:
    """The query and HISTORY's bounds for a subcommand."""
    ref = refs[0]
    if sub == "LATEST":
        return Query(sub, target, limit, above=ref), {}
    assert ref is not None
    if sub == "BEFORE":
        return Query(sub, target, limit), _bound("before", ref)
    if sub == "AFTER":
        return Query(sub, target, limit, newest=False), _bound("after", ref)
    if sub == "AROUND":
        if ref.msg_id is not None:
            start = max(ref.msg_id - math.ceil(limit / 2), 0)
            return Query(sub, target, limit, newest=False), {"after": start}
        return Query(sub, target, limit), {"before_ts": ref.iso(1)}  # up to it, inclusive
    other = refs[1]
    assert other is not None
    forward = (ref.msg_id < other.msg_id if ref.msg_id is not None and other.msg_id is not None
               else ref.us < other.us if ref.us is not None and other.us is not None else True)
    if forward:
        return Query(sub, target, limit, below=other, newest=False), _bound("after", ref)
    return Query(sub, target, limit, above=other), _bound("before", ref)


def _bound(side: str, ref: Ref) -> dict[str, object]:
    if ref.msg_id is not None:
        return {side: ref.msg_id}
    return {f"{side}_ts": ref.iso()}


def _targets(irc: IrcDialect, params: list[str], out: list[Inbound]) -> None:
    if len(params) < 3:
        out.append(irc.fail("CHATHISTORY", "NEED_MORE_PARAMS", "TARGETS",
                            text="Missing parameters"))
        return
    first, second, limit = _ref(params[0], ""), _ref(params[1], ""), _limit(params[2])
    if (limit is None or first is None or second is None or first.us is None
            or second.us is None):
        out.append(irc.fail("CHATHISTORY", "INVALID_PARAMS", "TARGETS",
                            text="TARGETS takes two timestamps and a limit"))
        return
    low, high = sorted((first, second), key=lambda r: r.us or 0)
    out.append(irc.request(ListConversations, Pending("targets"), limit=limit,
                           after_ts=low.iso(), before_ts=high.iso()))


# ---------------------------------------------------------------------- events


def history_page(irc: IrcDialect, event: HistoryPage, pending: Pending | None) -> bytes:
    if pending is not None and pending.kind == files.KIND:  # FILE's question (irc/files.py)
        return files.file_answer(irc, event, pending)
    query = pending.detail if pending is not None else None
    if not isinstance(query, Query):
        return b""  # a HISTORY nobody here asked for
    kept = [m for m in event.messages if not m.deleted
            and (query.above is None or query.above.after(m))
            and (query.below is None or query.below.before(m))]
    kept = kept[-query.limit:] if query.newest else kept[:query.limit]
    lines = [line for m in kept for line in split_lines(irc.renderer.message(m))]
    return _batch(irc, lines, "chathistory", query.target)


def conversations(irc: IrcDialect, event: Conversations, pending: Pending | None) -> bytes:
    lines = [irc.line("CHATHISTORY", "TARGETS", c.room or c.peer or "*", c.last_ts,
                      trailing=False)[:-2] for c in event.conversations]
    return _batch(irc, lines, "draft/chathistory-targets")


def _batch(irc: IrcDialect, lines: list[bytes], kind: str, *params: str) -> bytes:
    if "batch" not in irc.caps:
        return b"".join(line + b"\r\n" for line in lines)
    return wrap(lines, irc.labels.reference(), kind, *params, source=irc.server)
