"""The checks at the end of a soak, over what the members recorded and what PostgreSQL stored.

What is checked (pure functions; run.py reads the rows and passes the records):

- Every acknowledged message is stored exactly once: for each message whose acknowledging
  MESSAGE came back, the row of (sender's account, client id) exists, once, with the id the
  acknowledgement said and the text sent. Else it is *lost* (no row) or *mismatched*.
- No duplicates: no (sender_key, client_id) stored twice, and no text stored twice (each text
  names its sender and number, so a message resent under a new id would show here).
- Every message sent was acknowledged in the end (the senders settle before the audit), and
  nothing is stored that no sender sent.
- The room's ids are dense, 1..N (no edits or reactions here take ids from its counter).
- Every member ends with exactly the stored sequence: each member joined the room before the
  first message was sent and stayed in it (its client resuming with ``since`` after every
  reconnect, and filling a GAP from history), so the messages its client yielded, in the
  order yielded, as (msg_id, sender, text), must equal the room's stored rows ordered by id:
  all of them, each once, none out of order, none not stored. (A member whose client ended for
  good has one segment per client; a later client resumes from the newest message at its
  login, so its segment must be a contiguous run of the stored sequence ending at the last
  one; that member is still reported as a problem.)
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tools.soak.members import Sent


@dataclass(frozen=True)
class Row:
    msg_id: int
    sender_key: str
    sender: str
    client_id: str | None
    text: str


View = tuple[int, str, str]  # (msg_id, sender, text) as a member's client yielded it


@dataclass
class MemberCheck:
    name: str
    shown: int
    ok: bool
    missing: int = 0  # stored, never shown
    repeated: int = 0  # shown more than once
    unknown: int = 0  # shown, not stored (or not as stored)
    out_of_order: bool = False
    segments: int = 1
    example: str = ""


@dataclass
class Audit:
    acked: int = 0
    sent: int = 0
    stored: int = 0
    lost: int = 0
    mismatched: int = 0
    duplicate_client_ids: int = 0
    duplicate_texts: int = 0
    never_acked: int = 0
    stored_unsent: int = 0
    id_holes: int = 0
    members_exact: int = 0
    members: list[MemberCheck] = field(default_factory=list)
    # Over all members: the stored ids some member never showed, and by how many members each
    # was missed (all the members on a node missing the same ids: the node skipped them);
    # showings out of order (an id after a higher one).
    missed_ids: int = 0
    missed_by: dict[int, int] = field(default_factory=dict)  # members -> ids missed by so many
    out_of_order: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def audit(rows: Sequence[Row], sent: Mapping[str, Sequence[Sent]],
          views: Mapping[str, Sequence[Sequence[View]]]) -> Audit:
    """``sent``: each sender's messages (by nick, which is its account's key here);
    ``views``: each member's segments."""
    result = Audit(stored=len(rows))
    problems = result.problems
    by_key: dict[tuple[str, str | None], list[Row]] = {}
    for row in rows:
        by_key.setdefault((row.sender_key, row.client_id), []).append(row)
    sent_keys = set()
    for nick, messages in sent.items():
        for message in messages:
            result.sent += 1
            key = (nick.casefold(), message.client_id)
            sent_keys.add(key)
            found = by_key.get(key, [])
            if message.msg_id is None:
                result.never_acked += 1
                problems.append(f"{message.client_id} was never acknowledged "
                                f"(stored {len(found)} times; refusals {dict(message.refusals)})")
                continue
            result.acked += 1
            if not found:
                result.lost += 1
                problems.append(f"LOST: {message.client_id} acknowledged as "
                                f"#{message.msg_id}, not stored")
            elif found[0].msg_id != message.msg_id or found[0].text != message.text:
                result.mismatched += 1
                problems.append(f"{message.client_id} acknowledged as #{message.msg_id} "
                                f"{message.text!r}, stored as #{found[0].msg_id} "
                                f"{found[0].text!r}")
    for key, found in by_key.items():
        if len(found) > 1:
            result.duplicate_client_ids += len(found) - 1
            problems.append(f"DUPLICATE: {key} stored as {[r.msg_id for r in found]}")
        if key not in sent_keys:
            result.stored_unsent += len(found)
            problems.append(f"stored, never sent: {key} as {[r.msg_id for r in found]}")
    for text, count in Counter(row.text for row in rows).items():
        if count > 1:
            result.duplicate_texts += count - 1
            problems.append(f"DUPLICATE: the text {text!r} stored {count} times")
    ids = [row.msg_id for row in rows]
    if ids:
        result.id_holes = ids[-1] - len(set(ids))
        if result.id_holes or ids != sorted(set(ids)) or ids[0] < 1:
            problems.append(f"the room's ids are not 1..{ids[-1]}: {result.id_holes} holes")
    expected: list[View] = [(row.msg_id, row.sender, row.text) for row in rows]
    missed: Counter[int] = Counter()
    for segments in views.values():
        shown = [view[0] for segment in segments for view in segment]
        if len(segments) == 1:
            missed.update(set(ids) - set(shown))
        result.out_of_order += sum(1 for a, b in itertools.pairwise(shown) if b <= a)
    result.missed_ids = len(missed)
    result.missed_by = dict(sorted(Counter(missed.values()).items()))
    for name, segments in views.items():
        check = check_member(name, segments, expected)
        result.members.append(check)
        if check.ok:
            result.members_exact += 1
        else:
            problems.append(f"member {name}: {check.example}")
    return result


def check_member(name: str, segments: Sequence[Sequence[View]],
                 expected: Sequence[View]) -> MemberCheck:
    """Does what ``name``'s clients yielded equal ``expected`` (see the module's doc)?"""
    shown = [view for segment in segments for view in segment]
    check = MemberCheck(name, len(shown), ok=True, segments=len(segments))
    at = {view[0]: i for i, view in enumerate(expected)}
    stored = set(expected)
    counts = Counter(view[0] for view in shown)
    check.repeated = sum(count - 1 for count in counts.values() if count > 1)
    check.unknown = sum(1 for view in shown if view not in stored)
    ids = [view[0] for view in shown]
    check.out_of_order = any(b <= a for a, b in itertools.pairwise(ids))
    # What it should have shown: everything, or (after a client ended) from each new
    # client's first message on.
    wanted: set[int] = set()
    for index, segment in enumerate(segments):
        if index == 0:
            start = 0
        elif segment and segment[0][0] in at:
            start = at[segment[0][0]]
        else:
            continue
        end = len(expected)
        if index + 1 < len(segments) and segment:
            end = at.get(segment[-1][0], len(expected) - 1) + 1
        wanted.update(view[0] for view in expected[start:end])
    check.missing = len(wanted - set(ids))
    check.ok = (len(segments) == 1 and not check.missing and not check.repeated
                and not check.unknown and not check.out_of_order)
    if not check.ok:
        missing = sorted(wanted - set(ids))[:5]
        check.example = (f"shown {len(shown)} of {len(expected)} in {len(segments)} client(s): "
                         f"missing {check.missing} (e.g. {missing}), repeated {check.repeated}, "
                         f"not as stored {check.unknown}, out of order {check.out_of_order}")
    return check
