"""The hub's ephemeral relays (hub/relay.py): client-only tags with a message or alone (TAGMSG),
messages to a room's operators (STATUS_MESSAGE), a wrapped line's breaks. Nothing is stored."""

from __future__ import annotations

import pytest

from palaver.hub.relay import check_tags
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import (
    Error,
    GrantVoice,
    Join,
    Message,
    Say,
    SendDirect,
    SendTags,
    SetRoomMode,
    StatusMessage,
    Tagged,
)
from tests.unit.hub_harness import Harness


def room_of_three() -> tuple[Harness, int, int, int]:
    """ann (the room's operator, its creator), bob and cid in #r."""
    h = Harness()
    ann, bob, cid = h.login("ann"), h.login("bob"), h.login("cid")
    for sid in (ann, bob, cid):
        h.send(sid, Join(room="#r"))
    h.clear()
    return h, ann, bob, cid


def test_tags_ride_with_the_live_message_and_are_never_stored() -> None:
    h, ann, bob, _ = room_of_three()
    tags = {"+draft/reply": "#r/1", "+example.com/x": ""}
    h.send(bob, Say(room="#r", text="yes", tags=tags, id="s"))
    [stored] = h.stored
    assert not hasattr(stored, "tags")  # the store has no place for them
    [to_ann] = h.take(ann)
    [answer] = h.take(bob)
    assert isinstance(to_ann, Message) and to_ann.tags == tags and to_ann.id is None
    assert isinstance(answer, Message) and answer.tags == tags and answer.id == "s"
    h.send(bob, SendDirect(to="ann", text="psst", tags={"+typing": "done"}))
    [dm] = h.take(ann)
    assert isinstance(dm, Message) and dm.tags == {"+typing": "done"}


def test_tagmsg_reaches_the_room_or_the_user_at_once_with_the_answer_to_the_sender() -> None:
    h, ann, bob, cid = room_of_three()
    effects = h.send(bob, SendTags(room="#r", tags={"+typing": "active"}, id="t"))
    assert h.stored == [] and all(type(e).__name__ == "Deliver" for e in effects)
    [to_ann], [to_cid], [answer] = h.take(ann), h.take(cid), h.take(bob)
    assert to_ann == to_cid
    assert isinstance(to_ann, Tagged) and to_ann.sender == "bob" and to_ann.room == "#r"
    assert to_ann.tags == {"+typing": "active"} and to_ann.id is None and to_ann.ref
    assert isinstance(answer, Tagged) and answer.id == "t" and answer.ref == to_ann.ref
    h.send(ann, SendTags(to="BOB", tags={"+draft/react": "👍"}, id="u"))
    [to_bob], [mine] = h.take(bob), h.take(ann)
    assert isinstance(to_bob, Tagged) and to_bob.to == "bob" and to_bob.ref != to_ann.ref
    assert isinstance(mine, Tagged) and mine.id == "u"


@pytest.mark.parametrize(("message", "field"), [
    (SendTags(room="#r", tags={}), "tags"),
    (SendTags(room="#r", tags={"typing": "active"}), "tags"),  # not client-only
    (SendTags(room="#r", tags={"+a b": "x"}), "tags"),
    (SendTags(room="#r", tags={"+typing": "a\nb"}), "tags"),
    (SendTags(room="#r", tags={"+a": "x" * 4_092}), "tags"),  # 4,095 bytes in all
    (SendTags(tags={"+typing": "active"}), "room"),
    (SendTags(room="#r", to="ann", tags={"+typing": "active"}), "room"),
    (Say(room="#r", text="x", tags={"+ok": "1", "bad": "2"}), "tags"),
    (Say(room="#r", text="ab\ncd", breaks=(2,)), "breaks"),  # next to a newline
    (Say(room="#r", text="abcd", breaks=(3, 2)), "breaks"),  # not increasing
    (Say(room="#r", text="abcd", breaks=(4,)), "breaks"),  # not inside the text
])
def test_bad_tags_and_breaks_are_invalid_field(message: Say | SendTags, field: str) -> None:
    h, ann, bob, _ = room_of_three()
    h.send(bob, message)
    [refusal] = h.take(bob)
    assert isinstance(refusal, Error) and refusal.code == "invalid_field"
    assert refusal.field == field
    assert h.take(ann) == [] and h.stored == []


def test_tag_sizes_are_counted_as_an_irc_line_carries_them() -> None:
    assert check_tags({"+a": "x" * 4_091}) == {"+a": "x" * 4_091}  # +a=xxx: 4,094 bytes
    with pytest.raises(PeerError):
        check_tags({"+a": ";" * 2_046})  # each ";" is two bytes escaped: 4,096


def test_tagmsg_to_someone_offline_or_to_a_room_one_is_not_in_is_refused() -> None:
    h, _, bob, _ = room_of_three()
    h.send(bob, SendTags(to="nobody", tags={"+typing": "active"}, id="x"))
    h.send(bob, SendTags(room="#elsewhere", tags={"+typing": "active"}, id="y"))
    codes = [e.code for e in h.take(bob) if isinstance(e, Error)]
    assert codes == ["no_such_user", "not_in_room"]


def test_breaks_ride_with_the_live_message() -> None:
    h, ann, bob, _ = room_of_three()
    h.send(bob, Say(room="#r", text="#how is everyone?\nfine", breaks=(8,)))
    [event] = h.take(ann)
    assert isinstance(event, Message) and event.breaks == (8,)
    assert h.stored[0].text == "#how is everyone?\nfine"


def test_a_message_to_the_operators_reaches_them_only_and_is_not_stored() -> None:
    h, ann, bob, cid = room_of_three()
    h.send(cid, Say(room="#r", text="ops, look", only="operators", id="o"))
    assert h.stored == []
    [to_ann], [answer] = h.take(ann), h.take(cid)
    assert h.take(bob) == []
    assert isinstance(to_ann, StatusMessage) and to_ann.only == "operators"
    assert (to_ann.sender, to_ann.room, to_ann.text) == ("cid", "#r", "ops, look")
    assert isinstance(answer, StatusMessage) and answer.id == "o" and answer.ref == to_ann.ref
    h.send(ann, GrantVoice(room="#r", nick="bob"))
    h.clear()
    h.send(ann, Say(room="#r", text="voices too", only="voiced", notice=True))
    assert [type(e) for e in h.take(bob)] == [StatusMessage]
    assert h.take(cid) == []
    [mine] = h.take(ann)  # an operator: the message once, not twice
    assert isinstance(mine, StatusMessage) and mine.notice


def test_a_message_to_the_operators_follows_the_rules_of_the_room() -> None:
    h, ann, bob, _ = room_of_three()
    h.send(ann, SetRoomMode(room="#r", moderated=True))
    h.clear()
    h.send(bob, Say(room="#r", text="hey ops", only="operators", id="m"))
    [refusal] = h.take(bob)
    assert isinstance(refusal, Error) and refusal.code == "moderated"
    assert h.take(ann) == []
