"""MemoryRoster: the Roster port in one process (nodes of a test cluster share one)."""

from __future__ import annotations

from collections.abc import Callable

from palaver.roster.base import Changes, Member, RoomMembers


class MemoryRoster:
    def __init__(self, live: Callable[[str], bool] = lambda node: True) -> None:
        self._live = live  # is this node's lease live?
        self._members: dict[str, dict[tuple[str, str], Member]] = {}
        self._versions: dict[str, int] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def reset(self, node: str) -> None:
        self._members[node] = {}
        self._versions[node] = self._versions.get(node, 0) + 1

    async def apply(self, node: str, changes: Changes) -> None:
        rows = self._members.setdefault(node, {})
        for where, member in changes.items():
            if member is None:
                rows.pop(where, None)
            else:
                rows[where] = member
        self._versions[node] = self._versions.get(node, 0) + 1

    async def versions(self) -> dict[str, int]:
        return {node: v for node, v in self._versions.items() if self._live(node)}

    async def members(self, node: str) -> RoomMembers:
        found: RoomMembers = {}
        for (room, key), member in self._members.get(node, {}).items():
            found.setdefault(room, {})[key] = member
        return found

    async def retire(self, node: str) -> None:
        self._members.pop(node, None)
        self._versions.pop(node, None)
