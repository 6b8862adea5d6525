"""Deleting messages: a sender deletes its own, a room operator anyone's in its room.

How this works: :class:`Deleting` is a mixin of :class:`~palaver.hub.hub.Hub`. ``DELETE`` is
checked here as far as the hub can (the room and the asker's membership, the other end of a
direct conversation, that the msg_id has been given out, the reason) and then decided by the
store, which alone knows who sent a message: ``DeleteMessage`` makes it a tombstone — any
message of the room for a room operator (or a server operator), else only the asker's own
(``sender_key``). The store's answer comes back through :meth:`Deleting.message_deleted`: the
room's members (both ends of a direct conversation) get ``DELETED``, the asker's copy answering
the request; a message already deleted is confirmed to the asker only. A tombstone keeps its
msg_id, sender and time, with no text: history and resume show it ``deleted``. The deletion
takes the conversation's next id as its ``seq``: an event stored with the change, in place of
the message's earlier updates, so a client that had the message learns of it on resume.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from palaver.hub.effects import DeleteMessage, Deliver, Effect, SessionId
from palaver.hub.messaging import format_ts
from palaver.hub.names import check_text
from palaver.hub.rules import Role
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Delete, Deleted
from palaver.store.base import Deletion, StoredUpdate, dm_conversation

MAX_DELETE_REASON: Final = 200


def check_reason(reason: str | None) -> str | None:
    """A DELETE's reason: one line of at most 200 characters (none: None)."""
    if not reason or reason.isspace():
        return None
    if len(reason) > MAX_DELETE_REASON or "\n" in reason or "\t" in reason:
        raise PeerError(ErrorCode.INVALID_TEXT, f"a reason is one line of at most "
                        f"{MAX_DELETE_REASON} characters", field="reason")
    return check_text(reason)


class Deleting:
    """Mixed into the hub: needs its users, rooms, msg_id counters and a few helpers."""

    if TYPE_CHECKING:
        _sessions: dict[SessionId, Session]
        _rooms: dict[str, Room]
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _guests: dict[str, User]
        _last_id: dict[str, int]

        def _role(self, user: User, key: str) -> Role: ...
        def _next_id(self, conversation: str) -> int: ...
        def update_stored(self, update: StoredUpdate | None) -> int | None: ...
        def _peer_key(self, nick: str) -> str | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _member_room(user: User, name: str) -> Room: ...
        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...

    def deletion_handlers(self) -> dict[type[Any], Any]:
        return {Delete: self._delete}

    def _delete(self, session: Session, msg: Delete, now: float) -> list[Effect]:
        user = self._user(session)
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "DELETE needs exactly one of room, with",
                            field="room")
        if msg.room is not None:
            room = self._member_room(user, msg.room)
            conversation = room.key
            anyone = self._role(user, room.key) in (Role.ROOM_OP, Role.SERVER_OP)
        else:
            assert msg.peer is not None
            peer_key = self._peer_key(msg.peer)
            if peer_key is None:
                raise PeerError(ErrorCode.NO_SUCH_USER,
                                f"nobody called {msg.peer!r:.40} is here")
            conversation = dm_conversation(user.key, peer_key)
            anyone = False
        reason = check_reason(msg.reason)
        if not 1 <= msg.msg_id <= self._last_id.get(conversation, 0):
            raise _no_such_message(msg.msg_id)
        update = StoredUpdate(conversation=conversation, seq=self._next_id(conversation),
                              msg_id=msg.msg_id, kind="delete", ts=format_ts(now),
                              by=user.nick, by_key=user.key, value=reason)
        return [DeleteMessage(session.sid, msg.id, conversation, msg.msg_id, user.nick,
                              sender_key=None if anyone else user.key, reason=reason,
                              update=update)]

    def message_deleted(self, effect: DeleteMessage, deletion: Deletion) -> list[Effect]:
        """What the store did with ``effect``: tell whom it concerns."""
        sid, request_id = effect.session, effect.request_id
        if deletion.outcome == "no_such_message" or deletion.message is None:
            if deletion.outcome == "not_sender":
                who = ("its sender or an operator of the room" if effect.conversation[0] == "#"
                       else "its sender")
                return [self.error_effect(sid, PeerError(
                    ErrorCode.NOT_OPERATOR, f"only {who} may delete a message", request_id))]
            return [self.error_effect(sid, _no_such_message(effect.msg_id, request_id))]
        record = deletion.message
        event = Deleted(msg_id=record.msg_id, by=effect.by, room=record.room,
                        sender=record.sender, to=record.to, reason=effect.reason)
        if deletion.outcome == "already_deleted":  # nothing stored: no event, no seq
            return [Deliver(msgspec.structs.replace(event, id=request_id), (sid,))]
        stored = deletion.update or effect.update  # the store's seq (a cluster's), or ours
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

    def _online_by_key(self, key: str) -> User | None:
        """The user online with identity ``key``, if any (rare: a direct message deleted)."""
        user = self._online_accounts.get(key)
        if user is not None or not key.startswith("~"):
            return user
        return self._guests.get(key)


def _no_such_message(msg_id: int, request_id: str | None = None) -> PeerError:
    return PeerError(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {msg_id} here", request_id,
                     field="msg_id")

