"""Interest: which conversations this node's users need to hear about from other nodes.

How this works: in a cluster (docs/architecture.md, "A cluster of nodes"), a node hears of the
messages stored by other nodes on the bus, where it subscribes only to what its own users need:
the rooms that have a member here, and — for direct messages — a channel per user online here.
The hub records when either starts or stops (:meth:`Interest.room`, :meth:`Interest.user`); the
server's cluster link takes the changes (:meth:`Interest.take`) and subscribes or unsubscribes.
``notify`` is called once when changes start to pile up (the link takes them at the next loop
turn). A single server has no Interest: the hub's ``interest`` is None and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

Channel = tuple[Literal["room", "user"], str]  # a room's key, or a user's key


class Interest:
    __slots__ = ("_changes", "_notify", "rooms_changed")

    def __init__(self, notify: Callable[[], None]) -> None:
        self._notify = notify
        self._changes: dict[Channel, bool] = {}
        # Rooms whose local members changed since the link last took them (roster/base.py)
        self.rooms_changed: set[str] = set()

    def room_changed(self, key: str) -> None:
        """Room ``key``'s members (or their nicks) changed here."""
        if not self._changes and not self.rooms_changed:
            self._notify()
        self.rooms_changed.add(key)

    def room(self, key: str, on: bool) -> None:
        """Room ``key`` got its first member here (``on``) or lost its last."""
        self._note(("room", key), on)

    def user(self, key: str, on: bool) -> None:
        """User ``key`` came online here (its first session) or went (its last)."""
        self._note(("user", key), on)

    def take_rooms(self) -> set[str]:
        """The rooms changed since the last take."""
        rooms, self.rooms_changed = self.rooms_changed, set()
        return rooms

    def take(self) -> dict[Channel, bool]:
        """The changes since the last take: channel -> wanted now (an on and off in between
        leave the last word)."""
        changes, self._changes = self._changes, {}
        return changes

    def _note(self, channel: Channel, on: bool) -> None:
        if not self._changes and not self.rooms_changed:
            self._notify()
        self._changes[channel] = on
