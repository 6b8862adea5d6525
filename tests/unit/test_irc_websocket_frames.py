"""IRC over WebSocket, the sans-I/O parts: a client's message into one IRC line, the server's
lines into frames, the subprotocol offer."""

from __future__ import annotations

import struct

from aiohttp.test_utils import make_mocked_request
from hypothesis import given
from hypothesis import strategies as st

from palaver.protocol.errors import ErrorCode, PeerError
from palaver.transports.irc_websocket import decode_irc_message, frame_lines, offers_irc
from palaver.transports.websocket import BINARY, TEXT


@given(st.booleans(), st.binary(max_size=600))
def test_any_message_is_one_crlf_terminated_line_or_bad_frame(binary: bool, payload: bytes) -> None:
    line = decode_irc_message(binary, payload)
    if isinstance(line, PeerError):
        assert line.code is ErrorCode.BAD_FRAME
        return
    assert line.endswith(b"\r\n")
    body = line[:-2]
    assert b"\r" not in body and b"\n" not in body
    assert payload.startswith(body)  # nothing but a trailing CR/LF is dropped
    if not binary:
        body.decode("utf-8")


def test_a_trailing_line_end_is_dropped_and_one_inside_refused() -> None:
    for payload in [b"PING x", b"PING x\r\n", b"PING x\n", b"PING x\r"]:
        assert decode_irc_message(False, payload) == b"PING x\r\n"
    for payload in [b"PING x\r\nPING y", b"PING x\nPING y", b"PING x\rPING y", b"PING\n\n"]:
        error = decode_irc_message(False, payload)
        assert isinstance(error, PeerError) and "no CR or LF" in error.message


def test_text_must_be_utf8_binary_may_hold_any_bytes() -> None:
    error = decode_irc_message(False, b"PRIVMSG #a :caf\xe9")
    assert isinstance(error, PeerError) and error.code is ErrorCode.BAD_FRAME
    assert decode_irc_message(True, b"PRIVMSG #a :caf\xe9") == b"PRIVMSG #a :caf\xe9\r\n"
    assert decode_irc_message(False, "PRIVMSG #a :café".encode()) == \
        "PRIVMSG #a :café\r\n".encode()


def _parse_frames(data: bytes) -> list[tuple[int, bytes]]:
    """A minimal reader of unmasked server frames (RFC 6455 section 5.2)."""
    out = []
    while data:
        first, second = data[0], data[1]
        assert not second & 0x80  # not masked
        length, at = second & 0x7F, 2
        if length == 126:
            (length,), at = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            (length,), at = struct.unpack("!Q", data[2:10]), 10
        out.append((first, data[at:at + length]))
        data = data[at + length:]
    return out


_line = st.binary(max_size=300).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


@given(st.lists(st.lists(_line, max_size=4), max_size=6), st.sampled_from([TEXT, BINARY]))
def test_one_frame_per_line_without_its_crlf(items: list[list[bytes]], first: int) -> None:
    encoded = [b"".join(line + b"\r\n" for line in lines) for lines in items]  # b"": no line
    frames = _parse_frames(b"".join(frame_lines(encoded, first)))
    assert frames == [(first, line) for lines in items for line in lines]


def test_the_irc_subprotocols_are_recognised_in_any_offer() -> None:
    def offer(value: str | None) -> bool:
        headers = {} if value is None else {"Sec-WebSocket-Protocol": value}
        return offers_irc(make_mocked_request("GET", "/", headers=headers))

    assert offer("text.ircv3.net")
    assert offer("chat, binary.ircv3.net")
    assert offer("binary.ircv3.net,text.ircv3.net")
    assert not offer(None)
    assert not offer("chat")
    assert not offer("text.ircv3.network")
