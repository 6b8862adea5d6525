"""The hub's read markers (MARK_READ, READ_MARKER, JOINED's read fields), with a memory store
answering as the core would (tests/unit/store_harness.py)."""

from __future__ import annotations

import pytest

from palaver.hub.effects import LoadReadMarkers, SaveReadMarker
from palaver.hub.hub import StoredState, format_ts
from palaver.hub.markers import check_ts
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Error,
    Hello,
    Join,
    Joined,
    Leave,
    MarkRead,
    ReadMarker,
    Register,
    Say,
    SendDirect,
    ServerMessage,
)
from palaver.store.base import StoredMarker, dm_conversation
from tests.unit.hub_harness import token
from tests.unit.store_harness import StoreHarness, accounts, done

TS = "2019-01-04T14:33:26.123Z"


def only(events: list[ServerMessage]) -> ServerMessage:
    [event] = events
    return event


def error_of(events: list[ServerMessage]) -> Error:
    event = only(events)
    assert isinstance(event, Error), event
    return event


def test_a_marker_set_by_time_is_stored_and_told_to_every_session_of_the_user() -> None:
    h = StoreHarness(stored=StoredState(accounts=accounts("alice")))
    first = h.account("alice")
    second = h.account("alice")
    h.send(first, Join(room="#dev"))
    h.send(first, Say(room="#dev", text="one"))
    h.clock.advance(10)
    h.send(first, Say(room="#dev", text="two"))
    h.clear()
    read_to = format_ts(h.clock.now - 5)  # after "one", before "two"
    h.send(first, MarkRead(id="m", room="#dev", ts=read_to))
    marker = ReadMarker(room="#dev", msg_id=1, ts=read_to)
    assert h.take(first) == [ReadMarker(id="m", room="#dev", msg_id=1, ts=read_to)]
    assert h.take(second) == [marker]
    assert done(h.store.read_markers("alice")) == [
        StoredMarker(conversation="#dev", msg_id=1, ts=read_to)]


def test_a_marker_set_by_msg_id_gets_that_message_s_time() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    h.send(alice, Say(room="#dev", text="one"))
    h.clear()
    h.send(alice, MarkRead(id="m", room="#DEV", msg_id=1))
    assert h.take(alice) == [ReadMarker(id="m", room="#dev", msg_id=1,
                                        ts=format_ts(h.clock.now))]


def test_an_older_marker_leaves_it_as_it_is_and_answers_the_asker_only() -> None:
    h = StoreHarness(stored=StoredState(accounts=accounts("alice")))
    first = h.account("alice")
    second = h.account("alice")
    h.send(first, Join(room="#dev"))
    h.send(first, MarkRead(room="#dev", ts="2019-06-01T12:00:00.000Z"))
    h.clear()
    h.send(first, MarkRead(id="old", room="#dev", ts="2019-01-01T00:00:00.000Z"))
    assert h.take(first) == [ReadMarker(id="old", room="#dev", ts="2019-06-01T12:00:00.000Z")]
    assert h.take(second) == []


def test_a_question_is_answered_from_the_hub_without_the_store() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#test"))
    h.send(alice, MarkRead(room="#test", ts=TS))
    h.clear()
    effects = h.send(alice, MarkRead(id="q", room="#test"))
    assert not any(isinstance(e, SaveReadMarker) for e in effects)
    assert h.take(alice) == [ReadMarker(id="q", room="#test", ts=TS)]
    h.send(alice, MarkRead(id="none", room="#nosuchtarget"))
    assert h.take(alice) == [ReadMarker(id="none", room="#nosuchtarget")]
    h.send(alice, MarkRead(id="nobody", peer="nobody"))
    assert h.take(alice) == [ReadMarker(id="nobody", peer="nobody")]


def test_the_marker_is_moved_in_the_hub_at_once() -> None:
    """A question right after a MARK_READ sees it, before the store has answered."""
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#test"))
    h.clear()
    effects = h.hub.handle(alice, MarkRead(room="#test", ts=TS), h.clock.now)
    assert [type(e) for e in effects] == [SaveReadMarker]  # not carried out yet
    h.send(alice, MarkRead(id="q", room="#test"))
    assert h.take(alice) == [ReadMarker(id="q", room="#test", ts=TS)]


def test_joined_carries_the_room_s_marker() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#test"))
    h.send(alice, MarkRead(room="#test", ts=TS))
    h.send(alice, Leave(room="#test"))
    h.clear()
    h.send(alice, Join(id="j", room="#test"))
    joined = only(h.take(alice))
    assert isinstance(joined, Joined) and (joined.read_msg_id, joined.read_ts) == (0, TS)
    h.send(alice, Join(id="j2", room="#other"))
    joined = only(h.take(alice))
    assert isinstance(joined, Joined) and (joined.read_msg_id, joined.read_ts) == (0, None)


