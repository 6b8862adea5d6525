"""The few lines a crowd benchmark speaks, in palaver's JSON lines and in IRC.

How this works: a :class:`Dialect` knows how to register (JSON: HELLO; IRC: NICK/USER), how to
join a room, post a line and quit, and the bytes that say "registered" (JSON: WELCOME; IRC:
``001``) and "you joined this room" (JSON: the JOINED of that room; IRC: the ``366`` end of NAMES
for that nick and channel). The connections (:mod:`benchmarks.crowdload`) look for those bytes
with ``in`` and never parse a frame. JSON's HELLO can name the rooms to join, so a JSON client
registers and joins in one round trip; an IRC client must wait for ``001`` before it may JOIN.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from palaver.protocol.jsonl import encode
from palaver.protocol.messages import PROTOCOL_VERSION, Hello, Join, Pong, Quit, Say


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    welcome: bytes
    echo: bool  # the speaker gets its own message back
    joins_in_hello: bool  # registration can carry the rooms to join

    def register(self, nick: str, rooms: tuple[str, ...] | None, autojoin: bool) -> bytes:
        raise NotImplementedError

    def join(self, room: str) -> bytes:
        raise NotImplementedError

    def joined(self, nick: str, room: str) -> bytes:
        raise NotImplementedError

    def say(self, room: str, text: str) -> bytes:
        raise NotImplementedError

    def quit(self) -> bytes:
        raise NotImplementedError

    def pong(self, data: bytes) -> bytes:
        """The answers to any PINGs in ``data`` (complete lines), or b""."""
        raise NotImplementedError

    def refusal(self, data: bytes) -> str | None:
        """Why the server is closing this connection, if ``data`` says so."""
        raise NotImplementedError


class JsonLines(Dialect):
    PING: Final = b'"type":"PING"'
    BYE: Final = b'"type":"BYE"'
    PONG: Final = encode(Pong())

    def register(self, nick: str, rooms: tuple[str, ...] | None, autojoin: bool) -> bytes:
        return encode(Hello(version=PROTOCOL_VERSION, nick=nick, rooms=rooms or None,
                            autojoin=autojoin))

    def join(self, room: str) -> bytes:
        return encode(Join(room=room))

    def joined(self, nick: str, room: str) -> bytes:
        return b'"type":"JOINED","room":' + json.dumps(room).encode()

    def say(self, room: str, text: str) -> bytes:
        return encode(Say(room=room, text=text))

    def quit(self) -> bytes:
        return encode(Quit())

    def pong(self, data: bytes) -> bytes:
        return self.PONG * data.count(self.PING)

    def refusal(self, data: bytes) -> str | None:
        at = data.find(self.BYE)
        if at < 0:
            return None
        start = data.find(b'"reason":"', at)
        return "BYE " + (data[start + 10:data.find(b'"', start + 10)].decode(errors="replace")
                         if start >= 0 else "?")


class Irc(Dialect):
    def register(self, nick: str, rooms: tuple[str, ...] | None, autojoin: bool) -> bytes:
        raw = nick.encode()
        return b"NICK %b\r\nUSER %b 0 * :bench\r\n" % (raw, raw)

    def join(self, room: str) -> bytes:
        return b"JOIN " + room.encode() + b"\r\n"

    def joined(self, nick: str, room: str) -> bytes:
        return b" 366 " + nick.encode() + b" " + room.encode() + b" "

    def say(self, room: str, text: str) -> bytes:
        return b"PRIVMSG " + room.encode() + b" :" + text.encode() + b"\r\n"

    def quit(self) -> bytes:
        return b"QUIT :bye\r\n"

    def pong(self, data: bytes) -> bytes:
        if b"PING " not in data:
            return b""
        return b"".join(b"PONG " + line[5:].rstrip(b"\r") + b"\r\n"
                        for line in data.split(b"\n") if line.startswith(b"PING "))

    def refusal(self, data: bytes) -> str | None:
        if not (data.startswith(b"ERROR ") or b"\nERROR " in data):
            return None
        at = data.find(b"ERROR ")
        end = data.find(b"\n", at)
        return "ERROR " + data[at + 6:end if end >= 0 else None].strip().decode(
            errors="replace")[:60]


DIALECTS: Final[dict[str, Dialect]] = {
    "json": JsonLines("json", welcome=b'"type":"WELCOME"', echo=True, joins_in_hello=True),
    "irc": Irc("irc", welcome=b" 001 ", echo=False, joins_in_hello=False),
}
