"""Cluster-wide nicks for the core: a guest's nick is claimed before the hub gives it out.

How this works (claims/base.py has the port): in a cluster each node's hub decides among its own
users, and the :class:`~palaver.claims.base.Claims` in PostgreSQL decide among nodes. Before a
guest's HELLO or NICK reaches the hub, the core asks :meth:`NickClaims.take`: the claim of the
nick's lookalike skeleton for this node is won (then the hub decides as it always does) or lost
(another node's user has the nick, or one that looks like it: ``nick_taken``). The store is asked
too whether the nick is an account made on another node since this one started, which the hub
then learns. A claim is given up when no user here has the nick any more
(:meth:`NickClaims.release_unless`).

Accounts need no claim: the store's accounts are unique, and an account may be online on several
nodes at once. The node's lease is renewed every third of ``ttl``; if it had lapsed (the node was
cut off from the database for longer than ``ttl``), every nick it holds is claimed again and those
lost are logged. On shutdown the node retires: its claims are freed at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from palaver.claims.base import Claims, NoLease
from palaver.hub.lookalikes import skeleton
from palaver.hub.names import fold
from palaver.store.base import Store

log = logging.getLogger("palaver.server.claims")

LEASE_TTL: Final = 30.0  # seconds a node's claims outlive its last renewal


class NickClaims:
    def __init__(self, claims: Claims, node: str, store: Store, *,
                 in_use: Callable[[str], bool], ttl: float = LEASE_TTL) -> None:
        self.claims = claims
        self.node = node
        self.store = store
        self.ttl = ttl
        self._in_use = in_use  # is a folded nick used by someone here?
        self._held: set[str] = set()  # folded nicks this node has claimed
        self._loop = asyncio.get_running_loop()
        self._renewer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.claims.open()
        await self.claims.renew(self.node, self.ttl)
        self._renewer = self._loop.create_task(self._renew_forever())

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
        try:
            await self.claims.retire(self.node)
        except Exception:  # they expire with the lease anyway
            log.exception("could not free this node's nicks")
        await self.claims.close()

    async def take(self, nick: str, identity: str | None = None) -> str | None:
        """Claim ``nick`` for this node, for the guest ``identity`` when it is known (a HELLO
        with a guest's token: the same guest, moved here, takes its nick along at once): None
        if it may be given out here, else ``"taken"`` (a user of another node has it, or a
        lookalike)."""
        folded = fold(nick)
        try:
            won = await self.claims.claim(folded, skeleton(nick), self.node, identity)
        except NoLease:  # lapsed: renew, then once more
            await self.claims.renew(self.node, self.ttl)
            won = await self.claims.claim(folded, skeleton(nick), self.node, identity)
        if not won:
            return "taken"
        self._held.add(folded)
        return None

    async def name_holder(self, nick: str, identity: str) -> None:
        """This node's claim of ``nick`` is for the user ``identity`` (a new guest's, known
        once the hub has made it): so the user takes the nick along if it moves."""
        try:
            await self.claims.claim(fold(nick), skeleton(nick), self.node, identity)
        except Exception:  # the claim stays the node's: a moved user waits for the lease
            log.exception("could not name the holder of the nick %s", nick)

    def release_unless_used(self, nick: str) -> None:
        """Give up ``nick``'s claim if no user here has it (in the background)."""
        folded = fold(nick)
        if folded in self._held and not self._in_use(folded):
            self._held.discard(folded)
            self._loop.create_task(self._release(folded))

    async def _release(self, folded: str) -> None:
        try:
            await self.claims.release(folded, self.node)
        except Exception:  # it stays claimed until the node's lease lapses or it retires
            log.exception("could not release the nick %s", folded)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self.claims.renew(self.node, self.ttl):
                    await self._claim_again()
                for folded in [f for f in self._held if not self._in_use(f)]:  # missed ones
                    self._held.discard(folded)
                    await self._release(folded)
            except Exception:
                log.exception("could not renew this node's lease on its nicks")

    async def _claim_again(self) -> None:
        """The lease had lapsed: the nicks held may have been taken meanwhile."""
        log.warning("this node's lease on its nicks had lapsed: claiming them again")
        for folded in sorted(self._held):
            if not await self.claims.claim(folded, skeleton(folded), self.node):
                log.warning("the nick %s was taken by another node while this one was cut "
                            "off: two users have it now", folded,
                            extra={"event": "nick_lost", "nick": folded})
