"""atheris target: the IRC door (framing, line parsing, the registration table, commands), and
the IRC writer's lines for whatever text or names it is given.

Run: .venv/bin/python fuzz/fuzz_irc.py -max_total_time=60   (see docs/fuzzing.md)
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from palaver.protocol.errors import PeerError
    from palaver.protocol.irc import IrcDialect
    from palaver.protocol.irc.render import IrcRenderer
    from palaver.protocol.irc.wire import BadLine, format_line, parse_line
    from palaver.protocol.messages import CLIENT_MESSAGE_TYPES, Message

import contextlib

from _common import check_peer_error, same_whole_and_split

PREFIXES = (b"", b"NICK ann\r\nUSER ann 0 * :Ann\r\n", b"CAP LS 302\r\n", b"PASS x\r\n")


def new() -> IrcDialect:
    return IrcDialect(id_prefix="f", nick_of=lambda: "ann")


def safe(data: bytes) -> None:
    assert not data or data.endswith(b"\r\n"), data[-20:]
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
            safe(item)
        else:
            assert isinstance(item, CLIENT_MESSAGE_TYPES), item
    for raw in data[1:].split(b"\n")[:8]:
        with contextlib.suppress(BadLine):
            parse_line(raw.rstrip(b"\r"))
    text = data[1:].decode("utf-8", "surrogateescape")
    words = text.split(" ")
    safe(format_line("PRIVMSG", *words[:5], source=words[-1], tags={"t": text[:30]}))
    renderer = IrcRenderer("palaver", frozenset({"server-time", "message-tags"}))
    event = Message(msg_id=1, sender=words[0] or "x", text=text or "x",
                    ts="2026-01-01T00:00:00Z", room=words[-1] or "#a")
    safe(renderer.message(event))


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
