"""The hub's rules, exercised in memory with a fake clock: no sockets, no sleeps."""

from __future__ import annotations

import pytest

from palaver.hub.hub import format_ts
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Error,
    Hello,
    Join,
    Joined,
    Leave,
    Left,
    ListRooms,
    ListUsers,
    Message,
    Ping,
    Pong,
    Presence,
    Quit,
    Result,
    RoomInfo,
    RoomList,
    RunCommand,
    Say,
    SendDirect,
    SetNick,
    Users,
    Welcome,
)
from tests.unit.hub_harness import Harness


@pytest.fixture
def h() -> Harness:
    return Harness()


def error_code(events: list[object]) -> str:
    [event] = events
    assert isinstance(event, Error)
    return event.code


def test_hello_welcomes_and_joins_lobby(h: Harness) -> None:
    alice = h.open()
    h.send(alice, Hello(id="h1", version=1, nick="alice"))
    welcome, joined = h.take(alice)
    assert isinstance(welcome, Welcome)
    assert (welcome.id, welcome.nick, welcome.rooms, welcome.version) == ("h1", "alice",
                                                                         ("#lobby",), 1)
    assert welcome.server.startswith("palaver/")
    assert joined == Joined(room="#lobby", members=("alice",), topic="",
                            created_at=format_ts(h.clock.now))  # when the room was made


def test_others_in_lobby_see_join(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    bob = h.login("bob")
    assert h.take(alice) == [Presence(nick="bob", event="join", room="#lobby")]
    assert h.take(bob)[1] == Joined(room="#lobby", members=("alice", "bob"), topic="",
                                    created_at=format_ts(h.clock.now))


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (Join(room="#dev"), ErrorCode.HANDSHAKE_REQUIRED),
        (Say(room="#lobby", text="hi"), ErrorCode.HANDSHAKE_REQUIRED),
        (Hello(version=2, nick="alice"), ErrorCode.UNSUPPORTED_VERSION),
        (Hello(version=1, nick="9lives"), ErrorCode.INVALID_NICK),
        (Hello(version=1, nick="x" * 33), ErrorCode.INVALID_NICK),
        (Hello(version=1, nick="ALICE"), ErrorCode.NICK_TAKEN),
    ],
)
def test_handshake_errors(h: Harness, message: object, code: ErrorCode) -> None:
    h.login("alice")
    sid = h.open()
    h.send(sid, message)  # type: ignore[arg-type]
    assert error_code(h.take(sid)) == code
    assert not h.hub.is_registered(sid)


def test_ping_and_quit_work_before_hello(h: Harness) -> None:
    sid = h.open()
    h.send(sid, Ping(id="p"))
    assert h.take(sid) == [Pong(id="p")]
    h.send(sid, Quit())
    assert h.closed[sid] == "bye"


