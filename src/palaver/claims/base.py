"""The Claims port: cluster-wide nicks, each held by one node at a time.

A nick in use is *claimed* by the node its user is on, under the nick's lookalike skeleton
(:func:`palaver.hub.lookalikes.skeleton`): claims are unique on the skeleton, so two nicks that
look alike collide across nodes as they do within one. Of any number of nodes claiming one
skeleton at once, exactly one wins.

Claims are held by *nodes*, not users: a node's hub decides among its own users (its
:class:`~palaver.hub.lookalikes.LookalikeIndex`), and releases a nick when its last local user
of it is gone. A node claiming a skeleton it already holds wins, and the claim takes the new
nick (a user renaming to a lookalike of their own nick).

Every node holds a *lease* (:meth:`Claims.renew`, on a timer, well within ``ttl``); a claim held
by a node whose lease has expired is free: the next claim takes it over, and :meth:`Claims.expire`
clears such claims out. A node whose lease lapsed (:meth:`Claims.renew` says False) may have
lost claims meanwhile, and claims its users' nicks again to find out which. A node that cannot
renew in time must stop acting on its claims.

Backends: :class:`palaver.claims.memory.MemoryClaims` (one process; the embedded server) and
:class:`palaver.claims.postgres.PostgresClaims` (the cluster's PostgreSQL, its clock deciding
expiry for every node).
"""

from __future__ import annotations

from typing import Protocol

import msgspec


class ClaimsError(Exception):
    """The claims cannot be read or written (the database is unreachable, or has no claims
    table); the message says why."""


class NoLease(ClaimsError):
    """The node claiming has no live lease: it must renew it first."""


class Claim(msgspec.Struct, frozen=True, kw_only=True):
    nick: str  # the nick as claimed (its folded key, as the hub keys nicks)
    skeleton: str  # its lookalike skeleton: unique
    node: str  # the node holding it
    identity: str | None = None  # the user holding it there, when the claimer said


class Claims(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def renew(self, node: str, ttl: float) -> bool:
        """Extend ``node``'s lease to ``ttl`` seconds from now (0: let it expire at once, on a
        clean shutdown). True when its lease was live until now; False when it is new or had
        lapsed (its claims may have been taken over meanwhile)."""
        ...

    async def claim(self, nick: str, skeleton: str, node: str,
                    identity: str | None = None) -> bool:
        """Claim ``skeleton`` for ``nick`` on ``node``, for the user ``identity`` (if given):
        True (won: it was free, its holder's lease had expired, ``node`` held it already — now
        as ``nick`` — or another node held it for the same ``identity``: the user has moved,
        say after its node died) or False (another live node holds it, for someone else).
        Raises :class:`NoLease` when ``node``'s lease is not live."""
        ...

    async def release(self, nick: str, node: str) -> bool:
        """Give up ``node``'s claim of ``nick``; False if it held none."""
        ...

    async def holder(self, skeleton: str) -> Claim | None:
        """Who holds ``skeleton`` (a nick's, or a lookalike's); None when it is free (never
        claimed, released, or held by a node whose lease has expired)."""
        ...

    async def expire(self) -> int:
        """Clear out the claims of nodes whose lease has expired (they are free already) and
        those leases; how many claims."""
        ...

    async def retire(self, node: str) -> int:
        """``node`` leaves the cluster: its claims and lease are dropped; how many claims."""
        ...
