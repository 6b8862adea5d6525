"""IRC lines, sans-I/O: framing with limits, parsing with message tags, serialising, splitting.

How this works: :class:`IrcFramer` cuts the byte stream into lines. A line may carry up to
``MAX_TAGS`` bytes of tags (IRCv3 message-tags) plus ``MAX_LINE`` bytes for the rest, CRLF
included; of a client's line, the dialect reads at most ``MAX_CLIENT_TAGS`` bytes of tags (the
rest of the room is for the tags the server adds when it relays them). A longer line is never
buffered past that bound: the framer reports it once
(:data:`TOO_LONG`, answered with ERR_INPUTTOOLONG) and skips to the next newline, and the
connection goes on — unless the line is still going when it reaches ``MAX_RUNAWAY`` (a few
times the limit): then the framer reports :data:`RUNAWAY` once and reads nothing more, and the
connection is closed (as ergo does), so an endless line costs the server a bounded amount of
reading. :func:`parse_line` turns one line into an :class:`IrcLine`;
:func:`format_line` makes the bytes of one outgoing line and guarantees they hold no CR, LF or
NUL whatever the parameters contain. :func:`split_text` cuts a long or multi-line text into
pieces that each fit a byte budget, on UTF-8 character boundaries, losing nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

MAX_LINE: Final = 512  # the non-tag part, CRLF included
MAX_TAGS: Final = 8_191  # the tag part ("@" ... " ") of a line
MAX_CLIENT_TAGS: Final = 4_096  # the tag part of a line from a client (IRCv3 message-tags)
MAX_INPUT: Final = MAX_TAGS + MAX_LINE
RUNAWAY_FACTOR: Final = 4
MAX_RUNAWAY: Final = RUNAWAY_FACTOR * MAX_INPUT  # a line still going at this length: closed


class TooLong:
    """A line over the limits was received (and skipped)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


TOO_LONG: Final = TooLong("TOO_LONG")
RUNAWAY: Final = TooLong("RUNAWAY")  # a line that reached the hard bound: nothing more is read


class IrcFramer:
    """Bytes in, complete lines (without CR/LF), :data:`TOO_LONG` or :data:`RUNAWAY` out, in
    order. After :data:`RUNAWAY` the framer reads nothing more."""

    __slots__ = ("_dead", "_hard", "_max", "_skipped", "_skipping", "_tail")

    def __init__(self, max_line: int = MAX_INPUT, hard_limit: int | None = None) -> None:
        self._max = max_line
        if hard_limit is None:  # the shared constant for the default: no int per connection
            hard_limit = MAX_RUNAWAY if max_line == MAX_INPUT else RUNAWAY_FACTOR * max_line
        self._hard = hard_limit
        # A line's start while its end has not come; b"" (shared) when there is none, a
        # bytearray while one is being gathered.
        self._tail: bytes | bytearray = b""
        self._skipping = False  # inside a line already reported too long
        self._skipped = 0  # bytes of that line so far (without its newline)
        self._dead = False  # RUNAWAY was reported

    @property
    def buffered(self) -> int:
        return len(self._tail)

    @property
    def idle(self) -> bool:
        """As a new framer: nothing kept, nothing being skipped, not stopped."""
        return not (self._tail or self._skipping or self._dead)

    def receive_data(self, data: bytes) -> list[bytes | TooLong]:
        out: list[bytes | TooLong] = []
        start = 0
        while start < len(data) and not self._dead:
            end = data.find(b"\n", start)
            chunk = data[start:] if end < 0 else data[start:end]
            start = len(data) if end < 0 else end + 1
            if self._skipping:
                self._skip(len(chunk), out)
                if end >= 0:
                    self._skipping = False
                continue
            if len(self._tail) + len(chunk) >= self._max:  # cannot fit (with its newline)
                length = len(self._tail) + len(chunk)
                self._tail = b""
                out.append(TOO_LONG)
                self._skipping, self._skipped = end < 0, 0
                self._skip(length, out)
                continue
            if end < 0:
                if self._tail:
                    self._tail += chunk  # a bytearray: in place
                else:
                    self._tail = bytearray(chunk)
                continue
            line = bytes(self._tail + chunk) if self._tail else chunk
            self._tail = b""
            out.append(line[:-1] if line.endswith(b"\r") else line)
        return out

    def _skip(self, length: int, out: list[bytes | TooLong]) -> None:
        """``length`` more bytes of a line too long; RUNAWAY once it reaches the hard bound."""
        self._skipped += length
        if self._skipped >= self._hard:
            self._dead = True
            self._tail = b""
            out.append(RUNAWAY)

    def receive_eof(self) -> list[bytes | TooLong]:
        tail, self._tail = bytes(self._tail), b""
        if self._skipping or self._dead or not tail:
            return []
        return [tail[:-1] if tail.endswith(b"\r") else tail]


