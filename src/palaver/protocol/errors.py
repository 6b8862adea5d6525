"""The one error vocabulary a peer ever sees.

Every error that reaches a client is an :class:`ErrorCode` plus a human-readable message — never
exception text. :class:`PeerError` is "the peer broke it" (bad input, a rule refused); anything
else escaping our code is "we broke it" and is logged, not shown.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Stable error codes. Values never change once published; new ones may be added."""

    # Framing and decoding
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    FRAME_TOO_LARGE = "frame_too_large"
    # Session state
    HANDSHAKE_REQUIRED = "handshake_required"
    ALREADY_REGISTERED = "already_registered"
    UNSUPPORTED_VERSION = "unsupported_version"
    # Names and texts
    NICK_TAKEN = "nick_taken"
    NICK_CONFUSABLE = "nick_confusable"
    INVALID_NICK = "invalid_nick"
    INVALID_ROOM = "invalid_room"
    INVALID_TEXT = "invalid_text"
    # Routing
    NOT_IN_ROOM = "not_in_room"
    NO_SUCH_USER = "no_such_user"
    NO_SUCH_ROOM = "no_such_room"
    NO_SUCH_MESSAGE = "no_such_message"
    # Edits (hub/editing.py)
    NOT_SENDER = "not_sender"  # EDIT of someone else's message
    MESSAGE_DELETED = "message_deleted"  # EDIT of a deleted message
    EDIT_WINDOW_CLOSED = "edit_window_closed"  # EDIT of a message older than edit_window
    # Rooms' rules (docs/rooms.md)
    NOT_OPERATOR = "not_operator"
    BANNED = "banned"
    INVITE_ONLY = "invite_only"
    USER_NOT_IN_ROOM = "user_not_in_room"
    ALREADY_IN_ROOM = "already_in_room"
    BAD_KEY = "bad_key"
    ROOM_FULL = "room_full"
    MODERATED = "moderated"
    MUTED = "muted"
    INVALID_KEY = "invalid_key"
    # Metadata (hub/metadata.py)
    METADATA_LIMIT = "metadata_limit"
    METADATA_NOT_SET = "metadata_not_set"
    # Commands
    UNKNOWN_COMMAND = "unknown_command"
    INVALID_ARGS = "invalid_args"
    # Accounts and history
    AUTH_FAILED = "auth_failed"
    NICK_REGISTERED = "nick_registered"
    ACCOUNT_EXISTS = "account_exists"
    INVALID_PASSWORD = "invalid_password"
    AUTH_THROTTLED = "auth_throttled"
    ACCOUNT_LOCKED = "account_locked"  # a server operator locked it (palaver admin lock)
    NOT_AN_ACCOUNT = "not_an_account"  # a guest asked what only an account may do
    INVALID_TOKEN = "invalid_token"  # a password reset token: wrong, used or expired
    # Client certificates (hub/certificates.py, docs/tls.md)
    CERTIFICATE_REQUIRED = "certificate_required"  # this connection presented none
    CERTIFICATE_TAKEN = "certificate_taken"  # bound to another account
    NO_SUCH_CERTIFICATE = "no_such_certificate"  # not bound to this account
    INVALID_FINGERPRINT = "invalid_fingerprint"  # not 64 hex digits (colons allowed)
    # Limits (docs/limits.md)
    RATE_LIMITED = "rate_limited"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    WATCH_LIST_FULL = "watch_list_full"
    # Files (hub/files.py, transports/files_http.py)
    FILE_TOO_LARGE = "file_too_large"  # UPLOAD's size (or the body) over upload_max_bytes
    QUOTA_EXCEEDED = "quota_exceeded"  # the account's files would pass upload_quota_bytes
    TOO_MANY_REACTIONS = "too_many_reactions"  # a message has 20 different reactions (REACT)
    # Ours
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"


class PalaverError(Exception):
    """Root of every exception palaver raises on purpose."""


class PeerError(PalaverError):
    """The peer sent something we refuse. Carries the stable code and the request id, if any."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        request_id: str | None = None,
        *,
        field: str | None = None,
        retry_after_ms: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.field = field
        self.retry_after_ms = retry_after_ms  # when the client may try again (limits)

    def with_request_id(self, request_id: str | None) -> PeerError:
        """The same error, about the request ``request_id``."""
        return PeerError(self.code, self.message, request_id, field=self.field,
                         retry_after_ms=self.retry_after_ms)

    def __repr__(self) -> str:
        return f"PeerError({self.code.value!r}, {self.message!r}, request_id={self.request_id!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, PeerError)
            and (self.code, self.message, self.request_id)
            == (other.code, other.message, other.request_id)
        )

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.request_id))


class FrameTooLarge(PeerError):
    """A frame exceeded the configured maximum. The connection must be closed after reporting it."""

    def __init__(self, limit: int) -> None:
        super().__init__(ErrorCode.FRAME_TOO_LARGE, f"frame exceeds the limit of {limit} bytes")
        self.limit = limit
