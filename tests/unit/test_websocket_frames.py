"""The WebSocket door's sans-I/O parts: decoding client frames, framing server frames."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import CLIENT_MESSAGE_TYPES, Message, Ping, Say
from palaver.transports.web import same_origin
from palaver.transports.websocket import decode_ws_frame, frame_header, frame_text


@given(st.booleans(), st.binary(max_size=512))
def test_any_frame_decodes_to_a_message_or_a_peer_error(binary: bool, payload: bytes) -> None:
    item = decode_ws_frame(binary, payload)
    assert isinstance(item, (PeerError, *CLIENT_MESSAGE_TYPES))
    if binary:
        assert isinstance(item, PeerError) and item.code is ErrorCode.BAD_FRAME


def test_text_frames_decode_like_json_lines() -> None:
    assert decode_ws_frame(False, b'{"type":"CHAT","room":"#a","text":"hi"}') == \
        Say(room="#a", text="hi")
    assert decode_ws_frame(False, b'{"type":"PING"}\n') == Ping()
    errors = {payload: decode_ws_frame(False, payload) for payload in
              [b"", b"nope", b'{"type":"X"}', b"\xff", b"[]"]}
    codes = {payload: e.code for payload, e in errors.items() if isinstance(e, PeerError)}
    assert codes == {b"": ErrorCode.BAD_JSON, b"nope": ErrorCode.BAD_JSON,
                     b'{"type":"X"}': ErrorCode.UNKNOWN_TYPE, b"\xff": ErrorCode.BAD_JSON,
                     b"[]": ErrorCode.BAD_FRAME}


def _parse_frames(data: bytes) -> list[bytes]:
    """A minimal reader of unmasked server frames (RFC 6455 section 5.2)."""
    out = []
    while data:
        first, second = data[0], data[1]
        assert first == 0x81 and not second & 0x80  # FIN + text, not masked
        length, at = second & 0x7F, 2
        if length == 126:
            (length,), at = struct.unpack("!H", data[2:4]), 4
        elif length == 127:
            (length,), at = struct.unpack("!Q", data[2:10]), 10
        out.append(data[at:at + length])
        data = data[at + length:]
    return out


@given(st.lists(st.integers(min_value=0, max_value=70_000), max_size=6))
def test_frames_carry_each_line_without_its_newline(lengths: list[int]) -> None:
    lines = [b"x" * n + b"\n" for n in lengths]
    joined = b"".join(frame_text(lines))
    assert _parse_frames(joined) == [line[:-1] for line in lines]


def test_header_uses_the_shortest_length_form() -> None:
    assert len(frame_header(125)) == 2
    assert len(frame_header(126)) == 4
    assert len(frame_header(65_535)) == 4
    assert len(frame_header(65_536)) == 10


def test_server_frames_are_the_json_lines_bytes() -> None:
    event = Message(msg_id=1, ts="2024-01-01T00:00:00Z", sender="a", text="hi", room="#a")
    assert _parse_frames(b"".join(frame_text([encode(event)]))) == [encode(event)[:-1]]


def test_same_origin() -> None:
    assert same_origin("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert same_origin("https://Chat.Example", "chat.example")
    assert not same_origin("http://evil.example", "127.0.0.1:8080")
    assert not same_origin("null", "127.0.0.1:8080")
    assert not same_origin("http://127.0.0.1:9999", "127.0.0.1:8080")
