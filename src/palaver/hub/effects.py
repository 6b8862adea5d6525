"""What the hub asks the outside world to do. The server core carries these out, in order.

Ordering rule: a :class:`Persist` holds back every effect after it (from any session) until its
batch is committed, so nobody sees anything out of order and nothing is acknowledged before it is
durable. The other effects that need I/O (:class:`Replay`, :class:`CreateAccount`,
:class:`Remember`) start when their turn comes and finish on their own; questions to the store
whose answer is a reply (:class:`FetchHistory`, :class:`FetchActivity`, read markers, deletion)
are answered in their place (server/pipeline.py): nothing sent after them overtakes them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from palaver.protocol.messages import NotifyLevelName, ServerMessage
from palaver.store.base import AccountErasure, RoomSettings, StoredMessage, StoredUpdate

SessionId = int


@dataclass(frozen=True, slots=True)
class Deliver:
    """Send ``event`` to every session in ``to`` except ``skip``; encode it once per dialect."""

    event: ServerMessage
    to: Collection[SessionId]
    skip: SessionId | None = None


@dataclass(frozen=True, slots=True)
class Close:
    """Close ``session``'s connection, with a BYE giving ``reason`` unless ``goodbye`` is
    false (after a ``frame_too_large`` ERROR, which says it all)."""

    session: SessionId
    reason: str
    request_id: str | None = None
    goodbye: bool = True
    nick: str | None = None  # who leaves, when the hub has already let them go (for the log)


@dataclass(frozen=True, slots=True)
class Persist:
    """Store ``message``; once committed, carry out ``then``. If the store already holds a
    message with the same sender and request id, send that original to ``session`` instead."""

    message: StoredMessage
    then: tuple[Deliver, ...]
    session: SessionId
    request_id: str | None


@dataclass(frozen=True, slots=True)
class Released:
    """A node of a cluster: id ``msg_id`` of ``conversation`` is told here from this point on
    (hub/remote.py: what JOINED and a replay count up to when they go out)."""

    conversation: str
    msg_id: int


@dataclass(frozen=True, slots=True)
class KickElsewhere:
    """A node of a cluster: put ``user`` (an identity key) out of ``room`` (a folded name) on
    the node it is on (server/cluster.py); ``by`` did it, for ``reason``."""

    room: str
    user: str
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class AckResend:
    """A resend of a message whose original is still being stored: once the store has answered,
    send the sender the original (or, if storing failed, ``unavailable``)."""

    sender_key: str
    client_id: str
    session: SessionId


@dataclass(frozen=True, slots=True)
class ReplayRange:
    """Stored messages of one conversation with ``after`` < msg_id <= ``upto``."""

    conversation: str
    after: int
    upto: int
    room: str | None = None  # display name, for a room
    peer: str | None = None  # the other end's nick, for a direct conversation


@dataclass(frozen=True, slots=True)
class Replay:
    """Send ``session`` what it missed, before any live event that follows this effect."""

    session: SessionId
    ranges: tuple[ReplayRange, ...]


@dataclass(frozen=True, slots=True)
class FetchHistory:
    """Answer a HISTORY request from the store."""

    session: SessionId
    request_id: str | None
    conversation: str
    before: int | None
    after: int | None
    limit: int
    room: str | None = None
    peer: str | None = None
    # Time bounds (HISTORY's before_ts/after_ts), resolved to msg_ids by the store first: the
    # page holds messages sent at or before ``until``, or after ``since``.
    until: str | None = None
    since: str | None = None


@dataclass(frozen=True, slots=True)
class FetchActivity:
    """Answer a CONVERSATIONS request from the store: of ``conversations`` (each: its key and
    its room, or the nick at its other end), those whose newest message was sent after
    ``after`` and before ``before``, the ``limit`` active first."""

    session: SessionId
    request_id: str | None
    conversations: tuple[tuple[str, str | None, str | None], ...]
    after: str
    before: str
    limit: int


@dataclass(frozen=True, slots=True)
class CreateAccount:
    """Hash ``password`` (off the event loop) and create the account; then tell the hub."""

    session: SessionId
    request_id: str | None
    key: str
    nick: str
    password: str


@dataclass(frozen=True, slots=True)
class Remember:
    """Durable bookkeeping that nobody waits for: an account's room membership (``room`` with
    ``member``) or, when its last session ends, where it stopped reading (``marks``)."""

    account: str
    room: str | None = None
    member: bool = True
    marks: tuple[tuple[str, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class SaveRoom:
    """Durable bookkeeping that nobody waits for: a room's rules changed; store them whole."""

    settings: RoomSettings


