"""What each line typed into ``palaver chat`` turns into (pure parsing, no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.client.commands import (
    HELP,
    Action,
    LocalError,
    Send,
    ShowHelp,
    parse_line,
    parse_number,
)
from palaver.protocol.messages import (
    Join,
    Leave,
    ListRooms,
    ListUsers,
    Quit,
    Register,
    RunCommand,
    Say,
    SendDirect,
    SetNick,
)

ROOM = "#lobby"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello", Send(Say(room=ROOM, text="hello"))),
        ("  spaced  out ", Send(Say(room=ROOM, text="  spaced  out "))),
        ("hello\r\n", Send(Say(room=ROOM, text="hello"))),
        ("//text", Send(Say(room=ROOM, text="/text"))),
        ("// two", Send(Say(room=ROOM, text="/ two"))),
        ("/join #dev", Send(Join(room="#dev"))),
        ("/join dev", Send(Join(room="#dev"))),
        ("/JOIN #Dev", Send(Join(room="#Dev"))),
        ("/leave", Send(Leave(room=ROOM))),
        ("/leave #dev", Send(Leave(room="#dev"))),
        ("/msg bob hi there", Send(SendDirect(to="bob", text="hi there"))),
        ("/msg bob  two  spaces", Send(SendDirect(to="bob", text=" two  spaces"))),
        ("/who", Send(ListUsers())),
        ("/who #dev", Send(ListUsers(room="#dev"))),
        ("/rooms", Send(ListRooms())),
        ("/nick rob", Send(SetNick(nick="rob"))),
        ("/time", Send(RunCommand(name="time"))),
        ("/joke", Send(RunCommand(name="joke"))),
        ("/echo  a   b ", Send(RunCommand(name="echo", args=(" a   b ",)))),
        ("/sum 1 2 3.5", Send(RunCommand(name="sum", args=(1, 2, 3.5)))),
        ("/sum", Send(RunCommand(name="sum"))),
        ("/sum 1 x", Send(RunCommand(name="sum", args=(1, "x")))),
        ("/help", ShowHelp()),
        ("/quit", Send(Quit())),
        ("/quit  gone fishing ", Send(Quit(reason="gone fishing"))),
    ],
)
def test_parse(line: str, expected: Action) -> None:
    assert parse_line(line, ROOM) == expected


@pytest.mark.parametrize("line", ["", "   ", "\t", "\r\n"])
def test_empty_lines_are_ignored(line: str) -> None:
    assert parse_line(line, ROOM) is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/foo", "unknown command /foo; type /help for the list"),
        ("/", "unknown command /; type /help for the list"),
        ("/join", "usage: /join #room"),
        ("/join #a #b", "usage: /join #room"),
        ("/leave #a #b", "usage: /leave [#room]"),
        ("/msg", "usage: /msg nick text"),
        ("/msg bob", "usage: /msg nick text"),
        ("/msg bob   ", "usage: /msg nick text"),
        ("/who #a #b", "usage: /who [#room] [more]"),
        ("/nick", "usage: /nick name"),
        ("/nick a b", "usage: /nick name"),
        ("/rooms x", "usage: /rooms"),
        ("/time now", "usage: /time"),
        ("/joke x", "usage: /joke"),
        ("/echo", "usage: /echo text"),
    ],
)
def test_local_errors_send_nothing(line: str, message: str) -> None:
    assert parse_line(line, ROOM) == LocalError(message)


def test_plain_text_and_bare_leave_need_a_current_room() -> None:
    assert isinstance(parse_line("hello", None), LocalError)
    assert isinstance(parse_line("//x", None), LocalError)
    assert isinstance(parse_line("/leave", None), LocalError)
    assert parse_line("/leave #dev", None) == Send(Leave(room="#dev"))
    assert parse_line("/join #dev", None) == Send(Join(room="#dev"))


def test_plain_text_goes_to_the_room_given() -> None:
    assert parse_line("hi", "#dev") == Send(Say(room="#dev", text="hi"))


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("1", 1),
        ("-7", -7),
        ("+3", 3),
        ("3.5", 3.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("-2.5E-1", -0.25),
        ("abc", "abc"),
        ("1_000", "1_000"),  # Python syntax, not a JSON number: the server decides
        ("nan", "nan"),
        ("inf", "inf"),
        ("1e400", "1e400"),  # overflows to infinity: not sent as a number
        (str(2**63), str(2**63)),  # out of the wire's integer range: sent as text
        (str(-(2**63)), -(2**63)),
    ],
)
def test_parse_number(word: str, value: object) -> None:
    result = parse_number(word)
    assert result == value and type(result) is type(value)


def test_help_lists_every_command() -> None:
    text = "\n".join(HELP)
    for name in ("join", "leave", "msg", "who", "rooms", "nick", "time", "joke", "echo", "sum",
                 "help", "quit"):
        assert f"/{name}" in text
    assert "//text" in text


@given(st.text())
def test_any_line_gives_an_action_or_nothing(line: str) -> None:
    action = parse_line(line, ROOM)
    assert action is None or isinstance(action, Send | ShowHelp | LocalError)
    if not line.startswith("/") and line.strip():
        assert action == Send(Say(room=ROOM, text=line.rstrip("\r\n")))


def test_register_registers_my_nick_with_the_password_as_typed() -> None:
    assert parse_line("/register  two words ", ROOM, "bob") == Send(
        Register(nick="bob", password=" two words "))
    assert parse_line("/register", ROOM, "bob") == LocalError("usage: /register password")
    assert "  /register password make your nickname an account (then: --password)" in HELP


def test_who_more_goes_on_from_where_the_last_page_ended() -> None:
    """``/who [#room] more``: the next page of a big room's members (docs/protocol.md §21),
    from the cursor the caller kept (USERS' ``next``), by folded room name."""
    pages = {"#lobby": "lisa", "#dev": "bob"}
    assert parse_line("/who more", ROOM, pages=pages) == Send(
        ListUsers(room=ROOM, after="lisa"))
    assert parse_line("/who #Dev MORE", ROOM, pages=pages) == Send(
        ListUsers(room="#Dev", after="bob"))
    assert parse_line("/who dev more", None, pages=pages) == Send(
        ListUsers(room="#dev", after="bob"))
    assert parse_line("/who #ops more", ROOM, pages=pages) == LocalError(
        "no further page of #ops's members (/who #ops lists them from the start)")
    assert parse_line("/who more", ROOM) == LocalError(  # no cursors: the text door
        "no further page of #lobby's members (/who #lobby lists them from the start)")
    assert parse_line("/who more", None, pages=pages) == LocalError(
        "usage: /who #room more (you are not in a room)")
    assert parse_line("/who #more", ROOM, pages=pages) == Send(ListUsers(room="#more"))
    assert parse_line("/who #a b more", ROOM, pages=pages) == LocalError(
        "usage: /who [#room] [more]")
    assert "  /who [#room] more  the next page of a big room's members" in HELP
