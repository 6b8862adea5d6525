"""IRC over WebSocket (the IRCv3 ``websocket`` transport): the IRC door, one line per message.

How this works: a :class:`IrcWebSocketConnection` is a
:class:`~palaver.transports.websocket.WebSocketConnection` that speaks the TCP IRC door's
:class:`~palaver.protocol.irc.IrcDialect` (same commands, numerics, capabilities, and the same
rendered bytes: its ``encode_key`` is the dialect's, so a broadcast is rendered once for IRC
clients of both transports) under the same limits (the shared
:class:`~palaver.transports.policy.ConnectionPolicy`, with the IRC door's fakelag: one message
is one frame of the rate limit).

- Subprotocols: ``binary.ircv3.net`` and ``text.ircv3.net``; aiohttp agrees on the first the
  client offers. With ``binary.ircv3.net`` the server sends binary messages, otherwise (text,
  or no subprotocol at all: legacy clients) text messages. The server's lines are always UTF-8
  (the IRC renderer encodes every line from text), so a text message never carries anything
  else.
- Each message from the client is one IRC line without CR/LF (a trailing CRLF or LF is
  tolerated and dropped). The client may send text or binary messages whatever was agreed on.
  Refused with ``bad_frame`` (a NOTICE, counted as a bad frame before registration): a message
  with CR or LF inside it (one line per message: it is never split, nor joined with the next),
  and a text message that is not UTF-8 (a binary one may hold any bytes; like the TCP door,
  the dialect reads what is not UTF-8 as Latin-1).
- Lengths are the TCP door's: 510 bytes of line plus 8,191 of tags, else ``417`` and the
  connection goes on; a message of ``MAX_MESSAGE`` bytes or more (where the TCP door closes a
  runaway line) is refused by aiohttp from its header and the connection is closed with
  ``ERROR :Closing link: … (Input line was too long)`` and close code 1009.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import ClassVar, Final

from aiohttp import hdrs, web

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.irc.wire import MAX_RUNAWAY
from palaver.server.core import ServerCore
from palaver.transports.irc_port import IrcEncoding, irc_dialect
from palaver.transports.stream import receive_keyed
from palaver.transports.websocket import BINARY, TEXT, WebSocketConnection, frame_header

BINARY_PROTOCOL: Final = "binary.ircv3.net"
TEXT_PROTOCOL: Final = "text.ircv3.net"
SUBPROTOCOLS: Final = (BINARY_PROTOCOL, TEXT_PROTOCOL)
MAX_MESSAGE: Final = MAX_RUNAWAY  # this long or longer: refused and closed (1009)
_CRLF: Final = b"\r\n"


def offers_irc(request: web.Request) -> bool:
    """Does this WebSocket handshake offer one of the IRCv3 subprotocols?"""
    offered = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")
    return any(token.strip() in SUBPROTOCOLS for token in offered.split(","))


def decode_irc_message(binary: bool, payload: bytes) -> bytes | PeerError:
    """One message from a client → the IRC line it holds (CRLF-terminated, for the dialect),
    or the error it earns."""
    line = payload.removesuffix(b"\n").removesuffix(b"\r")
    if b"\r" in line or b"\n" in line:
        return PeerError(ErrorCode.BAD_FRAME,
                         "one IRC line per WebSocket message: no CR or LF inside it")
    if not binary:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return PeerError(ErrorCode.BAD_FRAME, "a text message must be UTF-8 (send other "
                             "encodings in binary messages)")
    return line + _CRLF


def frame_lines(items: list[bytes], first: int = TEXT) -> list[bytes | memoryview]:
    """One frame (text, or with ``first=BINARY`` binary) per IRC line of the encoded events in
    ``items`` (each holds zero or more CRLF-terminated lines), without its CRLF."""
    parts: list[bytes | memoryview] = []
    for data in items:
        view = memoryview(data)
        start = 0
        while (end := data.find(_CRLF, start)) >= 0:
            parts.append(frame_header(end - start, first))
            parts.append(view[start:end])
            start = end + 2
    return parts


class IrcWebSocketConnection(IrcEncoding, WebSocketConnection):
    """One IRC client over WebSocket, as the core's :class:`~palaver.server.core.Connection`."""

    __slots__ = ("_first", "dialect")

    door: ClassVar[str] = "irc"  # for metrics: the IRC door, over another transport

    def __init__(self, core: ServerCore, server_name: str | None = None,
                 password: str | None = None) -> None:
        """``server_name``: the ``server_name`` setting (None: the host name); ``password``:
        the ``irc_password`` one (the IRC door's server password, over WebSocket too)."""
        super().__init__(core, MAX_MESSAGE, protocols=SUBPROTOCOLS,
                         notice_after=core.limits.irc_notice_after)
        self.dialect = irc_dialect(core, server_name, self, password=password)
        self._first = TEXT

    @property
    def encode_key(self) -> Hashable:
        return self.dialect.encode_key

    @property
    def resends(self) -> bool:
        return False  # the dialect's ids are correlation tags (docs/protocol.md §2)

    def _negotiated(self, protocol: str | None) -> None:
        self._first = BINARY if protocol == BINARY_PROTOCOL else TEXT

    def _decode(self, binary: bool, payload: bytes) -> list[Inbound]:
        line = decode_irc_message(binary, payload)
        if isinstance(line, PeerError):
            return [line]
        return receive_keyed(self._core, self.dialect, line)

    def _frames(self, items: list[bytes]) -> list[bytes | memoryview]:
        return frame_lines(items, self._first)
