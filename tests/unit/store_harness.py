"""The hub harness with a store behind it: what the core does with the effects that need one.

Messages are appended to a :class:`~palaver.store.memory.MemoryStore` as they are persisted,
and the effects that ask the store something (read markers, deletions) are answered from it at
once and their answers handed back to the hub, as :class:`~palaver.server.core.ServerCore`
does. The memory store never really waits, so its coroutines are run to the end in place.
"""

from __future__ import annotations

from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

from palaver.hub.effects import (
    DeleteMessage,
    EditMessage,
    Effect,
    ListMessageEdits,
    LoadReadMarkers,
    Persist,
    SaveReaction,
    SaveReadMarker,
    SearchMessages,
)
from palaver.protocol.messages import Hello
from palaver.server.decoration import quote_replies
from palaver.store.base import StoredMarker
from palaver.store.memory import MemoryStore
from tests.unit.hub_harness import Harness, counting_tokens

T = TypeVar("T")
PASSWORD = "correct horse"


def done(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits (the memory store's)."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    raise AssertionError("the coroutine waited")


class StoreHarness(Harness):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("new_token", counting_tokens())
        super().__init__(**kwargs)
        self.store = MemoryStore()
        self.effects: list[Effect] = []  # every effect the hub asked for, in order

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            self.effects.append(effect)
            if isinstance(effect, Persist):
                done(self.store.append([effect.message]))
                [effect] = done(quote_replies(self.store, [effect]))  # replies' quotes
                super().apply([effect])
            elif isinstance(effect, SaveReadMarker):
                marker, moved = done(self.store.set_read_marker(
                    effect.identity, effect.conversation, msg_id=effect.msg_id, ts=effect.ts))
                self.apply(self.hub.read_marker_saved(effect, marker, moved))
            elif isinstance(effect, LoadReadMarkers):
                markers = done(self.store.read_markers(effect.identity))
                self.apply(self.hub.read_markers_loaded(effect, markers))
            elif isinstance(effect, DeleteMessage):
                deletion = done(self.store.delete_message(
                    effect.conversation, effect.msg_id, sender_key=effect.sender_key,
                    update=effect.update))
                self.apply(self.hub.message_deleted(effect, deletion))
            elif isinstance(effect, EditMessage):
                editing = done(self.store.edit_message(
                    effect.conversation, effect.msg_id, sender_key=effect.sender_key,
                    text=effect.text, edited_at=effect.edited_at, sent_after=effect.sent_after,
                    update=effect.update))
                self.apply(self.hub.message_edited(effect, editing))
            elif isinstance(effect, ListMessageEdits):
                record = done(self.store.messages(effect.conversation, [effect.msg_id])).get(
                    effect.msg_id)
                versions = done(self.store.message_versions(effect.conversation, effect.msg_id))
                self.apply(self.hub.edits_listed(effect, record, versions))
            elif isinstance(effect, SaveReaction):
                reacting = done(self.store.react(
                    effect.conversation, effect.msg_id, identity=effect.identity,
                    nick=effect.nick, reaction=effect.reaction, ts=effect.ts,
                    remove=effect.remove, update=effect.update))
                self.apply(self.hub.reaction_saved(effect, reacting))
            elif isinstance(effect, SearchMessages):
                page = done(self.store.search([c[0] for c in effect.conversations],
                                              effect.words, before=effect.before,
                                              limit=effect.limit))
                self.apply(self.hub.searched(effect, page))
            else:
                super().apply([effect])

    def account(self, nick: str, *, markers: Sequence[StoredMarker] | None = None,
                sid: int | None = None, **fields: Any) -> int:
        """Log in to the account ``nick`` as the core does (its markers read from the store)."""
        if sid is None:
            sid = self.open()
        stored = markers if markers is not None else done(self.store.read_markers(nick.lower()))
        effects = self.hub.login(sid, Hello(version=1, nick=nick, password=PASSWORD, **fields),
                                 verified=True, marks={}, now=self.clock.now,
                                 read_markers=stored)
        self.apply(effects)
        return sid


def accounts(*nicks: str) -> Mapping[str, str]:
    return {nick.lower(): nick for nick in nicks}
