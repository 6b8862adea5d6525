"""Reading a replay (docs/protocol.md §15): what a resuming session missed, from the store.

How this works: for each conversation of the :class:`~palaver.hub.effects.Replay` (ids
``after`` < id <= ``upto``), the messages stored after the client's mark, as they are now (with
quotes and reactions: server/decoration.py), and the updates made since to the messages it
already had (edits, deletions, reactions: hub/updates.py), merged in id order. At most
``cap`` of them per conversation, the newest: when more were missed, a ``GAP`` says which ids
were not sent. Rooms come one after the other; direct messages of all conversations merged in
the order they were sent, as they would have arrived live. If the store fails, every
conversation is a ``GAP`` the client fills with ``HISTORY``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from palaver.hub.effects import ReplayRange
from palaver.hub.updates import update_event
from palaver.protocol.messages import Gap, Wire
from palaver.server.decoration import decorate
from palaver.store.base import Store

log = logging.getLogger("palaver.server.replay")

# An event of a replay: (ts, conversation, id) orders direct conversations; the event itself.
_Item = tuple[tuple[str, str, int], Wire]


async def replay_frames(store: Store, ranges: Sequence[ReplayRange], cap: int,
                        encode: Callable[[Wire], bytes], sid: int = 0) -> list[bytes]:
    """The frames that bring a client up to date on ``ranges``."""
    frames: list[bytes] = []
    direct: list[_Item] = []
    try:
        for span in ranges:
            gap, items = await _missed(store, span, cap)
            if gap is not None:
                frames.append(encode(gap))
            if span.room is None:
                direct.extend(items)
            else:
                frames.extend(encode(event) for _, event in items)
        direct.sort(key=lambda item: item[0])
        frames.extend(encode(event) for _, event in direct)
    except Exception:
        log.exception("could not replay for connection %d", sid)
        frames = [encode(Gap(room=span.room, peer=span.peer, after=span.after,
                             before=span.upto + 1)) for span in ranges]
    return frames


async def _missed(store: Store, span: ReplayRange, cap: int) -> tuple[Gap | None, list[_Item]]:
    """One conversation: the GAP, if some of it is not sent, and what is, in id order."""
    conversation = span.conversation
    page = await store.page(conversation, before=span.upto + 1, limit=cap)
    missed = [m for m in page.messages if m.msg_id > span.after]
    updates = await store.updates(conversation, after=span.after, upto=span.upto, limit=cap)
    shown = await decorate(store, conversation, missed)
    items: list[_Item] = [((m.ts, conversation, m.msg_id), event)
                          for m, event in zip(missed, shown, strict=True)]
    if updates.updates:
        targets = await store.messages(conversation,
                                       sorted({u.msg_id for u in updates.updates}))
        items.extend(((u.ts, conversation, u.seq), update_event(u, targets[u.msg_id]))
                     for u in updates.updates if u.msg_id in targets)
        items.sort(key=lambda item: item[0][2])
    # Not all of it: a full page of messages with more before it, older updates left out,
    # or more than ``cap`` of both together (then the newest ``cap``).
    cut = (bool(missed) and page.more and len(missed) == len(page.messages)) or updates.more
    if len(items) > cap:
        items, cut = items[-cap:], True
    if not cut or not items:
        return None, items
    return Gap(room=span.room, peer=span.peer, after=span.after, before=items[0][0][2]), items
