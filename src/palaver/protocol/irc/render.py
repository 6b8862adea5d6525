"""Hub events as IRC lines, sans-I/O: what every IRC connection with the same capabilities sees.

How this works: :class:`IrcRenderer` holds only the connection's capabilities and the server's
name, so what it makes for a broadcast event (a message, a join, a quit) depends on nothing
else and may be shared by every connection with the same capabilities. Replies addressed to
one connection (numerics) are made by the dialect with the same helpers and that connection's
nick. Texts are split to fit IRC's line limit, never cut; nothing from a user's text can put a
CR, LF or NUL on the wire (:func:`~palaver.protocol.irc.wire.format_line`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from palaver.protocol.irc.wire import MAX_LINE, format_line, split_text
from palaver.protocol.messages import Message, Presence

SUPPORTED_CAPS: Final = ("echo-message", "message-tags", "server-time", "cap-notify", "sasl",
                          "draft/read-marker", "draft/message-redaction")
CAP_VALUES: Final = {"sasl": "PLAIN"}  # shown in CAP LS 302
# Capabilities that change no line the renderer makes (left out of the encode key, so that
# connections differing only by them share a broadcast's bytes).
UNRENDERED_CAPS: Final = frozenset({"cap-notify", "sasl"})
HOST: Final = "palaver"
# Controls a text may not carry to an IRC client (\t and \n are handled: kept, split).
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """``text`` with every control character but tab and newline made visible as U+FFFD."""
    return _CONTROLS.sub("\ufffd", text)


def hostmask(nick: str) -> str:
    return f"{nick}!{nick}@{HOST}"


def message_id(event: Message) -> str:
    """The ``msgid`` tag: ``<room>/<msg_id>``, or ``dm/<a>,<b>/<msg_id>`` for a direct one."""
    return conversation_msgid(event.room, event.sender, event.to, event.msg_id)


def conversation_msgid(room: str | None, sender: str, to: str | None, msg_id: int) -> str:
    """:func:`message_id` of the message ``msg_id`` of ``room`` (or from ``sender`` to ``to``)."""
    if room is not None:
        return f"{room}/{msg_id}"
    ends = sorted((sender.lower(), (to or "").lower()))
    return f"dm/{ends[0]},{ends[1]}/{msg_id}"


class IrcRenderer:
    __slots__ = ("caps", "server")

    def __init__(self, server: str, caps: frozenset[str]) -> None:
        self.server = server
        self.caps = caps

    def numeric(self, code: str, target: str, *params: str) -> bytes:
        """A numeric reply. Its parameters often echo what the client sent (a refused nick or
        channel, a mode letter): every control character in them is shown as U+FFFD."""
        return format_line(code, clean(target), *map(clean, params), source=self.server)

    def notice(self, target: str, text: str) -> bytes:
        return b"".join(
            format_line("NOTICE", target, piece, source=self.server)
            for piece in split_text(clean(text), _budget(f":{self.server} NOTICE {target} :"))
        )

    def message(self, event: Message) -> bytes:
        """A chat message as one or more PRIVMSG (NOTICE for a notice) lines, each within the
        limit. A deleted one (a tombstone in history) is left out."""
        if event.deleted:
            return b""
        command = "NOTICE" if event.notice else "PRIVMSG"
        source = hostmask(event.sender)
        target = event.room or event.to or "*"
        base_tags: dict[str, str] = {}
        if "server-time" in self.caps:
            base_tags["time"] = event.ts
        msgid = message_id(event) if "message-tags" in self.caps else None
        text = clean(event.text)
        action = f"* {event.sender} "
        is_action = text.startswith(action) and "\n" not in text and len(text) > len(action)
        if is_action:
            text = text[len(action):]
        wrapper = len("\x01ACTION \x01") if is_action else 0
        budget = _budget(f":{source} {command} {target} :") - wrapper
        out: list[bytes] = []
        for index, piece in enumerate(split_text(text, budget)):
            tags = dict(base_tags)
            if msgid is not None:
                tags["msgid"] = msgid if index == 0 else f"{msgid}.{index + 1}"
            body = f"\x01ACTION {piece}\x01" if is_action else piece
            out.append(format_line(command, target, body, source=source, tags=tags))
        return b"".join(out)

    def presence(self, event: Presence) -> bytes:
        source = hostmask(event.nick)
        if event.event == "join" and event.room:
            return format_line("JOIN", event.room, source=source, trailing=False)
        if event.event == "leave" and event.room:
            if event.reason:
                return format_line("PART", event.room, clean(event.reason), source=source)
            return format_line("PART", event.room, source=source, trailing=False)
        if event.event == "quit":
            return format_line("QUIT", clean(event.reason or "quit"), source=source)
        if event.event == "nick" and event.new_nick:
            return format_line("NICK", event.new_nick, source=source)
        return b""

    def names(self, me: str, channel: str, nicks: Iterable[str], before_end: bytes = b"", *,
              symbol: str = "=", with_end: bool = True, end_name: str | None = None) -> bytes:
        """353 lines (as many as the nicks need; ``symbol`` ``=``, or ``@`` for a secret
        channel), ``before_end``, and 366 (about ``end_name``, default the channel) unless
        not ``with_end``."""
        prefix = f":{self.server} 353 {me} {symbol} {channel} :"
        budget = _budget(prefix)
        lines: list[bytes] = []
        chunk: list[str] = []
        size = 0
        for nick in nicks:
            extra = len(nick) + (1 if chunk else 0)
            if chunk and size + extra > budget:
                lines.append(self.numeric("353", me, symbol, channel, " ".join(chunk)))
                chunk, size, extra = [], 0, len(nick)
            chunk.append(nick)
            size += extra
        if chunk:
            lines.append(self.numeric("353", me, symbol, channel, " ".join(chunk)))
        lines.append(before_end)
        if with_end:
            lines.append(self.numeric("366", me, end_name or channel, "End of /NAMES list"))
        return b"".join(lines)

    def motd(self, me: str, motd: str) -> bytes:
        if not motd.strip():
            return self.numeric("422", me, "MOTD File is missing")
        lines = [self.numeric("375", me, f"- {self.server} Message of the day -")]
        budget = _budget(f":{self.server} 372 {me} :- ")
        pieces = split_text(clean(motd), budget)
        lines.extend(self.numeric("372", me, f"- {piece}") for piece in pieces)
        lines.append(self.numeric("376", me, "End of /MOTD command."))
        return b"".join(lines)


def _budget(prefix: str) -> int:
    """Bytes left for a trailing text after ``prefix``, within the line limit (CRLF too)."""
    return MAX_LINE - 2 - len(prefix.encode("utf-8", "replace"))
