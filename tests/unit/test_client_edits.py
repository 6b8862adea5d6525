"""Edits in ``palaver chat`` and the text door: ``/edit ID text``, ``/edits ID``, and how an
edited message, an EDITED and an EDIT_LIST are shown."""

from __future__ import annotations

from datetime import UTC

from palaver.client.commands import HELP, LocalError, Send, parse_line
from palaver.client.render import View, render
from palaver.protocol.messages import (
    Delete,
    Edit,
    Edited,
    EditList,
    ListEdits,
    Message,
    MessageVersion,
)
from palaver.protocol.text_render import classic_message

TS = "2026-11-20T12:05:59.999Z"
LATER = "2026-11-20T12:07:00.000Z"
VIEW = View(me="bob", room="#lobby", tz=UTC)


def test_edit_names_a_message_as_reply_and_react_do() -> None:
    assert parse_line("/edit 42 the build is green", "#dev") == Send(
        Edit(room="#dev", msg_id=42, text="the build is green"))
    assert parse_line("/edit #ops/7 fixed", "#dev") == Send(Edit(room="#ops", msg_id=7,
                                                                 text="fixed"))
    assert parse_line("/edit @carol/3 see you at 3", None) == Send(
        Edit(peer="carol", msg_id=3, text="see you at 3"))
    assert parse_line("/edits 42", "#dev") == Send(ListEdits(room="#dev", msg_id=42))
    assert parse_line("/edits @carol/3", None) == Send(ListEdits(peer="carol", msg_id=3))


def test_edit_without_a_message_or_a_text_is_explained() -> None:
    for line in ("/edit", "/edit 42", "/edit 42   ", "/edit x hello", "/edit 42 hi"):
        action = parse_line(line, "#dev" if line != "/edit 42 hi" else None)
        assert isinstance(action, LocalError), line
        assert "usage: /edit ID text" in action.message
    assert isinstance(parse_line("/edits", "#dev"), LocalError)
    assert isinstance(parse_line("/edits 1 2", "#dev"), LocalError)
    assert any("/edit ID text" in line for line in HELP)


def test_an_edited_message_says_so() -> None:
    edited = Message(msg_id=4, ts=TS, sender="alice", text="fixed", room="#lobby",
                     edited_at=LATER)
    assert render(edited, VIEW) == ["[12:05] <alice> fixed (edited)"]
    assert classic_message(edited, VIEW) == ["alice: fixed (edited)"]
    plain = Message(msg_id=5, ts=TS, sender="alice", text="as sent", room="#lobby")
    assert render(plain, VIEW) == ["[12:05] <alice> as sent"]


def test_an_edit_says_who_changed_which_message_to_what() -> None:
    assert render(Edited(msg_id=4, text="fixed", edited_at=LATER, by="alice", room="#lobby",
                         sender="alice"), VIEW) == ["* alice edited message 4 of #lobby: fixed"]
    # A direct message: named by its other end, whichever end I am.
    assert render(Edited(msg_id=2, text="at 3\nor 4", edited_at=LATER, by="alice",
                         sender="alice", to="bob"), VIEW) == [
        "* alice edited message 2 of @alice: at 3", " " * 36 + "or 4"]
    mine = View(me="alice", tz=UTC)
    assert render(Edited(msg_id=2, text="at 3", edited_at=LATER, by="alice", sender="alice",
                         to="bob"), mine) == ["* alice edited message 2 of @bob: at 3"]
    hostile = Edited(msg_id=1, text="a\x1b[2Jb", edited_at=LATER, by="eve", room="#lobby",
                     sender="eve")
    assert render(hostile, VIEW) == ["* eve edited message 1 of #lobby: a^[[2Jb"]


def test_the_versions_of_a_message() -> None:
    listed = EditList(msg_id=4, room="#lobby", sender="alice", versions=(
        MessageVersion(text="teh", ts=TS), MessageVersion(text="the", ts=LATER)))
    assert render(listed, VIEW) == [
        "* message 4 of #lobby by alice, 2 texts, oldest first:",
        "  [12:05] teh", "  [12:07] the"]
    assert render(EditList(msg_id=4, room="#lobby", sender="alice"), VIEW) == [
        "* message 4 of #lobby was deleted: no texts are kept"]


def test_delete_names_a_message_as_edit_does_with_an_optional_reason() -> None:
    assert parse_line("/delete 42", "#dev") == Send(Delete(room="#dev", msg_id=42))
    assert parse_line("/delete #ops/7 wrong channel", "#dev") == Send(
        Delete(room="#ops", msg_id=7, reason="wrong channel"))
    assert parse_line("/delete @carol/3", None) == Send(Delete(peer="carol", msg_id=3))
    for line in ("/delete", "/delete x", "/delete 42"):
        action = parse_line(line, "#dev" if line != "/delete 42" else None)
        assert isinstance(action, LocalError), line
        assert "usage: /delete ID" in action.message
    assert any("/delete ID" in line for line in HELP)