# --------------------------------------------------------------------------- parsing


class BadLine(Exception):
    """A line that is not IRC (no command); the message says why, ``tags`` are its tags."""

    def __init__(self, why: str, tags: dict[str, str] | None = None) -> None:
        super().__init__(why)
        self.tags = tags or {}


@dataclass(frozen=True, slots=True)
class IrcLine:
    command: str
    params: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    utf8: bool = True  # False: the line was not UTF-8 (and was read as Latin-1)


_TAG_UNESCAPE: Final = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPE: Final = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r",
                                     "\n": "\\n"})
_COMMAND: Final = re.compile(r"[A-Za-z]+|[0-9]{3}", re.ASCII)


def decode_text(raw: bytes) -> str:
    """IRC has no declared encoding: UTF-8 if it is, else Latin-1 (never fails)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def unescape_tag_value(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, "")
            out.append(_TAG_UNESCAPE.get(nxt, nxt))
        else:
            out.append(char)
    return "".join(out)


def escape_tag_value(value: str) -> str:
    return value.translate(_TAG_ESCAPE).replace("\0", "")


def parse_line(raw: bytes) -> IrcLine:
    """One line (without CRLF). Raises :class:`BadLine` if it has no valid command."""
    try:
        text, utf8 = raw.decode("utf-8"), True
    except UnicodeDecodeError:
        text, utf8 = raw.decode("latin-1"), False
    text = text.replace("\0", "")
    tags: dict[str, str] = {}
    if text.startswith("@"):
        tag_part, _, text = text[1:].partition(" ")
        for item in tag_part.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = unescape_tag_value(value)
    text = text.lstrip(" ")
    source = None
    if text.startswith(":"):
        source_part, _, text = text[1:].partition(" ")
        source = source_part
        text = text.lstrip(" ")
    head, sep, trailing = text.partition(" :")
    # Parameters are separated by ASCII spaces only: str.split() would also cut at tabs, NEL
    # (U+0085), NBSP and every other Unicode space, so "NICK iv\x85il" would become "iv".
    params = [param for param in head.split(" ") if param]
    if sep:
        params.append(trailing)
    elif text.startswith(":"):  # only a trailing parameter, no command
        params = []
    if not params:
        raise BadLine("no command", tags)
    command = params.pop(0)
    if _COMMAND.fullmatch(command) is None:
        raise BadLine(f"bad command {command[:20]!r}", tags)
    return IrcLine(command.upper(), params, tags, source, utf8)


def tag_part_length(raw: bytes) -> int:
    """Bytes of the tag part of a raw line ("@" up to and including the space), else 0."""
    if not raw.startswith(b"@"):
        return 0
    space = raw.find(b" ")
    return len(raw) if space < 0 else space + 1


# --------------------------------------------------------------------------- serialising

_UNSAFE: Final = re.compile(r"[\x00\r\n]")
# Never on the wire either, whatever a parameter holds: ESC, DEL, C1 controls (terminal escape
# sequences) and bidi embeddings/overrides/isolates. IRC's own formatting codes (\x02, \x03,
# \x1d, \x01 for CTCP...) are not in this set: the server sends \x01ACTION\x01 itself, and user
# texts lose theirs before they get here (:func:`~palaver.protocol.irc.render.clean`).
_HOSTILE: Final = re.compile("[\x1b\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_MIDDLE: Final = re.compile(r"[\x00\r\n ]")


def format_tags(tags: dict[str, str]) -> str:
    """``@a=b;c `` (with the space), or "" for no tags."""
    if not tags:
        return ""
    items = [k if not v else f"{k}={escape_tag_value(v)}" for k, v in tags.items()]
    return _HOSTILE.sub("\ufffd", "@" + ";".join(items) + " ")


def format_line(
    command: str,
    *params: str,
    source: str | None = None,
    tags: dict[str, str] | None = None,
    trailing: bool = True,
) -> bytes:
    """One line with CRLF. The last parameter is sent as a trailing one (``:...``) when
    ``trailing`` is true or it needs to be. No CR, LF or NUL from any parameter survives."""
    # Most lines are printable ASCII: for those the regular expressions below would find
    # nothing, so they are not run (``_plain``: the same result, no pass of the regex engine).
    parts: list[str] = []
    if source:
        parts.append(":" + (source if _plain(source) and " " not in source
                            else _UNSAFE_MIDDLE.sub("_", source)))
    parts.append(command)
    for param in params[:-1]:
        safe = (param if _plain(param) and " " not in param
                else _UNSAFE_MIDDLE.sub("_", param)) or "*"
        parts.append("_" + safe[1:] if safe.startswith(":") else safe)
    if params:
        last = params[-1]
        if not _plain(last):
            last = _UNSAFE.sub(" ", last)
        if trailing or not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    line = " ".join(parts)
    if not _plain(line):
        line = _HOSTILE.sub("\ufffd", line)
    body = line.encode("utf-8", "replace")
    if len(body) > MAX_LINE - 2:  # only for texts we do not split (reasons, topics): cut
        body = _cut_utf8(body, MAX_LINE - 2)
    return format_tags(tags or {}).encode("utf-8", "replace") + body + b"\r\n"


def _plain(text: str) -> bool:
    """Printable ASCII only (spaces included): nothing that any pattern here replaces."""
    return text.isascii() and text.isprintable()


def _cut_utf8(data: bytes, limit: int) -> bytes:
    cut = data[:limit]
    return cut.decode("utf-8", "ignore").encode("utf-8")


def fit(text: str, budget: int) -> str:
    """``text`` cut to at most ``budget`` bytes of UTF-8, between characters."""
    data = text.encode("utf-8", "replace")
    if len(data) <= budget:
        return text
    return data[:max(budget, 0)].decode("utf-8", "ignore")


def split_text(text: str, budget: int) -> list[str]:
    """Pieces of ``text`` that each fit ``budget`` bytes of UTF-8, one or more per line of
    the text. Long lines break after a space when there is one in the second half of a piece,
    else between characters. Nothing is dropped: joining the pieces of one line gives it back
    (an empty line becomes a single space, since IRC cannot send an empty message)."""
    budget = max(budget, 4)  # a character is at most 4 bytes
    pieces: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            pieces.append(" ")
            continue
        data = line.encode("utf-8", "replace")
        while len(data) > budget:
            cut = budget
            while cut > 0 and (data[cut] & 0xC0) == 0x80:  # not inside a character
                cut -= 1
            space = data.rfind(b" ", budget // 2, cut)
            if space >= 0:
                cut = space + 1  # the space stays at the end of the piece
            pieces.append(data[:cut].decode("utf-8"))
            data = data[cut:]
        if data:
            pieces.append(data.decode("utf-8"))
    return pieces


# IRC formatting (bold, colours, italics, ...) that palaver texts cannot hold.
_FORMATTING: Final = re.compile(
    r"\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    r"|\x04(?:[0-9A-Fa-f]{6}(?:,[0-9A-Fa-f]{6})?)?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def strip_formatting(text: str) -> str:
    """Text without IRC formatting codes or other control characters (tabs stay)."""
    return _FORMATTING.sub("", text)


_NOT_IN_A_LINE: Final = re.compile("[\t\u202a-\u202e\u2066-\u2069]")


def one_line(text: str, limit: int) -> str | None:
    """IRC text as one line palaver keeps (a realname, an away message, a PART reason): no
    formatting, tab or bidi control, at most ``limit`` characters; None if nothing is left."""
    line = _NOT_IN_A_LINE.sub(" ", strip_formatting(text)).strip()[:limit].strip()
    return line or None
