"""How deleted messages, deletions and watched nicks are shown (``palaver chat``, the text door)."""

from __future__ import annotations

from datetime import UTC

from palaver.client.render import View, render
from palaver.protocol.messages import Deleted, Message, Offline, Online, ReadMarker, Watching
from palaver.protocol.text_render import classic_message

TS = "2026-11-20T12:05:59.999Z"
VIEW = View(me="bob", room="#lobby", tz=UTC)
TOMBSTONE = Message(msg_id=4, ts=TS, sender="alice", text="", room="#lobby", deleted=True)


def test_a_tombstone_shows_that_it_was_deleted() -> None:
    assert render(TOMBSTONE, VIEW) == ["[12:05] <alice> (message deleted)"]
    assert classic_message(TOMBSTONE, VIEW) == ["alice: (message deleted)"]


def test_a_deletion_says_who_deleted_which_message() -> None:
    assert render(Deleted(msg_id=4, by="carol", room="#lobby", sender="alice",
                          reason="spam"), VIEW) == ["* carol deleted message 4 of #lobby (spam)"]
    assert render(Deleted(msg_id=2, by="alice", sender="alice", to="bob"), VIEW) == [
        "* alice deleted message 2 of @bob"]


def test_watched_nicks_coming_and_going() -> None:
    assert render(Online(nick="carol"), VIEW) == ["* carol is online"]
    assert render(Offline(nick="carol"), VIEW) == ["* carol is offline"]


def test_markers_and_watch_answers_show_nothing() -> None:
    assert render(ReadMarker(room="#lobby", msg_id=3, ts=TS), VIEW) == []
    assert render(Watching(online=("carol",)), VIEW) == []
