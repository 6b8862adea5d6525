"""The client side of protocol v1, sans-I/O: bytes from the server in, typed events out.

It mirrors the server's decoder: frames split anywhere or merged in one read give the same events;
a bad frame becomes a :class:`PeerError` value in the output instead of an exception.
"""

from __future__ import annotations

import itertools
import secrets

import msgspec

from palaver.protocol.errors import FrameTooLarge, PeerError
from palaver.protocol.framing import LineFramer
from palaver.protocol.jsonl import decode_server_frame, encode
from palaver.protocol.messages import ServerMessage, Wire

# A server frame may be larger than a client's: a ROOM_LIST or USERS reply lists many names.
CLIENT_MAX_FRAME = 16 * 1_048_576
ID_RANDOM_BYTES = 12  # 96 random bits per client instance: no two ever share a prefix


def random_id_prefix() -> str:
    """A fresh prefix for request ids (16 characters of ``[A-Za-z0-9_-]``).

    The server keeps a sender's CHAT/DM ids forever, per identity, to recognise resends (docs/
    protocol.md §13), so a new message must never reuse an id — across connections, restarts
    and every other client of the same account. A counter alone restarts at 1; a prefix drawn
    at random per client instance, with enough bits that two never meet (a bot reconnecting
    every minute for years makes millions), makes ``prefix + counter`` unique.
    """
    return secrets.token_urlsafe(ID_RANDOM_BYTES)


class ClientSession:
    __slots__ = ("_framer", "_ids")

    def __init__(self, max_frame: int = CLIENT_MAX_FRAME, id_prefix: str | None = None) -> None:
        self._framer = LineFramer(max_frame)
        # Request ids must not repeat across connections: the server keeps a sender's CHAT/DM
        # ids (forever, for an account) to recognise resends. A random prefix per session.
        prefix = id_prefix if id_prefix is not None else f"{random_id_prefix()}-"
        self._ids = (f"{prefix}{n}" for n in itertools.count(1))

    def next_id(self) -> str:
        return next(self._ids)

    def with_id(self, message: Wire) -> Wire:
        """``message`` with a fresh request id, unless it has one already."""
        return message if message.id is not None else msgspec.structs.replace(
            message, id=self.next_id()
        )

    @staticmethod
    def data_to_send(message: Wire) -> bytes:
        return encode(message)

    def receive_data(self, data: bytes) -> list[ServerMessage | PeerError]:
        lines, overflow = self._framer.receive_data(data)
        out: list[ServerMessage | PeerError] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                out.append(decode_server_frame(line))
            except PeerError as error:
                out.append(error)
        if overflow is not None:
            out.append(overflow)
        return out


__all__ = ["CLIENT_MAX_FRAME", "ClientSession", "FrameTooLarge", "random_id_prefix"]
