"""The hub's message edits (EDIT, EDITED, EDITS, EDIT_LIST), with a memory store deciding as
the core's would (tests/unit/store_harness.py)."""

from __future__ import annotations

from palaver.hub import HubConfig
from palaver.hub.effects import EditMessage
from palaver.hub.hub import as_message, format_ts
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Delete,
    Edit,
    Edited,
    EditList,
    Error,
    GrantOperator,
    Join,
    ListEdits,
    MessageVersion,
    Mute,
    Say,
    SendDirect,
    ServerMessage,
)
from tests.unit.store_harness import StoreHarness, done


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


def test_a_sender_edits_its_own_message_and_everyone_sees_it() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(bob, Say(room="#dev", text="teh build is red"))
    sent_at = format_ts(h.clock.now)
    h.clock.advance(30)
    h.clear()
    h.send(bob, Edit(id="e", room="#dev", msg_id=1, text="the build is red"))
    edited_at = format_ts(h.clock.now)
    edited = Edited(msg_id=1, text="the build is red", edited_at=edited_at, by="bob",
                    room="#dev", sender="bob", seq=2)
    assert h.take(bob) == [Edited(id="e", msg_id=1, text="the build is red",
                                  edited_at=edited_at, by="bob", room="#dev", sender="bob",
                                  seq=2)]
    assert h.take(alice) == [edited]
    [record] = done(h.store.page("#dev")).messages
    shown = as_message(record)  # what HISTORY and replays send
    assert (shown.msg_id, shown.text, shown.edited_at, shown.ts) == (
        1, "the build is red", edited_at, sent_at)
    # The edit is an event of #dev: it took the next id as its seq, so a resume replays it
    assert h.hub._last_id["#dev"] == 2 and h.hub._committed["#dev"] == 2
    [update] = done(h.store.updates("#dev", after=1, upto=2, limit=10)).updates
    assert (update.seq, update.msg_id, update.kind, update.value) == (
        2, 1, "edit", "the build is red")


def test_nobody_edits_someone_else_s_message_not_even_an_operator() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")  # alice: #dev's operator
    h.send(bob, Say(room="#dev", text="mine"))
    h.clear()
    effects = h.send(alice, Edit(id="e", room="#dev", msg_id=1, text="hers now"))
    [ask] = [e for e in effects if isinstance(e, EditMessage)]
    assert ask.sender_key == h.hub._online["alice"].key  # only alice's own, the store decides
    error = error_of(h.take(alice))
    assert (error.code, error.id, error.field) == (ErrorCode.NOT_SENDER, "e", "msg_id")
    assert h.take(bob) == []
    assert done(h.store.page("#dev")).messages[0].text == "mine"


def test_an_edit_outside_the_window_is_refused() -> None:
    h = StoreHarness(config=HubConfig(edit_window=600))
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="soon stale"))
    h.clock.advance(600)
    h.clear()
    h.send(alice, Edit(id="e1", room="#dev", msg_id=1, text="just in time"))
    assert isinstance(h.take(alice)[0], Edited)
    h.clock.advance(0.5)
    h.clear()
    h.send(alice, Edit(id="e2", room="#dev", msg_id=1, text="too late"))
    error = error_of(h.take(alice))
    assert (error.code, error.id) == (ErrorCode.EDIT_WINDOW_CLOSED, "e2")
    assert "10 minutes" in error.message
    assert h.take(bob) == []


def test_an_edit_window_of_zero_has_no_limit() -> None:
    h = StoreHarness(config=HubConfig(edit_window=0))
    [alice] = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="old"))
    h.clock.advance(10 * 365 * 86_400)
    h.clear()
    h.send(alice, Edit(room="#dev", msg_id=1, text="still mine to fix"))
    assert [type(e) for e in h.take(alice)] == [Edited]


def test_a_deleted_message_cannot_be_edited() -> None:
    h = StoreHarness()
    [alice] = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="gone soon"))
    h.send(alice, Delete(room="#dev", msg_id=1))
    h.clear()
    h.send(alice, Edit(id="e", room="#dev", msg_id=1, text="back?"))
    assert error_of(h.take(alice)).code == ErrorCode.MESSAGE_DELETED


def test_unknown_messages_and_bad_requests_get_stable_codes() -> None:
    h = StoreHarness()
    alice, _ = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="one"))
    h.clear()
    cases = [
        (Edit(room="#dev", msg_id=2, text="x"), ErrorCode.NO_SUCH_MESSAGE),
        (Edit(room="#dev", msg_id=0, text="x"), ErrorCode.NO_SUCH_MESSAGE),
        (Edit(room="#dev", msg_id=1, text=""), ErrorCode.INVALID_TEXT),
        (Edit(room="#dev", msg_id=1, text="a\u202eb"), ErrorCode.INVALID_TEXT),
        (Edit(room="#elsewhere", msg_id=1, text="x"), ErrorCode.NOT_IN_ROOM),
        (Edit(room="bad room", msg_id=1, text="x"), ErrorCode.INVALID_ROOM),
        (Edit(msg_id=1, text="x"), ErrorCode.INVALID_FIELD),
        (Edit(room="#dev", peer="bob", msg_id=1, text="x"), ErrorCode.INVALID_FIELD),
        (Edit(peer="nobody", msg_id=1, text="x"), ErrorCode.NO_SUCH_USER),
        (ListEdits(room="#dev", msg_id=5), ErrorCode.NO_SUCH_MESSAGE),
        (ListEdits(msg_id=1), ErrorCode.INVALID_FIELD),
    ]
    for message, code in cases:
        h.send(alice, message)
        assert error_of(h.take(alice)).code == code, message


