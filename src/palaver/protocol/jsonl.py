"""Protocol v1 over JSON lines, sans-I/O.

:class:`JsonLinesDecoder` turns bytes into client messages or :class:`PeerError` values, one per
frame, in order. The fast path is one ``msgspec`` decode into the tagged union; only a frame that
fails takes the slow path that works out which stable error code applies. :func:`encode` makes the
bytes of one frame; the hub's events are encoded once and the same bytes go to every recipient.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Final, Self, cast

import msgspec

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode, FrameTooLarge, PeerError
from palaver.protocol.framing import DEFAULT_MAX_FRAME, LineFramer
from palaver.protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    SERVER_MESSAGE_TYPES,
    ClientMessage,
    ServerMessage,
    Wire,
)

_client_decoder: Final[msgspec.json.Decoder[ClientMessage]] = msgspec.json.Decoder(ClientMessage)
_server_decoder: Final[msgspec.json.Decoder[ServerMessage]] = msgspec.json.Decoder(ServerMessage)
_any_decoder: Final = msgspec.json.Decoder()
_encoder: Final = msgspec.json.Encoder()

_CLIENT_TAGS: Final = frozenset(str(t.__struct_config__.tag) for t in CLIENT_MESSAGE_TYPES)
_SERVER_TAGS: Final = frozenset(str(t.__struct_config__.tag) for t in SERVER_MESSAGE_TYPES)
_FIELD_PATH: Final = re.compile(r"at `\$\.([A-Za-z_][A-Za-z0-9_]*)")
_MISSING_FIELD: Final = re.compile(r"missing required field `([^`]+)`")
_MAX_ID: Final = 64
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def encode(message: Wire) -> bytes:
    """The bytes of one frame, newline included. JSON escapes every control character; a lone
    surrogate (which no door lets in, and the hub refuses) becomes U+FFFD rather than an
    exception in a writer."""
    try:
        return _encoder.encode(message) + b"\n"
    except UnicodeEncodeError:
        return _encoder.encode(_without_surrogates(msgspec.to_builtins(message))) + b"\n"


def _without_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_surrogates(v) for v in value]
    return value


def decode_client_frame(frame: bytes) -> ClientMessage:
    """Decode one frame (without its newline) from a client; raises :class:`PeerError`."""
    try:
        return _client_decoder.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _classify(frame, exc, _CLIENT_TAGS) from None


def decode_server_frame(frame: bytes) -> ServerMessage:
    """Decode one frame from a server (used by the client library); raises :class:`PeerError`."""
    try:
        return _server_decoder.decode(frame)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise _classify(frame, exc, _SERVER_TAGS) from None


class JsonLinesDecoder:
    """Bytes in, client messages (or the error for each bad frame) out.

    Blank lines are ignored. After a :class:`FrameTooLarge` the decoder yields nothing more.
    """

    __slots__ = ("_framer", "_max")

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        LineFramer(max_frame)  # (refuses a max_frame that allows no frame, now)
        self._max = max_frame
        # Made for a read and kept only while it holds an unterminated line (or has failed):
        # an idle connection holds no framer.
        self._framer: LineFramer | None = None

    def receive_data(self, data: bytes) -> list[ClientMessage | PeerError]:
        framer = self._framer or LineFramer(self._max)
        lines, overflow = framer.receive_data(data)
        self._framer = None if framer.idle else framer
        out = _decode_lines(lines)
        if overflow is not None:
            out.append(overflow)
        return out

    def receive_eof(self) -> list[ClientMessage | PeerError]:
        last = None if self._framer is None else self._framer.receive_eof()
        return [] if last is None else _decode_lines([last])

    @property
    def buffered(self) -> int:
        return 0 if self._framer is None else self._framer.buffered

    @property
    def idle(self) -> bool:
        """Holds nothing between reads: no unterminated line, no failure."""
        return self._framer is None

    def split_off(self) -> Self:
        """A decoder of its own for what this one holds (an unterminated line, a failure),
        which it forgets: a decoder shared by idle connections hands a connection its state."""
        own = copy.copy(self)
        self._framer = None
        return own


def _decode_lines(lines: list[bytes]) -> list[ClientMessage | PeerError]:
    out: list[ClientMessage | PeerError] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            out.append(_client_decoder.decode(line))
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            out.append(_classify(line, exc, _CLIENT_TAGS))
    return out


class JsonLinesDialect(JsonLinesDecoder):
    """Protocol v1 as a :class:`~palaver.protocol.dialect.Dialect`: the decoder itself (one
    object per connection, not a wrapper around one), and the encoder."""

    __slots__ = ()

    encode_key = "json"
    resends = True  # a JSON client chooses its request ids and resends with the same one

    def receive_data(self, data: bytes) -> list[Inbound]:  # type: ignore[override]
        return cast(list[Inbound], super().receive_data(data))

    def receive_eof(self) -> list[Inbound]:  # type: ignore[override]
        return cast(list[Inbound], super().receive_eof())

    @staticmethod
    def encode(message: Wire) -> bytes:
        return encode(message)


def _classify(frame: bytes, exc: Exception, known_tags: frozenset[str]) -> PeerError:
    """Slow path: name what is wrong with a frame the fast decoder refused."""
    if isinstance(exc, UnicodeDecodeError):
        return PeerError(ErrorCode.BAD_JSON, "frame is not valid UTF-8")
    if isinstance(exc, RecursionError):
        return PeerError(ErrorCode.BAD_JSON, "frame is nested too deeply")
    if not isinstance(exc, msgspec.ValidationError):
        return PeerError(ErrorCode.BAD_JSON, "frame is not valid JSON")
    detail = str(exc)
    if detail.startswith("Expected `object`") and " - at `" not in detail:
        return PeerError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    try:
        obj: Any = _any_decoder.decode(frame)
    except UnicodeDecodeError:  # the typed decode stopped (e.g. at an unknown type) before it
        return PeerError(ErrorCode.BAD_JSON, "frame is not valid UTF-8")
    except (msgspec.DecodeError, RecursionError):
        obj = None  # valid JSON that only a typed decode accepts, e.g. a huge integer
    if obj is not None and not isinstance(obj, dict):
        return PeerError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    request_id = _request_id(obj)
    if isinstance(obj, dict):
        kind = obj.get("type")
        if not isinstance(kind, str):
            return PeerError(ErrorCode.BAD_FRAME, "a frame needs a string \"type\"", request_id)
        if kind not in known_tags:
            return PeerError(ErrorCode.UNKNOWN_TYPE, f"unknown message type {kind!r}", request_id)
    return _invalid_field(str(exc), request_id)


def _invalid_field(detail: str, request_id: str | None) -> PeerError:
    missing = _MISSING_FIELD.search(detail)
    path = _FIELD_PATH.search(detail)
    field = missing.group(1) if missing else path.group(1) if path else None
    if field == "type":
        return PeerError(ErrorCode.BAD_FRAME, "a frame needs a string \"type\"", request_id)
    reason = detail.split(" - at ")[0]
    return PeerError(
        ErrorCode.INVALID_FIELD,
        f"invalid field {field!r}: {reason}" if field else f"invalid frame: {reason}",
        None if field == "id" else request_id,
        field=field,
    )


def _request_id(obj: Any) -> str | None:
    if isinstance(obj, dict):
        value = obj.get("id")
        if isinstance(value, str) and len(value) <= _MAX_ID:
            return value
    return None


__all__ = [
    "DEFAULT_MAX_FRAME",
    "FrameTooLarge",
    "JsonLinesDecoder",
    "JsonLinesDialect",
    "decode_client_frame",
    "decode_server_frame",
    "encode",
]
