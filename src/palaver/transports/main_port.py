"""The main port: JSON lines for programs, plain text for people with telnet or nc.

How this works: a connection starts undecided. If its first non-blank byte is ``{`` it speaks
JSON lines; anything else makes it a plain-text client, and so does silence for
``sniff_timeout`` seconds (then the text dialect greets it with a prompt, since a person with nc
waits to be asked). Until the choice, events are rendered as JSON (only a handshake-timeout BYE
can come that early). A person who types a JSON line (first byte ``{``) at the nickname prompt —
the README's nc example, typed slower than the sniff — is a JSON client after all: the connection
switches to JSON lines for good.

A person at nc or telnet cannot answer PING, so a text connection is never pinged nor closed for
silence: its ``last_seen`` is always now, and TCP keepalive (probing after ``ping_interval``) finds
a peer that vanished. Until it has a nickname, each line it sends restarts the handshake
deadline, so the older dialects' ``get_time``/``echo`` clients can stay without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

from palaver.protocol.dialect import Dialect, Inbound
from palaver.protocol.jsonl import JsonLinesDialect
from palaver.server.core import ServerCore
from palaver.transports.stream import StreamConnection


class TextDialect(Dialect, Protocol):
    def greeting(self) -> bytes:
        """What to say to a client that connected and said nothing."""
        ...

    @property
    def at_prompt(self) -> bool:
        """Still waiting for the first line (a nickname)."""
        ...


TextDialectFactory = Callable[[], TextDialect]


@dataclass(frozen=True, slots=True)
class MainPortDoor:
    """What every connection of a main port shares: the frame limit, how to make a text
    dialect (None: JSON lines only) and how long to wait for a first byte; and the JSON
    dialect of every JSON connection that holds nothing between reads (``json``): a
    connection whose read ends in the middle of a line takes a dialect of its own for it
    (:meth:`~palaver.protocol.jsonl.JsonLinesDecoder.split_off`) until the line is done."""

    max_frame: int
    make_text: TextDialectFactory | None = None
    sniff_timeout: float = 0.5
    json: JsonLinesDialect = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "json", JsonLinesDialect(self.max_frame))


# The base's slot for last_seen, read and written by the property below (not a second slot).
_STORED_LAST_SEEN = cast(types.MemberDescriptorType, vars(StreamConnection)["last_seen"])


class MainPortConnection(StreamConnection):
    __slots__ = ("_door", "_sniffer", "_text")

    def __init__(self, core: ServerCore, door: MainPortDoor) -> None:
        self._text = False
        self._door = door
        super().__init__(core, door.json)
        self._sniffer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self._door.make_text is not None and not self.closing:
            self._sniffer = self._core.loop.call_later(self._door.sniff_timeout, self._silent)

    def data_received(self, data: bytes) -> None:
        if self._sniffer is not None:
            first = data.lstrip()[:1]
            if not first:  # only blank bytes so far: keep waiting for a real one
                return super().data_received(data)
            self._sniffer.cancel()
            self._sniffer = None
            make_text = self._door.make_text
            if first != b"{" and make_text is not None:
                self._become_text(make_text())
        elif self._text and data.lstrip()[:1] == b"{" and self._asks_for_a_nick():
            self._become_json()  # a person typing JSON at the prompt: it is a JSON client
        if self._text and not self._core.hub.is_registered(self.sid):
            self.opened_at = self._core.monotonic()  # a line restarts the handshake deadline
        super().data_received(data)

    def _receive(self, data: bytes | None) -> list[Inbound]:
        items = super()._receive(data)
        if not self._text:  # JSON: the door's shared dialect, unless a line is under way
            shared = self._door.json
            dialect = cast(JsonLinesDialect, self.dialect)
            if dialect is shared:
                if not shared.idle:
                    self.dialect = shared.split_off()
            elif dialect.idle:
                self.dialect = shared
        return items

    @property
    def last_seen(self) -> float:
        if self._text:
            return self._core.monotonic()
        return cast(float, _STORED_LAST_SEEN.__get__(self, MainPortConnection))

    @last_seen.setter
    def last_seen(self, value: float) -> None:
        _STORED_LAST_SEEN.__set__(self, value)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sniffer is not None:
            self._sniffer.cancel()
            self._sniffer = None
        super().connection_lost(exc)

    def _silent(self) -> None:
        self._sniffer = None
        make_text = self._door.make_text
        if make_text is None or self.closing:
            return
        text = make_text()
        self._become_text(text)
        self.send(text.greeting())

    def _asks_for_a_nick(self) -> bool:
        dialect = cast(TextDialect, self.dialect)  # while self._text
        return dialect.at_prompt and not self._core.hub.is_registered(self.sid)

    def _become_json(self) -> None:
        self.dialect = self._door.json
        self._core.rekeyed()
        self._text = False
        self.set_byte_cap(True)  # the JSON door's cap before HELLO applies from now on
        self.last_seen = self.opened_at = self._core.monotonic()

    def _become_text(self, dialect: TextDialect) -> None:
        self.dialect = dialect
        self._core.rekeyed()
        self._text = True
        # Its nickless line programs may stay unregistered (as with the deadline above): no cap
        # on the bytes before registration; the rate limit still bounds them (docs/limits.md).
        self.set_byte_cap(False)
        sock = self.transport.get_extra_info("socket")
        idle = max(1, int(self._core.timeouts.ping))
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, idle // 4))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 4)
