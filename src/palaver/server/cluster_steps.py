"""What a node of a cluster does with a message before the hub sees it, for the core.

A hub knows only what its own node told it; some messages need what another node may have
changed since. On a node of a cluster (``core.nick_claims`` and ``core.cluster`` set:
server/app.py; elsewhere nothing here runs) the core asks the two predicates here of every
message; when one says yes, the connection is paused and the step runs in a task that hands
the message to the hub afterwards and resumes the connection, so what the client sent next is
handled after it.

- A guest's nick (HELLO without a password, or NICK): other nodes must not give it out too.
  :func:`claims_nick` says whether ``message`` takes one; :func:`claim_then_receive` claims it
  across the cluster (server/nick_claims.py), hands the message to the hub, and lets go of
  whichever nick the guest does not end up wearing (the old one, or the one refused).
- What lives in the store: a DM to a nick this node does not know (an account made elsewhere),
  a JOIN of a room not open here, a LIST (rooms made, topics set on other nodes).
  :func:`learns_first` says whether ``message`` needs it; :func:`learn_then_receive` reads it
  first — and a new room's rules are stored by whichever node makes the room first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from palaver.hub.effects import Effect, SessionId
from palaver.hub.names import fold
from palaver.hub.state import guest_key
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import ClientMessage, Hello, Join, ListRooms, SendDirect, SetNick

if TYPE_CHECKING:
    from palaver.server.core import Connection, ServerCore

log = logging.getLogger("palaver.server")


def claims_nick(core: ServerCore, sid: SessionId, message: ClientMessage) -> bool:
    """Does ``message`` give a guest a nick, which other nodes must not have?"""
    if type(message) is Hello:
        return message.password is None and not core.hub.is_registered(sid)
    return type(message) is SetNick and core.hub.is_guest(sid)


async def claim_then_receive(core: ServerCore, conn: Connection, message: Hello | SetNick) -> None:
    """Claim ``message``'s nick across the cluster; won, hand it to the hub."""
    assert core.nick_claims is not None
    nick, sid = message.nick, conn.sid
    effects: list[Effect]
    # Whose claim it is: a returning guest's (its token), or a guest's renaming itself. A new
    # guest's identity is made by the hub: the claim learns it just after (below).
    identity = (guest_key(message.token) if type(message) is Hello and message.token
                else core.hub.key_of(sid))
    try:
        refused = await core.nick_claims.take(nick, identity)
        account = None if refused else await core.store.get_account(fold(nick))
    except Exception:
        log.exception("could not claim the nick %s", nick)
        effects = [core.hub.error_effect(sid, PeerError(
            ErrorCode.UNAVAILABLE, "nicks cannot be checked right now; try again",
            message.id))]
    else:
        if refused:
            effects = [core.hub.error_effect(sid, PeerError(
                ErrorCode.NICK_TAKEN, f"the nick {nick[:40]} is taken", message.id))]
        else:
            if account is not None:  # made on another node since this one started
                core.hub.learn_account(account.key, account.nick)
            before = core.hub.nick_of(sid)
            effects = core.hub.handle(sid, message, core.wall_clock(), resends=conn.resends)
            after, key = core.hub.nick_of(sid), core.hub.key_of(sid)
            for dropped in {nick, before} - {after, None}:
                assert dropped is not None
                core.nick_claims.release_unless_used(dropped)
            if after == nick and key is not None and key != identity:
                core.spawn(core.nick_claims.name_holder(nick, key))
    core.pipeline.submit(effects)
    conn.resume()


def learns_first(core: ServerCore, message: ClientMessage) -> bool:
    """In a cluster: does ``message`` need what another node may have stored since this
    one read it — a DM's account, a room's rules before it opens here or is listed?"""
    if type(message) is SendDirect:
        return not core.hub.knows_nick(message.to)
    if type(message) is ListRooms:  # rooms made, topics set on other nodes
        return True
    return type(message) is Join and not core.hub.room_open(message.room)


async def learn_then_receive(core: ServerCore, conn: Connection, message: ClientMessage) -> None:
    """Learn from the store what ``message`` needs (:func:`learns_first`); handle it."""
    try:
        if type(message) is SendDirect:
            account = await core.store.get_account(fold(message.to))
            if account is not None:
                core.hub.learn_account(account.key, account.nick)
        else:
            core.hub.learn_rules(await core.store.room_settings())
            made = (core.hub.new_room_rules(conn.sid, message.room, core.wall_clock())
                    if type(message) is Join else None)
            if made is not None:  # a new room: made here unless another node was first
                won = await core.store.save_room(made, new=True)
                core.hub.learn_rules([made] if won else await core.store.room_settings())
    except Exception:  # the hub goes by what it knows
        log.exception("could not read what %s needs", type(message).__name__)
    core.pipeline.submit(core.hub.handle(conn.sid, message, core.wall_clock(),
                                         resends=conn.resends))
    conn.resume()

