"""The IRC dialect's MONITOR, MARKREAD and REDACT: commands to hub messages, events to lines."""

from __future__ import annotations

import pytest

from palaver.hub.watch import MAX_WATCH
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.redaction import msg_id_of
from palaver.protocol.irc.registration import isupport
from palaver.protocol.irc.render import SUPPORTED_CAPS
from palaver.protocol.messages import (
    Delete,
    Deleted,
    Error,
    Hello,
    Joined,
    MarkRead,
    Message,
    Offline,
    Online,
    ReadMarker,
    UserUpdated,
    Watch,
    Watching,
    Welcome,
)


def lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\r\n") if line]


def replies(items: list[Inbound]) -> list[str]:
    return [line for item in items if isinstance(item, bytes) for line in lines(item)]


def requests(items: list[Inbound]) -> list[object]:
    return [item for item in items if not isinstance(item, bytes)]


def registered(nick: str = "ann", caps: str = "") -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick)
    if caps:
        d.receive_data(f"CAP REQ :{caps}\r\nCAP END\r\n".encode())
    out = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :Ann\r\n".encode())
    hello = out[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    return d


def send(d: IrcDialect, line: str) -> list[Inbound]:
    return d.receive_data(f"{line}\r\n".encode())


def answer(d: IrcDialect, line: str, event_type: type, **fields: object) -> list[str]:
    """Send ``line``, then render the hub's answer ``event_type(**fields)`` to its request."""
    [request] = requests(send(d, line))
    return lines(d.encode(event_type(id=request.id, **fields)))  # type: ignore[attr-defined]


def error_to(d: IrcDialect, line: str, code: ErrorCode, message: str = "no") -> list[str]:
    [request] = requests(send(d, line))
    return lines(d.encode(Error(id=request.id, code=code, message=message)))  # type: ignore[attr-defined]


def test_the_capabilities_and_the_monitor_limit_are_advertised() -> None:
    assert {"draft/read-marker", "draft/message-redaction", "extended-monitor"} <= set(
        SUPPORTED_CAPS)
    assert f"MONITOR={MAX_WATCH}" in isupport(registered()).decode()


# --------------------------------------------------------------------------- MONITOR


def test_monitor_plus_asks_the_hub_and_answers_730_and_731() -> None:
    d = registered()
    [watch] = requests(send(d, "MONITOR + bar,baz"))
    assert watch == Watch(id=watch.id, add=("bar", "baz"))  # type: ignore[attr-defined]
    out = lines(d.encode(Watching(id=watch.id, online=("Bar",), offline=("baz",))))  # type: ignore[attr-defined]
    assert out == [":palaver 730 ann :Bar!Bar@palaver", ":palaver 731 ann :baz"]


def test_a_mask_is_432_and_never_reaches_the_hub() -> None:
    d = registered()
    out = send(d, "MONITOR + *!username@localhost,bar")
    assert replies(out) == [":palaver 432 ann *!username@localhost :Erroneous nickname"]
    [watch] = requests(out)
    assert isinstance(watch, Watch) and watch.add == ("bar",)
    assert requests(send(d, "MONITOR + *!u@127.0.0.1")) == []


def test_monitor_minus_and_clear_answer_nothing() -> None:
    d = registered()
    [remove] = requests(send(d, "MONITOR - bar,QUX"))
    assert isinstance(remove, Watch) and remove.remove == ("bar", "QUX")
    assert d.encode(Watching(id=remove.id)) == b""
    [clear] = requests(send(d, "MONITOR C"))
    assert isinstance(clear, Watch) and clear.clear
    assert d.encode(Watching(id=clear.id)) == b""


def test_monitor_list_and_status() -> None:
    d = registered()
    assert answer(d, "MONITOR L", Watching, online=("bar",), offline=("qux",)) == [
        ":palaver 732 ann :bar,qux", ":palaver 733 ann :End of MONITOR list"]
    assert answer(d, "MONITOR l", Watching) == [":palaver 733 ann :End of MONITOR list"]
    assert answer(d, "MONITOR S", Watching, online=("bar",), offline=("qux",)) == [
        ":palaver 730 ann :bar!bar@palaver", ":palaver 731 ann :qux"]


def test_a_long_list_takes_several_lines_each_within_the_limit() -> None:
    d = registered()
    nicks = tuple(f"nick{n:03d}xxxxxxxxxxxxxxxxxxxxxxx" for n in range(MAX_WATCH))
    out = answer(d, "MONITOR L", Watching, offline=nicks)
    assert len(out) > 2 and all(len(line) + 2 <= 512 for line in out)
    listed = [n for line in out[:-1] for n in line.split(" :", 1)[1].split(",")]
    assert tuple(listed) == nicks


def test_a_full_list_is_734() -> None:
    d = registered()
    assert error_to(d, "MONITOR + a,b", ErrorCode.WATCH_LIST_FULL) == [
        f":palaver 734 ann {MAX_WATCH} a,b :Monitor list is full."]


def test_monitor_without_targets_or_with_an_unknown_subcommand() -> None:
    d = registered()
    assert replies(send(d, "MONITOR +")) == [":palaver 461 ann MONITOR :Not enough parameters"]
    assert replies(send(d, "MONITOR")) == [":palaver 461 ann MONITOR :Not enough parameters"]
    assert replies(send(d, "MONITOR X")) == [
        ":palaver FAIL MONITOR INVALID_PARAMS X :MONITOR takes +, -, C, L or S"]


def test_online_and_offline_are_730_and_731_to_this_connection() -> None:
    d = registered("foo")
    assert lines(d.encode(Online(nick="bar"))) == [":palaver 730 foo :bar!bar@palaver"]
    assert lines(d.encode(Offline(nick="QUX"))) == [":palaver 731 foo :QUX"]


# --------------------------------------------------------------------------- MARKREAD


TS = "2019-01-04T14:33:26.123Z"


def test_markread_sets_and_answers_with_the_marker() -> None:
    d = registered(caps="draft/read-marker")
    [mark] = requests(send(d, f"MARKREAD #test timestamp={TS}"))
    assert mark == MarkRead(id=mark.id, room="#test", ts=TS)  # type: ignore[attr-defined]
    assert lines(d.encode(ReadMarker(id=mark.id, room="#test", ts=TS))) == [  # type: ignore[attr-defined]
        f":palaver MARKREAD #test timestamp={TS}"]


def test_markread_asks_and_star_is_nothing_read() -> None:
    d = registered(caps="draft/read-marker")
    assert answer(d, "MARKREAD #nosuchtarget", ReadMarker, room="#nosuchtarget") == [
        ":palaver MARKREAD #nosuchtarget *"]
    [ask] = requests(send(d, "MARKREAD bob"))
    assert ask == MarkRead(id=ask.id, peer="bob")  # type: ignore[attr-defined]


def test_a_marker_moved_elsewhere_reaches_only_connections_with_the_capability() -> None:
    marker = ReadMarker(room="#test", msg_id=3, ts=TS)
    assert lines(registered(caps="draft/read-marker").encode(marker)) == [
        f":palaver MARKREAD #test timestamp={TS}"]
    assert registered().encode(marker) == b""
    assert lines(registered(caps="draft/read-marker").encode(
        ReadMarker(peer="bob", msg_id=1, ts=TS))) == [f":palaver MARKREAD bob timestamp={TS}"]


def test_markread_refusals_are_standard_replies() -> None:
    d = registered(caps="draft/read-marker")
    assert replies(send(d, "MARKREAD")) == [
        ":palaver FAIL MARKREAD NEED_MORE_PARAMS :MARKREAD needs a target"]
    assert replies(send(d, "MARKREAD #test *")) == [
        ":palaver FAIL MARKREAD INVALID_PARAMS #test :MARKREAD takes timestamp=<ISO 8601 UTC "
        "time>"]
    assert error_to(d, "MARKREAD #test timestamp=not-a-timestamp", ErrorCode.INVALID_FIELD,
                    "bad ts") == [":palaver FAIL MARKREAD INVALID_PARAMS #test :bad ts"]
    assert error_to(d, "MARKREAD #elsewhere timestamp=" + TS, ErrorCode.NOT_IN_ROOM,
                    "not in") == [":palaver FAIL MARKREAD INVALID_PARAMS #elsewhere :not in"]


def test_joining_says_where_the_marker_is_before_the_end_of_names() -> None:
    d = registered(caps="draft/read-marker")
    out = lines(d.encode(Joined(room="#test", members=("ann",), topic="", read_ts=TS)))
    assert out[-2:] == [f":palaver MARKREAD #test timestamp={TS}",
                        ":palaver 366 ann #test :End of /NAMES list"]
    out = lines(d.encode(Joined(room="#new", members=("ann",), topic="")))
    assert out[-2] == ":palaver MARKREAD #new *"
    plain = lines(registered().encode(Joined(room="#test", members=("ann",), topic="",
                                              read_ts=TS)))
    assert not any("MARKREAD" in line for line in plain)


# --------------------------------------------------------------------------- REDACT


@pytest.mark.parametrize(("target", "msgid", "number"), [
    ("#chan", "#chan/41", 41),
    ("#CHAN", "#chan/41.2", 41),  # a further line of a split message
    ("#chan", "#other/41", 0),
    ("#chan", "nonexistent123", 0),
    ("#chan", "r5", 0),  # a TAGMSG's (never stored)
    ("bob", "dm/alice,bob/7", 7),
    ("BOB", "dm/alice,bob/7", 7),
    ("carol", "dm/alice,bob/7", 0),
    ("bob", "#chan/7", 0),
    ("#chan", "#chan/-1", 0),
    ("#chan", "#chan/" + "9" * 30, 0),
])
def test_msgids_name_messages_of_their_conversation(target: str, msgid: str,
                                                    number: int) -> None:
    assert msg_id_of(target, msgid) == number


def test_redact_deletes_and_everyone_with_the_capability_sees_it() -> None:
    d = registered("alice", caps="draft/message-redaction message-tags")
    [delete] = requests(send(d, "REDACT #chan #chan/41 :spam and eggs"))
    assert delete == Delete(id=delete.id, room="#chan", msg_id=41,  # type: ignore[attr-defined]
                            reason="spam and eggs")
    event = Deleted(msg_id=41, by="alice", room="#chan", sender="bob", reason="spam and eggs")
    assert lines(d.encode(Deleted(id=delete.id, msg_id=41, by="alice",  # type: ignore[attr-defined]
                                  room="#chan", sender="bob", reason="spam and eggs"))) == [
        ":alice!alice@palaver REDACT #chan #chan/41 :spam and eggs"]
    other = registered("carol", caps="draft/message-redaction")
    assert lines(other.encode(event)) == [
        ":alice!alice@palaver REDACT #chan #chan/41 :spam and eggs"]
    # without the capability: never REDACT, a NOTICE from the deleter instead
    assert lines(registered("dave", caps="message-tags").encode(event)) == [
        ":alice!alice@palaver NOTICE #chan :* deleted a message of bob: spam and eggs"]
    own = Deleted(msg_id=41, by="bob", room="#chan", sender="bob")
    assert lines(registered("dave").encode(own)) == [
        ":bob!bob@palaver NOTICE #chan :* deleted their own message"]
    direct = Deleted(msg_id=7, by="bob", to="dave", sender="bob", reason="typo")
    assert lines(registered("dave").encode(direct)) == [
        ":bob!bob@palaver NOTICE dave :* deleted their own message: typo"]


def test_redact_without_reason_has_two_parameters() -> None:
    d = registered("alice", caps="draft/message-redaction")
    event = Deleted(msg_id=7, by="alice", sender="alice", to="bob")
    assert lines(d.encode(event)) == [":alice!alice@palaver REDACT bob dm/alice,bob/7"]
    [delete] = requests(send(d, "REDACT bob dm/alice,bob/7"))
    assert delete == Delete(id=delete.id, peer="bob", msg_id=7)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("line", "code", "reply"), [
    ("REDACT #fake somemsgid", ErrorCode.NOT_IN_ROOM,
     ":palaver FAIL REDACT INVALID_TARGET #fake :no"),
    ("REDACT nobody dm/alice,nobody/1", ErrorCode.NO_SUCH_USER,
     ":palaver FAIL REDACT INVALID_TARGET nobody :no"),
    ("REDACT #chan nonexistent123", ErrorCode.NO_SUCH_MESSAGE,
     ":palaver FAIL REDACT UNKNOWN_MSGID #chan nonexistent123 :no"),
    ("REDACT #chan #chan/3", ErrorCode.NOT_OPERATOR,
     ":palaver FAIL REDACT REDACT_FORBIDDEN #chan #chan/3 :no"),
])
def test_redact_refusals_are_standard_replies(line: str, code: ErrorCode, reply: str) -> None:
    assert error_to(registered("alice"), line, code) == [reply]


