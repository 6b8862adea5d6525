"""Full-text search over the conversations a user may read (SEARCH -> SEARCH_RESULTS).

How this works: :class:`Searching` is a mixin of :class:`~palaver.hub.hub.Hub`. SEARCH is
checked here — the query's words (split at white space, duplicates dropped, 1 to 8 words, each
at least 3 characters: the index is of trigrams), the cursor, and the scope: the rooms the user
is in now and its direct conversations, or only the ``room`` asked about (which the user must
be in, as for HISTORY: a private room is never searched by someone outside it, and a public
room one has not joined is not searched either), or only the conversation ``with`` a nick.
The store finds the messages (``SearchMessages``; FTS5 with SQLite) and the answer comes back
through :meth:`Searching.searched`, which marks where each word occurs in each hit's text.

The cursor is opaque to clients: the position of the last hit of a page in the order messages
were stored (as decimal digits); ``before`` with it asks for the older hits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.effects import Deliver, Effect, SearchMessages
from palaver.hub.names import check_room, check_text, fold
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Search, SearchHit, SearchResults
from palaver.store.base import MIN_SEARCH_WORD, SearchPage, dm_conversation, search_folded

MAX_SEARCH_WORDS: Final = 8
MAX_MARKS: Final = 32  # per hit


def search_words(query: str) -> tuple[str, ...]:
    """The words of a SEARCH query, checked (``invalid_field`` on ``query`` otherwise)."""
    try:
        if query.strip():
            check_text(query)  # no control characters
    except PeerError:
        raise PeerError(ErrorCode.INVALID_FIELD, "a search cannot contain control characters",
                        field="query") from None
    words = tuple(dict.fromkeys(query.split()))
    if not words:
        raise PeerError(ErrorCode.INVALID_FIELD, "a search needs at least one word",
                        field="query")
    if len(words) > MAX_SEARCH_WORDS:
        raise PeerError(ErrorCode.INVALID_FIELD,
                        f"a search has at most {MAX_SEARCH_WORDS} words", field="query")
    short = next((word for word in words if len(word) < MIN_SEARCH_WORD), None)
    if short is not None:
        raise PeerError(ErrorCode.INVALID_FIELD,
                        f"each word of a search is at least {MIN_SEARCH_WORD} characters "
                        f"({short!r} is not)", field="query")
    return words


def parse_cursor(before: str | None) -> int | None:
    """SEARCH's ``before``: a ``next`` that SEARCH_RESULTS gave (decimal digits)."""
    if before is None:
        return None
    if not (before.isascii() and before.isdigit() and 0 < len(before) <= 19
            and int(before) > 0):
        raise PeerError(ErrorCode.INVALID_FIELD, "before is the next of an earlier "
                        "SEARCH_RESULTS", field="before")
    return int(before)


def marks(text: str, words: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """Where ``words`` occur in ``text`` (ignoring case): merged [start, end) code point
    ranges, in order. None when folding changes the text's length (offsets would lie)."""
    folded = search_folded(text)
    if len(folded) != len(text):
        return ()
    spans: list[tuple[int, int]] = []
    for word in words:
        needle = search_folded(word)
        at = folded.find(needle)
        while at >= 0 and len(spans) < 4 * MAX_MARKS:
            spans.append((at, at + len(needle)))
            at = folded.find(needle, at + 1)
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged[:MAX_MARKS])


class Searching:
    """Mixed into the hub: needs its users and a few of its helpers."""

    if TYPE_CHECKING:
        _dm_index: dict[str, set[str]]
        _known_nicks: dict[str, str]

        def _peer_key(self, nick: str) -> str | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...

    def search_handlers(self) -> dict[type[Any], Any]:
        return {Search: self._search}

    def _search(self, session: Session, msg: Search, now: float) -> list[Effect]:
        user = self._user(session)
        if msg.room is not None and msg.peer is not None:
            raise PeerError(ErrorCode.INVALID_FIELD, "SEARCH takes room or with, not both",
                            field="room")
        words = search_words(msg.query)
        before = parse_cursor(msg.before)
        if msg.room is not None:
            room = user.rooms.get(fold(check_room(msg.room)))
            if room is None:  # not a member: as if the room did not exist (as HISTORY)
                raise PeerError(ErrorCode.NO_SUCH_ROOM, f"there is no room {msg.room}")
            scope: list[tuple[str, str | None, str | None]] = [(room.key, room.name, None)]
        elif msg.peer is not None:
            peer_key = self._peer_key(msg.peer)
            if peer_key is None:
                raise PeerError(ErrorCode.NO_SUCH_USER,
                                f"nobody called {msg.peer[:40]!r} is here")
            scope = [(dm_conversation(user.key, peer_key), None,
                      self._known_nicks.get(peer_key, msg.peer))]
        else:
            scope = [(room.key, room.name, None) for room in user.rooms.values()]
            for conversation in sorted(self._dm_index.get(user.key, ())):
                first, second = conversation[1:].split(",")
                other = second if first == user.key else first
                scope.append((conversation, None, self._known_nicks.get(other, other)))
        return [SearchMessages(session.sid, msg.id, msg.query, words, tuple(scope), before,
                               msg.limit)]

    def searched(self, effect: SearchMessages, page: SearchPage) -> list[Effect]:
        """What the store found for ``effect``: the answer to its session."""
        where = {key: (room, peer) for key, room, peer in effect.conversations}
        hits = []
        for hit in page.hits:
            record = hit.message
            room, peer = where.get(record.conversation, (record.room, record.to))
            hits.append(SearchHit(msg_id=record.msg_id, sender=record.sender, ts=record.ts,
                                  text=record.text, room=room, peer=peer,
                                  marks=marks(record.text, effect.words)))
        cursor = str(page.hits[-1].position) if page.more and page.hits else None
        reply = SearchResults(id=effect.request_id, query=effect.query, hits=tuple(hits),
                              next=cursor)
        return [Deliver(reply, (effect.session,))]
