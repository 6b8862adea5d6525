"""How ``palaver chat`` shows server events: formats, clock times, and neutralised control text."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.client.render import (
    View,
    clock,
    error_line,
    render,
    sanitize,
    sanitize_lines,
)
from palaver.protocol.messages import (
    Error,
    Gap,
    Goodbye,
    Joined,
    Left,
    Message,
    Ping,
    Pong,
    Presence,
    Registered,
    Result,
    RoomInfo,
    RoomList,
    ServerMessage,
    Users,
    Welcome,
)

TS = "2026-11-20T12:05:59.999Z"
VIEW = View(me="bob", room="#lobby", tz=UTC)
# What must never reach the terminal: C0 controls but tab (newline included: every output item
# is one line), DEL, C1 controls, bidi embeddings, overrides and isolates.
FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def msg(text: str = "hi", *, sender: str = "alice", room: str | None = "#lobby",
        to: str | None = None) -> Message:
    return Message(msg_id=1, ts=TS, sender=sender, text=text, room=room, to=to)


# --------------------------------------------------------------------------- sanitising


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain text", "plain text"),
        ("tab\tkept", "tab\tkept"),
        ("\x1b[31mred", "^[[31mred"),
        ("\x1b]0;title\x07", "^[]0;title^G"),
        ("\x00\x01\x1f", "^@^A^_"),
        ("a\rb", "a^Mb"),
        ("a\nb", "a^Jb"),
        ("\x7f", "<U+007F>"),
        ("\x9b2J", "<U+009B>2J"),
        ("\x80\x9f", "<U+0080><U+009F>"),
        ("\u202eevil\u202c", "<U+202E>evil<U+202C>"),
        ("\u202a\u202b\u202d", "<U+202A><U+202B><U+202D>"),
        ("\u2066\u2067\u2068\u2069", "<U+2066><U+2067><U+2068><U+2069>"),
        ("\ud800", "<U+D800>"),
        ("héllo ☃ 日本 🎉", "héllo ☃ 日本 🎉"),
        ("\u200f", "\u200f"),  # a bidi mark, not an override: kept
    ],
)
def test_sanitize(raw: str, shown: str) -> None:
    assert sanitize(raw) == shown


def test_sanitize_lines_splits_at_newlines_only() -> None:
    assert sanitize_lines("one\ntwo\x1b\r\n") == ["one", "two^[^M", ""]


# --------------------------------------------------------------------------- clock


def test_clock_in_the_given_zone() -> None:
    assert clock(TS, UTC) == "12:05"
    assert clock(TS, timezone(timedelta(hours=2))) == "14:05"
    assert clock(TS, timezone(timedelta(hours=-12, minutes=-30))) == "23:35"


def test_clock_of_a_naive_timestamp_is_utc_and_a_bad_one_is_dashes() -> None:
    assert clock("2026-11-20T12:05:00", timezone(timedelta(hours=1))) == "13:05"
    assert clock("not a time", UTC) == "--:--"
    assert clock("\x1b[2J", UTC) == "--:--"


# --------------------------------------------------------------------------- messages


def test_message_in_the_current_room() -> None:
    assert render(msg(), VIEW) == ["[12:05] <alice> hi"]


def test_current_room_compares_ignoring_case() -> None:
    assert render(msg(room="#LOBBY"), VIEW) == ["[12:05] <alice> hi"]


def test_message_in_another_room_names_it() -> None:
    assert render(msg(room="#dev"), VIEW) == ["[12:05] #dev <alice> hi"]
    assert render(msg(room="#dev"), View(me="bob", room=None, tz=UTC)) == [
        "[12:05] #dev <alice> hi"
    ]


def test_time_follows_the_view_zone() -> None:
    view = View(me="bob", room="#lobby", tz=timezone(timedelta(hours=-5)))
    assert render(msg(), view) == ["[07:05] <alice> hi"]


def test_multi_line_text_is_indented_under_the_first_line() -> None:
    assert render(msg("one\ntwo\n\nfour"), VIEW) == [
        "[12:05] <alice> one",
        "                two",
        "",
        "                four",
    ]
    assert render(msg("a\nb", room="#dev"), VIEW) == [
        "[12:05] #dev <alice> a",
        "                     b",
    ]


def test_direct_messages() -> None:
    received = msg("psst", sender="alice", room=None, to="bob")
    sent = msg("hey", sender="bob", room=None, to="alice")
    assert render(received, VIEW) == ["[12:05] *alice* psst"]
    assert render(sent, VIEW) == ["[12:05] -> *alice* hey"]
    assert render(msg("x", sender="BOB", room=None, to="carol"), VIEW) == [
        "[12:05] -> *carol* x"
    ]
    assert render(msg("a\nb", sender="alice", room=None, to="bob"), VIEW) == [
        "[12:05] *alice* a",
        "                b",
    ]


def test_message_text_and_sender_are_neutralised() -> None:
    hostile = msg("\x1b[2J\x1b[Hgotcha\u202e", sender="ali\x1bce", room="#d\x9bv")
    assert render(hostile, VIEW) == ["[12:05] #d<U+009B>v <ali^[ce> ^[[2J^[[Hgotcha<U+202E>"]


# --------------------------------------------------------------------------- other events


@pytest.mark.parametrize(
    ("event", "lines"),
    [
        (Presence(nick="bob", event="join", room="#lobby"), ["* bob joined #lobby"]),
        (Presence(nick="bob", event="leave", room="#lobby"), ["* bob left #lobby"]),
        (Presence(nick="bob", event="quit", reason="lunch"), ["* bob quit (lunch)"]),
        (Presence(nick="bob", event="quit"), ["* bob quit"]),
        (Presence(nick="bob", event="nick", new_nick="rob"), ["* bob is now known as rob"]),
        (Presence(nick="eve", event="quit", reason="\x1b[5mbye\nx"),
         ["* eve quit (^[[5mbye^Jx)"]),
        (Error(code="nick_taken", message="the nick bob is taken"),
         ["! the nick bob is taken (nick_taken)"]),
        (Error(code="x\x1b", message="bad\x1b[1m"), ["! bad^[[1m (x^[)"]),
        (Result(name="sum", result="6.5"), ["6.5"]),
        (Result(name="help", result="a\nb\x1b"), ["a", "b^["]),
        (Result(name="echo", result=""), []),
        (Joined(room="#dev", members=("alice", "bob"), topic=""),
         ["* you joined #dev (2 here: alice, bob)"]),
        (Joined(room="#dev", members=("bob",), topic="talk\x1b"),
         ["* you joined #dev (1 here: bob)", "* topic: talk^["]),
        (Left(room="#dev"), ["* you left #dev"]),
        (Users(users=("alice", "bob")), ["* 2 online: alice, bob"]),
        (Users(users=("alice",), room="#dev"), ["* 1 in #dev: alice"]),
        (Users(users=(), room="#dev"), ["* nobody in #dev"]),
        (RoomList(rooms=(RoomInfo(room="#dev", members=1),
                         RoomInfo(room="#lobby", members=3, topic="hi\u202e"))),
         ["* 2 rooms:", "  #dev (1 member)", "  #lobby (3 members) - hi<U+202E>"]),
        (RoomList(rooms=()), ["* 0 rooms:"]),
        (Welcome(version=1, nick="bob", server="palaver/0.1", rooms=("#lobby",),
                 motd="Hello!\nBe nice.\x1b[0m"),
         ["* connected to palaver/0.1 as bob", "* Hello!", "* Be nice.^[[0m"]),
        (Welcome(version=1, nick="bob", server="s", rooms=(), motd=""),
         ["* connected to s as bob"]),
        (Goodbye(reason="server shutting down"), ["* disconnected: server shutting down"]),
        (Ping(), []),
        (Pong(), []),
    ],
)
def test_render(event: ServerMessage, lines: list[str]) -> None:
    assert render(event, VIEW) == lines


def test_error_line_without_code() -> None:
    assert error_line("you are not in a room") == "! you are not in a room"


# --------------------------------------------------------------------------- the property

names = st.text(max_size=20)
opt = st.none() | names


def events() -> st.SearchStrategy[ServerMessage]:
    text = st.text()
    return st.one_of(
        st.builds(Message, msg_id=st.integers(1, 10), ts=st.just(TS) | text, sender=names,
                  text=text, room=opt, to=opt),
        st.builds(Presence, nick=names,
                  event=st.sampled_from(["join", "leave", "quit", "nick"]),
                  room=opt, reason=st.none() | text, new_nick=opt),
        st.builds(Error, code=names, message=text),
        st.builds(Result, name=names, result=text),
        st.builds(Joined, room=names, members=st.lists(names).map(tuple), topic=text),
        st.builds(Left, room=names),
        st.builds(Users, users=st.lists(names).map(tuple), room=opt),
        st.builds(RoomList, rooms=st.lists(
            st.builds(RoomInfo, room=names, members=st.integers(0, 9), topic=text)
        ).map(tuple)),
        st.builds(Welcome, version=st.just(1), nick=names, server=names,
                  rooms=st.lists(names).map(tuple), motd=text),
        st.builds(Goodbye, reason=text),
    )


def hostile(alphabet: str) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet) | st.characters(), max_size=30)


@given(events(), st.sampled_from([None, "#lobby", "#dev"]), names)
def test_rendered_output_never_contains_control_or_bidi_characters(
    event: ServerMessage, room: str | None, me: str
) -> None:
    for line in render(event, View(me=me, room=room, tz=UTC)):
        assert FORBIDDEN.search(line) is None, line
        assert "\x1b" not in line


DANGEROUS = "\x1b\x07\x08\r\n\x00\x7f\x9b\x9d\u202e\u2066\u2069"


@given(hostile(DANGEROUS), hostile(DANGEROUS))
def test_hostile_texts_and_nicks_are_neutralised(text: str, nick: str) -> None:
    lines = render(Message(msg_id=1, ts=TS, sender=nick, text=text, room="#x"), VIEW)
    assert len(lines) == text.count("\n") + 1
    for line in lines:
        assert FORBIDDEN.search(line) is None, line


def test_registered_and_gap() -> None:
    view = View(me="bob")
    assert render(Registered(nick="bob"), view) == [
        "* bob is now an account: log in with --password"]
    assert render(Gap(room="#dev", after=4, before=10), view) == [
        "* messages 5-9 of #dev were not fetched"]


def test_voices_and_room_settings_are_told_in_words() -> None:
    from palaver.client.render import render_room_updated
    from palaver.protocol.messages import RoomUpdated

    voice = RoomUpdated(room="#r", change="voice", by="alice", nick="bob")
    assert render_room_updated(voice) == ["* alice gave bob a voice in #r"]
    modes = RoomUpdated(room="#r", change="modes", by="alice",
                        changed=("invite_only", "moderated", "limit", "key"),
                        invite_only=True, moderated=True, limit=5, key="beer")
    assert render_room_updated(modes) == [
        "* alice changed #r: invite-only, moderated, at most 5 members, a key to join"]
    opened = RoomUpdated(room="#r", change="outside_messages", by="alice",
                         changed=("outside_messages",), outside_messages=True)
    assert render_room_updated(opened) == ["* alice changed #r: open to messages from outside"]


def test_big_rooms_show_counts_not_thousands_of_nicks() -> None:
    from palaver.client.render import SHOWN_NICKS
    from palaver.protocol.messages import MembersChanged

    view = View(me="zoe", room="#lobby")
    nicks = tuple(f"n{i}" for i in range(SHOWN_NICKS + 10))
    [line, *_] = render(Joined(room="#lobby", members=nicks, topic="", members_total=1_204), view)
    assert line.startswith("* you joined #lobby (1,204 here: n0, n1,")
    assert line.endswith(f"n{SHOWN_NICKS - 1} and {1_204 - SHOWN_NICKS:,} more)")
    assert render(MembersChanged(room="#lobby", joined=("dave", "erin"), left=("bob",),
                                 count=1_205), view) == [
        "* #lobby: dave, erin joined; bob left (1,205 here)"]
    page = Users(users=("a", "b"), room="#lobby", total=1_205, next="b")
    assert render(page, view) == ["* 2 of 1,205 in #lobby: a, b (/who #lobby more: the next page)"]
