"""Every writer re-checks on output: whatever the hub let through (or a stored text from before
a rule), no dialect puts a hostile control character from data on the wire."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from palaver.protocol.irc.render import IrcRenderer
from palaver.protocol.irc.wire import format_line
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import Message, Presence
from palaver.protocol.text_render import Style, message_lines, to_bytes, view

HOSTILE = "\x00\r\n\x1b\x07\x7f\x85\x9b\u202e\u2066\ud800"
ANY_TEXT = st.text(alphabet=st.sampled_from([*HOSTILE, "a", " ", "\t", "é", "\u200f"]))
ANY_NAME = st.text(alphabet=st.sampled_from([*HOSTILE, "a", " ", ":", "#"]), min_size=1)


def message(text: str, sender: str = "alice", room: str = "#lobby") -> Message:
    return Message(msg_id=1, sender=sender, text=text, ts="2026-05-01T12:00:00.000Z", room=room)


def check_lines(data: bytes, eol: bytes) -> None:
    assert data.endswith(eol) or not data
    for line in data.split(eol)[:-1]:
        assert b"\r" not in line and b"\n" not in line and b"\x00" not in line
        assert b"\x1b" not in line and b"\x7f" not in line
        text = line.decode("utf-8")  # always valid UTF-8
        assert not any(0x80 <= ord(c) <= 0x9F for c in text)
        assert not any(c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" for c in text)


@given(ANY_TEXT, ANY_NAME, ANY_NAME)
def test_text_door_lines_are_clean(text: str, sender: str, room: str) -> None:
    for style in Style:
        lines = message_lines(message(text, sender, room), view("bob", "#lobby"), style)
        check_lines(to_bytes(lines), b"\r\n")


@given(st.lists(ANY_TEXT, max_size=4))
def test_text_door_final_check_catches_raw_lines(lines: list[str]) -> None:
    # Even a line no renderer sanitised (a bug, or a future reply) is made safe by to_bytes.
    check_lines(to_bytes(lines), b"\r\n")


@given(ANY_TEXT, ANY_NAME, ANY_NAME)
def test_irc_lines_are_clean(text: str, sender: str, room: str) -> None:
    renderer = IrcRenderer("palaver", frozenset({"server-time", "message-tags"}))
    check_lines(renderer.message(message(text, sender, room)), b"\r\n")
    check_lines(renderer.presence(Presence(nick=sender, event="quit", reason=text)), b"\r\n")
    check_lines(renderer.presence(Presence(nick=sender, event="nick", new_nick=room)), b"\r\n")
    check_lines(renderer.notice(sender, text), b"\r\n")


@given(st.lists(ANY_NAME, min_size=1, max_size=4), ANY_NAME)
def test_irc_format_line_is_the_final_check(params: list[str], source: str) -> None:
    check_lines(format_line("PRIVMSG", *params, source=source, tags={"k": params[0]}), b"\r\n")


def test_irc_keeps_its_own_formatting_codes() -> None:
    line = format_line("PRIVMSG", "#a", "\x01ACTION waves\x01", source="x")
    assert line == b":x PRIVMSG #a :\x01ACTION waves\x01\r\n"


@given(ANY_TEXT, ANY_NAME)
def test_json_lines_escape_every_control_character(text: str, sender: str) -> None:
    data = encode(message(text, sender))
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert not any(b < 0x20 for b in data[:-1])  # JSON escapes C0, including CR, LF, ESC
    assert msgspec.json.decode(data)["type"] == "MESSAGE"
