"""Replies and reactions as the line clients show and type them (client/render_replies.py,
client/commands.py; the text door shares both)."""

from __future__ import annotations

from datetime import UTC

import pytest

from palaver.client.commands import LocalError, Send, message_ref, parse_line
from palaver.client.render import View, render
from palaver.protocol.messages import Message, Quote, React, Reacted, Say, SendDirect
from palaver.protocol.text_render import Style, message_lines

VIEW = View(me="bob", room="#dev", tz=UTC)
TS = "2026-11-18T12:00:00.000Z"


def test_a_reply_has_its_quote_line_first() -> None:
    event = Message(msg_id=42, ts=TS, sender="bob", text="me, sorry", room="#dev",
                    reply_to=41, quote=Quote(msg_id=41, sender="alice", text="who broke it?"))
    assert render(event, VIEW) == ["  > alice #41: who broke it?", "[12:00] <bob> me, sorry"]
    assert message_lines(event, VIEW, Style.CLASSIC) == ["  > alice #41: who broke it?",
                                                         "bob: me, sorry"]


def test_a_reply_without_a_quote_and_to_a_deleted_message() -> None:
    bare = Message(msg_id=42, ts=TS, sender="bob", text="?", room="#dev", reply_to=41)
    assert render(bare, VIEW)[0] == "  > #41"
    gone = Message(msg_id=42, ts=TS, sender="bob", text="?", room="#dev", reply_to=41,
                   quote=Quote(msg_id=41, sender="alice", deleted=True))
    assert render(gone, VIEW)[0] == "  > alice #41: (message deleted)"


def test_a_quote_is_sanitised() -> None:
    event = Message(msg_id=2, ts=TS, sender="bob", text="x", room="#dev", reply_to=1,
                    quote=Quote(msg_id=1, sender="al\x1bice", text="a\u202eb"))
    assert render(event, VIEW)[0] == "  > al^[ice #1: a<U+202E>b"


def test_reactions_go_under_a_message() -> None:
    event = Message(msg_id=41, ts=TS, sender="alice", text="shipped it", room="#dev",
                    reactions={"👍": ("bob", "carol"), "🎉": ("dave",)})
    assert render(event, VIEW) == ["[12:00] <alice> shipped it", "  [👍 bob, carol] [🎉 dave]"]


def test_a_reaction_as_it_happens() -> None:
    quote = Quote(msg_id=41, sender="alice", text="shipped it")
    added = Reacted(msg_id=41, by="bob", reaction="👍", room="#dev", sender="alice", quote=quote)
    assert render(added, VIEW) == ["* bob reacted 👍 to #41 (alice: shipped it)"]
    gone = Reacted(msg_id=7, by="bob", reaction="👍", remove=True, sender="alice", to="bob")
    assert render(gone, VIEW) == ["* bob took back 👍 from #7 of a direct message"]


@pytest.mark.parametrize(("word", "ref"), [
    ("41", ("#dev", None, 41)), ("#ops/7", ("#ops", None, 7)), ("@alice/3", (None, "alice", 3)),
    ("x", None), ("#/1", None), ("4a", None), ("١٢", None), ("1" * 19, None),
])
def test_message_refs(word: str, ref: tuple[str | None, str | None, int] | None) -> None:
    assert message_ref(word, "#dev") == ref


def test_reply_and_react_commands() -> None:
    assert parse_line("/reply 41 me, sorry", "#dev") == Send(
        Say(room="#dev", text="me, sorry", reply_to=41))
    assert parse_line("/reply @alice/3 yes", "#dev") == Send(
        SendDirect(to="alice", text="yes", reply_to=3))
    assert parse_line("/react 41 👍", "#dev") == Send(
        React(room="#dev", msg_id=41, reaction="👍"))
    assert parse_line("/unreact #ops/2 👍", None) == Send(
        React(room="#ops", msg_id=2, reaction="👍", remove=True))
    for line in ("/reply 41", "/reply x hi", "/react 41", "/react 41 a b", "/react 41 👍"):
        room = None if line == "/react 41 👍" else "#dev"
        assert isinstance(parse_line(line, room), LocalError), line
