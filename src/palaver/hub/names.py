"""Rules for nicknames, room names and message texts, shared by every door.

- Nicks and room names are ASCII (letters, digits and a few marks): no NUL, CR, LF, ESC, C0/C1
  control, bidi control or other invisible character can be in one. Names compare ignoring
  case (:func:`fold`), and a nick that *looks like* a name in use is refused too
  (``nick_confusable``: a TR39 skeleton, :mod:`palaver.hub.lookalikes`).
- Texts are any Unicode but: C0 controls other than tab and newline, DEL, C1 controls, the bidi
  embeddings/overrides/isolates (U+202A-U+202E, U+2066-U+2069: they reorder what follows them,
  the "Trojan Source" trick) and lone surrogates. The bidi *marks* (U+200E, U+200F, U+061C)
  stay: right-to-left writers need them, and they cannot reorder anything beyond one character.
- The writers re-check on output whatever the hub let through (JSON escapes controls; the text
  and IRC writers make them visible or replace them), so a stored text from before a rule
  existed cannot hurt a reader either.
"""

from __future__ import annotations

import re
from typing import Final

from palaver.protocol.errors import ErrorCode, PeerError

MAX_NICK: Final = 32
MAX_ROOM: Final = 50  # "#" plus 49
MAX_TEXT: Final = 4_000

_NICK: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}", re.ASCII)
_ROOM: Final = re.compile(r"#[A-Za-z0-9_.-]{1,49}", re.ASCII)
# C0 controls except tab (\x09) and newline (\x0a), DEL, C1 controls, bidi embeddings,
# overrides and isolates, lone surrogates.
_FORBIDDEN_IN_TEXT: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def fold(name: str) -> str:
    """The comparison key of a nick or room name (names are ASCII, compared ignoring case).
    A name already in lower case is its own key: one string, not a copy per place it is kept."""
    return name if name.islower() else name.lower()


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
    if text.isspace():
        raise PeerError(ErrorCode.INVALID_TEXT, "a message cannot be only spaces")
    if _FORBIDDEN_IN_TEXT.search(text) is not None:
        raise PeerError(
            ErrorCode.INVALID_TEXT,
            "a message cannot contain control characters (except \\n, \\t) or bidi overrides",
        )
    return text
