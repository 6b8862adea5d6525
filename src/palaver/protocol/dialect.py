"""What every front door's sans-I/O half provides: bytes in, commands out; events in, bytes out.

A dialect turns what a client sends into client messages (the hub's commands), errors, or bytes
to write back at once (a prompt, a registration numeric); and renders the hub's events in its
own syntax. ``encode_key`` names the rendering: connections whose keys are equal get the very
same bytes for the same event, so a broadcast is rendered once per key, not once per recipient.

``resends`` says whose request ids these are. True: the client chose them and may resend a
request with the same id after a reconnect, so the id is an idempotency key (JSON lines). False:
the dialect numbers requests itself only to route each answer back to the right command (text,
IRC); such a correlation tag is never stored, and the same tag on another connection is a new
request (docs/protocol.md §2).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from palaver.protocol.errors import PeerError
from palaver.protocol.messages import ClientMessage, Wire

Inbound = ClientMessage | PeerError | bytes


class Dialect(Protocol):
    @property
    def encode_key(self) -> Hashable: ...

    @property
    def resends(self) -> bool: ...

    def receive_data(self, data: bytes) -> list[Inbound]: ...

    def receive_eof(self) -> list[Inbound]: ...

    def encode(self, event: Wire) -> bytes: ...
