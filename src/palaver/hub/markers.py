"""Read markers: how far a user has read each room and direct conversation.

How this works: :class:`ReadMarkers` is a mixin of :class:`~palaver.hub.hub.Hub`. A marker is
the user's (its identity: an account's key, or a guest's), per conversation: the newest msg_id
read and the time read up to (:class:`~palaver.store.base.StoredMarker`); each half only ever
increases. The store keeps them; the hub keeps the markers of the users online in
``_markers`` (identity -> conversation -> marker), loaded when they arrive — an account's with
its login (:meth:`~palaver.hub.hub.Hub.login`), a guest back with its token's just after it
arrives (``LoadReadMarkers``, then :meth:`ReadMarkers.read_markers_loaded`) — and forgotten
when they go. A user with no marker has no entry (most have none: one dict less each).

``MARK_READ`` moves the hub's copy at once (a question right after it sees the move), and asks
the store (``SaveReadMarker``) to move the stored one and find its other half: the time of the
message read up to, or the newest message sent by the time read up to. The store's answer
(:meth:`ReadMarkers.read_marker_saved`) goes to every session of the user when the marker moved
(the asker's copy answers the request), else to the asker only. Markers are per user, so
``JOINED`` carries the room's (:meth:`ReadMarkers._read_fields`) and, on arrival, each direct
conversation's comes as a ``READ_MARKER`` (:meth:`ReadMarkers._dm_markers`).

Unread counts (a later step) are ``last_id - msg_id``: msg_ids are dense per conversation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from palaver.hub.effects import Deliver, Effect, LoadReadMarkers, SaveReadMarker, SessionId
from palaver.hub.names import check_room, fold
from palaver.hub.state import Room, Session, User, holds_token
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Hello, MarkRead, ReadMarker, ServerMessage
from palaver.store.base import StoredMarker, dm_conversation, later_ts

_TS: Final = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", re.ASCII)


def check_ts(ts: str) -> str:
    """A marker's time, as messages' times are written (``2026-01-02T03:04:05.678Z``)."""
    match = _TS.fullmatch(ts)
    try:
        if match is None:
            raise ValueError(ts)
        datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise PeerError(ErrorCode.INVALID_FIELD, "ts is an ISO 8601 UTC time, such as "
                        "2026-01-02T03:04:05.678Z", field="ts") from None
    return f"{match[1]}.{(match[2] or '')[:3].ljust(3, '0')}Z"


def merged(marker: StoredMarker | None, conversation: str, msg_id: int | None,
           ts: str | None) -> StoredMarker:
    """``marker`` moved forward to ``msg_id`` and ``ts`` (each half only increases)."""
    old = marker or StoredMarker(conversation=conversation)
    return StoredMarker(conversation=conversation, msg_id=max(old.msg_id, msg_id or 0),
                        ts=later_ts(old.ts, ts))


class ReadMarkers:
    """Mixed into the hub: needs its users, rooms, msg_id counters and a few helpers."""

    if TYPE_CHECKING:
        _sessions: dict[SessionId, Session]
        _rooms: dict[str, Room]
        _online_accounts: dict[str, User]
        _last_id: dict[str, int]
        _known_nicks: dict[str, str]

        def _peer_key(self, nick: str) -> str | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...

    _markers: dict[str, dict[str, StoredMarker]]

    def marker_handlers(self) -> dict[type[Any], Any]:
        """The handlers of this module (and its state starts empty)."""
        self._markers = {}
        return {MarkRead: self._mark_read}

    def _mark_read(self, session: Session, msg: MarkRead, now: float) -> list[Effect]:
        user = self._user(session)
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "MARK_READ needs exactly one of room, with",
                            field="room")
        room = peer = conversation = None
        if msg.room is not None:
            conversation = fold(check_room(msg.room))
            live = user.rooms.get(conversation) or self._rooms.get(conversation)
            room = live.name if live is not None else msg.room
        else:
            assert msg.peer is not None
            peer_key = self._peer_key(msg.peer)
            peer = self._known_nicks.get(peer_key, msg.peer) if peer_key else msg.peer
            conversation = dm_conversation(user.key, peer_key) if peer_key else None
        markers = self._markers.setdefault(user.key, {})
        current = markers.get(conversation) if conversation is not None else None
        if msg.msg_id is None and msg.ts is None:  # a question
            event = _event(current, room, peer, msg.id)
            return [Deliver(event, (session.sid,))]
        if conversation is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.peer!r:.40} is here")
        if room is not None and conversation not in user.rooms:
            raise PeerError(ErrorCode.NOT_IN_ROOM, f"you are not in {msg.room}")
        ts = check_ts(msg.ts) if msg.ts is not None else None
        if msg.msg_id is not None and msg.msg_id > self._last_id.get(conversation, 0):
            raise PeerError(ErrorCode.INVALID_FIELD, f"there is no message {msg.msg_id} yet",
                            field="msg_id")
        markers[conversation] = merged(current, conversation, msg.msg_id, ts)
        return [SaveReadMarker(session.sid, msg.id, user.key, conversation, msg.msg_id, ts,
                               room=room, peer=peer)]

    # ------------------------------------------------------------------ the store answers

    def read_marker_saved(self, effect: SaveReadMarker, marker: StoredMarker,
                          moved: bool) -> list[Effect]:
        """The store has moved the marker of ``effect`` to ``marker`` (or it was there)."""
        user = self._holder(effect.identity, effect.session)
        if user is None or not effect.answer:
            return []  # gone meanwhile: nobody to tell
        markers = self._markers.setdefault(effect.identity, {})
        now = merged(markers.get(effect.conversation), effect.conversation, marker.msg_id,
                     marker.ts)
        markers[effect.conversation] = now
        event = _event(now, effect.room, effect.peer, None)
        if moved:
            return self._to_user(user, effect.session, event, effect.request_id)
        return [Deliver(msgspec.structs.replace(event, id=effect.request_id), (effect.session,))]

    def read_markers_loaded(self, effect: LoadReadMarkers,
                            stored: Iterable[StoredMarker]) -> list[Effect]:
        """A guest's stored markers (``LoadReadMarkers``): kept, and told to its sessions."""
        user = self._holder(effect.identity, effect.session)
        if user is None:
            return []  # gone meanwhile
        markers = self._markers.setdefault(effect.identity, {})
        effects: list[Effect] = []
        for marker in stored:
            key = marker.conversation
            now = merged(markers.get(key), key, marker.msg_id, marker.ts)
            if now == markers.get(key):
                continue
            markers[key] = now
            where = self._where(user, key)
            if where is not None:
                effects.append(Deliver(_event(now, *where, None), tuple(user.sessions)))
        return effects

    # ------------------------------------------------------------------ asked by the hub

    def _markers_arrive(self, user: User, stored: Iterable[StoredMarker] = ()) -> None:
        """``user`` comes online (its first session), with its stored markers."""
        markers = {m.conversation: m for m in stored}
        if markers:  # made when there is one (most users have none)
            self._markers[user.key] = markers
        else:
            self._markers.pop(user.key, None)

    def _markers_leave(self, user: User) -> None:
        """``user``'s last session has ended."""
        self._markers.pop(user.key, None)

    def _markers_rekeyed(self, old_key: str, user: User, sid: SessionId) -> list[Effect]:
        """A guest became an account: its markers are the account's now (stored again)."""
        markers = self._markers.pop(old_key, {})
        if markers:
            self._markers[user.key] = markers
        return [SaveReadMarker(sid, None, user.key, m.conversation, m.msg_id, m.ts,
                               answer=False) for m in markers.values()]

    def _markers_on_arrival(self, user: User, sid: SessionId, hello: Hello) -> list[Effect]:
        """``user`` comes online on ``sid``: a READ_MARKER for each direct conversation with
        one; a guest back with its token has its markers read from the store."""
        effects = self._dm_markers(user, sid)
        if holds_token(user, hello.token):
            effects.append(LoadReadMarkers(sid, user.key))
        return effects

    def _read_fields(self, user: User | None, key: str) -> Mapping[str, Any]:
        """JOINED's fields for ``user``'s marker of the room ``key``."""
        marker = self._markers.get(user.key, {}).get(key) if user is not None else None
        if marker is None:
            return {}
        return {"read_msg_id": marker.msg_id, "read_ts": marker.ts}

    def _dm_markers(self, user: User, sid: SessionId) -> list[Effect]:
        """A READ_MARKER for each of ``user``'s direct conversations with one, to ``sid``."""
        effects: list[Effect] = []
        for key, marker in sorted(self._markers.get(user.key, {}).items()):
            where = self._where(user, key) if key.startswith("@") else None
            if where is not None:
                effects.append(Deliver(_event(marker, *where, None), (sid,)))
        return effects

    def _where(self, user: User, key: str) -> tuple[str | None, str | None] | None:
        """(room, peer) naming conversation ``key`` for ``user``; None if it cannot be named."""
        if not key.startswith("@"):
            room = user.rooms.get(key) or self._rooms.get(key)
            return (room.name, None) if room is not None else None
        ends = key[1:].split(",")
        other = ends[1] if ends[0] == user.key else ends[0]
        nick = self._known_nicks.get(other)
        return (None, nick) if nick is not None else None

    def _holder(self, identity: str, sid: SessionId) -> User | None:
        """The user online with ``identity`` (found through ``sid``, or as an account)."""
        session = self._sessions.get(sid)
        if session is not None and session.user is not None and session.user.key == identity:
            return session.user
        return self._online_accounts.get(identity)


def _event(marker: StoredMarker | None, room: str | None, peer: str | None,
           request_id: str | None) -> ReadMarker:
    if marker is None:
        return ReadMarker(id=request_id, room=room, peer=peer)
    return ReadMarker(id=request_id, room=room, peer=peer, msg_id=marker.msg_id, ts=marker.ts)
