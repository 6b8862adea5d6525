"""``/notify`` in palaver chat and the text door: the command it sends and how the answer
shows (client/commands.py, client/render.py)."""

from __future__ import annotations

import pytest

from palaver.client.commands import LocalError, Send, parse_line
from palaver.client.render import View, render
from palaver.protocol.messages import NotificationLevel, SetNotifyLevel


@pytest.mark.parametrize(("line", "room", "expected"), [
    ("/notify", "#dev", SetNotifyLevel(room="#dev")),
    ("/notify MENTIONS", "#dev", SetNotifyLevel(room="#dev", level="mentions")),
    ("/notify none", "#dev", SetNotifyLevel(room="#dev", level="none")),
    ("/notify #ops all", "#dev", SetNotifyLevel(room="#ops", level="all")),
    ("/notify @bob none", None, SetNotifyLevel(peer="bob", level="none")),
    ("/notify @bob", "#dev", SetNotifyLevel(peer="bob")),
])
def test_notify_sets_or_asks(line: str, room: str | None, expected: SetNotifyLevel) -> None:
    assert parse_line(line, room) == Send(expected)


@pytest.mark.parametrize(("line", "room"), [
    ("/notify loud", "#dev"),
    ("/notify all none", "#dev"),
    ("/notify #ops loud", "#dev"),
    ("/notify", None),
    ("/notify mentions", None),
])
def test_a_wrong_notify_sends_nothing(line: str, room: str | None) -> None:
    assert isinstance(parse_line(line, room), LocalError)


def test_only_answers_show() -> None:
    view = View(me="ann", room="#dev")
    assert render(NotificationLevel(id="7", room="#dev", level="mentions"), view) == [
        "* notifications of #dev: mentions (only mentions and direct messages notify you)"]
    assert render(NotificationLevel(id="8", peer="b\x1bob", level="none"), view) == [
        "* notifications of @b^[ob: none (nothing notifies you)"]
    assert render(NotificationLevel(room="#dev", level="none"), view) == []  # told at login
