"""IRCv3 batches on raw lines, sans-I/O: tags added to lines already made, batches around them.

How this works: the door's lines are made once (and often shared by every connection with the
same capabilities) before anyone knows they will travel in a batch or carry a label, so these
helpers work on finished lines: :func:`add_tag` puts a tag in front of a line's others,
:func:`wrap` puts lines in a ``BATCH +ref type`` ... ``BATCH -ref`` (each line not already in a
batch gets ``batch=ref``; a nested batch's own lines keep theirs), :func:`single_batch` says
whether some lines are exactly one batch. Batch references are letters, digits and hyphens.
"""

from __future__ import annotations

from typing import Final

from palaver.protocol.irc.wire import escape_tag_value, format_line

CRLF: Final = b"\r\n"


def split_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` (the door's own output: CRLF-terminated), without their CRLF."""
    return [line for line in data.split(CRLF) if line]


def add_tag(line: bytes, key: str, value: str = "") -> bytes:
    """``line`` (without CRLF) with the tag ``key=value`` first among its tags."""
    tag = (f"{key}={escape_tag_value(value)}" if value else key).encode("utf-8", "replace")
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


def tag_keys(line: bytes) -> set[str]:
    """The keys of ``line``'s tags."""
    if not line.startswith(b"@"):
        return set()
    part = line[1:].split(b" ", 1)[0]
    return {item.split(b"=", 1)[0].decode("utf-8", "replace") for item in part.split(b";")}


def command_of(line: bytes) -> tuple[str, str]:
    """A line's command and its first parameter ("" if none)."""
    words = line.split(b" ")
    while words and words[0][:1] in (b"@", b":"):  # tags, then the source
        words.pop(0)
    words = [w for w in words if w]
    command = words[0].decode("utf-8", "replace") if words else ""
    first = words[1].decode("utf-8", "replace").lstrip(":") if len(words) > 1 else ""
    return command, first


def single_batch(lines: list[bytes]) -> bool:
    """Whether ``lines`` are one batch, from its ``BATCH +ref`` to its ``BATCH -ref``."""
    if len(lines) < 2:
        return False
    start, end = command_of(lines[0]), command_of(lines[-1])
    return (start[0] == "BATCH" and end[0] == "BATCH" and start[1].startswith("+")
            and end[1] == "-" + start[1][1:])


def wrap(lines: list[bytes], ref: str, kind: str, *params: str, source: str,
         tags: dict[str, str] | None = None) -> bytes:
    """``lines`` inside the batch ``ref`` of type ``kind``: the start line (with ``tags``),
    each line that is not inside another batch tagged ``batch=ref``, the end line."""
    out = [format_line("BATCH", "+" + ref, kind, *params, source=source, tags=tags,
                       trailing=False)]
    out.extend((line if "batch" in tag_keys(line) else add_tag(line, "batch", ref)) + CRLF
               for line in lines)
    out.append(format_line("BATCH", "-" + ref, source=source, trailing=False))
    return b"".join(out)
