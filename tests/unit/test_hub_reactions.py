"""The hub's reactions (REACT, REACTED), with a memory store deciding as the core's would
(tests/unit/store_harness.py)."""

from __future__ import annotations

import pytest

from palaver.hub.effects import SaveReaction
from palaver.hub.reactions import check_reaction
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Delete,
    Error,
    Join,
    Mute,
    Quote,
    React,
    Reacted,
    Say,
    SendDirect,
    ServerMessage,
)
from palaver.store.base import MAX_REACTIONS_PER_MESSAGE
from tests.unit.store_harness import StoreHarness, done


def error_of(events: list[ServerMessage]) -> Error:
    [event] = events
    assert isinstance(event, Error), event
    return event


def room_with(h: StoreHarness, *nicks: str) -> list[int]:
    sids = [h.login(nick) for nick in nicks]
    for sid in sids:
        h.send(sid, Join(room="#dev"))
    h.clear()
    return sids


def test_a_reaction_goes_to_the_room_and_answers_the_asker() -> None:
    h = StoreHarness()
    alice, bob, carol = room_with(h, "alice", "bob", "carol")
    h.send(alice, Say(room="#dev", text="shipped it"))
    h.clear()
    h.send(bob, React(id="r", room="#dev", msg_id=1, reaction="🎉"))
    quote = Quote(msg_id=1, sender="alice", text="shipped it")
    event = Reacted(msg_id=1, by="bob", reaction="🎉", room="#dev", sender="alice", quote=quote,
                    seq=2)
    assert h.take(bob) == [Reacted(id="r", msg_id=1, by="bob", reaction="🎉", room="#dev",
                                   sender="alice", quote=quote, seq=2)]
    assert h.take(alice) == [event] and h.take(carol) == [event]
    assert done(h.store.reactions("#dev", [1])) == {1: {"🎉": ("bob",)}}


def test_adding_twice_is_adding_once_and_tells_only_the_asker() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="hi"))
    h.send(bob, React(room="#dev", msg_id=1, reaction="👍"))
    h.clear()
    h.send(bob, React(id="again", room="#dev", msg_id=1, reaction="👍"))
    [answer] = h.take(bob)
    assert isinstance(answer, Reacted) and answer.id == "again"
    assert h.take(alice) == []
    assert done(h.store.reactions("#dev", [1])) == {1: {"👍": ("bob",)}}


def test_taking_a_reaction_back() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="hi"))
    h.send(bob, React(room="#dev", msg_id=1, reaction="👍"))
    h.clear()
    h.send(bob, React(room="#dev", msg_id=1, reaction="👍", remove=True))
    [event] = h.take(alice)
    assert isinstance(event, Reacted) and event.remove and event.by == "bob"
    assert done(h.store.reactions("#dev", [1])) == {}


def test_a_reaction_to_a_direct_message_reaches_both_ends_only() -> None:
    h = StoreHarness()
    alice, bob, carol = room_with(h, "alice", "bob", "carol")
    h.send(alice, SendDirect(to="bob", text="psst"))
    h.clear()
    h.send(bob, React(id="r", peer="alice", msg_id=1, reaction="👀"))
    [theirs] = h.take(alice)
    assert isinstance(theirs, Reacted)
    assert (theirs.by, theirs.sender, theirs.to, theirs.room) == ("bob", "alice", "bob", None)
    [answer] = h.take(bob)
    assert isinstance(answer, Reacted) and answer.id == "r"
    assert h.take(carol) == []


@pytest.mark.parametrize("msg_id", [0, 2, 99])
def test_no_reaction_to_a_message_never_given_out(msg_id: int) -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="hi"))
    h.clear()
    effects = h.send(bob, React(id="r", room="#dev", msg_id=msg_id, reaction="👍"))
    assert not any(isinstance(e, SaveReaction) for e in effects)
    error = error_of(h.take(bob))
    assert (error.code, error.id, error.field) == (ErrorCode.NO_SUCH_MESSAGE, "r", "msg_id")


def test_no_reaction_to_a_deleted_message() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="hi"))
    h.send(alice, Delete(room="#dev", msg_id=1))
    h.clear()
    h.send(bob, React(id="r", room="#dev", msg_id=1, reaction="👍"))
    error = error_of(h.take(bob))
    assert (error.code, error.id) == (ErrorCode.MESSAGE_DELETED, "r")
    assert h.take(alice) == []


def test_a_message_takes_at_most_twenty_different_reactions() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="vote"))
    for n in range(MAX_REACTIONS_PER_MESSAGE):
        h.send(bob, React(room="#dev", msg_id=1, reaction=f"r{n}"))
    h.clear()
    h.send(bob, React(id="r", room="#dev", msg_id=1, reaction="one-more"))
    error = error_of(h.take(bob))
    assert (error.code, error.field) == (ErrorCode.TOO_MANY_REACTIONS, "reaction")
    h.send(alice, React(room="#dev", msg_id=1, reaction="r3"))  # joining one is fine
    assert isinstance(h.take(alice)[0], Reacted)


def test_the_room_s_speaking_rules_apply() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")  # alice: #dev's operator
    h.send(alice, Say(room="#dev", text="hi"))
    h.send(alice, Mute(room="#dev", nick="bob"))
    h.clear()
    h.send(bob, React(id="r", room="#dev", msg_id=1, reaction="👍"))
    assert error_of(h.take(bob)).code == ErrorCode.MUTED


def test_a_room_one_is_not_in() -> None:
    h = StoreHarness()
    alice, = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="hi"))
    bob = h.login("bob")
    h.clear()
    h.send(bob, React(id="r", room="#dev", msg_id=1, reaction="👍"))
    assert error_of(h.take(bob)).code in (ErrorCode.NOT_IN_ROOM, ErrorCode.NO_SUCH_ROOM)


def test_exactly_one_of_room_and_with() -> None:
    h = StoreHarness()
    alice, = room_with(h, "alice")
    h.send(alice, React(id="r", msg_id=1, reaction="👍"))
    assert error_of(h.take(alice)).code == ErrorCode.INVALID_FIELD
    h.send(alice, React(id="r", peer="nobody", msg_id=1, reaction="👍"))
    assert error_of(h.take(alice)).code == ErrorCode.NO_SUCH_USER


@pytest.mark.parametrize("reaction", ["👍", "+1", "👨‍👩‍👧", "❤️", "x" * 32, "🇫🇷"])
def test_reactions_that_are_fine(reaction: str) -> None:
    assert check_reaction(reaction) == reaction


@pytest.mark.parametrize("reaction", ["", "x" * 33, "two words", "tab\t", "a\u202eb", "\x07"])
def test_reactions_that_are_refused(reaction: str) -> None:
    with pytest.raises(PeerError) as refused:
        check_reaction(reaction)
    assert refused.value.code == ErrorCode.INVALID_TEXT and refused.value.field == "reaction"
