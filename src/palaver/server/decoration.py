"""What the store adds to messages on their way out: replies' quotes and history's reactions.

How this works: a reply is stored with the msg_id it answers (``reply_to``); the head of that
message (its ``quote``, hub/replies.py) is read here, from the store, for each batch of live
messages right after it is committed and before any of it is delivered
(:func:`quote_replies`, the commit pipeline's ``settle`` hook: a batch without replies costs
one pass over it), and for every page of HISTORY and every replay (:func:`decorate`), with each
message's reactions (hub/reactions.py). A failure to read them is logged and the messages go
out without them: they are decoration, the message itself is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from palaver.hub.effects import Persist
from palaver.hub.messaging import as_message
from palaver.hub.replies import decorated, quote_deliveries, replied_to
from palaver.protocol.messages import Message
from palaver.store.base import ReactionMap, Store, StoredMessage

log = logging.getLogger("palaver.server.decoration")


async def quote_replies(store: Store, persists: list[Persist]) -> list[Persist]:
    """``persists`` (a committed batch), the replies among them with their quotes."""
    if all(p.message.reply_to is None for p in persists):
        return persists
    wanted: dict[str, set[int]] = {}
    for p in persists:
        if p.message.reply_to is not None:
            wanted.setdefault(p.message.conversation, set()).add(p.message.reply_to)
    try:
        parents = {conversation: await store.messages(conversation, sorted(ids))
                   for conversation, ids in wanted.items()}
    except Exception:
        log.exception("could not read the messages %d replies answer", len(wanted))
        return persists
    return [quote_deliveries(p, parents[p.message.conversation].get(p.message.reply_to))
            if p.message.reply_to is not None else p for p in persists]


async def decorate(store: Store, conversation: str,
                   records: Sequence[StoredMessage]) -> list[Message]:
    """``records`` of ``conversation`` as messages, with their quotes and reactions."""
    messages = [as_message(r) for r in records]
    if not records:
        return messages
    try:
        parents: dict[int, StoredMessage] = {}
        wanted = replied_to(records)
        if wanted:
            parents = await store.messages(conversation, wanted)
        reactions: dict[int, ReactionMap] = await store.reactions(
            conversation, [r.msg_id for r in records if not r.deleted])
    except Exception:
        log.exception("could not read the quotes and reactions of %s", conversation)
        return messages
    if not parents and not reactions:
        return messages
    return [decorated(m, parents, reactions) for m in messages]
