"""The Roster port: which room members each node of a cluster has, for the others to show.

How this works: every node writes its own rooms' members here (:meth:`Roster.apply`: the
changes since its last write, in one transaction, which also moves the node's *version*), and
reads the others' when their version has moved (:meth:`Roster.versions`,
:meth:`Roster.members`). Only nodes whose lease is live count (claims/: the lease a node renews
for its nicks), so a node that died drops out of every room within the lease's time. The
database is the truth; the bus only hints that a version moved (server/cluster.py), so a lost
hint delays a join notice by a check interval and loses nothing.

Backends: :class:`palaver.roster.memory.MemoryRoster` (nodes in one process, tests) and
:class:`palaver.roster.postgres.PostgresRoster` (PostgreSQL migration 020).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import msgspec


class Member(msgspec.Struct, frozen=True, array_like=True):
    """A room member as other nodes show it: its nick, and whether it is an account."""

    nick: str
    account: bool


# room key -> user key -> the member (a node's members of every room it has)
RoomMembers = dict[str, dict[str, Member]]
# (room key, user key) -> the member now, or None: no longer there
Changes = Mapping[tuple[str, str], Member | None]


class Roster(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def reset(self, node: str) -> None:
        """``node`` starts: what an earlier life of it wrote is dropped (its version moves)."""

    async def apply(self, node: str, changes: Changes) -> None:
        """Write ``node``'s changes, all or none, and move its version."""

    async def versions(self) -> dict[str, int]:
        """Every live node's version (a node whose lease has expired is not there)."""

    async def members(self, node: str) -> RoomMembers:
        """``node``'s members, every room."""

    async def retire(self, node: str) -> None:
        """``node`` leaves: its members and version are dropped."""
