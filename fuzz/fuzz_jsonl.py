"""atheris target: the JSON lines decoder (and the WebSocket door's frame decoder).

Run: .venv/bin/python fuzz/fuzz_jsonl.py -max_total_time=60   (see docs/fuzzing.md)
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from palaver.protocol.errors import PeerError
    from palaver.protocol.jsonl import JsonLinesDecoder, encode
    from palaver.protocol.messages import CLIENT_MESSAGE_TYPES
    from palaver.transports.websocket import decode_ws_frame

from _common import check_peer_error, same_whole_and_split


def new() -> JsonLinesDecoder:
    return JsonLinesDecoder(max_frame=2_048)  # small: the limit's edge is reached often


def test_one_input(data: bytes) -> None:
    if not data:
        return
    seed, body = data[0], data[1:]
    for item in same_whole_and_split(new, body, seed):
        if isinstance(item, PeerError):
            check_peer_error(item)
        else:
            assert isinstance(item, CLIENT_MESSAGE_TYPES), item
            # What decodes re-encodes, and decodes to the same message.
            [again] = JsonLinesDecoder().receive_data(encode(item))
            assert again == item, (item, again)
    frame = decode_ws_frame(bool(seed & 1), body)
    if isinstance(frame, PeerError):
        check_peer_error(frame)
    else:
        assert isinstance(frame, CLIENT_MESSAGE_TYPES)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
