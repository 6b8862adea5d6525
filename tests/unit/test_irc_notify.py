"""The IRC door's NOTIFY (palaver's own command): the request it makes and the NOTICEs it
renders (irc/notify.py)."""

from __future__ import annotations

from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Error, NotificationLevel, SetNotifyLevel
from tests.unit.test_irc_watch_markers_redact import lines, registered, requests, send


def test_notify_sets_or_asks_for_a_channel_or_a_nick() -> None:
    d = registered()
    [room] = requests(send(d, "NOTIFY #dev MENTIONS"))
    assert isinstance(room, SetNotifyLevel)
    assert (room.room, room.peer, room.level) == ("#dev", None, "mentions")
    [peer] = requests(send(d, "NOTIFY bob none"))
    assert isinstance(peer, SetNotifyLevel) and (peer.peer, peer.level) == ("bob", "none")
    [ask] = requests(send(d, "NOTIFY #dev"))
    assert isinstance(ask, SetNotifyLevel) and (ask.room, ask.level) == ("#dev", None)


def test_notify_without_a_target_or_with_too_much() -> None:
    d = registered()
    out = send(d, "NOTIFY")
    assert requests(out) == []
    assert any(" 461 ann NOTIFY " in line for item in out if isinstance(item, bytes)
               for line in lines(item))
    out = send(d, "NOTIFY #dev all the time")
    assert requests(out) == []
    assert [line for item in out if isinstance(item, bytes) for line in lines(item)] == [
        ":palaver NOTICE ann :NOTIFY takes <#channel|nick> [all|mentions|none]"]


def test_the_answer_is_a_notice_and_other_levels_are_not_shown() -> None:
    d = registered()
    [ask] = requests(send(d, "NOTIFY #dev mentions"))
    assert isinstance(ask, SetNotifyLevel)
    out = lines(d.encode(NotificationLevel(id=ask.id, room="#dev", level="mentions")))
    assert out == [":palaver NOTICE ann :NOTIFY #dev: mentions (only mentions and direct "
                   "messages notify)"]
    [ask] = requests(send(d, "NOTIFY Bob"))
    assert isinstance(ask, SetNotifyLevel)
    assert lines(d.encode(NotificationLevel(id=ask.id, peer="bob", level="all"))) == [
        ":palaver NOTICE ann :NOTIFY Bob: all (every message may notify)"]
    assert d.encode(NotificationLevel(room="#dev", level="none")) == b""  # at login, elsewhere


def test_a_refused_level_is_a_notice_with_its_code() -> None:
    d = registered()
    [ask] = requests(send(d, "NOTIFY #dev loud"))
    assert isinstance(ask, SetNotifyLevel) and str(ask.level) == "loud"  # the hub refuses it
    out = lines(d.encode(Error(id=ask.id, code=ErrorCode.INVALID_FIELD, field="level",
                               message="level is all, mentions or none")))
    assert out == [":palaver NOTICE ann :invalid_field: level is all, mentions or none"]
