"""One load-generator connection speaking palaver's JSON lines: a :class:`LineCounter`.

How this works: it never decodes JSON. :class:`~benchmarks.leanconn.LineCounter` counts frames
(lines), MESSAGE frames (the tag is always the first key msgspec writes) and, on a sampled
connection, the send timestamp that the benchmark sender put at the start of the text
(``"text":"B<19-digit ns>:``). Here it answers PING and notes WELCOME and BYE.
"""

from __future__ import annotations

from typing import Final

from benchmarks.leanconn import STAMP_DIGITS, LineCounter, Sink
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import PROTOCOL_VERSION, Hello, Pong, Say

MESSAGE_TAG: Final = b'"type":"MESSAGE"'
WELCOME_TAG: Final = b'"type":"WELCOME"'
PING_TAG: Final = b'"type":"PING"'
BYE_TAG: Final = b'"type":"BYE"'
STAMP: Final = b'"text":"B'
PONG_FRAME: Final = encode(Pong())


class ChatFrames:
    """Pre-encoded CHAT frames with a send timestamp (ns) spliced into a ~``size``-byte text."""

    __slots__ = ("_prefix", "_suffix")

    def __init__(self, room: str, size: int = 100) -> None:
        pad = "x" * max(0, size - STAMP_DIGITS - 2)
        sample = encode(Say(room=room, text="B" + "0" * STAMP_DIGITS + ":" + pad))
        at = sample.index(STAMP) + len(STAMP)
        self._prefix = sample[:at]
        self._suffix = sample[at + STAMP_DIGITS:]

    def frame(self, stamp_ns: int) -> bytes:
        return b"%b%019d%b" % (self._prefix, stamp_ns, self._suffix)


class BenchConnection(LineCounter):
    __slots__ = ("welcomed",)

    MESSAGE_TAG = MESSAGE_TAG
    STAMP_TAG = STAMP

    def __init__(self, sink: Sink, index: int, nick: str, sample: bool) -> None:
        super().__init__(sink, index, nick, sample)
        self.welcomed = False

    def hello(self) -> None:
        self.write(encode(Hello(version=PROTOCOL_VERSION, nick=self.nick)))

    def scan(self, data: bytes) -> None:
        if not self.welcomed and WELCOME_TAG in data:
            self.welcomed = True
            self.sink.on_settled(self)
        if PING_TAG in data:
            self.write(PONG_FRAME)
        if BYE_TAG in data:
            at = data.find(b'"reason":"', data.find(BYE_TAG))
            reason = data[at + 10:data.find(b'"', at + 10)] if at >= 0 else b"?"
            self._lose("BYE " + reason.decode(errors="replace"))