@dataclass(frozen=True, slots=True)
class Answer:
    """Bytes a door made itself in answer to a command (an IRC ``PONG`` or numeric, a text
    prompt): written to ``session`` in turn, after the answers to earlier commands — an answer
    never overtakes a message that is still being stored."""

    session: SessionId
    data: bytes


@dataclass(frozen=True, slots=True)
class SaveReadMarker:
    """Move ``identity``'s read marker of ``conversation`` forward in the store (to ``msg_id``
    or ``ts``: the store finds the other half), then tell the hub
    (:meth:`~palaver.hub.hub.Hub.read_marker_saved`) — unless ``answer`` is false."""

    session: SessionId
    request_id: str | None
    identity: str
    conversation: str
    msg_id: int | None = None
    ts: str | None = None
    room: str | None = None  # display name, for a room
    peer: str | None = None  # the other end's nick, for a direct conversation
    answer: bool = True


@dataclass(frozen=True, slots=True)
class LoadReadMarkers:
    """Read ``identity``'s read markers from the store and give them to the hub
    (:meth:`~palaver.hub.hub.Hub.read_markers_loaded`): a guest back with its token."""

    session: SessionId
    identity: str


@dataclass(frozen=True, slots=True)
class SaveNotifyLevel:
    """Store ``identity``'s notification ``level`` of ``conversation``, then tell the hub
    (:meth:`~palaver.hub.hub.Hub.notify_level_saved`) — unless ``answer`` is false."""

    session: SessionId
    request_id: str | None
    identity: str
    conversation: str
    level: NotifyLevelName
    room: str | None = None  # display name, for a room
    peer: str | None = None  # the other end's nick, for a direct conversation
    answer: bool = True


@dataclass(frozen=True, slots=True)
class LoadNotifyLevels:
    """Read ``identity``'s notification levels from the store and give them to the hub
    (:meth:`~palaver.hub.hub.Hub.notify_levels_loaded`): a user coming online."""

    session: SessionId
    identity: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    """Make a stored message a tombstone (only ``sender_key``'s, when given), then tell the hub
    (:meth:`~palaver.hub.hub.Hub.message_deleted`) what happened."""

    session: SessionId
    request_id: str | None
    conversation: str
    msg_id: int
    by: str  # who deletes it (nick)
    sender_key: str | None = None
    reason: str | None = None
    update: StoredUpdate | None = None  # the event to store with it (its seq), if deleted


@dataclass(frozen=True, slots=True)
class EditMessage:
    """Give a stored message of ``sender_key``'s the text ``text`` (not a tombstone's; only if
    it was sent at or after ``sent_after``, when given), then tell the hub
    (:meth:`~palaver.hub.hub.Hub.message_edited`) what happened (hub/editing.py)."""

    session: SessionId
    request_id: str | None
    conversation: str
    msg_id: int
    by: str  # who edits it (nick)
    sender_key: str
    text: str
    edited_at: str
    sent_after: str | None = None
    update: StoredUpdate | None = None  # the event to store with it (its seq), if edited


