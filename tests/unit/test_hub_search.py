"""The hub's full-text search (SEARCH -> SEARCH_RESULTS), with a memory store answering as the
core's would (tests/unit/store_harness.py)."""

from __future__ import annotations

import pytest

from palaver.hub.effects import SearchMessages
from palaver.hub.search import marks, search_words
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Delete,
    Error,
    Join,
    Leave,
    Say,
    Search,
    SearchHit,
    SearchResults,
    SendDirect,
    ServerMessage,
    SetRoomMode,
)
from tests.unit.store_harness import StoreHarness


def ask(h: StoreHarness, sid: int, message: Search) -> list[ServerMessage]:
    h.send(sid, message)
    return h.take(sid)


def results_of(events: list[ServerMessage]) -> SearchResults:
    [event] = events
    assert isinstance(event, SearchResults), event
    return event


def error_of(events: list[ServerMessage]) -> Error:
    [event] = events
    assert isinstance(event, Error), event
    return event


def where(results: SearchResults) -> list[tuple[str | None, str | None, int]]:
    return [(hit.room, hit.peer, hit.msg_id) for hit in results.hits]


def test_a_search_finds_substrings_in_one_s_rooms_and_direct_messages_newest_first() -> None:
    h = StoreHarness()
    alice, bob, carol = (h.login(n) for n in ("alice", "bob", "carol"))
    for sid in (alice, bob):
        h.send(sid, Join(room="#dev"))
    h.send(carol, Join(room="#other"))
    h.send(bob, Say(room="#dev", text="Deploying on Friday"))
    h.send(carol, Say(room="#other", text="deploy secrets"))  # alice is not in #other
    h.send(bob, SendDirect(to="alice", text="redeploy please"))
    h.send(carol, SendDirect(to="bob", text="deploy between us"))  # not alice's
    h.clear()
    h.send(alice, Search(id="s", query="DEPLOY"))
    results = results_of(h.take(alice))
    assert results.id == "s" and results.query == "DEPLOY" and results.next is None
    assert where(results) == [(None, "bob", 1), ("#dev", None, 1)]
    assert results.hits[0] == SearchHit(msg_id=1, sender="bob", ts=results.hits[0].ts,
                                        text="redeploy please", peer="bob", marks=((2, 8),))
    assert results.hits[1].marks == ((0, 6),)
    assert h.take(bob) == []


def test_a_search_of_one_room_or_one_direct_conversation() -> None:
    h = StoreHarness()
    alice, bob = h.login("alice"), h.login("bob")
    for sid in (alice, bob):
        h.send(sid, Join(room="#dev"))
        h.send(sid, Join(room="#ops"))
    h.send(bob, Say(room="#dev", text="needle one"))
    h.send(bob, Say(room="#ops", text="needle two"))
    h.send(bob, SendDirect(to="alice", text="needle three"))
    h.clear()
    h.send(alice, Search(query="needle", room="#OPS"))
    assert where(results_of(h.take(alice))) == [("#ops", None, 1)]
    h.send(alice, Search(query="needle", peer="BOB"))
    assert where(results_of(h.take(alice))) == [(None, "bob", 1)]


def test_a_room_one_is_not_in_is_not_searched() -> None:
    h = StoreHarness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(bob, Join(room="#secret"))
    h.send(bob, SetRoomMode(room="#secret", private=True))
    h.send(bob, Say(room="#secret", text="the hidden plan"))
    h.send(alice, Join(room="#secret"))
    h.send(alice, Leave(room="#secret"))
    h.clear()
    error = error_of(ask(h, alice, Search(id="s", query="hidden", room="#secret")))
    assert (error.code, error.id) == (ErrorCode.NO_SUCH_ROOM, "s")
    assert results_of(ask(h, alice, Search(query="hidden"))).hits == ()


def test_pages_with_the_next_cursor() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    for n in range(1, 6):
        h.send(alice, Say(room="#dev", text=f"item {n}"))
    h.clear()
    first = results_of(ask(h, alice, Search(query="item", limit=2)))
    assert [hit.msg_id for hit in first.hits] == [5, 4] and first.next is not None
    second = results_of(ask(h, alice, Search(query="item", limit=2,
                                                      before=first.next)))
    assert [hit.msg_id for hit in second.hits] == [3, 2] and second.next is not None
    last = results_of(ask(h, alice, Search(query="item", limit=2,
                                                    before=second.next)))
    assert [hit.msg_id for hit in last.hits] == [1] and last.next is None


def test_a_deleted_message_is_not_found() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    h.send(alice, Say(room="#dev", text="my password is swordfish"))
    h.send(alice, Delete(room="#dev", msg_id=1))
    h.clear()
    assert results_of(ask(h, alice, Search(query="swordfish"))).hits == ()


@pytest.mark.parametrize(("query", "why"), [
    ("", "at least one word"), ("   ", "at least one word"), ("ok go", "'ok' is not"),
    ("a1 b2 c3 d4 e5 f6 g7 h8 i9".replace(" ", "x "), "at most 8"),
    ("tab\x07bell", "control"),
])
def test_a_bad_query_is_invalid_field_query(query: str, why: str) -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.clear()
    effects = h.send(alice, Search(id="s", query=query))
    assert not any(isinstance(e, SearchMessages) for e in effects)
    error = error_of(h.take(alice))
    assert (error.code, error.field, error.id) == (ErrorCode.INVALID_FIELD, "query", "s")
    assert why in error.message


@pytest.mark.parametrize("before", ["abc", "0", "-1", "1" * 20, "١٢"])
def test_a_bad_cursor_is_invalid_field_before(before: str) -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.clear()
    error = error_of(ask(h, alice, Search(query="word", before=before)))
    assert (error.code, error.field) == (ErrorCode.INVALID_FIELD, "before")


def test_room_and_with_together_are_refused_and_an_unknown_nick_is_no_such_user() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.clear()
    error = error_of(ask(h, alice, Search(query="word", room="#a", peer="bob")))
    assert error.code == ErrorCode.INVALID_FIELD
    error = error_of(ask(h, alice, Search(query="word", peer="nobody")))
    assert error.code == ErrorCode.NO_SUCH_USER


def test_words_are_split_deduplicated_and_checked() -> None:
    assert search_words("  foo bar\tfoo ") == ("foo", "bar")
    with pytest.raises(PeerError):
        search_words("fo")


def test_marks_are_merged_code_point_ranges() -> None:
    assert marks("Hello hello HELLO", ["hello"]) == ((0, 5), (6, 11), (12, 17))
    assert marks("abcdef", ["abcd", "cdef"]) == ((0, 6),)
    assert marks("日本語のテキスト", ["テキス"]) == ((4, 7),)
    assert marks("İstanbul", ["tan"]) == ()  # folding changes the length: no marks
    assert len(marks("aaa " * 100, ["aaa"])) == 32
