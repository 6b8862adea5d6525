"""JSON bombs at the decoder (sans-I/O): any JSON value in any field, any nesting depth, any
number -> a client message or a PeerError with a stable code; never another exception.
The same bombs over real sockets: tests/integration/test_json_bombs.py."""

from __future__ import annotations

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.jsonl import JsonLinesDecoder, decode_client_frame
from palaver.protocol.messages import CLIENT_MESSAGE_TYPES, Say
from palaver.transports.websocket import decode_ws_frame

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=30,
)
FIELDS = st.sampled_from(["type", "id", "room", "text", "nick", "version", "to", "since",
                          "rooms", "args", "name", "x"])
CODES = set(ErrorCode)


def _ok(item: object) -> None:
    if isinstance(item, PeerError):
        assert item.code in CODES and "Traceback" not in item.message
    else:
        assert isinstance(item, CLIENT_MESSAGE_TYPES)


@given(st.dictionaries(FIELDS, JSON, max_size=6), st.sampled_from(["CHAT", "HELLO", "JOIN",
                                                                    "DM", "COMMAND", None]))
def test_any_json_in_any_field(fields: dict[str, object], kind: str | None) -> None:
    if kind is not None:
        fields = {"type": kind, **fields}
    frame = msgspec.json.encode(fields)
    items = JsonLinesDecoder().receive_data(frame + b"\n")
    assert len(items) == 1
    _ok(items[0])
    _ok(decode_ws_frame(False, frame))


@settings(max_examples=60)
@given(st.integers(min_value=1, max_value=40_000), st.sampled_from(["[", '{"a":']),
       st.booleans())
def test_any_nesting_depth(depth: int, opener: str, inside: bool) -> None:
    closer = "]" if opener == "[" else "}"
    value = opener * depth + ("1" if opener != "[" else "") + closer * depth
    frame = (f'{{"type":"CHAT","room":"#a","text":"t","x":{value}}}' if inside else value)
    try:
        item: object = decode_client_frame(frame.encode())
    except PeerError as error:
        item = error
    _ok(item)


@given(st.integers(min_value=1, max_value=30_000), st.sampled_from(["", "-"]),
       st.sampled_from(["", ".5", "e999999", "E-999999"]), FIELDS)
def test_any_number(digits: int, sign: str, tail: str, field: str) -> None:
    number = sign + "9" * digits + tail
    frame = f'{{"type":"CHAT","room":"#a","text":"t","{field}":{number}}}'
    items = JsonLinesDecoder().receive_data(frame.encode() + b"\n")
    assert len(items) == 1
    _ok(items[0])


def test_nan_infinity_and_lone_surrogates_are_bad_json() -> None:
    for value in ("NaN", "Infinity", "-Infinity", '"\\ud800"', '"\\udc00x"', '"\\ud800\\u0041"'):
        frame = f'{{"type":"CHAT","room":"#a","text":{value}}}'
        [item] = JsonLinesDecoder().receive_data(frame.encode() + b"\n")
        assert isinstance(item, PeerError) and item.code is ErrorCode.BAD_JSON, (value, item)


def test_duplicate_keys_last_one_wins() -> None:
    frame = b'{"type":"CHAT","room":"#a","text":"one","text":"two","room":"#b"}'
    assert decode_client_frame(frame) == Say(room="#b", text="two")


def test_invalid_utf8_after_the_point_where_the_typed_decode_stops() -> None:
    # Found by fuzz/fuzz_jsonl.py: the typed decoder refuses the unknown type first, then the
    # slow path's untyped decode met the bad UTF-8 and raised UnicodeDecodeError (uncaught).
    for frame in (b'{"type":"COMMAD","name":"sum\xde\xd7"}', b'{"type":7,"x":"\xff"}',
                  b'{"type":"JOIN","room":7,"x":"\xc3"}'):
        [item] = JsonLinesDecoder().receive_data(frame + b"\n")
        assert isinstance(item, PeerError) and item.code is ErrorCode.BAD_JSON, (frame, item)
        assert isinstance(decode_ws_frame(False, frame), PeerError)