@dataclass(frozen=True, slots=True)
class ListMessageEdits:
    """Read a stored message and the texts it has had, then give them to the hub
    (:meth:`~palaver.hub.hub.Hub.edits_listed`), which answers ``asker_key`` if it sent the
    message or ``anyone`` (a room operator) — hub/editing.py."""

    session: SessionId
    request_id: str | None
    conversation: str
    msg_id: int
    asker_key: str
    anyone: bool = False
    room: str | None = None  # display name, for a room
    peer: str | None = None  # the other end's nick, for a direct conversation


@dataclass(frozen=True, slots=True)
class CheckOperator:
    """An OPER (hub/operators.py): check ``password`` against ``password_hash`` (None: no such
    operator — check against a decoy, so that it takes as long) off the event loop, then call
    ``Hub.operator_checked`` with the verdict."""

    session: SessionId
    request_id: str | None
    name: str
    password_hash: str | None
    password: str


@dataclass(frozen=True, slots=True)
class SaveReaction:
    """Add (or, ``remove``, take back) ``identity``'s ``reaction`` to a stored message, then
    tell the hub (:meth:`~palaver.hub.hub.Hub.reaction_saved`) what happened."""

    session: SessionId
    request_id: str | None
    conversation: str
    msg_id: int
    identity: str
    nick: str  # who reacts, as shown
    reaction: str
    ts: str
    remove: bool = False
    update: StoredUpdate | None = None  # the event to store with it (its seq), if it changed


@dataclass(frozen=True, slots=True)
class SaveMetadata:
    """Durable bookkeeping that nobody waits for: the metadata of ``target`` (an account key or
    a room's folded name) is now ``values`` (hub/metadata.py); store it whole."""

    target: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SearchMessages:
    """Answer a SEARCH from the store (hub/search.py): messages of ``conversations`` (each:
    its key and its room, or the nick at its other end) holding every one of ``words``, newest
    first, before position ``before``; the hub makes the answer
    (:meth:`~palaver.hub.hub.Hub.searched`)."""

    session: SessionId
    request_id: str | None
    query: str
    words: tuple[str, ...]
    conversations: tuple[tuple[str, str | None, str | None], ...]
    before: int | None
    limit: int


@dataclass(frozen=True, slots=True)
class ManageAccount:
    """PASSWORD, RESET_PASSWORD or DELETE_ACCOUNT (hub/account_management.py), throttled as a
    login of ``key``: check ``secret`` — the account's password, or (``reset``) a reset token —
    off the event loop; for ``password`` and ``reset``, hash ``new`` and store it; then call
    ``Hub.account_checked`` with the verdict."""

    session: SessionId
    request_id: str | None
    action: Literal["password", "reset", "delete"]
    key: str
    secret: str
    new: str | None = None


@dataclass(frozen=True, slots=True)
class EraseAccount:
    """Delete the account ``account`` from the store (``erasure``), in its place in the
    queue: everything stored before it is in the store first; then ``Hub.account_erased``."""

    session: SessionId
    request_id: str | None
    account: str  # its nick, as registered
    erasure: AccountErasure


@dataclass(frozen=True, slots=True)
class ChangeCertificates:
    """CERT (hub/certificates.py): ``action`` the client certificate ``fingerprint`` of
    ``account`` (its key; ``nick``: as registered) in the store, then tell the hub
    (:meth:`~palaver.hub.hub.Hub.certificates_changed`) what the store binds now."""

    session: SessionId
    request_id: str | None
    account: str
    nick: str
    action: Literal["list", "add", "remove"]
    fingerprint: str | None


Effect = (
    Deliver | Close | Persist | AckResend | Replay | FetchHistory | CreateAccount | Remember
    | SaveRoom | Answer
    | SaveReadMarker | LoadReadMarkers | DeleteMessage | EditMessage | ListMessageEdits
    | CheckOperator
    | ChangeCertificates
    | SaveMetadata
    | FetchActivity
    | SaveReaction
    | SearchMessages
    | ManageAccount | EraseAccount
    | SaveNotifyLevel | LoadNotifyLevels
    | Released | KickElsewhere
)
