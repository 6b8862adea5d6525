"""The sans-I/O bookkeeping of the reconnecting client: marks, dedupe, pending, holds, backoff."""

from __future__ import annotations

import itertools
import math
import re
import string
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.client.backoff import Backoff
from palaver.client.events import Acknowledged
from palaver.client.limits import frame_size
from palaver.client.session import ClientSession
from palaver.client.tracker import ResumeTracker, SeenIds
from palaver.protocol.messages import (
    Deleted,
    Edited,
    Error,
    Gap,
    Hello,
    History,
    HistoryPage,
    Join,
    Joined,
    Left,
    Message,
    Presence,
    Reacted,
    Register,
    Registered,
    Say,
    SendDirect,
    Welcome,
)

TS = "2026-01-01T00:00:00.000Z"


def msg(msg_id: int, *, room: str | None = "#dev", sender: str = "alice", to: str | None = None,
        text: str | None = None, id: str | None = None) -> Message:
    return Message(id=id, msg_id=msg_id, ts=TS, sender=sender, text=text or f"t{msg_id}",
                   room=None if to else room, to=to)


def welcome(nick: str = "bob", rooms: tuple[str, ...] = ("#lobby",), token: str | None = "tok",
            account: bool = False) -> Welcome:
    return Welcome(version=1, nick=nick, server="s", rooms=rooms, motd="", token=token,
                   account=account)


def tracker(**options: object) -> ResumeTracker:
    t = ResumeTracker("bob", id_prefix="p", **options)  # type: ignore[arg-type]
    t.welcomed(welcome(rooms=()))
    return t


def in_dev(t: ResumeTracker, mark: int = 0) -> None:
    """Make ``t`` a member of #dev with mark ``mark``."""
    step = t.receive(Joined(room="#dev", members=("bob",), topic=""))
    (baseline,) = step.requests
    assert isinstance(baseline, History) and baseline.limit == 1
    page = (msg(mark),) if mark else ()
    t.receive(HistoryPage(id=baseline.id, messages=page, more=False, room="#dev"))
    assert t.marks["#dev"] == mark


# --------------------------------------------------------------------------- SeenIds


@given(st.lists(st.integers(0, 60), max_size=80))
def test_seen_ids_is_a_set(ids: list[int]) -> None:
    seen, model = SeenIds(), set()
    for i in ids:
        assert seen.add(i) == (i not in model)
        model.add(i)
    assert all((i in seen) == (i in model) for i in range(-1, 62))
    intervals = seen.intervals
    assert all(a <= b for a, b in intervals)
    assert all(b1 + 1 < a2 for (_, b1), (a2, _) in itertools.pairwise(intervals))


def test_a_gapless_stream_is_one_interval() -> None:
    seen = SeenIds()
    for i in [3, 1, 2, 5, 4]:
        seen.add(i)
    assert seen.intervals == [(1, 5)]


# --------------------------------------------------------------------------- marks and dedupe


def test_marks_per_room_and_dm_peer_and_resume_hello() -> None:
    t = tracker()
    in_dev(t, 4)
    t.receive(msg(5))
    t.receive(msg(7, to="bob", sender="Carol"))  # from carol to me: conversation @carol
    t.receive(msg(9, to="Dave", sender="bob"))   # from me to dave: conversation @dave
    assert t.marks == {"#dev": 5, "@carol": 7, "@dave": 9}
    hello = t.hello()
    assert hello == Hello(version=1, nick="bob", since={"#dev": 5, "@carol": 7, "@dave": 9},
                          rooms=("#dev",), token="tok")


def test_changes_with_a_seq_move_the_marks_and_are_shown() -> None:
    t = tracker()
    in_dev(t, 4)
    t.receive(msg(5))
    t.receive(msg(6, to="bob", sender="Carol"))
    edited = Edited(msg_id=5, text="fixed", edited_at="t", by="alice", room="#dev",
                    sender="alice", seq=8)
    assert t.receive(edited).events == [edited]
    t.receive(Reacted(msg_id=6, by="bob", reaction="ok", sender="Carol", to="bob", seq=9))
    t.receive(Deleted(msg_id=2, by="bob", sender="bob", to="Dave", seq=3))  # I sent it to dave
    t.receive(Deleted(msg_id=1, by="alice", room="#dev", sender="alice"))  # no seq: no mark
    t.receive(Edited(msg_id=5, text="older", edited_at="t", by="alice", room="#dev",
                     sender="alice", seq=7))  # a mark never goes back
    assert t.marks == {"#dev": 8, "@carol": 9, "@dave": 3}


