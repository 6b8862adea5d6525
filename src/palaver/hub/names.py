"""Rules for nicknames, room names and message texts, shared by every door."""

from __future__ import annotations

import re
from typing import Final

from palaver.protocol.errors import ErrorCode, PeerError

MAX_NICK: Final = 32
MAX_ROOM: Final = 50  # "#" plus 49
MAX_TEXT: Final = 4_000

_NICK: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}", re.ASCII)
_ROOM: Final = re.compile(r"#[A-Za-z0-9_.-]{1,49}", re.ASCII)
# C0 controls except tab (\x09) and newline (\x0a), DEL, and C1 controls.
_FORBIDDEN_IN_TEXT: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def fold(name: str) -> str:
    """The comparison key of a nick or room name (names are ASCII, compared ignoring case)."""
    return name.lower()


def is_valid_nick(nick: str) -> bool:
    return _NICK.fullmatch(nick) is not None


def is_valid_room(room: str) -> bool:
    return _ROOM.fullmatch(room) is not None


def check_nick(nick: str) -> str:
    if not is_valid_nick(nick):
        raise PeerError(
            ErrorCode.INVALID_NICK,
            "a nick is 1-32 ASCII letters, digits, '_' or '-', starting with a letter",
        )
    return nick


def check_room(room: str) -> str:
    if not is_valid_room(room):
        raise PeerError(
            ErrorCode.INVALID_ROOM,
            "a room is '#' followed by 1-49 ASCII letters, digits, '_', '-' or '.'",
        )
    return room


def check_text(text: str) -> str:
    if not text:
        raise PeerError(ErrorCode.INVALID_TEXT, "a message cannot be empty")
    if len(text) > MAX_TEXT:
        raise PeerError(ErrorCode.INVALID_TEXT, f"a message is at most {MAX_TEXT} characters")
    if _FORBIDDEN_IN_TEXT.search(text) is not None:
        raise PeerError(
            ErrorCode.INVALID_TEXT, "a message cannot contain control characters (except \\n, \\t)"
        )
    return text
