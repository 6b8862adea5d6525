"""Replies and what history shows of a message: its quote (the head of the message it
answers) and its reactions.

How this works: a CHAT or DM may carry ``reply_to``, the msg_id of a message of the same
conversation. The hub checks only that the id has been given out (:func:`check_reply_to`: ids
are dense, so 1..last is exactly what exists); a deleted message may be answered (its quote
says ``deleted``). The message is stored with its ``reply_to``. Its ``quote`` — the answered
message's sender and first words, for the doors that show replies as text — is read from the
store: for a live message by the commit pipeline right after the batch that holds it is
committed, before it is delivered (:func:`quote_deliveries`); for HISTORY and replays with the
page (:func:`decorated`), together with each message's reactions (hub/reactions.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import msgspec

from palaver.hub.effects import Deliver, Persist
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Message, Quote
from palaver.store.base import ReactionMap, StoredMessage

QUOTE_CHARS: Final = 100  # a quote's first words: at most this many characters


def check_reply_to(reply_to: int | None, last_id: int) -> int | None:
    """A reply's ``reply_to``: a msg_id the conversation has given out (else no_such_message)."""
    if reply_to is None:
        return None
    if not 1 <= reply_to <= last_id:
        raise PeerError(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {reply_to} to "
                        f"answer here", field="reply_to")
    return reply_to


def quote_of(record: StoredMessage) -> Quote:
    """The head of ``record``: its sender and first words, on one line."""
    if record.deleted:
        return Quote(msg_id=record.msg_id, sender=record.sender, deleted=True)
    text = " ".join(record.text.split())
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS - 1].rstrip() + "…"
    return Quote(msg_id=record.msg_id, sender=record.sender, text=text)


def quote_deliveries(persist: Persist, parent: StoredMessage | None) -> Persist:
    """``persist`` (a reply) with the quote of ``parent`` on the messages it delivers."""
    if parent is None:
        return persist
    quote = quote_of(parent)
    then = tuple(
        Deliver(msgspec.structs.replace(d.event, quote=quote), d.to, d.skip)
        if isinstance(d.event, Message) else d
        for d in persist.then)
    return Persist(persist.message, then, persist.session, persist.request_id)


def replied_to(records: Iterable[StoredMessage]) -> list[int]:
    """The msg_ids that ``records`` answer (to read their quotes)."""
    return sorted({r.reply_to for r in records if r.reply_to is not None})


def decorated(message: Message, parents: Mapping[int, StoredMessage],
              reactions: Mapping[int, ReactionMap]) -> Message:
    """``message`` (from history) with its quote and reactions; a deleted one has neither."""
    if message.deleted:
        return message
    parent = parents.get(message.reply_to) if message.reply_to is not None else None
    given = reactions.get(message.msg_id)
    if parent is None and not given:
        return message
    return msgspec.structs.replace(message, quote=quote_of(parent) if parent else None,
                                   reactions=dict(given) if given else None)
