"""LocalBus: the Bus port in one process (no I/O): what the embedded server uses, and several
in-process nodes in tests.

Every LocalBus given the same :class:`LocalBroker` is a node on one bus; a LocalBus made without
one has a broker of its own (a one-node cluster). Messages are told on the event loop's next
turn (``call_soon``), never from inside :meth:`LocalBus.publish`, so a node is not re-entered
while it publishes; in the order published. :meth:`LocalBroker.set_up` takes the bus down (what
is published meanwhile is lost, as with Redis) and back, for tests of the recovery path.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Final

from palaver.bus.base import BusError, BusReceiver

log = logging.getLogger(__name__)

SHARDS: Final = 1


class LocalBroker:
    """What several LocalBus nodes share: who is subscribed to what, and whether it is up."""

    def __init__(self) -> None:
        self.up = True
        self._nodes: set[LocalBus] = set()

    def set_up(self, up: bool) -> None:
        """Take the bus down (nothing is delivered; publishing says False) or back up; every
        open node is told."""
        if up == self.up:
            return
        self.up = up
        for node in list(self._nodes):
            node._tell(lambda receiver: receiver.bus_state(0, up))

    def _publish(self, conversation: str, msg_id: int, payload: bytes) -> bool:
        if not self.up:
            return False
        for node in list(self._nodes):
            if conversation in node._subscribed:
                node._tell(functools.partial(node._deliver, conversation=conversation,
                                             msg_id=msg_id, payload=payload))
        return True


class LocalBus:
    def __init__(self, broker: LocalBroker | None = None) -> None:
        self.broker = broker if broker is not None else LocalBroker()
        self._receiver: BusReceiver | None = None
        self._subscribed: set[str] = set()
        self._closed = False

    @property
    def shards(self) -> int:
        return SHARDS

    def shard_of(self, conversation: str) -> int:
        return 0

    async def open(self, receiver: BusReceiver) -> None:
        if self._closed or self._receiver is not None:
            raise BusError("this bus was already opened")
        self._receiver = receiver
        self.broker._nodes.add(self)
        if self.broker.up:
            self._tell(lambda receiver: receiver.bus_state(0, True))

    async def publish(self, conversation: str, msg_id: int, payload: bytes) -> bool:
        self._check_open()
        return self.broker._publish(conversation, msg_id, bytes(payload))

    async def subscribe(self, conversation: str) -> None:
        self._check_open()
        self._subscribed.add(conversation)

    async def unsubscribe(self, conversation: str) -> None:
        self._check_open()
        self._subscribed.discard(conversation)

    async def close(self) -> None:
        self._closed = True
        self.broker._nodes.discard(self)
        self._subscribed.clear()
        self._receiver = None

    def _check_open(self) -> None:
        if self._closed or self._receiver is None:
            raise BusError("the bus is not open")

    def _tell(self, call: Callable[[BusReceiver], None]) -> None:
        asyncio.get_running_loop().call_soon(self._call, call)

    def _call(self, call: Callable[[BusReceiver], None]) -> None:
        receiver = self._receiver
        if receiver is None:  # closed meanwhile
            return
        try:
            call(receiver)
        except Exception:
            log.exception("the bus's receiver failed")

    def _deliver(self, receiver: BusReceiver, conversation: str, msg_id: int,
                 payload: bytes) -> None:
        if conversation in self._subscribed:  # not unsubscribed meanwhile
            receiver.bus_message(conversation, msg_id, payload)
