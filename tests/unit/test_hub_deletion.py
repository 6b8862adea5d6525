"""The hub's message deletion (DELETE, DELETED), with a memory store deciding as the core's
would (tests/unit/store_harness.py)."""

from __future__ import annotations

import pytest

from palaver.hub.effects import DeleteMessage
from palaver.hub.hub import StoredState, as_message
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Delete,
    Deleted,
    Error,
    GrantOperator,
    Join,
    Say,
    SendDirect,
    ServerMessage,
)
from tests.unit.store_harness import StoreHarness, accounts, done


def error_of(events: list[ServerMessage]) -> Error:
    [event] = events
    assert isinstance(event, Error), event
    return event


def room_with(h: StoreHarness, *nicks: str) -> list[int]:
    """``nicks`` logged in and in #dev (the first made it: its operator)."""
    sids = [h.login(nick) for nick in nicks]
    for sid in sids:
        h.send(sid, Join(room="#dev"))
    h.clear()
    return sids


def test_a_sender_deletes_its_own_message() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(bob, Say(room="#dev", text="oops"))
    h.clear()
    h.send(bob, Delete(id="d", room="#dev", msg_id=1))
    # The deletion is an event of #dev: it takes the next id, 2, as its seq (a resume mark)
    deleted = Deleted(msg_id=1, by="bob", room="#dev", sender="bob", seq=2)
    assert h.take(bob) == [Deleted(id="d", msg_id=1, by="bob", room="#dev", sender="bob",
                                   seq=2)]
    assert h.take(alice) == [deleted]
    [tombstone] = done(h.store.page("#dev")).messages
    assert tombstone.deleted and tombstone.text == ""
    shown = as_message(tombstone)
    assert shown.deleted and shown.text == "" and shown.msg_id == 1 and shown.sender == "bob"


def test_a_room_operator_deletes_anyone_s_message_with_a_reason() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")  # alice made #dev: its operator
    h.send(bob, Say(room="#dev", text="spam"))
    h.clear()
    h.send(alice, Delete(id="d", room="#dev", msg_id=1, reason="spam"))
    assert h.take(bob) == [Deleted(msg_id=1, by="alice", room="#dev", sender="bob",
                                   reason="spam", seq=2)]
    assert done(h.store.page("#dev")).messages[0].deleted


def test_a_member_may_not_delete_someone_else_s_message() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="mine"))
    h.clear()
    effects = h.send(bob, Delete(id="d", room="#dev", msg_id=1))
    [ask] = [e for e in effects if isinstance(e, DeleteMessage)]
    assert ask.sender_key == h.hub._online["bob"].key  # only bob's own, the store decides
    error = error_of(h.take(bob))
    assert (error.code, error.id) == (ErrorCode.NOT_OPERATOR, "d")
    assert h.take(alice) == []
    assert done(h.store.page("#dev")).messages[0].text == "mine"
    h.send(alice, GrantOperator(room="#dev", nick="bob"))
    h.clear()
    h.send(bob, Delete(id="d2", room="#dev", msg_id=1))
    # The refused deletion's id (2) is given out and never used: seqs are not contiguous
    assert h.take(alice) == [Deleted(msg_id=1, by="bob", room="#dev", sender="alice", seq=3)]


def test_a_direct_message_is_deleted_for_both_ends_by_its_sender_only() -> None:
    h = StoreHarness(stored=StoredState(accounts=accounts("alice", "bob")))
    alice, bob = h.account("alice"), h.account("bob")
    other_bob = h.account("bob")
    h.send(alice, SendDirect(to="bob", text="psst"))
    h.clear()
    h.send(bob, Delete(id="no", peer="alice", msg_id=1))
    assert error_of(h.take(bob)).code == ErrorCode.NOT_OPERATOR
    h.send(alice, Delete(id="d", peer="bob", msg_id=1))
    deleted = Deleted(msg_id=1, by="alice", sender="alice", to="bob", seq=3)
    assert h.take(alice) == [Deleted(id="d", msg_id=1, by="alice", sender="alice", to="bob",
                                     seq=3)]
    assert h.take(bob) == [deleted] and h.take(other_bob) == [deleted]


def test_a_guest_s_direct_message_reaches_the_guest_too() -> None:
    h = StoreHarness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(bob, SendDirect(to="alice", text="hi"))
    h.clear()
    h.send(bob, Delete(id="d", peer="alice", msg_id=1))
    assert h.take(alice) == [Deleted(msg_id=1, by="bob", sender="bob", to="alice", seq=2)]


def test_deleting_a_deleted_message_answers_the_asker_only() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(bob, Say(room="#dev", text="oops"))
    h.send(bob, Delete(room="#dev", msg_id=1))
    h.clear()
    h.send(bob, Delete(id="again", room="#dev", msg_id=1))
    assert h.take(bob) == [Deleted(id="again", msg_id=1, by="bob", room="#dev", sender="bob")]
    assert h.take(alice) == []


@pytest.mark.parametrize(("request_", "code", "field"), [
    (Delete(id="x", msg_id=1), ErrorCode.INVALID_FIELD, "room"),
    (Delete(id="x", room="#dev", peer="bob", msg_id=1), ErrorCode.INVALID_FIELD, "room"),
    (Delete(id="x", room="#dev", msg_id=0), ErrorCode.NO_SUCH_MESSAGE, "msg_id"),
    (Delete(id="x", room="#dev", msg_id=2), ErrorCode.NO_SUCH_MESSAGE, "msg_id"),
    (Delete(id="x", room="#elsewhere", msg_id=1), ErrorCode.NOT_IN_ROOM, None),
    (Delete(id="x", room="dev", msg_id=1), ErrorCode.INVALID_ROOM, None),
    (Delete(id="x", peer="nobody", msg_id=1), ErrorCode.NO_SUCH_USER, None),
    (Delete(id="x", room="#dev", msg_id=1, reason="a\nb"), ErrorCode.INVALID_TEXT, "reason"),
    (Delete(id="x", room="#dev", msg_id=1, reason="x" * 201), ErrorCode.INVALID_TEXT,
     "reason"),
])
def test_deletions_refused_by_the_hub(request_: Delete, code: ErrorCode,
                                      field: str | None) -> None:
    h = StoreHarness()
    [alice] = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="one"))
    h.clear()
    effects = h.send(alice, request_)
    assert not any(isinstance(e, DeleteMessage) for e in effects)
    error = error_of(h.take(alice))
    assert (error.code, error.field, error.id) == (code, field, "x")
    assert not done(h.store.page("#dev")).messages[0].deleted


def test_a_message_the_store_does_not_hold_is_no_such_message() -> None:
    h = StoreHarness()
    [alice] = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="one"))
    h.store = type(h.store)()  # the store lost it (or never stored it)
    h.clear()
    h.send(alice, Delete(id="x", room="#dev", msg_id=1))
    error = error_of(h.take(alice))
    assert (error.code, error.id) == (ErrorCode.NO_SUCH_MESSAGE, "x")


def test_a_blank_reason_is_no_reason() -> None:
    h = StoreHarness()
    [alice] = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="one"))
    h.clear()
    h.send(alice, Delete(id="d", room="#dev", msg_id=1, reason="  "))
    [deleted] = h.take(alice)
    assert isinstance(deleted, Deleted) and deleted.reason is None
