"""The bookkeeping behind a reconnecting client, sans-I/O: what to resume, resend and show.

How this works: :class:`ResumeTracker` sees every request the client sends (:meth:`submit`) and
every frame the server sends back (:meth:`receive`), and keeps

- the *marks*: per conversation (a room, folded: ``"#dev"``; a direct conversation: ``"@bob"``)
  the highest id received: a MESSAGE's ``msg_id``, or the ``seq`` of an EDITED, DELETED or
  REACTED (changes are events of the conversation, from the same counter). A new
  connection's HELLO sends them as ``since`` (:meth:`hello`), so the server replays exactly
  what came after;
- the *seen* ids per conversation (:class:`SeenIds`, a set of intervals), so a MESSAGE that
  comes twice — live and again in a replay, or in a page of history — is shown once;
- the *pending* requests, in the order they were sent, each with its request id: the client
  resends all of them, with the same ids, on a new connection; the server stores a CHAT or DM at
  most once per id and answers a resend with the original MESSAGE;
- *strikes*: a request the server never answers because the connection ends right after it
  (each time it is sent) would be resent for ever. When a connection ends, the first request
  still pending gets a strike if no news came on that connection after it was sent (no reply
  to a pending request, no message not seen before: a replay that a flaky link cuts short is
  news); at :data:`MAX_STRIKES` strikes in a row, or :data:`MAX_DROPS` lost connections in all,
  it is given up (:meth:`lost`) and reported like a refusal, with the code ``abandoned``. An
  ``ERROR frame_too_large`` without id (the server closes the connection after it) gives up
  the largest pending request at once, as ``frame_too_large``, and lowers
  :attr:`ResumeTracker.max_frame` below its size. A refused request (an ERROR with its id) is
  answered: it is never resent;
- *holds*: while the history of a conversation is being fetched (the last messages of a room
  just joined, or the messages a GAP left out), its MESSAGEs are buffered and released together,
  sorted by ``msg_id`` — so each conversation's messages come out in order.

With ``login_history``, a room that a WELCOME brings and that has no mark yet (logging in) gets
its last messages fetched and shown, as after ``join(room, history=...)``.

A conversation gets a mark as soon as possible: on JOINED without one, the tracker asks for the
newest message of the room (HISTORY limit 1) and takes its id — 0 for an empty room — so that a
connection lost before anything was said there still resumes from the right place.

Each call returns a :class:`Step`: events to show, replies that settle pending requests, and new
requests (history) to send now. Nothing here does I/O or knows about time.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from typing import TypeVar

import msgspec

from palaver.client.events import Acknowledged, ClientEvent
from palaver.client.limits import MAX_FRAME, frame_size, refusal
from palaver.client.session import random_id_prefix
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Deleted,
    Edited,
    Error,
    Gap,
    Hello,
    History,
    HistoryPage,
    Joined,
    Left,
    Message,
    Presence,
    Reacted,
    Register,
    Registered,
    ServerMessage,
    Welcome,
    Wire,
)

T = TypeVar("T")
FILL_PAGE = 200  # the largest HISTORY page the server gives
MAX_STRIKES = 3  # connections lost right after a request, with no news, before it is given up
MAX_DROPS = 10  # connections lost while a request was the first one pending, news or not
ABANDONED = "abandoned"  # the code of a request given up that way (the client's own)


def fold(name: str) -> str:
    """Names compare ignoring case (the server's rule)."""
    return name.lower()


class SeenIds:
    """A set of msg_ids kept as sorted, disjoint, closed intervals (a gapless stream is one)."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def add(self, msg_id: int) -> bool:
        """Add ``msg_id``; True if it was new."""
        starts, ends = self._starts, self._ends
        i = bisect.bisect_right(starts, msg_id) - 1  # the interval starting at or before it
        if i >= 0 and ends[i] >= msg_id:
            return False
        joins_left = i >= 0 and ends[i] == msg_id - 1
        joins_right = i + 1 < len(starts) and starts[i + 1] == msg_id + 1
        if joins_left and joins_right:
            ends[i] = ends[i + 1]
            del starts[i + 1], ends[i + 1]
        elif joins_left:
            ends[i] = msg_id
        elif joins_right:
            starts[i + 1] = msg_id
        else:
            starts.insert(i + 1, msg_id)
            ends.insert(i + 1, msg_id)
        return True

    def __contains__(self, msg_id: object) -> bool:
        if not isinstance(msg_id, int):
            return False
        i = bisect.bisect_right(self._starts, msg_id) - 1
        return i >= 0 and self._ends[i] >= msg_id

    @property
    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._starts, self._ends, strict=True))


# What a pending request is for: the user's own, or one the tracker made.

@dataclass(frozen=True, slots=True)
class UserRequest:
    history: int = 0  # for a JOIN: fetch this many of the room's last messages after JOINED


@dataclass(frozen=True, slots=True)
class JoinHistory:
    conversation: str


@dataclass(frozen=True, slots=True)
class Baseline:
    conversation: str


@dataclass(frozen=True, slots=True)
class Fill:
    conversation: str
    gap: Gap


Purpose = UserRequest | JoinHistory | Baseline | Fill


@dataclass(slots=True)
class Step:
    """What to do after one input: show ``events``, settle ``replies``, send ``requests``."""

    events: list[ClientEvent] = field(default_factory=list)
    replies: list[tuple[str, ServerMessage]] = field(default_factory=list)
    requests: list[Wire] = field(default_factory=list)


class ResumeTracker:
    def __init__(
        self,
        nick: str,
        *,
        password: str | None = None,
        id_prefix: str | None = None,
        fill_gaps: bool = True,
        max_frame: int = MAX_FRAME,
        login_history: int = 0,
        member_pages: bool = False,
    ) -> None:
        self.me = nick
        self.member_pages = member_pages  # HELLO says so: a big room's members come in pages
        self.login_history = login_history  # messages to show of each room a WELCOME brings
        self.max_frame = max_frame  # the largest frame to send (lowered by a frame_too_large)
        self.password = password
        self.token: str | None = None
        self.account = False
        self.fill_gaps = fill_gaps
        self.gaps = 0  # GAPs received (filled in, with fill_gaps)
        self.rooms: dict[str, str] = {}  # folded -> as the server spells it
        self.marks: dict[str, int] = {}
        self._seen: dict[str, SeenIds] = {}
        self._pending: dict[str, tuple[Wire, Purpose]] = {}  # insertion order = sending order
        self._holds: dict[str, int] = {}
        self._held: dict[str, list[Message]] = {}
        self._baselining: set[str] = set()
        self._progress = 0  # replies to pending requests and new messages received, ever
        self._sent_at: dict[str, int] = {}  # pending id -> _progress when it was (re)sent
        self._strikes: dict[str, int] = {}  # pending id -> connections lost right after it
        self._drops: dict[str, int] = {}  # pending id -> connections lost while it was first
        # Random per client instance: ids never collide with an earlier run's (same account).
        prefix = id_prefix if id_prefix is not None else random_id_prefix()
        self._ids = (f"{prefix}.{n}" for n in itertools.count(1))

    # ------------------------------------------------------------------ requests

    def next_id(self) -> str:
        return next(self._ids)

    def check(self, message: Wire) -> Error | None:
        """The ERROR the server would answer ``message`` with (a limit broken), or None."""
        return refusal(message, self.max_frame)

    def submit(self, message: Wire, *, history: int = 0) -> Wire:
        """Record ``message`` as pending (giving it a fresh id if it has none); send the result.
        (Check it first: :meth:`check`.)"""
        if message.id is None:
            message = _with_id(message, self.next_id())
        assert message.id is not None
        if message.id in self._pending:
            raise ValueError(f"request id {message.id!r} is already pending")
        self._pending[message.id] = (message, UserRequest(history))
        self._sent_at[message.id] = self._progress
        return message

    def _request(self, message: Wire, purpose: Purpose, step: Step) -> None:
        message = _with_id(message, self.next_id())
        assert message.id is not None
        self._pending[message.id] = (message, purpose)
        self._sent_at[message.id] = self._progress
        step.requests.append(message)

    def lost(self) -> Step:
        """A connection that took the resends ended: strike (and maybe give up) the first
        request still pending if nothing was answered since it was sent on it."""
        step = Step()
        if not self._pending:
            return step
        first = next(iter(self._pending))
        drops = self._drops[first] = self._drops.get(first, 0) + 1
        if self._sent_at.get(first, -1) < self._progress:
            self._strikes.pop(first, None)  # news came after it: the link, not the request
            if drops < MAX_DROPS:
                return step
        else:
            strikes = self._strikes[first] = self._strikes.get(first, 0) + 1
            if strikes < MAX_STRIKES:
                return step
        return self.receive(Error(
            code=ABANDONED, id=first,
            message=f"the connection was lost right after this request {drops} times; "
                    "it is not sent again"))

    @property
    def pending(self) -> list[Wire]:
        """Every request not answered yet, in the order first sent."""
        return [message for message, _ in self._pending.values()]

    @property
    def user_pending(self) -> int:
        return sum(1 for _, purpose in self._pending.values() if isinstance(purpose, UserRequest))

    def hello(self) -> Hello:
        """The HELLO for a new connection: log in or reclaim, rejoin, resume."""
        return Hello(
            version=PROTOCOL_VERSION,
            nick=self.me,
            password=self.password,
            since=dict(self.marks) or None,
            rooms=tuple(self.rooms.values()) or None,
            token=self.token if self.password is None else None,
            member_pages=self.member_pages,
        )

    def welcomed(self, welcome: Welcome) -> Step:
        """A connection's WELCOME: who we are now; a mark asked for each room without one."""
        self.me = welcome.nick
        self.account = welcome.account
        if welcome.token is not None:
            self.token = welcome.token
        step = Step()
        for room in welcome.rooms:
            self.rooms[fold(room)] = room
            conversation = fold(room)
            if (self.login_history > 0 and conversation not in self.marks
                    and conversation not in self._holds):  # logging in: its last messages
                self._hold(conversation)
                limit = min(self.login_history, FILL_PAGE)
                self._request(History(room=room, limit=limit), JoinHistory(conversation), step)
            else:
                self._baseline(room, step)
        for request_id in self._pending:  # the driver resends every one now
            self._sent_at[request_id] = self._progress
        return step

    @property
    def settled(self) -> bool:
        """No request of the user's waits for its reply and no history is being fetched."""
        return not self._holds and self.user_pending == 0

    def ready(self, room: str) -> bool:
        """True when ``room`` has a mark and nothing of it is held back."""
        conversation = fold(room)
        return conversation in self.marks and conversation not in self._holds

    def abandon(self) -> tuple[list[str], list[ClientEvent]]:
        """The client stops: the ids still pending, and every held message (to show now)."""
        ids = list(self._pending)
        self._pending.clear()
        self._sent_at.clear()
        self._strikes.clear()
        self._drops.clear()
        events: list[ClientEvent] = []
        for conversation in list(self._holds):
            events.extend(self._release(conversation, force=True))
        return ids, events

    # ------------------------------------------------------------------ events

    def conversation(self, event: Message | Gap | HistoryPage) -> str:
        """``"#room"`` or ``"@peer"`` (folded) for a message, a GAP or a page."""
        if event.room is not None:
            return fold(event.room)
        if isinstance(event, Message):
            peer = event.to if fold(event.sender) == fold(self.me) else event.sender
            return "@" + fold(peer or event.sender)
        return "@" + fold(event.peer or "")

    def receive(self, event: ServerMessage) -> Step:
        if (isinstance(event, Error) and event.id is None
                and event.code == ErrorCode.FRAME_TOO_LARGE.value and self._pending):
            return self._too_large()
        step = Step()
        taken = self._pending.pop(event.id, None) if event.id is not None else None
        if taken is not None:
            assert event.id is not None
            self._progress += 1
            self._sent_at.pop(event.id, None)
            self._strikes.pop(event.id, None)
            self._drops.pop(event.id, None)
        purpose = taken[1] if taken is not None else None
        if isinstance(purpose, JoinHistory | Baseline | Fill):
            self._internal_reply(event, purpose, step)
            return step
        if taken is not None:
            assert event.id is not None
            step.replies.append((event.id, event))
        if isinstance(event, Message):
            self._message(event, step, acknowledges=taken is not None)
            return step
        if isinstance(event, Welcome):
            return step  # the driver handles the handshake
        if isinstance(event, Gap):
            self.gaps += 1
        if isinstance(event, Gap) and self.fill_gaps:
            conversation = self.conversation(event)
            self._hold(conversation)
            self._fill(conversation, event, event.after, step)
            return step
        if isinstance(event, Edited | Deleted | Reacted) and event.seq is not None:
            self._note_update(event)
        kicked = (isinstance(event, Presence) and event.event == "kick" and event.room
                  and fold(event.nick) == fold(self.me))  # put out: not a room to rejoin
        if isinstance(event, Left) or kicked:
            assert isinstance(event, Left | Presence) and event.room is not None
            self._forget(fold(event.room), step)
        elif isinstance(event, Registered) and taken is not None:
            request = taken[0]
            if isinstance(request, Register):
                self.password, self.account, self.token = request.password, True, None
        elif isinstance(event, Presence) and event.event == "nick" and event.new_nick:
            self._renamed(event.nick, event.new_nick)
        step.events.append(event)
        if isinstance(event, Joined):
            self._joined(event, purpose, step)
        return step

    def _too_large(self) -> Step:
        """``ERROR frame_too_large`` (no id; the server closes the connection next): the
        largest pending request is over the server's limit — the one it refused, or one sent
        after it and larger still. Give it up, as the answer to it, and send nothing as large."""
        sizes = {request_id: frame_size(message) for request_id, (message, _) in
                 self._pending.items()}
        culprit = max(sizes, key=lambda request_id: sizes[request_id])  # the first of equals
        self.max_frame = min(self.max_frame, sizes[culprit] - 1)
        return self.receive(Error(
            code=ErrorCode.FRAME_TOO_LARGE.value, id=culprit,
            message=f"the server refused this request as too long ({sizes[culprit]:,} bytes) "
                    "and closed the connection; it is not sent again"))

    def _message(self, event: Message, step: Step, *, acknowledges: bool) -> None:
        conversation = self.conversation(event)
        if not self._note(conversation, event):
            if acknowledges:
                step.events.append(Acknowledged(event))
            return
        if conversation in self._holds:
            self._held.setdefault(conversation, []).append(event)
        else:
            step.events.append(event)

    def _note(self, conversation: str, event: Message) -> bool:
        """Record ``event`` as received; True if it is new."""
        if event.msg_id > self.marks.get(conversation, -1):
            self.marks[conversation] = event.msg_id
        new = self._seen.setdefault(conversation, SeenIds()).add(event.msg_id)
        self._progress += new
        return new

    def _note_update(self, event: Edited | Deleted | Reacted) -> None:
        """An edit, deletion or reaction with its own id (``seq``): the mark moves past it, so
        the next resume does not send it again (it is not a message: nothing to show twice)."""
        assert event.seq is not None
        if event.room is not None:
            conversation = fold(event.room)
        else:  # a direct message: the other end is its recipient if we sent it
            sender = event.sender or ""
            peer = event.to if event.to and fold(sender) == fold(self.me) else sender
            conversation = "@" + fold(peer)
        if event.seq > self.marks.get(conversation, -1):
            self.marks[conversation] = event.seq

    def _joined(self, event: Joined, purpose: Purpose | None, step: Step) -> None:
        conversation = fold(event.room)
        self.rooms[conversation] = event.room
        if isinstance(purpose, UserRequest) and purpose.history > 0:
            self._hold(conversation)
            limit = min(purpose.history, FILL_PAGE)
            self._request(History(room=event.room, limit=limit), JoinHistory(conversation), step)
        else:
            self._baseline(event.room, step)

    def _baseline(self, room: str, step: Step) -> None:
        """Ask for the newest message of ``room`` (if it has no mark yet): its id is the mark."""
        conversation = fold(room)
        if conversation not in self.marks and conversation not in self._baselining:
            self._baselining.add(conversation)
            self._request(History(room=room, limit=1), Baseline(conversation), step)

    def _internal_reply(
        self, event: ServerMessage, purpose: JoinHistory | Baseline | Fill, step: Step
    ) -> None:
        conversation = purpose.conversation
        if isinstance(purpose, Baseline):
            self._baselining.discard(conversation)
        if not isinstance(event, HistoryPage):  # refused (we left the room, say): stop waiting
            if isinstance(purpose, Fill):
                step.events.append(purpose.gap)  # the user may still fetch it
            step.events.extend(self._release(conversation))
            return
        if isinstance(purpose, Baseline):
            if conversation in self.rooms or conversation.startswith("@"):
                newest = event.messages[-1].msg_id if event.messages else 0
                self.marks[conversation] = max(self.marks.get(conversation, 0), newest)
            return
        if conversation not in self._holds:  # forgotten meanwhile (we left the room)
            return
        before = purpose.gap.before if isinstance(purpose, Fill) else None
        for message in event.messages:
            if (before is None or message.msg_id < before) and self._note(conversation, message):
                self._held.setdefault(conversation, []).append(message)
        if isinstance(purpose, JoinHistory):
            self.marks.setdefault(conversation, 0)
        elif (isinstance(purpose, Fill) and event.more and event.messages
              and event.messages[-1].msg_id < purpose.gap.before - 1):
            self._fill(conversation, purpose.gap, event.messages[-1].msg_id, step)
            return
        step.events.extend(self._release(conversation))

    def _fill(self, conversation: str, gap: Gap, after: int, step: Step) -> None:
        request = History(room=gap.room, peer=gap.peer, after=after, limit=FILL_PAGE)
        self._request(request, Fill(conversation, gap), step)

    # ------------------------------------------------------------------ holds and names

    def _hold(self, conversation: str) -> None:
        self._holds[conversation] = self._holds.get(conversation, 0) + 1

    def _release(self, conversation: str, *, force: bool = False) -> list[ClientEvent]:
        count = self._holds.get(conversation, 0) - 1
        if count > 0 and not force:
            self._holds[conversation] = count
            return []
        self._holds.pop(conversation, None)
        held = sorted(self._held.pop(conversation, []), key=lambda m: m.msg_id)
        return list(held)

    def _forget(self, conversation: str, step: Step) -> None:
        """We left a room: what was held comes out; its marks go (a later JOIN starts anew)."""
        step.events.extend(self._release(conversation, force=True))
        self.rooms.pop(conversation, None)
        self.marks.pop(conversation, None)
        self._seen.pop(conversation, None)

    def _renamed(self, old: str, new: str) -> None:
        if fold(old) == fold(self.me):
            self.me = new
            return
        before, after = "@" + fold(old), "@" + fold(new)
        if before == after:
            return
        _move(self.marks, before, after)
        _move(self._seen, before, after)
        _move(self._holds, before, after)
        _move(self._held, before, after)


def _move(table: dict[str, T], old: str, new: str) -> None:
    if old in table:
        table[new] = table.pop(old)


def _with_id(message: Wire, request_id: str) -> Wire:
    return msgspec.structs.replace(message, id=request_id)


__all__ = ["ABANDONED", "FILL_PAGE", "MAX_DROPS", "MAX_STRIKES", "ResumeTracker", "SeenIds",
           "Step", "fold"]
