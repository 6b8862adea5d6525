"""Hub events as IRC lines, sans-I/O: what every IRC connection with the same capabilities sees.

How this works: :class:`IrcRenderer` holds only the connection's capabilities and the server's
name, so what it makes for a broadcast event (a message, a join, a quit) depends on nothing
else and may be shared by every connection with the same capabilities. Replies addressed to
one connection (numerics) are made by the dialect with the same helpers and that connection's
nick. Texts are split to fit IRC's line limit, never cut; nothing from a user's text can put a
CR, LF or NUL on the wire (:func:`~palaver.protocol.irc.wire.format_line`).

A text of several lines (or one too long for a line) goes to a client with ``draft/multiline``
and ``batch`` as one ``draft/multiline`` batch (a long line's pieces, and the lines its sender
wrapped, tagged ``draft/multiline-concat``); to others as one message per line, blank lines
left out, the ``msgid`` on the first only. Client-only tags go with every line (or on the
batch), to clients with ``message-tags`` only; TAGMSG goes to nobody else.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

import msgspec

from palaver.protocol.file_text import text_with_file
from palaver.protocol.irc.metadata import CAP as METADATA
from palaver.protocol.irc.metadata import CAP_VALUE as METADATA_LIMITS
from palaver.protocol.irc.multiline import CAP_VALUE as MULTILINE_LIMITS
from palaver.protocol.irc.wire import MAX_LINE, format_line, split_text
from palaver.protocol.messages import MembersChanged, Message, Presence, StatusMessage, Tagged

SUPPORTED_CAPS: Final = ("echo-message", "message-tags", "server-time", "cap-notify", "sasl",
                          "multi-prefix", "userhost-in-names", "away-notify", "account-notify",
                          "account-tag", "extended-join", "setname", "invite-notify",
                          "batch", "draft/multiline", "labeled-response", "draft/chathistory",
                          "draft/read-marker", "draft/message-redaction", METADATA,
                          "extended-monitor", "chghost")
CAP_VALUES: Final = {"sasl": "PLAIN",  # shown in CAP LS 302
                     "draft/multiline": MULTILINE_LIMITS, METADATA: METADATA_LIMITS}
# Capabilities that change no line the renderer makes (left out of the encode key, so that
# connections differing only by them share a broadcast's bytes).
# chghost: a host never changes on palaver (always HOST), so no CHGHOST line is ever sent.
UNRENDERED_CAPS: Final = frozenset({"cap-notify", "sasl", "labeled-response", "chghost"})
HOST: Final = "palaver"
MULTILINE_CAPS: Final = frozenset({"draft/multiline", "batch"})
STATUS_PREFIX: Final = {"operators": "@", "voiced": "+"}
# Controls a text may not carry to an IRC client (\t and \n are handled: kept, split).
_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """``text`` with every control character but tab and newline made visible as U+FFFD."""
    if text.isascii() and text.isprintable():  # the usual case: no regex pass to find nothing
        return text
    return _CONTROLS.sub("\ufffd", text)


def _plain_word(text: str) -> bool:
    """Printable ASCII, no space, not starting with ":": a middle parameter as it is."""
    return text.isascii() and text.isprintable() and " " not in text and text[0] != ":"


def hostmask(nick: str) -> str:
    return f"{nick}!{nick}@{HOST}"


def logical_lines(text: str, breaks: tuple[int, ...] = ()) -> list[tuple[str, bool]]:
    """A text's lines, each with whether it continues the one before it (its sender wrapped
    the line there: a break) rather than starting a new one."""
    if not breaks:
        return [(line, False) for line in text.split("\n")]
    out: list[tuple[str, bool]] = []
    start = 0
    for cut in [*sorted({b for b in breaks if 0 < b < len(text)}), len(text)]:
        for index, part in enumerate(text[start:cut].split("\n")):
            out.append((part, index == 0 and start > 0))
        start = cut
    return out


def message_id(event: Message) -> str:
    """The ``msgid`` tag: ``<room>/<msg_id>``, or ``dm/<a>,<b>/<msg_id>`` for a direct one."""
    return conversation_msgid(event.room, event.sender, event.to, event.msg_id)


def conversation_msgid(room: str | None, sender: str, to: str | None, msg_id: int) -> str:
    """:func:`message_id` of the message ``msg_id`` of ``room`` (or from ``sender`` to ``to``)."""
    if room is not None:
        return f"{room}/{msg_id}"
    ends = sorted((sender.lower(), (to or "").lower()))
    return f"dm/{ends[0]},{ends[1]}/{msg_id}"


# A numeric's parameters -> the line after its target, rendered (IrcRenderer.numeric): the
# welcome burst, ISUPPORT and the MOTD are the same for every client but for the nick they go
# to. One table for the process (it depends on nothing else), bounded: some parameters echo
# what clients sent, so at most this many lines are kept (under 1 MB), then all forgotten.
_TAILS: dict[tuple[str, ...], str] = {}
_TAILS_KEPT: Final = 512


class IrcRenderer:
    __slots__ = ("caps", "server")

    def __init__(self, server: str, caps: frozenset[str]) -> None:
        self.server = server
        self.caps = caps

    def numeric(self, code: str, target: str, *params: str) -> bytes:
        """A numeric reply. Its parameters often echo what the client sent (a refused nick or
        channel, a mode letter): every control character in them is shown as U+FFFD.

        A line is its source and code, the target (the client's nick), and the rest; the rest
        is rendered once and kept (``_TAILS``), and the line is those put together — the same
        bytes as :func:`format_line` would give — when the target is a plain nick and the line
        needs no cut."""
        if not params or not target or not _plain_word(target) or not _plain_word(self.server):
            return format_line(code, clean(target), *map(clean, params), source=self.server)
        tail = _TAILS.get(params)
        if tail is None:
            if len(_TAILS) >= _TAILS_KEPT:
                _TAILS.clear()
            # format_line treats each parameter alone (the target's presence changes nothing
            # but the total length, checked below): what follows "X" is the rest of the line
            tail = _TAILS[params] = format_line("X", *map(clean, params)).decode("utf-8")[1:]
        line = f":{self.server} {code} {target}{tail}".encode()
        if len(line) > MAX_LINE:  # too long: format_line cuts it
            return format_line(code, clean(target), *map(clean, params), source=self.server)
        return line

    def notice(self, target: str, text: str) -> bytes:
        return b"".join(
            format_line("NOTICE", target, piece, source=self.server)
            for piece in split_text(clean(text), _budget(f":{self.server} NOTICE {target} :"))
        )

    def message(self, event: Message) -> bytes:
        """A chat message as PRIVMSG (NOTICE for a notice) lines, each within the limit, or
        as a multiline batch. A deleted one (a tombstone in history) is left out."""
        if event.deleted:
            return b""
        if event.reply_to is not None:  # +draft/reply, or a quote line (irc/reactions.py)
            from palaver.protocol.irc.reactions import with_reply

            event = with_reply(event, "message-tags" in self.caps)
        if event.file is not None:  # a line with its name, size and URL after the text
            text = text_with_file(event.text, event.file, event.msg_id)  # [file 41] …
            event = msgspec.structs.replace(event, text=text, breaks=())
        return self._text(event, event.room or event.to or "*", message_id(event))

    def status_message(self, event: StatusMessage) -> bytes:
        """A message to some of a room's members: to ``@#room`` (``+#room``)."""
        return self._text(event, STATUS_PREFIX[event.only] + event.room, event.ref)

    def tagmsg(self, event: Tagged) -> bytes:
        """Client-only tags alone: a TAGMSG, to clients with message-tags only."""
        if "message-tags" not in self.caps:
            return b""
        target = event.room or event.to or "*"
        if event.only is not None:
            target = STATUS_PREFIX[event.only] + target
        tags = {"time": event.ts} if "server-time" in self.caps else {}
        tags["msgid"] = event.ref
        tags.update(event.tags)
        return format_line("TAGMSG", target, source=hostmask(event.sender), tags=tags,
                           trailing=False)

    def _text(self, event: Message | StatusMessage, target: str, msgid: str) -> bytes:
        command = "NOTICE" if event.notice else "PRIVMSG"
        source = hostmask(event.sender)
        stamp = {"time": event.ts} if "server-time" in self.caps else {}
        tagged = "message-tags" in self.caps
        account = getattr(event, "account", None)  # who sent it, on every line of it
        if account and "account-tag" in self.caps:
            stamp["account"] = account
        if tagged and getattr(event, "bot", False):
            stamp["bot"] = ""
        client = dict(event.tags) if tagged and event.tags else {}
        first = {**stamp, "msgid": msgid, **client} if tagged else stamp
        rest = {**stamp, **client}
        text = clean(event.text)
        budget = _budget(f":{source} {command} {target} :")
        lines = logical_lines(text, event.breaks)
        if len(lines) == 1:
            action = f"* {event.sender} "
            if text.startswith(action) and len(text) > len(action):  # CTCP ACTION
                pieces = split_text(text[len(action):], budget - len("\x01ACTION \x01"))
                return b"".join(
                    format_line(command, target, f"\x01ACTION {piece}\x01", source=source,
                                tags=first if index == 0 else rest)
                    for index, piece in enumerate(pieces))
        if self.caps >= MULTILINE_CAPS and (len(lines) > 1 or len(text.encode()) > budget):
            return self._batch(lines, command, target, source, budget, first, msgid)
        out: list[bytes] = []
        for line, _ in lines:
            if line:  # blank lines are for multiline clients only
                out.extend(format_line(command, target, piece, source=source,
                                       tags=rest if out else first)
                           for piece in split_text(line, budget))
        return b"".join(out)

    @staticmethod
    def _batch(lines: list[tuple[str, bool]], command: str, target: str, source: str,
               budget: int, tags: dict[str, str], msgid: str) -> bytes:
        """One ``draft/multiline`` batch: its tags on the start line, a line per line (a long
        one in pieces, each continuing the one before: ``draft/multiline-concat``)."""
        ref = "ml" + re.sub("[^A-Za-z0-9]", "", msgid)[-24:]
        out = [format_line("BATCH", "+" + ref, "draft/multiline", target, source=source,
                           tags=tags, trailing=False)]
        for line, concat in lines:
            for index, piece in enumerate(split_text(line, budget) if line else [""]):
                inner = {"batch": ref}
                if concat or index:
                    inner["draft/multiline-concat"] = ""
                out.append(format_line(command, target, piece, source=source, tags=inner))
        out.append(format_line("BATCH", "-" + ref, source=source, trailing=False))
        return b"".join(out)

    def members_changed(self, event: MembersChanged) -> bytes:
        """A big room's joins and leaves since the last batch (hub/crowds.py) as the JOIN and
        PART lines they stand for (extended-join: account ``*`` and the nick as realname,
        which the batch does not carry)."""
        extended = "extended-join" in self.caps
        lines = [format_line("JOIN", event.room, "*", nick, source=hostmask(nick)) if extended
                 else format_line("JOIN", event.room, source=hostmask(nick), trailing=False)
                 for nick in event.joined]
        lines.extend(format_line("PART", event.room, source=hostmask(nick), trailing=False)
                     for nick in event.left)
        return b"".join(lines)

    def presence(self, event: Presence) -> bytes:
        source = hostmask(event.nick)
        if event.event == "join" and event.room:
            if "extended-join" in self.caps:  # with the account (or *) and realname
                line = format_line("JOIN", event.room, event.account or "*",
                                   clean(event.realname or event.nick), source=source)
            else:
                line = format_line("JOIN", event.room, source=source, trailing=False)
            if event.away and "away-notify" in self.caps:  # who joins away says so
                line += format_line("AWAY", clean(event.away), source=source)
            return line
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
