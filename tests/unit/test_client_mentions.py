"""Mentions in ``palaver chat``: my nick as a whole word (any case), or ``@room``/``@here`` from
a room operator, marks the message's line with a leading ``!`` (client/mentions.py, render.py);
the TUI's model passes the room's operators."""

from __future__ import annotations

from datetime import UTC

import pytest

from palaver.client.mentions import mentions, names_me
from palaver.client.render import View, render
from palaver.client.tui.model import ChatModel
from palaver.protocol.messages import Joined, Message, Welcome

TS = "2026-11-20T12:05:00Z"
VIEW = View(me="bob", room="#lobby", tz=UTC, mark_mentions=True)


def said(text: str, sender: str = "alice", msg_id: int = 1, *, deleted: bool = False) -> Message:
    return Message(msg_id=msg_id, ts=TS, sender=sender, text=text, room="#lobby",
                   deleted=deleted)


@pytest.mark.parametrize(("text", "expected"), [
    ("bob: lunch?", True),
    ("hey BOB", True),
    ("ping @bob!", True),
    ("(bob)", True),
    ("bobby is here", False),
    ("bob_2 is here", False),
    ("thebob", False),
    ("b-o-b", False),
    ("", False),
])
def test_my_nick_as_a_whole_word_in_any_case(text: str, expected: bool) -> None:
    assert names_me(text, "bob") is expected


def test_nicks_with_special_characters_are_matched_literally() -> None:
    assert names_me("hi [bot]|x!", "[bot]|x")
    assert not names_me("hi xbot", "[bot]")
    assert not names_me("hi a.c", "a+c")


def test_room_and_here_count_only_from_an_operator_and_never_my_own() -> None:
    assert mentions("@room standup now", "bob", "alice", {"alice"})
    assert mentions("@HERE anyone?", "bob", "Alice", {"alice"})
    assert not mentions("@room standup now", "bob", "carol", {"alice"})
    assert not mentions("@roomy", "bob", "alice", {"alice"})
    assert not mentions("bob: note to self", "bob", "Bob", {"bob"})


def test_a_mention_marks_the_line_with_a_leading_bang() -> None:
    assert render(said("bob: lunch?"), VIEW) == ["![12:05] <alice> bob: lunch?"]
    assert render(said("lunch?"), VIEW) == ["[12:05] <alice> lunch?"]
    assert render(said("me, bob", sender="bob"), VIEW) == ["[12:05] <bob> me, bob"]
    # Continuation lines stay under the text; a deleted message is no mention.
    assert render(said("bob:\nline two"), VIEW) == ["![12:05] <alice> bob:",
                                                    "                 line two"]
    assert render(said("bob", deleted=True), VIEW) == ["[12:05] <alice> (message deleted)"]
    # @room: only from one of the view's room operators.
    assert render(said("@room deploy"), VIEW)[0].startswith("[")
    ops = View(me="bob", room="#lobby", tz=UTC, operators=frozenset({"alice"}),
               mark_mentions=True)
    # The text door's renderer (same module) marks nothing.
    assert render(said("bob: lunch?"), View(me="bob", room="#lobby", tz=UTC))[0].startswith("[")
    assert render(said("@room deploy"), ops) == ["![12:05] <alice> @room deploy"]


def test_the_tui_marks_mentions_and_knows_the_rooms_operators() -> None:
    model = ChatModel("bob", tz=UTC)
    model.apply(Welcome(version=1, nick="bob", server="palaver/test", rooms=("#lobby",),
                        motd=""))
    model.apply(Joined(room="#lobby", members=("alice", "bob", "zed"), topic="",
                       operators=("Zed",)))
    model.apply(said("hi Bob", msg_id=1))
    model.apply(said("@here meeting", sender="zed", msg_id=2))
    model.apply(said("@here meeting", sender="alice", msg_id=3))
    assert model.conversation.lines[-3:] == ["![12:05] <alice> hi Bob",
                                             "![12:05] <zed> @here meeting",
                                             "[12:05] <alice> @here meeting"]
