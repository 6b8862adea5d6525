"""The Bus port: committed messages told to every node, as a fast hint.

The database is the only source of truth; the bus is a hint whose silence must never lose
anything. After the store commits a message, the node that stored it publishes the committed
frame (already encoded) with its id on the conversation's channel; every node subscribed to the
conversation receives it and releases it to its local members in id order (bus/sequencer.py),
reading from the store what the bus lost. A bus may therefore lose, repeat or reorder messages,
and go down: it says so (:meth:`BusReceiver.bus_state`), and on every ``up`` the node compares
its conversations' last ids with the store's, since what was published while it was down is
gone. A node receives what it publishes itself, too.

Conversations are spread over ``shards`` (several Redis servers): :meth:`Bus.shard_of` is a
stable hash, the same on every node; each shard goes down and up on its own.

Backends: :class:`palaver.bus.local.LocalBus` (in-process, for one server, or several nodes in
one process in tests) and :class:`palaver.bus.redis_bus.RedisBus` (Redis pub/sub).
"""

from __future__ import annotations

import struct
import zlib
from typing import Final, Protocol

_ID: Final = struct.Struct(">Q")  # a frame on the wire: the message's id, then its payload


class BusError(Exception):
    """The bus cannot be used as asked (closed, not open)."""


class BusReceiver(Protocol):
    """What a node gives the bus to be told things. Both are called on the event loop, one
    at a time, and must not block; an exception they raise is logged, and the bus goes on."""

    def bus_message(self, conversation: str, msg_id: int, payload: bytes) -> None:
        """A message published on a conversation this node is subscribed to."""

    def bus_state(self, shard: int, up: bool) -> None:
        """Shard ``shard`` is up (subscribed to everything asked for, re-read the store for
        the conversations on it) or down (its messages are not coming for now)."""


class Bus(Protocol):
    @property
    def shards(self) -> int:
        """How many shards conversations are spread over."""

    def shard_of(self, conversation: str) -> int:
        """The shard ``conversation``'s channel is on (the same on every node)."""

    async def open(self, receiver: BusReceiver) -> None:
        """Start: connect (in the background; a shard that cannot be reached is retried with
        bounded backoff, and reported when it is up), then tell ``receiver``."""

    async def publish(self, conversation: str, msg_id: int, payload: bytes) -> bool:
        """Tell every node subscribed to ``conversation`` about message ``msg_id``. False:
        the bus is down and it was not sent (the store has it; nodes will read it there).
        Never waits longer than the bus's command timeout."""

    async def subscribe(self, conversation: str) -> None:
        """Receive ``conversation``'s messages from now on: when it returns the subscription
        is in place, or the shard is down (it is made on reconnect, before ``up``) or slow
        (it was sent, and is made in order). Subscribing twice is once."""

    async def unsubscribe(self, conversation: str) -> None:
        """Stop receiving ``conversation``'s messages (none is told after this returns)."""

    async def close(self) -> None:
        """Disconnect; nothing is told after it returns. Twice is once."""


def shard_of(conversation: str, shards: int) -> int:
    """A stable shard for ``conversation``: CRC-32 of its UTF-8 key, modulo ``shards``."""
    return zlib.crc32(conversation.encode("utf-8")) % shards if shards > 1 else 0


def encode_frame(msg_id: int, payload: bytes) -> bytes:
    return _ID.pack(msg_id) + payload


def decode_frame(frame: bytes) -> tuple[int, bytes]:
    """(id, payload) of a frame; ValueError if it is too short to be one."""
    if len(frame) < _ID.size:
        raise ValueError(f"a bus frame of {len(frame)} bytes")
    return _ID.unpack_from(frame)[0], frame[_ID.size:]
