"""The text dialect wired to a real hub in memory, as the server core would: no sockets, a fixed
clock. Text connections collect the bytes they would write; "program" connections collect events."""

from __future__ import annotations

import random
from collections.abc import Hashable

from palaver.hub import Close, Deliver, Effect, Hub, HubConfig
from palaver.hub.effects import Persist
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import FrameTooLarge, PeerError
from palaver.protocol.messages import ClientMessage, Goodbye, Hello, ServerMessage, Wire
from palaver.protocol.text import TextDialect

NOW = 1_795_000_000.0  # 2026-11-18 ... UTC
HUB = HubConfig(server_name="palaver/test", motd="Welcome to palaver. Type /help for commands.")


class Recorder:
    """A JSON-lines peer, reduced to the events it is sent."""

    encode_key: Hashable = "events"

    def __init__(self) -> None:
        self.events: list[ServerMessage] = []

    def encode(self, event: Wire) -> bytes:
        self.events.append(event)  # type: ignore[arg-type]
        return b""


class TextWire:
    def __init__(self, max_frame: int = 65_536) -> None:
        self.hub = Hub(HUB, rng=random.Random(7))
        self.now = NOW
        self.max_frame = max_frame
        self.dialects: dict[int, TextDialect | Recorder] = {}
        self.out: dict[int, bytearray] = {}
        self.closed: dict[int, str] = {}
        self._next = 1

    def _open(self, dialect: TextDialect | Recorder) -> int:
        sid = self._next
        self._next += 1
        self.hub.open_session(sid)
        self.dialects[sid] = dialect
        self.out[sid] = bytearray()
        return sid

    def text(self) -> int:
        return self._open(TextDialect(self.max_frame))

    def program(self, nick: str) -> int:
        sid = self._open(Recorder())
        self.command(sid, Hello(version=1, nick=nick))
        self.events(sid)
        return sid

    def dialect(self, sid: int) -> TextDialect:
        dialect = self.dialects[sid]
        assert isinstance(dialect, TextDialect)
        return dialect

    def feed(self, sid: int, data: bytes, *, eof: bool = False) -> bytes:
        """Send ``data`` from a text client; return what it was sent meanwhile (and clear it)."""
        dialect = self.dialect(sid)
        items = dialect.receive_data(data)
        if eof:
            items += dialect.receive_eof()
        self.inbound(sid, items)
        return self.take(sid)

    def inbound(self, sid: int, items: list[Inbound]) -> None:
        for item in items:
            if sid in self.closed:
                return
            if isinstance(item, bytes):
                self.out[sid] += item
            elif isinstance(item, PeerError):
                effects: list[Effect] = [self.hub.error_effect(sid, item)]
                if isinstance(item, FrameTooLarge):
                    effects.append(Close(sid, "frame too large", goodbye=False))
                self.apply(effects)
            else:
                self.command(sid, item)

    def command(self, sid: int, message: ClientMessage) -> None:
        dialect = self.dialects[sid]
        resends = dialect.resends if isinstance(dialect, TextDialect) else True
        self.apply(self.hub.handle(sid, message, self.now, resends=resends))

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Deliver):
                for sid in effect.to:
                    if sid != effect.skip and sid not in self.closed:
                        self.out[sid] += self.dialects[sid].encode(effect.event)
            elif isinstance(effect, Persist):  # as if committed at once
                self.apply(list(effect.then))
            elif isinstance(effect, Close):
                if effect.goodbye:
                    goodbye = Goodbye(id=effect.request_id, reason=effect.reason)
                    self.out[effect.session] += self.dialects[effect.session].encode(goodbye)
                self.closed[effect.session] = effect.reason
                self.apply(self.hub.close_session(effect.session, effect.reason))

    def drop(self, sid: int, reason: str = "connection closed") -> None:
        self.closed[sid] = reason
        self.apply(self.hub.close_session(sid, reason))

    def take(self, sid: int) -> bytes:
        data = bytes(self.out[sid])
        self.out[sid].clear()
        return data

    def events(self, sid: int) -> list[ServerMessage]:
        recorder = self.dialects[sid]
        assert isinstance(recorder, Recorder)
        events, recorder.events = recorder.events, []
        self.out[sid].clear()
        return events
