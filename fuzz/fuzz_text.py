"""atheris target: the plain-text door's dialect (nicknames, /commands, the older line
dialects), and the text writer's output for whatever it is asked to show.

Run: .venv/bin/python fuzz/fuzz_text.py -max_total_time=60   (see docs/fuzzing.md)
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from palaver.protocol.errors import PeerError
    from palaver.protocol.messages import CLIENT_MESSAGE_TYPES, Message
    from palaver.protocol.text import TextDialect
    from palaver.protocol.text_render import Style, message_lines, to_bytes, view

from _common import check_peer_error, same_whole_and_split

PREFIXES = (b"", b"bob\n", b"USER|bob\n", b"/login bob secret\n")


def new() -> TextDialect:
    return TextDialect(max_frame=512)


def safe(data: bytes) -> None:
    for line in data.split(b"\r\n")[:-1]:
        assert not any(b in line for b in (b"\r", b"\n", b"\x00", b"\x1b")), line
        line.decode("utf-8")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    seed, body = data[0], PREFIXES[data[0] % len(PREFIXES)] + data[1:]
    for item in same_whole_and_split(new, body, seed):
        if isinstance(item, PeerError):
            check_peer_error(item)
        elif isinstance(item, bytes):
            safe(item)  # the dialect's own replies
        else:
            assert isinstance(item, CLIENT_MESSAGE_TYPES), item
    text = data[1:].decode("utf-8", "surrogateescape")
    event = Message(msg_id=1, sender=text[:8] or "x", text=text, ts="2026-01-01T00:00:00Z",
                    room="#lobby")
    for style in Style:
        safe(to_bytes(message_lines(event, view("me", "#lobby"), style)))


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
