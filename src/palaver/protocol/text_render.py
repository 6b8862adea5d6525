"""How the plain-text door shows the hub's events: lines of text, never a control character.

Reuses the terminal client's renderer (:mod:`palaver.client.render`): the same ``[hh:mm] <alice>
text`` lines, join/leave lines and sanitising — C0 controls but tab become caret form (ESC ->
``^[``), DEL, C1 controls, bidi overrides/isolates and lone surrogates become ``<U+XXXX>``, and a
multi-line text becomes several lines, the later ones indented. Times are UTC: the server does
not know a text client's time zone. Lines end with CR LF (what telnet expects; nc shows it fine).

What is added here: the *classic* style (``alice: text``, the older line programs' look), the
exact replies of the older line dialects (``USER_OK``, ``MSG_OK``, ``Users logged in: ...``,
``ERROR ...``), and the text door's own help.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC
from typing import Final

from palaver.client.commands import HELP
from palaver.client.render import (
    DELETED_TEXT,
    EDITED_MARK,
    View,
    error_line,
    render_message,
    same_name,
    sanitize,
    sanitize_lines,
)
from palaver.client.render_replies import with_reply_and_reactions
from palaver.protocol.errors import ErrorCode
from palaver.protocol.file_text import text_with_file
from palaver.protocol.messages import Error, Message, Registered, Users

EOL: Final = b"\r\n"
GREETING: Final = "Welcome to palaver. Choose a nickname:"
PROMPT: Final = "Choose a nickname:"


class Style(enum.Enum):
    """How chat messages look. ``/style plain|classic`` switches; ``USER|`` picks classic."""

    PLAIN = "plain"  # [12:00] <alice> text
    CLASSIC = "classic"  # alice: text


TEXT_HELP: Final = (
    *(line for line in HELP[:-2]
      if not line.startswith(("  /register", "  /upload", "  /download"))),
    "  /register password make your nickname an account",
    "  /download ID       a link of your own to the file of message ID ([file 41] …)",
    "  /login nick pass   (instead of a nickname) log in to your account",
    "  /style plain       messages look like: [12:00] <alice> text (times in UTC)",
    "  /style classic     messages look like: alice: text",
    *HELP[-2:],
    "Older line commands (work before a nickname too):",
    "  get_time / echo text / calculate_sum 1 2 3.5",
    "  USER|name (choose a nickname, classic style) / MSG|text (to #lobby) / DIR (who is on)",
)

# What the USER|/MSG|/DIR dialect says for the errors a client of it can expect; anything else
# is "ERROR " and the hub's own (sanitised) message.
_SEED_ERRORS: Final = {
    ErrorCode.NICK_TAKEN.value: "name taken",
    ErrorCode.NICK_CONFUSABLE.value: "name taken",
    ErrorCode.INVALID_NICK.value: "invalid name",
    ErrorCode.NICK_REGISTERED.value: "name registered",
    ErrorCode.HANDSHAKE_REQUIRED.value: "not logged in",
}


def view(me: str, room: str | None) -> View:
    return View(me=me, room=room, tz=UTC)


def to_bytes(lines: Iterable[str]) -> bytes:
    """Each line, CR LF after each. The last check before the wire: whatever a line holds, no
    control character (but tab), bidi override or lone surrogate from data reaches the peer
    (the renderers sanitised already: this costs one regex scan of a clean line)."""
    return b"".join(sanitize(line).encode("utf-8", "replace") + EOL for line in lines)


def message_lines(event: Message, v: View, style: Style) -> list[str]:
    if style is Style.PLAIN:
        return render_message(event, v)
    return classic_message(event, v)


def classic_message(event: Message, v: View) -> list[str]:
    """``alice: text``; ``#dev alice: text`` from another room; ``*alice*: text`` for a direct
    message to me, ``-> *bob*: text`` for one I sent."""
    if event.reply_to is not None or event.reactions:  # client/render_replies.py
        return with_reply_and_reactions(event, lambda bare: classic_message(bare, v))
    sender = sanitize(event.sender)
    if event.to is not None:
        if same_name(event.sender, v.me):
            prefix = f"-> *{sanitize(event.to)}*: "
        else:
            prefix = f"*{sender}*: "
    elif event.room is not None and not same_name(event.room, v.room):
        prefix = f"{sanitize(event.room)} {sender}: "
    else:
        prefix = f"{sender}: "
    first, *rest = sanitize_lines(DELETED_TEXT if event.deleted
                                  else text_with_file(event.text, event.file, event.msg_id)
                                  + (EDITED_MARK if event.edited_at is not None else ""))
    indent = " " * len(prefix)
    return [prefix + first, *((indent + line) if line else "" for line in rest)]


def users_line(event: Users) -> str:
    """The ``DIR`` reply: ``Users logged in: alice, bob``."""
    return "Users logged in: " + ", ".join(sanitize(u) for u in event.users)


def seed_error(event: Error) -> str:
    """An error for the older line dialects: ``ERROR name taken``, ``ERROR not logged in``…"""
    return "ERROR " + _SEED_ERRORS.get(event.code, sanitize(event.message))


def registered_line(event: Registered) -> str:
    nick = sanitize(event.nick)
    return f"* {nick} is now an account: next time, log in with /login {nick} <password>"


def chat_error(event: Error) -> str:
    """An error as ``palaver chat`` shows it: ``! message (code)``."""
    if event.code == ErrorCode.HANDSHAKE_REQUIRED.value:
        return error_line("choose a nickname first", event.code)
    return error_line(event.message, event.code)


__all__ = [
    "EOL",
    "GREETING",
    "PROMPT",
    "TEXT_HELP",
    "Style",
    "chat_error",
    "classic_message",
    "message_lines",
    "registered_line",
    "seed_error",
    "to_bytes",
    "users_line",
    "view",
]
