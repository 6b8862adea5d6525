"""Editing messages: a sender changes the text of its own message, within the edit window.

How this works: :class:`Editing` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.deletion.Deleting`. ``EDIT`` is checked here as far as the hub can (the
room, the asker's membership and right to speak there — a muted nick edits no more than it
speaks — or the other end of a direct conversation; the text; that the msg_id has been given out)
and then decided by the store, which alone knows who sent a message and when:
``EditMessage`` changes the text only if the asker's identity sent it, it is no tombstone and it
was sent within the ``edit_window`` (``sent_after``), keeping the text it replaces. Nobody edits
another's message, room and server operators neither (they may delete it). The store's answer
comes back through :meth:`Editing.message_edited`: the room's members (both ends of a direct
conversation) get ``EDITED``, the asker's copy answering the request; the same text again
changed nothing and is confirmed to the asker only (so a resent EDIT is harmless). An edit
takes the conversation's next id as its ``seq`` (an event, stored with the change, so a resume
replays it: docs/protocol.md §15); HISTORY carries the message's current text and ``edited_at``.

``EDITS`` (``ListMessageEdits``) reads a message and the texts it had from the store; the
answer (:meth:`Editing.edits_listed`) goes to a room's operators (and server operators) for any
message of the room, and to anyone for its own messages (the other end of a direct
conversation saw only what it was sent).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from palaver.hub.effects import Deliver, EditMessage, Effect, ListMessageEdits, SessionId
from palaver.hub.messaging import format_ts
from palaver.hub.names import check_text
from palaver.hub.rules import Role
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Edit, Edited, EditList, ListEdits, MessageVersion
from palaver.store.base import Editing as StoreEditing
from palaver.store.base import StoredMessage, StoredUpdate, StoredVersion, dm_conversation

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig


class Editing:
    """Mixed into the hub: needs its users, rooms, msg_id counters and a few helpers."""

    if TYPE_CHECKING:
        config: HubConfig
        _rooms: dict[str, Room]
        _last_id: dict[str, int]
        _known_nicks: dict[str, str]
        _recent: OrderedDict[tuple[str, str], StoredMessage]

        def _role(self, user: User, key: str) -> Role: ...
        def _next_id(self, conversation: str) -> int: ...
        def update_stored(self, update: StoredUpdate | None) -> int | None: ...
        def _peer_key(self, nick: str) -> str | None: ...
        def _online_by_key(self, key: str) -> User | None: ...
        def _speaker_room(self, user: User, name: str) -> Room: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _member_room(user: User, name: str) -> Room: ...
        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...

    def editing_handlers(self) -> dict[type[Any], Any]:
        return {Edit: self._edit, ListEdits: self._list_edits}

    def _edit(self, session: Session, msg: Edit, now: float) -> list[Effect]:
        user = self._user(session)
        if msg.room is not None and msg.peer is None:
            self._member_room(user, msg.room)  # a member (not_in_room) ...
            conversation = self._speaker_room(user, msg.room).key  # ... who may speak
        else:
            conversation = self._direct(user, msg.room, msg.peer, "EDIT")[0]
        text = check_text(msg.text)
        _check_msg_id(msg.msg_id, self._last_id.get(conversation, 0))
        window = self.config.edit_window
        ts = format_ts(now)
        update = StoredUpdate(conversation=conversation, seq=self._next_id(conversation),
                              msg_id=msg.msg_id, kind="edit", ts=ts, by=user.nick,
                              by_key=user.key, value=text)
        return [EditMessage(session.sid, msg.id, conversation, msg.msg_id, user.nick, user.key,
                            text, ts, sent_after=format_ts(now - window) if window > 0 else None,
                            update=update)]

    def message_edited(self, effect: EditMessage, editing: StoreEditing) -> list[Effect]:
        """What the store did with ``effect``: tell whom it concerns."""
        sid, request_id = effect.session, effect.request_id
        record = editing.message
        if editing.outcome not in ("edited", "unchanged") or record is None:
            return [self.error_effect(sid, _refusal(effect, editing.outcome, request_id,
                                                    self.config.edit_window))]
        event = Edited(msg_id=record.msg_id, text=record.text,
                       edited_at=record.edited_at or record.ts, by=effect.by, room=record.room,
                       sender=record.sender, to=record.to)
        if editing.outcome == "unchanged":  # nothing stored: no event, no seq
            return [Deliver(msgspec.structs.replace(event, id=request_id), (sid,))]
        stored = editing.update or effect.update  # the store's seq (a cluster's), or ours
        event = msgspec.structs.replace(event, seq=self.update_stored(stored))
        answer = Deliver(msgspec.structs.replace(event, id=request_id), (sid,))
        if record.client_id is not None:  # a resend of the original now finds the new text
            key = (record.sender_key, record.client_id)
            if key in self._recent:
                self._recent[key] = record
        return [answer, Deliver(event, self._edit_audience(effect.conversation), skip=sid)]

    def _edit_audience(self, conversation: str) -> tuple[SessionId, ...]:
        if conversation.startswith("#"):
            room = self._rooms.get(conversation)
            return room.targets() if room is not None else ()
        ends = conversation[1:].split(",")
        return tuple(s for key in dict.fromkeys(ends)
                     for user in (self._online_by_key(key),) if user is not None
                     for s in user.sessions)

    def _list_edits(self, session: Session, msg: ListEdits, now: float) -> list[Effect]:
        user = self._user(session)
        if msg.room is not None and msg.peer is None:
            room = self._member_room(user, msg.room)
            conversation, room_name, peer = room.key, room.name, None
            anyone = self._role(user, room.key) in (Role.ROOM_OP, Role.SERVER_OP)
        else:
            conversation, peer = self._direct(user, msg.room, msg.peer, "EDITS")
            room_name, anyone = None, False
        _check_msg_id(msg.msg_id, self._last_id.get(conversation, 0))
        return [ListMessageEdits(session.sid, msg.id, conversation, msg.msg_id, user.key,
                                 anyone=anyone, room=room_name, peer=peer)]

    def edits_listed(self, effect: ListMessageEdits, record: StoredMessage | None,
                     versions: Sequence[StoredVersion] | None) -> list[Effect]:
        """The store's answer to ``effect``: the message (None: no such message) and its
        texts; the asker gets them if it may read them."""
        sid, request_id = effect.session, effect.request_id
        if record is None or versions is None:
            return [self.error_effect(sid, _no_such_message(effect.msg_id, request_id))]
        if not effect.anyone and record.sender_key != effect.asker_key:
            who = ("its sender or an operator of the room" if effect.room is not None
                   else "its sender")
            return [self.error_effect(sid, PeerError(
                ErrorCode.NOT_OPERATOR, f"only {who} may read a message's earlier texts",
                request_id))]
        return [Deliver(EditList(id=request_id, msg_id=record.msg_id, room=effect.room,
                                 peer=effect.peer, sender=record.sender,
                                 versions=tuple(MessageVersion(text=v.text, ts=v.ts)
                                                for v in versions)), (sid,))]

    def _direct(self, user: User, room: str | None, peer: str | None, verb: str
                ) -> tuple[str, str]:
        """The direct conversation with ``peer`` (and its nick), or the refusal."""
        if (room is None) == (peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, f"{verb} needs exactly one of room, with",
                            field="room")
        assert peer is not None
        peer_key = self._peer_key(peer)
        if peer_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {peer!r:.40} is here")
        return dm_conversation(user.key, peer_key), self._known_nicks.get(peer_key, peer)


def _check_msg_id(msg_id: int, last_id: int) -> None:
    if not 1 <= msg_id <= last_id:
        raise _no_such_message(msg_id)


def _no_such_message(msg_id: int, request_id: str | None = None) -> PeerError:
    return PeerError(ErrorCode.NO_SUCH_MESSAGE, f"there is no message {msg_id} here", request_id,
                     field="msg_id")


def _refusal(effect: EditMessage, outcome: str, request_id: str | None,
             window: float) -> PeerError:
    """Why the store did not edit the message."""
    if outcome == "not_sender":
        return PeerError(ErrorCode.NOT_SENDER, "only its sender may edit a message", request_id,
                         field="msg_id")
    if outcome == "deleted":
        return PeerError(ErrorCode.MESSAGE_DELETED, f"message {effect.msg_id} was deleted",
                         request_id, field="msg_id")
    if outcome == "too_late":
        return PeerError(ErrorCode.EDIT_WINDOW_CLOSED,
                         f"a message may be edited for {_duration(window)} after it is sent",
                         request_id, field="msg_id")
    return _no_such_message(effect.msg_id, request_id)


def _duration(seconds: float) -> str:
    """``24 hours``, ``10 minutes``, ``90 seconds``: the edit window, as people say it."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            if unit == "day" and count == 1:
                return "24 hours"
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"