def test_a_muted_member_edits_no_more_than_it_speaks() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(bob, Say(room="#dev", text="before the mute"))
    h.send(alice, Mute(room="#dev", nick="bob"))
    h.clear()
    h.send(bob, Edit(room="#dev", msg_id=1, text="sneaky"))
    assert error_of(h.take(bob)).code == ErrorCode.MUTED
    assert h.take(alice) == []


def test_the_same_text_again_is_confirmed_to_the_asker_only() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="v1"))
    h.clock.advance(5)
    h.send(alice, Edit(room="#dev", msg_id=1, text="v2"))
    first_edit = format_ts(h.clock.now)
    h.clock.advance(5)
    h.clear()
    h.send(alice, Edit(id="again", room="#dev", msg_id=1, text="v2"))  # a resend, say
    assert h.take(alice) == [Edited(id="again", msg_id=1, text="v2", edited_at=first_edit,
                                    by="alice", room="#dev", sender="alice")]
    assert h.take(bob) == []
    assert len(done(h.store.message_versions("#dev", 1)) or []) == 2


def test_a_direct_message_is_edited_for_both_ends() -> None:
    h = StoreHarness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, SendDirect(to="bob", text="see you at 2"))
    h.clear()
    h.send(alice, Edit(id="e", peer="bob", msg_id=1, text="see you at 3"))
    [answer] = h.take(alice)
    assert isinstance(answer, Edited) and answer.id == "e"
    assert (answer.text, answer.sender, answer.to) == ("see you at 3", "alice", "bob")
    [seen] = h.take(bob)
    assert isinstance(seen, Edited) and seen.id is None and seen.text == "see you at 3"
    h.send(bob, Edit(id="e2", peer="alice", msg_id=1, text="bob's words"))
    assert error_of(h.take(bob)).code == ErrorCode.NOT_SENDER


def test_a_resend_of_the_original_after_an_edit_answers_with_the_new_text() -> None:
    h = StoreHarness()
    [alice] = room_with(h, "alice")
    h.send(alice, Say(id="c1", room="#dev", text="v1"))
    h.send(alice, Edit(room="#dev", msg_id=1, text="v2"))
    h.clear()
    h.send(alice, Say(id="c1", room="#dev", text="v1"))  # the client never saw the answer
    [again] = h.take(alice)
    assert (again.msg_id, again.text) == (1, "v2")  # type: ignore[union-attr]


def test_room_operators_read_the_versions_of_any_message_members_their_own() -> None:
    h = StoreHarness()
    alice, bob, carol = room_with(h, "alice", "bob", "carol")  # alice: #dev's operator
    h.send(bob, Say(room="#dev", text="v1"))
    first = format_ts(h.clock.now)
    h.clock.advance(60)
    h.send(bob, Edit(room="#dev", msg_id=1, text="v2"))
    second = format_ts(h.clock.now)
    h.clear()
    versions = (MessageVersion(text="v1", ts=first), MessageVersion(text="v2", ts=second))
    h.send(alice, ListEdits(id="l1", room="#dev", msg_id=1))
    assert h.take(alice) == [EditList(id="l1", msg_id=1, room="#dev", sender="bob",
                                      versions=versions)]
    h.send(bob, ListEdits(id="l2", room="#dev", msg_id=1))  # its own
    assert h.take(bob) == [EditList(id="l2", msg_id=1, room="#dev", sender="bob",
                                    versions=versions)]
    h.send(carol, ListEdits(id="l3", room="#dev", msg_id=1))
    error = error_of(h.take(carol))
    assert (error.code, error.id) == (ErrorCode.NOT_OPERATOR, "l3")
    h.send(alice, GrantOperator(room="#dev", nick="carol"))
    h.clear()
    h.send(carol, ListEdits(id="l4", room="#dev", msg_id=1))
    assert [type(e) for e in h.take(carol)] == [EditList]


def test_in_a_direct_conversation_only_the_sender_reads_the_versions() -> None:
    h = StoreHarness()
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, SendDirect(to="bob", text="v1"))
    h.send(alice, Edit(peer="bob", msg_id=1, text="v2"))
    h.clear()
    h.send(alice, ListEdits(id="l", peer="bob", msg_id=1))
    [listed] = h.take(alice)
    assert isinstance(listed, EditList) and listed.peer == "bob"
    assert [v.text for v in listed.versions] == ["v1", "v2"]
    h.send(bob, ListEdits(id="l", peer="alice", msg_id=1))
    assert error_of(h.take(bob)).code == ErrorCode.NOT_OPERATOR


def test_a_deleted_message_has_no_versions_left() -> None:
    h = StoreHarness()
    [alice] = room_with(h, "alice")
    h.send(alice, Say(room="#dev", text="v1"))
    h.send(alice, Edit(room="#dev", msg_id=1, text="v2"))
    h.send(alice, Delete(room="#dev", msg_id=1))
    h.clear()
    h.send(alice, ListEdits(id="l", room="#dev", msg_id=1))
    assert h.take(alice) == [EditList(id="l", msg_id=1, room="#dev", sender="alice")]
