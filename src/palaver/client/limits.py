"""What the server would refuse, checked by the client before sending (pure, no I/O).

A request that breaks a documented limit must not be sent: an over-long frame makes the server
close the connection (``frame_too_large``, docs/protocol.md §1), and a client that resends
whatever was not answered would then reconnect and send it again, for ever. :func:`refusal`
gives the ``ERROR`` the server would answer — the same code, a message for humans, the request's
``id`` — so a client can report it exactly as it reports the server's own refusals.

The rules (docs/protocol.md §6; ``hub/names.py`` ``check_text``, ``hub/rules.py``
``check_topic``):

- a text (``CHAT``, ``DM``): 1-4,000 characters, not only whitespace, no control character but
  newline and tab, no bidi embedding/override/isolate, no lone surrogate → ``invalid_text``;
- a topic (``TOPIC``): at most 300 characters, one line, the same forbidden characters;
- every request: its encoded frame, newline included, at most ``max_frame`` bytes (the
  server's ``max_frame``, 65,536 by default) → ``frame_too_large``.
"""

from __future__ import annotations

import re
from typing import Final

from palaver.protocol.errors import ErrorCode
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import Error, Say, SendDirect, SetTopic, Wire

MAX_FRAME: Final = 65_536  # the server's default max_frame, the newline included
MAX_TEXT: Final = 4_000
MAX_TOPIC: Final = 300

_FORBIDDEN_IN_TEXT: Final = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_FORBIDDEN_IN_TOPIC: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def text_problem(text: str) -> str | None:
    """Why the server would refuse ``text`` as a message (``invalid_text``), or None."""
    if not text:
        return "a message cannot be empty"
    if not text.strip():
        return "a message cannot be only spaces"
    if len(text) > MAX_TEXT:
        return f"a message is at most {MAX_TEXT:,} characters (this one has {len(text):,})"
    if _FORBIDDEN_IN_TEXT.search(text) is not None:
        return ("a message cannot contain control characters (except \\n, \\t) "
                "or bidi overrides")
    return None


def topic_problem(topic: str) -> str | None:
    """Why the server would refuse ``topic`` (``invalid_text``), or None."""
    if len(topic) > MAX_TOPIC:
        return f"a topic is at most {MAX_TOPIC} characters (this one has {len(topic):,})"
    if _FORBIDDEN_IN_TOPIC.search(topic) is not None:
        return "a topic is one line without control characters"
    return None


def frame_size(message: Wire) -> int:
    """The bytes ``message`` takes on the wire, its newline included."""
    return len(encode(message))


def refusal(message: Wire, max_frame: int = MAX_FRAME) -> Error | None:
    """The ERROR (with ``message.id``) the server would answer ``message`` with, or None."""
    problem: str | None = None
    if isinstance(message, Say | SendDirect):
        problem = text_problem(message.text)
    elif isinstance(message, SetTopic):
        problem = topic_problem(message.topic)
    if problem is not None:
        return Error(code=ErrorCode.INVALID_TEXT.value, message=problem, id=message.id)
    size = frame_size(message)
    if size > max_frame:
        return Error(code=ErrorCode.FRAME_TOO_LARGE.value, id=message.id,
                     message=f"too long to send: {size:,} bytes, the server takes at most "
                             f"{max_frame:,}")
    return None


__all__ = ["MAX_FRAME", "MAX_TEXT", "MAX_TOPIC", "frame_size", "refusal", "text_problem",
           "topic_problem"]
