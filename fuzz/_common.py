"""What every fuzz target shares: feeding a decoder whole, in fuzzer-chosen pieces and one byte
at a time, and the invariant "any input -> messages or a documented protocol error"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from palaver.protocol.errors import ErrorCode, PeerError


class Decoder(Protocol):
    def receive_data(self, data: bytes) -> Sequence[Any]: ...
    def receive_eof(self) -> Sequence[Any]: ...


CODES = frozenset(ErrorCode)
BYTE_AT_A_TIME_MAX = 4_096  # longer inputs are fed whole and in pieces only (speed)


def feed(new: Callable[[], Decoder], chunks: list[bytes]) -> list[Any]:
    decoder = new()
    out: list[Any] = []
    for chunk in chunks:
        out.extend(decoder.receive_data(chunk))
    out.extend(decoder.receive_eof())
    return out


def cuts(data: bytes, seed: int) -> list[bytes]:
    """``data`` cut at a few places derived from ``seed``."""
    points = sorted({(seed * (i + 1) * 2654435761) % (len(data) + 1) for i in range(seed % 7)})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return pieces


def same_whole_and_split(new: Callable[[], Decoder], data: bytes, seed: int) -> list[Any]:
    whole = feed(new, [data])
    assert feed(new, cuts(data, seed)) == whole, "pieces differ from whole"
    if len(data) <= BYTE_AT_A_TIME_MAX:
        assert feed(new, [data[i:i + 1] for i in range(len(data))]) == whole, "bytes differ"
    return whole


def check_peer_error(item: PeerError) -> None:
    assert item.code in CODES, item
    assert "Traceback" not in item.message