def test_an_account_finds_its_markers_at_login() -> None:
    h = StoreHarness(stored=StoredState(accounts=accounts("alice", "bob"),
                                        memberships={"alice": ["#dev"]}))
    dm = dm_conversation("alice", "bob")
    h.account("bob")
    markers = [StoredMarker(conversation="#dev", msg_id=4, ts=TS),
               StoredMarker(conversation=dm, msg_id=2, ts=TS)]
    alice = h.account("alice", markers=markers)
    events = h.take(alice)
    [dev] = [e for e in events if isinstance(e, Joined) and e.room == "#dev"]
    assert (dev.read_msg_id, dev.read_ts) == (4, TS)
    assert ReadMarker(peer="bob", msg_id=2, ts=TS) in events
    second = h.account("alice")  # another session is told the same
    again = h.take(second)
    assert ReadMarker(peer="bob", msg_id=2, ts=TS) in again
    [dev] = [e for e in again if isinstance(e, Joined) and e.room == "#dev"]
    assert dev.read_msg_id == 4


def test_a_guest_back_with_its_token_gets_its_stored_markers() -> None:
    h = StoreHarness()
    alice = h.login("alice")  # token(1)
    h.send(alice, Join(room="#test"))
    h.send(alice, MarkRead(room="#test", ts=TS))
    h.drop(alice)
    assert h.hub._markers == {}
    again = h.open()
    h.send(again, Hello(version=1, nick="alice", token=token(1), rooms=("#test",)))
    loads = [e for e in h.effects if isinstance(e, LoadReadMarkers)]
    assert len(loads) == 1 and loads[0].session == again
    assert h.take(again)[-1] == ReadMarker(room="#test", ts=TS)
    h.send(again, MarkRead(id="q", room="#test"))
    assert h.take(again) == [ReadMarker(id="q", room="#test", ts=TS)]


def test_a_new_guest_loads_nothing() -> None:
    h = StoreHarness()
    h.login("alice")
    assert not any(isinstance(e, LoadReadMarkers) for e in h.effects)


def test_direct_conversation_markers() -> None:
    h = StoreHarness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(bob, SendDirect(to="alice", text="hi"))
    h.clear()
    h.send(alice, MarkRead(id="m", peer="BOB", msg_id=1))
    [event] = h.take(alice)
    assert isinstance(event, ReadMarker) and (event.peer, event.msg_id) == ("bob", 1)
    assert h.take(bob) == []  # bob's marker is bob's


def test_a_guest_who_registers_keeps_its_markers_as_the_account() -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#test"))
    h.send(alice, MarkRead(room="#test", ts=TS))
    h.send(alice, Register(nick="alice", password="correct horse"))
    h.apply(h.hub.account_created(alice, "alice", created=True, request_id=None))
    assert done(h.store.read_markers("alice")) == [StoredMarker(conversation="#test", ts=TS)]
    h.send(alice, MarkRead(id="q", room="#test"))
    assert h.take(alice)[-1] == ReadMarker(id="q", room="#test", ts=TS)


@pytest.mark.parametrize(("request_", "code", "field"), [
    (MarkRead(id="x", ts=TS), ErrorCode.INVALID_FIELD, "room"),
    (MarkRead(id="x", room="#test", peer="bob", ts=TS), ErrorCode.INVALID_FIELD, "room"),
    (MarkRead(id="x", room="#test", ts="not-a-timestamp"), ErrorCode.INVALID_FIELD, "ts"),
    (MarkRead(id="x", room="#test", ts="*"), ErrorCode.INVALID_FIELD, "ts"),
    (MarkRead(id="x", room="#test", ts="2019-13-01T00:00:00Z"), ErrorCode.INVALID_FIELD, "ts"),
    (MarkRead(id="x", room="#test", msg_id=5), ErrorCode.INVALID_FIELD, "msg_id"),
    (MarkRead(id="x", room="#elsewhere", ts=TS), ErrorCode.NOT_IN_ROOM, None),
    (MarkRead(id="x", room="no-hash", ts=TS), ErrorCode.INVALID_ROOM, None),
    (MarkRead(id="x", peer="nobody", ts=TS), ErrorCode.NO_SUCH_USER, None),
])
def test_marks_that_are_refused(request_: MarkRead, code: ErrorCode, field: str | None) -> None:
    h = StoreHarness()
    alice = h.login("alice")
    h.send(alice, Join(room="#test"))
    h.clear()
    effects = h.send(alice, request_)
    assert not any(isinstance(e, SaveReadMarker) for e in effects)
    error = error_of(h.take(alice))
    assert (error.code, error.field, error.id) == (code, field, "x")


@pytest.mark.parametrize(("given", "kept"), [
    ("2019-01-04T14:33:26.123Z", "2019-01-04T14:33:26.123Z"),
    ("2019-01-04T14:33:26Z", "2019-01-04T14:33:26.000Z"),
    ("2019-01-04T14:33:26.1Z", "2019-01-04T14:33:26.100Z"),
    ("2019-01-04T14:33:26.123456789Z", "2019-01-04T14:33:26.123Z"),
])
def test_times_are_kept_to_the_millisecond(given: str, kept: str) -> None:
    assert check_ts(given) == kept


@pytest.mark.parametrize("bad", [
    "", "*", "2019-01-04", "2019-01-04T14:33:26", "2019-02-30T00:00:00Z",
    "2019-01-04T14:33:26+00:00", "2019-01-04 14:33:26Z", "٢٠١٩-01-04T14:33:26Z"])
def test_malformed_times_are_refused(bad: str) -> None:
    with pytest.raises(PeerError) as refused:
        check_ts(bad)
    assert refused.value.code == ErrorCode.INVALID_FIELD and refused.value.field == "ts"
