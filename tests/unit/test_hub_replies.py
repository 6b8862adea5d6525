"""Replies (CHAT/DM reply_to): checked by the hub, stored with the message, quoted by the
store's decoration (server/decoration.py) live and in history, with reactions in history."""

from __future__ import annotations

from palaver.hub.replies import QUOTE_CHARS, quote_of
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Delete,
    Error,
    Join,
    Message,
    Quote,
    React,
    Say,
    SendDirect,
    ServerMessage,
)
from palaver.server.decoration import decorate
from palaver.store.base import StoredMessage
from tests.unit.store_harness import StoreHarness, done


def only_message(events: list[ServerMessage]) -> Message:
    [event] = events
    assert isinstance(event, Message), event
    return event


def room_with(h: StoreHarness, *nicks: str) -> list[int]:
    sids = [h.login(nick) for nick in nicks]
    for sid in sids:
        h.send(sid, Join(room="#dev"))
    h.clear()
    return sids


def test_a_reply_is_stored_and_delivered_with_its_quote() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="who broke\nthe build?"))
    h.clear()
    h.send(bob, Say(id="c", room="#dev", text="me, sorry", reply_to=1))
    quote = Quote(msg_id=1, sender="alice", text="who broke the build?")
    seen = only_message(h.take(alice))
    assert (seen.reply_to, seen.quote, seen.msg_id) == (1, quote, 2)
    mine = only_message(h.take(bob))
    assert (mine.id, mine.reply_to, mine.quote) == ("c", 1, quote)
    assert done(h.store.page("#dev")).messages[1].reply_to == 1


def test_a_direct_reply() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, SendDirect(to="bob", text="lunch?"))
    h.clear()
    h.send(bob, SendDirect(to="alice", text="yes", reply_to=1))
    seen = only_message(h.take(alice))
    assert seen.reply_to == 1 and seen.quote == Quote(msg_id=1, sender="alice", text="lunch?")


def test_a_reply_to_a_message_never_given_out_is_refused() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="hi"))
    h.clear()
    for reply_to in (0, 2, 500):
        h.send(bob, Say(id="c", room="#dev", text="?", reply_to=reply_to))
        [error] = h.take(bob)
        assert isinstance(error, Error)
        assert (error.code, error.field, error.id) == (ErrorCode.NO_SUCH_MESSAGE, "reply_to", "c")
    assert h.take(alice) == []
    assert len(done(h.store.page("#dev")).messages) == 1  # nothing stored, no id used
    h.send(bob, Say(room="#dev", text="ok"))
    assert only_message(h.take(alice)).msg_id == 2


def test_ids_are_per_conversation() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="one"))
    h.send(alice, Say(room="#dev", text="two"))
    h.clear()
    h.send(bob, SendDirect(id="c", to="alice", text="re", reply_to=2))  # no DM 2 yet
    [error] = h.take(bob)
    assert isinstance(error, Error) and error.code == ErrorCode.NO_SUCH_MESSAGE


def test_a_deleted_message_may_be_answered_and_its_quote_says_so() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="secret"))
    h.send(alice, Delete(room="#dev", msg_id=1))
    h.clear()
    h.send(bob, Say(room="#dev", text="what was it?", reply_to=1))
    seen = only_message(h.take(alice))
    assert seen.quote == Quote(msg_id=1, sender="alice", deleted=True)


def test_a_long_message_is_quoted_by_its_first_words() -> None:
    record = StoredMessage(conversation="#dev", msg_id=1, ts="t", sender="a", sender_key="a",
                           text="word " * 60)
    quote = quote_of(record)
    assert len(quote.text) == QUOTE_CHARS and quote.text.endswith("…")


def test_history_carries_quotes_and_reactions() -> None:
    h = StoreHarness()
    alice, bob = room_with(h, "alice", "bob")
    h.send(alice, Say(room="#dev", text="first"))
    h.send(bob, Say(room="#dev", text="second", reply_to=1))
    h.send(bob, React(room="#dev", msg_id=1, reaction="👍"))
    h.send(alice, React(room="#dev", msg_id=1, reaction="👍"))
    h.send(alice, React(room="#dev", msg_id=2, reaction="ok"))
    h.send(alice, Say(room="#dev", text="gone"))  # msg_id 6: each reaction took an id (seq)
    h.send(bob, React(room="#dev", msg_id=6, reaction="👍"))
    h.send(alice, Delete(room="#dev", msg_id=6))
    page = done(h.store.page("#dev"))
    first, second, gone = done(decorate(h.store, "#dev", page.messages))
    assert first.reactions == {"👍": ("bob", "alice")} and first.quote is None
    assert second.reply_to == 1 and second.quote == Quote(msg_id=1, sender="alice",
                                                          text="first")
    assert second.reactions == {"ok": ("alice",)}
    assert gone.deleted and gone.reactions is None  # a tombstone shows none