def test_a_message_is_shown_once_and_a_duplicate_ack_settles_its_request() -> None:
    t = tracker()
    in_dev(t)
    sent = t.submit(Say(room="#dev", text="hi"))
    assert sent.id == "p.2"  # p.1 was the baseline request
    first = t.receive(msg(1, sender="bob", text="hi"))  # the replay, without the id
    assert first.events == [msg(1, sender="bob", text="hi")] and first.replies == []
    ack = msg(1, sender="bob", text="hi", id="p.2")
    again = t.receive(ack)  # the resend's acknowledgement: the same message
    assert again.events == [Acknowledged(ack)]
    assert again.replies == [("p.2", ack)]
    assert t.receive(msg(1, sender="bob", text="hi")).events == []
    assert t.pending == []


def test_pending_requests_keep_their_order_and_ids_until_answered() -> None:
    t = tracker()
    a = t.submit(Say(room="#dev", text="a"))
    b = t.submit(SendDirect(to="carol", text="b"))
    c = t.submit(Say(room="#dev", text="c", id="mine"))
    assert [m.id for m in t.pending] == [a.id, b.id, "mine"]
    t.receive(Error(id=b.id, code="no_such_user", message="nobody"))
    assert t.pending == [a, c]
    with pytest.raises(ValueError, match="already pending"):
        t.submit(Say(room="#dev", text="again", id="mine"))


def test_ids_differ_between_instances() -> None:
    one, two = ResumeTracker("bob"), ResumeTracker("bob")
    assert one.next_id() != two.next_id()


def _random_bits(request_id: str, alphabet: str) -> float:
    """Bits of randomness in the prefix of ``prefix<sep>counter`` drawn from ``alphabet``."""
    prefix = re.fullmatch(r"(.*?)[.-]?1", request_id)
    assert prefix is not None, request_id
    return sum(1 for c in prefix.group(1) if c in alphabet) * math.log2(len(alphabet))


URLSAFE = string.ascii_letters + string.digits + "-_"


@pytest.mark.parametrize("make", [lambda: ResumeTracker("bob").next_id(),
                                  lambda: ClientSession().next_id()])
def test_request_ids_carry_96_random_bits_so_no_two_clients_ever_share_one(
    make: Callable[[], str],
) -> None:
    # The server keeps a sender's ids forever (per account): a bot that reconnects every
    # minute for years makes millions of clients; 32 or 48 random bits would meet.
    first, second = make(), make()
    assert first != second and first.endswith("1") and second.endswith("1")
    assert _random_bits(first, URLSAFE) >= 96
    assert len(first) <= 64  # the protocol's limit for an id, with room for the counter


def test_a_new_request_after_a_reconnect_has_a_new_id_and_a_resend_the_same() -> None:
    t = tracker()
    pending = t.submit(Say(room="#dev", text="in flight"))
    answered = t.submit(Say(room="#dev", text="answered"))
    t.receive(msg(1, sender="bob", text="answered", id=answered.id))
    t.welcomed(welcome(rooms=()))  # a new connection
    assert t.pending == [pending]  # resent with its id
    fresh = t.submit(Say(room="#dev", text="new"))
    assert fresh.id not in {pending.id, answered.id}


def test_register_switches_to_logging_in() -> None:
    t = tracker()
    request = t.submit(Register(nick="bob", password="secret-pw"))
    t.receive(Registered(id=request.id, nick="bob"))
    assert (t.password, t.account, t.token) == ("secret-pw", True, None)
    assert t.hello().password == "secret-pw" and t.hello().token is None


def test_nick_changes_rename_me_and_dm_conversations() -> None:
    t = tracker()
    t.receive(msg(3, to="bob", sender="carol"))
    t.receive(Presence(nick="carol", event="nick", new_nick="Caz"))
    t.receive(Presence(nick="bob", event="nick", new_nick="rob"))
    assert t.me == "rob" and t.marks == {"@caz": 3}
    assert t.receive(msg(3, to="rob", sender="Caz")).events == []  # still the same one


def test_leaving_a_room_forgets_its_mark() -> None:
    t = tracker()
    in_dev(t, 8)
    t.receive(Left(room="#dev"))
    assert "#dev" not in t.marks and "#dev" not in t.rooms
    assert t.hello().since is None


def test_welcome_asks_for_a_mark_of_each_room_once() -> None:
    t = ResumeTracker("bob", id_prefix="p")
    step = t.welcomed(welcome(rooms=("#lobby", "#dev")))
    assert [(r.room, r.limit) for r in step.requests] == [("#lobby", 1), ("#dev", 1)]
    assert t.receive(Joined(room="#lobby", members=(), topic="")).requests == []
    assert not t.ready("#lobby")
    t.receive(HistoryPage(id=step.requests[0].id, messages=(), more=False, room="#lobby"))
    assert t.ready("#lobby") and t.marks["#lobby"] == 0


