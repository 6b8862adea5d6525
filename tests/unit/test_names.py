"""Nick, room and text rules (hub/names.py), shared by every door."""

from __future__ import annotations

import pytest

from palaver.hub.names import (
    MAX_NICK,
    MAX_ROOM,
    MAX_TEXT,
    check_nick,
    check_room,
    check_text,
    fold,
    is_valid_nick,
    is_valid_room,
)
from palaver.protocol.errors import ErrorCode, PeerError


def test_limits() -> None:
    assert (MAX_NICK, MAX_ROOM, MAX_TEXT) == (32, 50, 4_000)


# --------------------------------------------------------------------------- nicks


@pytest.mark.parametrize(
    "nick", ["a", "Z", "a" * 32, "alice", "Bob_2", "x-y", "a-", "a_", "a0", "A" + "9" * 31]
)
def test_valid_nicks(nick: str) -> None:
    assert is_valid_nick(nick)
    assert check_nick(nick) == nick


@pytest.mark.parametrize(
    "nick",
    [
        "",
        "a" * 33,
        "1abc",
        "_abc",
        "-abc",
        "al ice",
        "alice ",
        " alice",
        "alice\n",
        "al.ice",
        "al#ice",
        "#room",
        "émile",
        "ａlice",  # fullwidth letter
        "alice\u200b",  # zero-width space
        "al\tice",
        "al\x00ice",
    ],
)
def test_invalid_nicks(nick: str) -> None:
    assert not is_valid_nick(nick)
    with pytest.raises(PeerError) as info:
        check_nick(nick)
    assert info.value.code is ErrorCode.INVALID_NICK


# --------------------------------------------------------------------------- rooms


@pytest.mark.parametrize(
    "room", ["#a", "#1", "#" + "r" * 49, "#rust", "#Rust.lang", "#a_b-c.d", "#...", "#-", "#_"]
)
def test_valid_rooms(room: str) -> None:
    assert is_valid_room(room)
    assert check_room(room) == room


@pytest.mark.parametrize(
    "room",
    ["", "#", "rust", "##rust", "#" + "r" * 50, "#ru st", "#rust ", "#ru,st", "#ru/st", "#ruçt",
     "&rust", "#rust\n", "#ru\x07st"],
)
def test_invalid_rooms(room: str) -> None:
    assert not is_valid_room(room)
    with pytest.raises(PeerError) as info:
        check_room(room)
    assert info.value.code is ErrorCode.INVALID_ROOM


def test_names_compare_ignoring_ascii_case() -> None:
    assert fold("Alice") == fold("ALICE") == "alice"
    assert fold("#Rust") == fold("#rust")


# --------------------------------------------------------------------------- texts


@pytest.mark.parametrize(
    "text",
    ["x", "x" * 4_000, "hello, world", "line 1\nline 2", "col\tcol", "\nx", " \t.", "é ☃ 🎉",
     "a\u2028\u2029b", "\u200b", "\xa0!", "\ufeff"],
)
def test_valid_texts(text: str) -> None:
    assert check_text(text) == text


def test_text_length_is_counted_in_characters() -> None:
    assert check_text("🎉" * 4_000) == "🎉" * 4_000  # 16,000 bytes of UTF-8


def test_empty_whitespace_only_and_overlong_texts_are_refused() -> None:
    for text in ("", " ", "\n\t \n", "\u3000\u00a0", "x" * 4_001, "🎉" * 4_001):
        with pytest.raises(PeerError) as info:
            check_text(text)
        assert info.value.code is ErrorCode.INVALID_TEXT


FORBIDDEN = [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]]


def test_forbidden_set_is_c0_except_tab_and_newline_plus_del_and_c1() -> None:
    assert len(FORBIDDEN) == 9 + 21 + 33
    assert "\t" not in FORBIDDEN and "\n" not in FORBIDDEN
    assert "\r" in FORBIDDEN


@pytest.mark.parametrize("char", FORBIDDEN, ids=lambda c: f"U+{ord(c):04X}")
def test_each_control_character_is_refused(char: str) -> None:
    for text in (char, f"before{char}", f"{char}after", f"in{char}side"):
        with pytest.raises(PeerError) as info:
            check_text(text)
        assert info.value.code is ErrorCode.INVALID_TEXT


def test_only_those_characters_are_refused_below_u0100() -> None:
    allowed = [chr(c) for c in range(0x100) if chr(c) not in FORBIDDEN]
    for char in allowed:
        assert check_text(f"a{char}b") == f"a{char}b"


BIDI_CONTROLS = [chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]]


@pytest.mark.parametrize("char", BIDI_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_bidi_embeddings_overrides_and_isolates_are_refused_in_texts(char: str) -> None:
    with pytest.raises(PeerError) as info:
        check_text(f"look {char}txt.exe")
    assert info.value.code is ErrorCode.INVALID_TEXT


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"])
def test_bidi_marks_are_kept_in_texts(mark: str) -> None:
    assert check_text(f"שלום{mark} world") == f"שלום{mark} world"


def test_lone_surrogates_are_refused_in_texts() -> None:
    for text in ("\ud800", "a\udfffb"):
        with pytest.raises(PeerError):
            check_text(text)


@pytest.mark.parametrize("char", [*FORBIDDEN, *BIDI_CONTROLS, "\u200b", "\u200e", "\ufeff"])
def test_no_control_or_invisible_character_fits_in_a_name(char: str) -> None:
    assert not is_valid_nick(f"a{char}b")
    assert not is_valid_room(f"#a{char}b")