def test_second_hello_is_refused(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    h.send(alice, Hello(id="again", version=1, nick="alice2"))
    [event] = h.take(alice)
    assert isinstance(event, Error)
    assert (event.code, event.id) == (ErrorCode.ALREADY_REGISTERED, "again")


def test_chat_reaches_everyone_and_acks_sender_with_id(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(alice, Say(id="m1", room="#LOBBY", text="hi"))
    [ack] = h.take(alice)
    [seen] = h.take(bob)
    assert isinstance(ack, Message) and isinstance(seen, Message)
    assert ack.id == "m1" and seen.id is None
    assert (seen.msg_id, seen.sender, seen.room, seen.text) == (1, "alice", "#lobby", "hi")
    assert ack.ts == seen.ts == format_ts(h.clock.now)


def test_msg_ids_increase_per_room(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    h.clear()
    for room in ("#lobby", "#dev", "#lobby", "#lobby", "#dev"):
        h.clock.advance(0.001)
        h.send(alice, Say(room=room, text="x"))
    ids = [(m.room, m.msg_id) for m in h.take(alice) if isinstance(m, Message)]
    assert ids == [("#lobby", 1), ("#dev", 1), ("#lobby", 2), ("#lobby", 3), ("#dev", 2)]


def test_msg_ids_survive_room_becoming_empty(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    h.send(alice, Say(room="#dev", text="one"))
    h.send(alice, Leave(room="#dev"))
    h.send(alice, Join(room="#dev"))
    h.clear()
    h.send(alice, Say(room="#dev", text="two"))
    [message] = h.take(alice)
    assert isinstance(message, Message) and message.msg_id == 2


def test_ts_is_utc_with_milliseconds() -> None:
    assert format_ts(0.5) == "1970-01-01T00:00:00.500Z"
    assert format_ts(1_795_000_000.123) == "2026-11-18T11:06:40.123Z"


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (Say(room="#dev", text="hi"), ErrorCode.NOT_IN_ROOM),
        (Say(room="lobby", text="hi"), ErrorCode.INVALID_ROOM),
        (Say(room="#lobby", text=""), ErrorCode.INVALID_TEXT),
        (Say(room="#lobby", text="a\x1b[2Jb"), ErrorCode.INVALID_TEXT),
        (Say(room="#lobby", text="x" * 4001), ErrorCode.INVALID_TEXT),
        (Join(room="#" + "x" * 50), ErrorCode.INVALID_ROOM),
        (Join(room="#a b"), ErrorCode.INVALID_ROOM),
        (Leave(room="#dev"), ErrorCode.NOT_IN_ROOM),
        (SendDirect(to="nobody", text="hi"), ErrorCode.NO_SUCH_USER),
        (SendDirect(to="bob", text="\x00"), ErrorCode.INVALID_TEXT),
        (SetNick(nick="bob"), ErrorCode.NICK_TAKEN),
        (SetNick(nick="-bad"), ErrorCode.INVALID_NICK),
        (ListUsers(room="#nowhere"), ErrorCode.NO_SUCH_ROOM),
        (RunCommand(name="nope"), ErrorCode.UNKNOWN_COMMAND),
        (RunCommand(name="sum", args=("one",)), ErrorCode.INVALID_ARGS),
    ],
)
def test_errors_carry_code_and_request_id(h: Harness, message: object, code: ErrorCode) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(alice, message.__class__(**{**_fields(message), "id": "r"}))  # type: ignore[arg-type]
    [event] = h.take(alice)
    assert isinstance(event, Error)
    assert (event.code, event.id) == (code, "r")
    assert event.message
    assert h.take(bob) == []


def _fields(message: object) -> dict[str, object]:
    return {f: getattr(message, f) for f in message.__struct_fields__}  # type: ignore[attr-defined]


def test_text_may_hold_newlines_and_tabs(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    h.send(alice, Say(room="#lobby", text="line one\n\tline two"))
    [message] = h.take(alice)
    assert isinstance(message, Message) and message.text == "line one\n\tline two"


def test_join_and_leave_tell_the_room(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(alice, Join(room="#Dev"))
    h.clear()
    h.send(bob, Join(id="j", room="#dev"))
    assert h.take(bob) == [Joined(id="j", room="#Dev", members=("alice", "bob"), topic="",
                                  operators=("alice",), created_at=format_ts(h.clock.now))]
    assert h.take(alice) == [Presence(nick="bob", event="join", room="#Dev")]
    h.send(bob, Leave(id="l", room="#DEV"))
    assert h.take(bob) == [Left(id="l", room="#Dev")]
    assert h.take(alice) == [Presence(nick="bob", event="leave", room="#Dev")]


def test_joining_twice_only_confirms(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(bob, Join(id="again", room="#lobby"))
    assert h.take(bob) == [Joined(id="again", room="#lobby", members=("alice", "bob"), topic="",
                                  created_at=format_ts(h.clock.now))]
    assert h.take(alice) == []


def test_direct_message_goes_to_both_ends_only(h: Harness) -> None:
    alice, bob, carol = h.login("alice"), h.login("bob"), h.login("carol")
    h.clear()
    h.send(alice, SendDirect(id="d", to="BOB", text="psst"))
    h.send(bob, SendDirect(to="alice", text="yes?"))
    sent, reply = h.take(alice)
    got, own = h.take(bob)
    assert isinstance(sent, Message) and isinstance(got, Message)
    assert (sent.id, sent.to, sent.room, sent.msg_id) == ("d", "bob", None, 1)
    assert (got.sender, got.text, got.id) == ("alice", "psst", None)
    assert isinstance(reply, Message) and reply.msg_id == own.msg_id == 2  # type: ignore[union-attr]
    assert h.take(carol) == []


def test_dm_ids_are_per_conversation(h: Harness) -> None:
    alice, bob, _ = h.login("alice"), h.login("bob"), h.login("carol")
    h.clear()
    h.send(alice, SendDirect(to="bob", text="1"))
    h.send(alice, SendDirect(to="carol", text="1"))
    h.send(bob, SendDirect(to="alice", text="2"))
    ids = [(m.to, m.msg_id) for m in h.take(alice) if isinstance(m, Message)]
    assert ids == [("bob", 1), ("carol", 1), ("alice", 2)]


def test_nick_change_tells_each_sharing_user_once(h: Harness) -> None:
    alice, bob, carol = h.login("alice"), h.login("bob"), h.login("carol")
    for sid in (alice, bob):
        h.send(sid, Join(room="#dev"))
    h.send(carol, Leave(room="#lobby"))
    h.clear()
    h.send(alice, SetNick(id="n", nick="al"))
    expected = Presence(nick="alice", event="nick", new_nick="al")
    assert h.take(alice) == [Presence(id="n", nick="alice", event="nick", new_nick="al")]
    assert h.take(bob) == [expected]  # shares two rooms, told once
    assert h.take(carol) == []  # shares none
    h.send(bob, SendDirect(to="al", text="hi"))
    assert [m.sender for m in h.take(alice) if isinstance(m, Message)] == ["bob"]
    h.send(carol, Hello(version=1, nick="alice"))  # the old nick is free again


def test_nick_change_of_case_only_is_allowed(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    h.send(alice, SetNick(nick="Alice"))
    [event] = h.take(alice)
    assert event == Presence(nick="alice", event="nick", new_nick="Alice")


def test_who_and_rooms(h: Harness) -> None:
    alice, bob = h.login("bob"), h.login("Alice")
    h.send(alice, Join(room="#dev"))
    h.clear()
    at = format_ts(h.clock.now)  # when the rooms were made
    h.send(bob, ListUsers(id="w"))
    h.send(bob, ListUsers(id="wr", room="#DEV"))
    h.send(bob, ListRooms(id="r"))
    assert h.take(bob) == [
        Users(id="w", users=("Alice", "bob")),
        Users(id="wr", room="#dev", users=("bob",), operators=("bob",)),
        RoomList(id="r", rooms=(RoomInfo(room="#dev", members=1, created_at=at),
                                RoomInfo(room="#lobby", members=2, created_at=at))),
    ]


def test_commands(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    h.send(alice, RunCommand(id="s", name="sum", args=(1, 2, 3.5)))
    h.send(alice, RunCommand(id="e", name="echo", args=("some", "words")))
    h.send(alice, RunCommand(id="t", name="time"))
    assert h.take(alice) == [
        Result(id="s", name="sum", result="6.5"),
        Result(id="e", name="echo", result="some words"),
        Result(id="t", name="time", result="2026-11-18 11:06:40 UTC"),
    ]


def test_quit_tells_sharing_users_and_closes(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(bob, Quit(id="q", reason="gone fishing"))
    assert h.closed[bob] == "bye"
    assert h.take(alice) == [Presence(nick="bob", event="quit", reason="gone fishing")]
    assert h.hub.user_count == 1 and h.hub.session_count == 1


def test_quit_reason_with_controls_is_replaced(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(bob, Quit(reason="\x1b[31mred"))
    assert h.take(alice) == [Presence(nick="bob", event="quit", reason="quit")]


def test_abrupt_disconnect_frees_everything(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.send(bob, Join(room="#side"))
    h.clear()
    h.drop(bob, "connection reset")
    h.drop(bob, "connection reset")  # idempotent
    assert h.take(alice) == [Presence(nick="bob", event="quit", reason="connection reset")]
    assert (h.hub.user_count, h.hub.session_count, h.hub.room_count) == (1, 1, 1)
    assert h.hub.handle(bob, Ping(), h.clock.now) == []  # a closed session gets nothing


def test_unregistered_disconnect_is_silent(h: Harness) -> None:
    alice = h.login("alice")
    h.clear()
    sid = h.open()
    h.drop(sid)
    assert h.take(alice) == []
    assert h.hub.session_count == 1


def test_nick_change_to_the_same_nick_tells_nobody(h: Harness) -> None:
    alice, bob = h.login("alice"), h.login("bob")
    h.clear()
    h.send(alice, SetNick(id="same", nick="alice"))
    assert h.take(alice) == [Presence(id="same", nick="alice", event="nick", new_nick="alice")]
    assert h.take(bob) == []


def test_server_commands_work_before_hello(h: Harness) -> None:
    sid = h.open()
    h.send(sid, RunCommand(id="t", name="sum", args=(1, 2, 3.5)))
    assert h.take(sid) == [Result(id="t", name="sum", result="6.5")]
    assert not h.hub.is_registered(sid)