# --------------------------------------------------------------------------- holds


def test_join_with_history_holds_newer_messages_until_the_page() -> None:
    t = tracker()
    join = t.submit(Join(room="#dev"), history=50)
    joined = Joined(id=join.id, room="#dev", members=("bob",), topic="")
    step = t.receive(joined)
    assert step.events == [joined] and step.replies == [(join.id, joined)]
    (history,) = step.requests
    assert history == History(id=history.id, room="#dev", limit=50)
    assert t.receive(msg(12)).events == []  # live, but newer than the page: held
    assert not t.settled
    page = HistoryPage(id=history.id, messages=(msg(10), msg(11), msg(12)), more=True,
                       room="#dev")
    assert t.receive(page).events == [msg(10), msg(11), msg(12)]
    assert t.settled and t.marks["#dev"] == 12


def test_a_gap_is_filled_page_by_page_before_the_replay_is_shown() -> None:
    t = tracker()
    in_dev(t, 5)
    step = t.receive(Gap(room="#dev", after=5, before=400))
    (fill,) = step.requests
    assert step.events == [] and fill == History(id=fill.id, room="#dev", after=5, limit=200)
    for n in range(400, 403):
        assert t.receive(msg(n)).events == []  # the replay (and live) wait behind the fill
    first = HistoryPage(id=fill.id, messages=tuple(msg(n) for n in range(6, 206)), more=True,
                        room="#dev")
    step = t.receive(first)
    (fill2,) = step.requests
    assert step.events == [] and fill2.after == 205  # type: ignore[attr-defined]
    second = HistoryPage(id=fill2.id, messages=tuple(msg(n) for n in range(206, 406)),
                         more=True, room="#dev")
    step = t.receive(second)
    assert step.requests == []
    assert [m.msg_id for m in step.events] == list(range(6, 403))  # type: ignore[union-attr]
    assert t.receive(msg(403)).events == [msg(403)]


def test_without_filling_the_gap_is_shown() -> None:
    t = tracker(fill_gaps=False)
    in_dev(t, 5)
    gap = Gap(room="#dev", after=5, before=400)
    assert t.receive(gap).events == [gap]


def test_a_refused_fill_shows_the_gap_and_releases_the_hold() -> None:
    t = tracker()
    in_dev(t, 5)
    gap = Gap(room="#dev", after=5, before=9)
    (fill,) = t.receive(gap).requests
    t.receive(msg(9))
    step = t.receive(Error(id=fill.id, code="unavailable", message="later"))
    assert step.events == [gap, msg(9)]


def test_abandon_returns_pending_ids_and_held_messages() -> None:
    t = tracker()
    join = t.submit(Join(room="#dev"), history=5)
    t.receive(Joined(id=join.id, room="#dev", members=(), topic=""))
    t.receive(msg(3))
    ids, held = t.abandon()
    assert len(ids) == 1 and held == [msg(3)] and t.pending == []


