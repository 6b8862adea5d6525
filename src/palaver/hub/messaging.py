"""Messages: CHAT to a room, DM to a user, resends of either, and HISTORY.

How this works: :class:`Messaging` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.moderation.Moderation`. CHAT (:meth:`Messaging._say`) and DM
(:meth:`Messaging._send_direct`) are the hub's *posts*: :meth:`Hub.handle` calls them with
``resends``, whether the request id is an idempotency key (only a client that resends chooses
it). They are the hot path, so each does its work inline: it builds a
:class:`~palaver.store.base.StoredMessage` with the conversation's next msg_id
(:meth:`Messaging._next_id`) and returns one :class:`~palaver.hub.effects.Persist`, whose
Delivers the core carries out once the message is stored — the sender's copy with the request
id, the others' without. Client-only tags and multiline breaks ride along, never stored
(hub/relay.py); a CHAT to a room's operators only is not stored either.

Resends: the last ``recent_ids`` (sender key, request id) → message are kept in ``_recent``
(:meth:`Messaging._remember_id`). A resend of one still being stored (``_in_flight``) is answered
after the original's commit (``AckResend``); of a stored one, with the original, at once
(:meth:`Messaging._resent`); older ones are caught by the store's unique index. The store's
answer comes back as :meth:`Messaging.persisted`, which also moves ``_committed`` (the highest
stored msg_id per conversation: the marks an account leaves with, ``Hub._marks``).

HISTORY is checked here — a room the asker is in, or its direct conversation with a peer — and
read by the core (``FetchHistory``).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from palaver.hub.conversations import history_times
from palaver.hub.effects import AckResend, Deliver, Effect, FetchHistory, Persist, SessionId
from palaver.hub.names import check_room, check_text, fold
from palaver.hub.profile import sender_fields
from palaver.hub.relay import live_fields, with_live
from palaver.hub.replies import check_reply_to
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    FileRef,
    History,
    Message,
    Say,
    SendDirect,
    ServerMessage,
)
from palaver.store.base import StoredFile, StoredMessage, StoredUpdate, dm_conversation

if TYPE_CHECKING:
    from palaver.hub.hub import HubConfig


def format_ts(now: float) -> str:
    """``2026-11-20T12:00:00.123Z``: UTC with milliseconds."""
    return datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def as_message(record: StoredMessage, request_id: str | None = None) -> Message:
    return Message(id=request_id, msg_id=record.msg_id, ts=record.ts, sender=record.sender,
                   text=record.text, room=record.room, to=record.to, notice=record.notice,
                   deleted=record.deleted, reply_to=record.reply_to,
                   file=file_ref(record.file) if record.file and not record.deleted else None,
                   edited_at=record.edited_at)


def file_ref(file: StoredFile) -> FileRef:
    """What a MESSAGE says of the file it carries (hub/files.py)."""
    return FileRef(name=file.name, size=file.size, type=file.type, sha256=file.sha256,
                   url=file.url)


class Messaging:
    """Mixed into the hub: needs its users, accounts, counters and a few of its helpers."""

    if TYPE_CHECKING:
        config: HubConfig
        _online: dict[str, User]
        _online_accounts: dict[str, User]
        _accounts: dict[str, str]
        _last_id: dict[str, int]
        _dm_index: dict[str, set[str]]
        _known_nicks: dict[str, str]

        def _peer_key(self, nick: str) -> str | None: ...
        def _remote_nick(self, key: str) -> str | None: ...
        def _speaker_room(self, user: User, name: str) -> Room: ...
        def _status_message(self, session: Session, room: Room, msg: Say, text: str,
                            live: dict[str, Any], now: float) -> list[Effect]: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...

    _recent: OrderedDict[tuple[str, str], StoredMessage]  # (sender key, request id)
    _in_flight: set[tuple[str, str]]  # in _recent, not yet committed
    _committed: dict[str, int]  # conversation -> highest stored msg_id

    def _say(self, session: Session, msg: Say, now: float, resends: bool = True) -> list[Effect]:
        user = self._user(session)
        room = self._speaker_room(user, msg.room)  # a member's, or open to outside messages
        text = check_text(msg.text)
        live = live_fields(msg.tags, msg.breaks, text)  # relayed, never stored (hub/relay.py)
        if msg.only is not None:  # to the room's operators: not stored either
            return self._status_message(session, room, msg, text, live, now)
        live.update(sender_fields(user, self._accounts))  # account, bot (hub/profile.py)
        client_id = msg.id if resends else None
        resent = self._resent(user, session.sid, client_id)
        if resent is not None:
            return resent
        reply_to = check_reply_to(msg.reply_to, self._last_id.get(room.key, 0))
        record = StoredMessage(
            conversation=room.key, msg_id=self._next_id(room.key), ts=format_ts(now),
            sender=user.nick, sender_key=user.key, text=text, room=room.name,
            client_id=client_id, notice=msg.notice, reply_to=reply_to,
        )
        self._remember_id(record)
        event = with_live(as_message(record), live)
        if msg.id is None:
            then: tuple[Deliver, ...] = (Deliver(event, room.targets()),)
        else:
            then = (Deliver(with_live(as_message(record, msg.id), live), (session.sid,)),
                    Deliver(event, room.targets(), skip=session.sid))
        return [Persist(record, then, session.sid, msg.id)]

    def _send_direct(
        self, session: Session, msg: SendDirect, now: float, resends: bool = True
    ) -> list[Effect]:
        user = self._user(session)
        target = self._online.get(fold(msg.to))
        target_key = target.key if target else self._peer_key(msg.to)
        if target_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.to[:40]!r} is here")
        if target is None:
            target = self._online_accounts.get(target_key)
        text = check_text(msg.text)
        live = live_fields(msg.tags, msg.breaks, text)  # relayed, never stored (hub/relay.py)
        live.update(sender_fields(user, self._accounts))  # account, bot (hub/profile.py)
        client_id = msg.id if resends else None
        resent = self._resent(user, session.sid, client_id)
        if resent is not None:
            return resent
        conversation = dm_conversation(user.key, target_key)
        reply_to = check_reply_to(msg.reply_to, self._last_id.get(conversation, 0))
        for key in (user.key, target_key):
            self._dm_index.setdefault(key, set()).add(conversation)
        record = StoredMessage(
            conversation=conversation, msg_id=self._next_id(conversation), ts=format_ts(now),
            sender=user.nick, sender_key=user.key, text=text,
            to=target.nick if target else (self._accounts.get(target_key)
                                           or self._remote_nick(target_key) or msg.to),
            client_id=client_id,
            notice=msg.notice, reply_to=reply_to,
        )
        self._remember_id(record)
        event = with_live(as_message(record), live)
        then = self._to_user(user, session.sid, event, msg.id)
        if target is not None and target is not user:
            then.append(Deliver(event, tuple(target.sessions)))
        return [Persist(record, tuple(d for d in then if isinstance(d, Deliver)), session.sid,
                        msg.id)]

    def _resent(self, user: User, sid: SessionId, request_id: str | None) -> list[Effect] | None:
        """A request id this sender used before: send back the original, nothing else."""
        if request_id is None:
            return None
        key = (user.key, request_id)
        original = self._recent.get(key)
        if original is None:
            return None
        if key in self._in_flight:  # the answer waits for the original's commit
            return [AckResend(user.key, request_id, sid)]
        return [Deliver(as_message(original, request_id), (sid,))]

    def _remember_id(self, record: StoredMessage) -> None:
        if record.client_id is None:
            return
        key = (record.sender_key, record.client_id)
        self._recent[key] = record
        self._in_flight.add(key)
        while len(self._recent) > self.config.recent_ids:
            evicted, _ = self._recent.popitem(last=False)
            self._in_flight.discard(evicted)

    def _next_id(self, conversation: str) -> int:
        msg_id = self._last_id.get(conversation, 0) + 1
        if not self.config.store_assigns_ids:  # else it moves when released (hub/remote.py)
            self._last_id[conversation] = msg_id
        return msg_id

    def persisted(
        self, record: StoredMessage, *, stored: bool, original: StoredMessage | None = None
    ) -> None:
        """The store has answered for ``record``: it stored it (under ``record.msg_id``: a
        store that assigns ids has renumbered it); or it already held ``original`` (sent
        earlier with the same request id), which is what the id means from now on; or it
        failed (``stored`` false) — then the request id is forgotten, so a resend is new."""
        key = (record.sender_key, record.client_id) if record.client_id is not None else None
        if key is not None:
            self._in_flight.discard(key)
            if not stored:
                self._recent.pop(key, None)
            elif original is not None:
                self._recent[key] = original
            elif key in self._recent:
                self._recent[key] = record
        if stored and original is None and record.msg_id > self._committed.get(
                record.conversation, 0):
            self._committed[record.conversation] = record.msg_id

    def update_stored(self, update: StoredUpdate | None) -> int | None:
        """An edit, deletion or reaction was stored as ``update``: its seq is a stored id of
        its conversation now (``_committed``, as for a message). Its seq, if any."""
        if update is None:
            return None
        if update.seq > self._committed.get(update.conversation, 0):
            self._committed[update.conversation] = update.seq
        return update.seq

    def stored_original(self, sender_key: str, client_id: str) -> StoredMessage | None:
        """The stored message sent with this request id, if it is known to be stored."""
        key = (sender_key, client_id)
        return None if key in self._in_flight else self._recent.get(key)

    def _history(self, session: Session, msg: History, now: float) -> list[Effect]:
        user = self._user(session)
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "HISTORY needs exactly one of room, with",
                            field="room")
        if msg.before is not None and msg.after is not None:
            raise PeerError(ErrorCode.INVALID_FIELD, "HISTORY takes before or after, not both",
                            field="after")
        times = history_times(msg)  # before_ts/after_ts (hub/conversations.py)
        if msg.room is not None:
            room = user.rooms.get(fold(check_room(msg.room)))
            if room is None:  # not a member: as if the room did not exist
                raise PeerError(ErrorCode.NO_SUCH_ROOM, f"there is no room {msg.room}")
            return [FetchHistory(session.sid, msg.id, room.key, msg.before, msg.after,
                                 msg.limit, room=room.name, **times)]
        assert msg.peer is not None
        peer_key = self._peer_key(msg.peer)
        if peer_key is None:
            raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.peer[:40]!r} is here")
        return [FetchHistory(session.sid, msg.id, dm_conversation(user.key, peer_key),
                             msg.before, msg.after, msg.limit,
                             peer=self._known_nicks.get(peer_key, msg.peer), **times)]
