"""Notification levels: how much each room and direct conversation may call for attention.

How this works: :class:`NotifyLevels` is a mixin of :class:`~palaver.hub.hub.Hub`. A level is
the user's (its identity: an account's key, or a guest's), per conversation: ``all`` (the
default: every message may notify), ``mentions`` (only messages that mention the user, and
direct messages) or ``none``. The hub only keeps and shares them; clients obey them (the web
client's notifications and unread badges, docs/web.md). The store keeps the levels other than
``all`` (migration 017); the hub keeps those of the users online in ``_levels`` (identity ->
conversation -> level), read from the store when a user comes online — an account, or a guest
back with its token (``LoadNotifyLevels``, then :meth:`NotifyLevels.notify_levels_loaded`,
which tells the user's sessions: a ``NOTIFY_LEVEL`` for each level that is not ``all``) — and
forgotten when it goes. A user with no level set has no entry (one dict less each). A session
that joins a user already online is told the levels at once.

``NOTIFY`` with a level moves the hub's copy at once (a question right after it sees the new
level) and asks the store to keep it (``SaveNotifyLevel``); the store's answer
(:meth:`NotifyLevels.notify_level_saved`) goes to every session of the user when the level
changed (the asker's copy answers the request), else to the asker only. A level set before the
store's levels were read wins over the stored one (the pipeline answers the load first, with
what was stored before the set).

Levels follow read markers (hub/markers.py) in every respect but one: an account's levels are
read by the effect above, not with its login, so the login path stays as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from palaver.hub.effects import Deliver, Effect, LoadNotifyLevels, SaveNotifyLevel, SessionId
from palaver.hub.state import Room, Session, User, holds_token
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    Hello,
    NotificationLevel,
    NotifyLevelName,
    ServerMessage,
    SetNotifyLevel,
)
from palaver.store.base import NOTIFY_LEVELS, dm_conversation


class NotifyLevels:
    """Mixed into the hub: needs its users, rooms and a few helpers."""

    if TYPE_CHECKING:
        _rooms: dict[str, Room]
        _known_nicks: dict[str, str]

        def _peer_key(self, nick: str) -> str | None: ...
        def _holder(self, identity: str, sid: SessionId) -> User | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _member_room(user: User, name: str) -> Room: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...

    _levels: dict[str, dict[str, NotifyLevelName]]

    def notify_handlers(self) -> dict[type[Any], Any]:
        """The handlers of this module (and its state starts empty)."""
        self._levels = {}
        return {SetNotifyLevel: self._set_notify_level}

    def _set_notify_level(self, session: Session, msg: SetNotifyLevel, now: float
                          ) -> list[Effect]:
        user = self._user(session)
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "NOTIFY needs exactly one of room, with",
                            field="room")
        if msg.level is not None and msg.level not in NOTIFY_LEVELS:  # a door's own typo
            raise PeerError(ErrorCode.INVALID_FIELD, "level is all, mentions or none",
                            field="level")
        room = peer = None
        if msg.room is not None:
            live = self._member_room(user, msg.room)
            conversation, room = live.key, live.name
        else:
            assert msg.peer is not None
            peer_key = self._peer_key(msg.peer)
            if peer_key is None:
                raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.peer!r:.40} is here")
            conversation = dm_conversation(user.key, peer_key)
            peer = self._known_nicks.get(peer_key, msg.peer)
        levels = self._levels.setdefault(user.key, {})
        if msg.level is None:  # a question
            event = NotificationLevel(id=msg.id, room=room, peer=peer,
                                      level=levels.get(conversation, "all"))
            return [Deliver(event, (session.sid,))]
        levels[conversation] = msg.level
        return [SaveNotifyLevel(session.sid, msg.id, user.key, conversation, msg.level,
                                room=room, peer=peer)]

    # ------------------------------------------------------------------ the store answers

    def notify_level_saved(self, effect: SaveNotifyLevel, changed: bool) -> list[Effect]:
        """The store keeps the level of ``effect`` now (``changed``: it had another)."""
        user = self._holder(effect.identity, effect.session)
        if user is None or not effect.answer:
            return []  # gone meanwhile: nobody to tell
        event = NotificationLevel(room=effect.room, peer=effect.peer, level=effect.level)
        if changed:
            return self._to_user(user, effect.session, event, effect.request_id)
        if effect.session not in user.sessions:
            return []
        return [Deliver(NotificationLevel(id=effect.request_id, room=effect.room,
                                          peer=effect.peer, level=effect.level),
                        (effect.session,))]

    def notify_levels_loaded(self, effect: LoadNotifyLevels,
                             stored: Mapping[str, NotifyLevelName]) -> list[Effect]:
        """``effect.identity``'s stored levels: kept (but those set since it came online), and
        told to its sessions."""
        user = self._holder(effect.identity, effect.session)
        if user is None or not stored:
            return []  # gone meanwhile, or nothing stored
        levels = self._levels.setdefault(effect.identity, {})
        effects: list[Effect] = []
        for conversation, level in sorted(stored.items()):
            if conversation in levels:
                continue  # set since the user came online: that one is newer
            levels[conversation] = level
            event = self._level_event(user, conversation, level)
            if event is not None:
                effects.append(Deliver(event, tuple(user.sessions)))
        return effects

    # ------------------------------------------------------------------ asked by the hub

    def _levels_on_arrival(self, user: User, sid: SessionId, hello: Hello) -> list[Effect]:
        """``user`` comes online (its first session, ``sid``): its stored levels are read — an
        account's, or a guest's back with its token (as read markers are)."""
        # Its levels dict is made when it has one (most users never set one).
        if user.account or holds_token(user, hello.token):
            return [LoadNotifyLevels(sid, user.key)]
        return []

    def _levels_to_session(self, user: User, sid: SessionId) -> list[Effect]:
        """Another session of ``user``, online already: a NOTIFY_LEVEL for each level that
        is not ``all``."""
        effects: list[Effect] = []
        for conversation, level in sorted(self._levels.get(user.key, {}).items()):
            event = self._level_event(user, conversation, level)
            if event is not None:
                effects.append(Deliver(event, (sid,)))
        return effects

    def _levels_leave(self, user: User) -> None:
        """``user``'s last session has ended."""
        self._levels.pop(user.key, None)

    def _levels_rekeyed(self, old_key: str, user: User, sid: SessionId) -> list[Effect]:
        """A guest became an account: its levels are the account's now (stored again)."""
        levels = self._levels.pop(old_key, {})
        if levels:
            self._levels[user.key] = levels
        return [SaveNotifyLevel(sid, None, user.key, conversation, level, answer=False)
                for conversation, level in sorted(levels.items()) if level != "all"]

    def _levels_moved(self, identity: str, old: str, new: str) -> None:
        """A direct conversation of ``identity`` has a new key (its other end was deleted)."""
        levels = self._levels.get(identity)
        if levels is not None and old in levels:
            levels[new] = levels.pop(old)

    def _level_event(self, user: User, conversation: str, level: NotifyLevelName
                     ) -> NotificationLevel | None:
        """The NOTIFY_LEVEL that tells ``user`` of a level other than ``all``: a room by its
        name (its folded key when no room is live), a direct conversation by the nick at its
        other end (None when it is not known, as for read markers)."""
        if level == "all":
            return None
        if not conversation.startswith("@"):
            live = user.rooms.get(conversation) or self._rooms.get(conversation)
            return NotificationLevel(room=live.name if live else conversation, level=level)
        ends = conversation[1:].split(",")
        other = ends[1] if ends[0] == user.key else ends[0]
        nick = self._known_nicks.get(other)
        return NotificationLevel(peer=nick, level=level) if nick is not None else None
