"""Files: UPLOAD grants, download keys, and the message a finished upload posts.

How this works: :class:`Files` is a mixin of :class:`~palaver.hub.hub.Hub`. ``UPLOAD`` is
checked like the post it will become (a room the asker may CHAT to, or a peer), its name is
sanitised (:func:`clean_file_name`) and its size held to the limit; the asker gets
``UPLOAD_READY`` with a one-time token, kept in ``_upload_grants`` until it is claimed or
expires. The web door (transports/files_http.py) streams the body to a blob, then
:meth:`Files.claim_upload` and :meth:`Files.post_file` turn it into a stored MESSAGE carrying
the file (its ``file``), exactly as a CHAT or DM would be: stored before it is delivered.

Downloads: ``FILE_KEY`` answers a key — the asker's identity and an expiry, signed with the
server's secret (HMAC-SHA256) — that file URLs take as ``?key=``. :meth:`Files.file_reader`
says whose key it is; :meth:`Files.may_read` whether that identity may read a conversation:
a member of the room now, or one of a direct conversation's two ends. Nothing is stored for a
key: a restart (a new secret) ends them all, and clients ask again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.effects import Deliver, Effect, Persist, SessionId
from palaver.hub.messaging import as_message, format_ts
from palaver.hub.names import check_text
from palaver.hub.profile import sender_fields
from palaver.hub.relay import with_live
from palaver.hub.state import Room, Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.file_text import clean_file_name
from palaver.protocol.messages import FileKey, GetFileKey, ServerMessage, Upload, UploadReady
from palaver.store.base import StoredFile, StoredMessage, dm_conversation

MAX_GRANTS_PER_SESSION: Final = 8  # uploads asked for and not yet sent


@dataclass(frozen=True, slots=True)
class FilesConfig:
    """Uploads and downloads (server settings: docs/operations.md)."""

    base_url: str = "http://127.0.0.1:8080"  # where the web door is reached (no final /)
    max_bytes: int = 25 * 1_048_576  # upload_max_bytes
    quota_bytes: int = 0  # upload_quota_bytes: per sender identity (0: no quota)
    upload_ttl: float = 300.0  # seconds an UPLOAD_READY token is good for
    key_ttl: float = 3_600.0  # seconds a FILE_KEY is good for
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


@dataclass(frozen=True, slots=True)
class UploadGrant:
    """An UPLOAD that was granted: what its body will be posted as."""

    token: str
    session: SessionId
    identity: str  # the uploader's key (quota, and the message's sender_key)
    conversation: str
    room: str | None  # display name, for a room
    peer_key: str | None  # the other end, for a direct conversation
    name: str
    size: int
    caption: str
    expires: float


class Files:
    """Mixed into the hub: needs its sessions, users, rooms and a few helpers."""

    if TYPE_CHECKING:
        _sessions: dict[SessionId, Session]
        _rooms: dict[str, Room]
        _accounts: dict[str, str]
        _known_nicks: dict[str, str]
        _dm_index: dict[str, set[str]]

        def _new_token(self) -> str: ...
        def _peer_key(self, nick: str) -> str | None: ...
        def _speaker_room(self, user: User, name: str) -> Room: ...
        def _next_id(self, conversation: str) -> int: ...
        def _online_by_key(self, key: str) -> User | None: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        @staticmethod
        def _to_user(user: User, sid: SessionId, event: ServerMessage, request_id: str | None
                     ) -> list[Effect]: ...

    files_config: FilesConfig = FilesConfig()

    def files_handlers(self) -> dict[type[Any], Any]:
        self._upload_grants: dict[str, UploadGrant] = {}
        return {Upload: self._upload, GetFileKey: self._file_key}

    def configure_files(self, config: FilesConfig) -> None:
        self.files_config = config

    # ------------------------------------------------------------------ uploads

    def _upload(self, session: Session, msg: Upload, now: float) -> list[Effect]:
        user = self._user(session)
        config = self.files_config
        if (msg.room is None) == (msg.peer is None):
            raise PeerError(ErrorCode.INVALID_FIELD, "UPLOAD needs exactly one of room, with",
                            field="room")
        room: Room | None = None
        peer_key: str | None = None
        if msg.room is not None:
            room = self._speaker_room(user, msg.room)  # as a CHAT would be
            conversation = room.key
        else:
            assert msg.peer is not None
            peer_key = self._peer_key(msg.peer)
            if peer_key is None:
                raise PeerError(ErrorCode.NO_SUCH_USER, f"nobody called {msg.peer[:40]!r} is here")
            conversation = dm_conversation(user.key, peer_key)
        if msg.size > config.max_bytes:
            raise PeerError(ErrorCode.FILE_TOO_LARGE, f"a file is at most {config.max_bytes} "
                            "bytes here", field="size")
        name = clean_file_name(msg.name)
        caption = check_text(msg.text) if msg.text else ""
        self._forget_expired_grants(now)
        if sum(g.session == session.sid for g in self._upload_grants.values()) \
                >= MAX_GRANTS_PER_SESSION:
            raise PeerError(ErrorCode.RATE_LIMITED, f"at most {MAX_GRANTS_PER_SESSION} uploads "
                            "may wait for their file at once")
        token = self._new_token() + self._new_token()
        self._upload_grants[token] = UploadGrant(
            token=token, session=session.sid, identity=user.key, conversation=conversation,
            room=room.name if room is not None else None, peer_key=peer_key, name=name,
            size=msg.size, caption=caption, expires=now + config.upload_ttl)
        ready = UploadReady(id=msg.id, token=token, url=f"{config.base_url}/upload/{token}",
                            expires=format_ts(now + config.upload_ttl),
                            max_bytes=config.max_bytes)
        return [Deliver(ready, (session.sid,))]

    def _forget_expired_grants(self, now: float) -> None:
        for token in [t for t, g in self._upload_grants.items()
                      if g.expires <= now or g.session not in self._sessions]:
            del self._upload_grants[token]

    def peek_upload(self, token: str, now: float) -> UploadGrant | None:
        """The grant ``token`` names, if it is still good (its session still here)."""
        grant = self._upload_grants.get(token)
        if grant is None or grant.expires <= now or grant.session not in self._sessions:
            return None
        return grant

    def claim_upload(self, token: str, now: float) -> UploadGrant | None:
        """Use up ``token``: its grant, if it is still good; it never works again."""
        grant = self.peek_upload(token, now)
        self._upload_grants.pop(token, None)
        return grant

    def post_file(self, grant: UploadGrant, file: StoredFile, now: float) -> list[Effect]:
        """The upload ``grant`` arrived whole as ``file``: post it, as its sender (who must
        still be here and still allowed to post there)."""
        session = self._sessions.get(grant.session)
        if session is None or session.user is None:
            raise PeerError(ErrorCode.UNAVAILABLE, "the uploader's session has ended")
        user = self._user(session)
        text = grant.caption or file.name
        if grant.room is not None:
            room = self._speaker_room(user, grant.room)
            record = StoredMessage(
                conversation=room.key, msg_id=self._next_id(room.key), ts=format_ts(now),
                sender=user.nick, sender_key=user.key, text=text, room=room.name, file=file)
            event = with_live(as_message(record), sender_fields(user, self._accounts))
            return [Persist(record, (Deliver(event, room.targets()),), session.sid, None)]
        assert grant.peer_key is not None
        target = self._online_by_key(grant.peer_key)
        conversation = dm_conversation(user.key, grant.peer_key)
        for key in (user.key, grant.peer_key):
            self._dm_index.setdefault(key, set()).add(conversation)
        to = target.nick if target is not None else self._known_nicks.get(
            grant.peer_key, self._accounts.get(grant.peer_key, grant.peer_key))
        record = StoredMessage(
            conversation=conversation, msg_id=self._next_id(conversation), ts=format_ts(now),
            sender=user.nick, sender_key=user.key, text=text, to=to, file=file)
        event = with_live(as_message(record), sender_fields(user, self._accounts))
        then = [d for d in self._to_user(user, session.sid, event, None)
                if isinstance(d, Deliver)]
        if target is not None and target is not user:
            then.append(Deliver(event, tuple(target.sessions)))
        return [Persist(record, tuple(then), session.sid, None)]

    # ------------------------------------------------------------------ downloads

    def _file_key(self, session: Session, msg: GetFileKey, now: float) -> list[Effect]:
        user = self._user(session)
        expires = int(now + self.files_config.key_ttl)
        return [Deliver(FileKey(id=msg.id, key=self.file_key(user.key, expires),
                                expires=format_ts(expires)), (session.sid,))]

    def file_key(self, identity: str, expires: int) -> str:
        """The download key of ``identity``, good until ``expires`` (Unix seconds)."""
        who = base64.urlsafe_b64encode(identity.encode()).decode().rstrip("=")
        body = f"{expires}.{who}"
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return hmac.new(self.files_config.secret, body.encode(), hashlib.sha256).hexdigest()[:32]

    def file_reader(self, key: str, now: float) -> str | None:
        """Whose download key ``key`` is (an identity), if it is genuine and not expired."""
        body, _, signature = key.rpartition(".")
        expires, _, who = body.partition(".")
        if not (body and expires.isdigit() and who) or int(expires) <= now:
            return None
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            return base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def may_read(self, identity: str, conversation: str) -> bool:
        """May ``identity`` read ``conversation``: a member of the room, now (with a session
        online), or one of the two ends of a direct conversation?"""
        if conversation.startswith("@"):
            return identity in conversation[1:].split(",")
        room = self._rooms.get(conversation)
        return room is not None and identity in room.members