# --------------------------------------------------------------------------- backoff


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    backoff = Backoff(initial=0.1, maximum=1.0, attempts=5)
    assert [backoff.delay(n, 0.0) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert [backoff.delay(n, 0.999999) for n in (1, 4)] == pytest.approx([0.1, 0.8])
    assert backoff.delay(5, 0.0) == backoff.delay(500, 0.0) == 0.5  # capped, never overflows
    assert not backoff.gives_up(5) and backoff.gives_up(6)
    assert not Backoff().gives_up(10**9)


@pytest.mark.parametrize("args", [(0, 1), (2, 1), (0.1, 1, 0)])
def test_backoff_refuses_nonsense(args: tuple[float, ...]) -> None:
    with pytest.raises(ValueError):
        Backoff(*args)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- never resent for ever


def test_a_refused_request_is_answered_and_never_resent() -> None:
    t = tracker()
    bad = t.submit(Say(room="#dev", text="x"))
    t.receive(Error(id=bad.id, code="not_in_room", message="not in #dev"))
    assert t.pending == []
    t.welcomed(welcome(rooms=()))  # a new connection resends what is pending: nothing
    assert t.pending == []


def test_frame_too_large_without_id_gives_up_the_largest_pending_request() -> None:
    t = tracker()
    small = t.submit(Say(room="#dev", text="small"))
    big = t.submit(Say(room="#dev", text="y" * 3_000))
    after = t.submit(Say(room="#dev", text="after"))
    step = t.receive(Error(code="frame_too_large", message="frame exceeds the limit of 2048"))
    (event,) = step.events
    assert isinstance(event, Error)
    assert (event.id, event.code) == (big.id, "frame_too_large")
    assert "not sent again" in event.message
    assert step.replies == [(big.id, event)]
    assert t.pending == [small, after]  # resent on the next connection, the big one not
    assert t.max_frame == frame_size(big) - 1  # nothing as large is sent again
    assert t.check(Say(room="#dev", text="z" * 3_000, id=big.id)) is not None
    assert t.check(Say(room="#dev", text="z" * 100, id="n")) is None


def test_frame_too_large_with_nothing_pending_is_shown_as_it_came() -> None:
    t = tracker()
    refusal = Error(code="frame_too_large", message="frame exceeds the limit")
    assert t.receive(refusal).events == [refusal]


def test_a_request_the_connection_keeps_dying_on_is_given_up_after_three_strikes() -> None:
    t = tracker()
    ok = t.submit(Say(room="#dev", text="fine"))
    poison = t.submit(Say(room="#dev", text="poison"))
    t.receive(msg(1, sender="bob", text="fine", id=ok.id))  # answered after poison was sent
    assert t.lost().events == []  # the link, maybe: no strike
    for _ in range(2):  # each new connection resends it, and dies with nothing answered
        t.welcomed(welcome(rooms=()))
        assert t.lost().events == [] and t.pending == [poison]
    t.welcomed(welcome(rooms=()))
    step = t.lost()
    (event,) = step.events
    assert isinstance(event, Error)
    assert (event.id, event.code) == (poison.id, "abandoned")
    assert step.replies == [(poison.id, event)]
    assert t.pending == []


def test_an_answer_after_a_request_clears_its_strikes() -> None:
    t = tracker()
    first = t.submit(Say(room="#dev", text="a"))
    for _ in range(2):
        t.welcomed(welcome(rooms=()))
        t.lost()
    t.welcomed(welcome(rooms=()))
    second = t.submit(Say(room="#dev", text="b"))
    t.receive(msg(2, sender="bob", text="b", id=second.id))  # the link works after all
    assert t.lost().events == []
    for _ in range(2):
        t.welcomed(welcome(rooms=()))
        assert t.lost().events == []
    assert t.pending == [first]


def test_an_abandoned_internal_request_releases_its_hold() -> None:
    t = tracker()
    t.submit(Join(room="#dev"), history=5)
    join_id = t.pending[0].id
    step = t.receive(Joined(id=join_id, room="#dev", members=("bob",), topic=""))
    (_page,) = step.requests
    held = t.receive(msg(7))
    assert held.events == []  # held until the page
    for _ in range(3):
        t.welcomed(welcome(rooms=()))
        step = t.lost()
    assert step.events == [msg(7)] and t.pending == []


def test_news_on_each_connection_is_no_strike_but_ten_drops_give_up() -> None:
    t = tracker()
    in_dev(t)
    stuck = t.submit(Say(room="#dev", text="stuck"))
    for n in range(1, 10):  # each connection replays a new message, then dies: a flaky link
        t.welcomed(welcome(rooms=("#dev",)))
        t.receive(msg(n))
        assert t.lost().events == [] and t.pending == [stuck]
    t.welcomed(welcome(rooms=("#dev",)))
    t.receive(msg(10))
    (event,) = t.lost().events
    assert isinstance(event, Error) and (event.id, event.code) == (stuck.id, "abandoned")


def test_login_history_fetches_each_welcomed_rooms_last_messages_once() -> None:
    t = ResumeTracker("bob", id_prefix="p", login_history=5)
    step = t.welcomed(welcome(rooms=("#dev",)))
    (page_request,) = step.requests
    assert isinstance(page_request, History) and (page_request.room, page_request.limit) == (
        "#dev", 5)
    assert t.receive(msg(9)).events == []  # live, held until the page
    released = t.receive(HistoryPage(id=page_request.id, messages=(msg(7), msg(8), msg(9)),
                                     more=False, room="#dev"))
    assert released.events == [msg(7), msg(8), msg(9)]
    assert t.marks["#dev"] == 9 and t.ready("#dev")
    assert t.welcomed(welcome(rooms=("#dev",))).requests == []  # a reconnect: it has a mark


def test_hello_says_member_pages_when_asked() -> None:
    """A client that fetches a big room's member pages (palaver chat) says so in every HELLO;
    by default the library does not, and gets whole lists (docs/protocol.md §21)."""
    assert ResumeTracker("bob").hello().member_pages is False
    assert ResumeTracker("bob", member_pages=True).hello().member_pages is True