def test_redact_needs_a_target_and_a_msgid() -> None:
    assert replies(send(registered(), "REDACT #chan")) == [
        ":palaver 461 ann REDACT :Not enough parameters"]


def test_a_deleted_message_in_history_is_left_out() -> None:
    d = registered(caps="server-time message-tags")
    tombstone = Message(msg_id=4, ts=TS, sender="bob", text="", room="#chan", deleted=True)
    assert d.encode(tombstone) == b""


def test_a_watched_user_s_change_needs_extended_monitor_and_its_own_capability() -> None:
    watched = UserUpdated(nick="bar", change="away", away="afk", watched=True)
    shown = [":bar!bar@palaver AWAY :afk"]
    assert lines(registered("foo", caps="extended-monitor away-notify").encode(watched)) == shown
    assert registered("foo", caps="away-notify").encode(watched) == b""
    assert registered("foo", caps="extended-monitor").encode(watched) == b""
    room_mate = UserUpdated(nick="bar", change="away", away="afk")
    assert lines(registered("foo", caps="away-notify").encode(room_mate)) == shown
    renamed = UserUpdated(nick="bar", change="realname", realname="new name", watched=True)
    assert lines(registered("foo", caps="extended-monitor setname").encode(renamed)) == [
        ":bar!bar@palaver SETNAME :new name"]
