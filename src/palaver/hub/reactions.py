"""Reactions: an emoji (or a short word) added to a message, or taken back.

How this works: :class:`Reactions` is a mixin of :class:`~palaver.hub.hub.Hub`. ``REACT`` is
checked here as far as the hub can — whoever may speak in the room may react there
(``_speaker_room``: moderated rooms and mutes apply), a direct conversation needs its other end,
the msg_id must have been given out, the reaction must be 1-32 characters without spaces or
control characters — then decided by the store (``SaveReaction``), which alone knows whether the
message is deleted and which reactions it has: per message, per identity (an account, or a
guest) and per reaction, so adding one twice is adding it once. The store's answer comes back
through :meth:`Reactions.reaction_saved`: the room's members (both ends of a direct
conversation) get ``REACTED``, the asker's copy answering the request; a REACT that changed
nothing is answered to the asker only. A reaction is state of the message (HISTORY carries each
message's reactions, hub/replies.py) and also an event: it takes the conversation's next id as
its ``seq``, stored with it, so a client that resumes learns of reactions to messages it had.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from palaver.hub.effects import Deliver, Effect, SaveReaction, SessionId
from palaver.hub.messaging import format_ts
from palaver.hub.replies import quote_of
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import React, Reacted
from palaver.store.base import (
    MAX_REACTIONS_PER_MESSAGE,
    Reacting,
    StoredUpdate,
    dm_conversation,
)

MAX_REACTION_CHARS: Final = 32


def check_reaction(reaction: str) -> str:
    """A reaction: 1-32 characters, no whitespace, no control characters."""
    if not reaction or len(reaction) > MAX_REACTION_CHARS or any(
            c.isspace() or (not c.isprintable() and c not in "\u200d\ufe0f") for c in reaction):
        raise PeerError(ErrorCode.INVALID_TEXT, f"a reaction is 1-{MAX_REACTION_CHARS} "
                        "characters, without spaces or control characters", field="reaction")
    return reaction


class Reactions:
    """Mixed into the hub: needs its rooms, msg_id counters and a few helpers."""

    if TYPE_CHECKING:
        _rooms: dict[str, Room]
        _last_id: dict[str, int]

        def _peer_key(self, nick: str) -> str | None: ...
        def _next_id(self, conversation: str) -> int: ...
        def update_stored(self, update: StoredUpdate | None) -> int | None: ...
        def _speaker_room(self, user: User, name: str) -> Room: ...
        def _online_by_key(self, key: str) -> User | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...

    def reaction_handlers(self) -> dict[type[Any], Any]:
        return {React: self._react}

    def _react(self, session: Session, msg: React, now: float) -> list[Effect]:
        user = self._user(session)
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "REACT needs exactly one of room, with",
                            field="room")
        if msg.room is not None:
            conversation = self._speaker_room(user, msg.room).key
        else:
            assert msg.peer is not None
            peer_key = self._peer_key(msg.peer)
            if peer_key is None:
                raise PeerError(ErrorCode.NO_SUCH_USER,
                                f"nobody called {msg.peer!r:.40} is here")
            conversation = dm_conversation(user.key, peer_key)
        reaction = check_reaction(msg.reaction)
        if not 1 <= msg.msg_id <= self._last_id.get(conversation, 0):
            raise _no_such_message(msg.msg_id)
        ts = format_ts(now)
        update = StoredUpdate(conversation=conversation, seq=self._next_id(conversation),
                              msg_id=msg.msg_id, kind="unreact" if msg.remove else "react",
                              ts=ts, by=user.nick, by_key=user.key, value=reaction)
        return [SaveReaction(session.sid, msg.id, conversation, msg.msg_id, user.key,
                             user.nick, reaction, ts, remove=msg.remove, update=update)]

    def reaction_saved(self, effect: SaveReaction, reacting: Reacting) -> list[Effect]:
        """What the store did with ``effect``: tell whom it concerns."""
        sid, request_id = effect.session, effect.request_id
        record = reacting.message
        if reacting.outcome == "too_many":
            return [self.error_effect(sid, PeerError(
                ErrorCode.TOO_MANY_REACTIONS, f"a message has at most "
                f"{MAX_REACTIONS_PER_MESSAGE} different reactions", request_id,
                field="reaction"))]
        if record is None or reacting.outcome == "deleted":
            code, why = ((ErrorCode.MESSAGE_DELETED, "was deleted") if record is not None
                         else (ErrorCode.NO_SUCH_MESSAGE, "is not here"))
            return [self.error_effect(sid, PeerError(
                code, f"message {effect.msg_id} {why}", request_id, field="msg_id"))]
        event = Reacted(msg_id=record.msg_id, by=effect.nick, reaction=effect.reaction,
                        remove=effect.remove, room=record.room, sender=record.sender,
                        to=record.to, quote=quote_of(record))
        if reacting.outcome == "unchanged":  # nothing stored: no event, no seq
            return [Deliver(msgspec.structs.replace(event, id=request_id), (sid,))]
        stored = reacting.update or effect.update  # the store's seq (a cluster's), or ours
        event = msgspec.structs.replace(event, seq=self.update_stored(stored))
        answer = Deliver(msgspec.structs.replace(event, id=request_id), (sid,))
        if record.room is not None:
            room = self._rooms.get(effect.conversation)
            audience = room.targets() if room is not None else ()
        else:
            ends = effect.conversation[1:].split(",")
            audience = tuple(s for key in dict.fromkeys(ends)
                             for user in (self._online_by_key(key),) if user is not None
                             for s in user.sessions)
        return [answer, Deliver(event, audience, skip=sid)]


def _no_such_message(msg_id: int) -> PeerError:
    return PeerError(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {msg_id} here",
                     field="msg_id")
