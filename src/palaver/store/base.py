"""The Store port: what the server needs from durable storage, in a dozen methods.

Every backend (memory, SQLite, PostgreSQL) passes the same conformance suite (tests/store/).
Conversations are keyed by a string: a room's folded name (``#lobby``) or, for direct messages,
:func:`dm_conversation` of the two folded nicks (``@alice,bob``).

Ids: a conversation's messages (``msg_id``) and its updates (``StoredUpdate.seq``) share one
counter, dense and increasing. The hub guesses the next one; the store decides. Memory and
SQLite (one node owns them) store the guess; PostgreSQL (several nodes) assigns ids from a
per-conversation counter in the commit transaction and says so when they differ: see
:meth:`Store.append` and the ``update`` of :class:`Deletion`, :class:`Editing` and
:class:`Reacting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import msgspec


class StoredFile(msgspec.Struct, frozen=True, kw_only=True):
    """A file a message carries (UPLOAD): its blob is ``blobs/<sha256>`` in the data dir;
    ``file_id`` (random) names it in its ``url``. Deleting the message makes it unreachable."""

    file_id: str
    name: str
    size: int
    type: str
    sha256: str
    url: str


class StoredMessage(msgspec.Struct, frozen=True, kw_only=True):
    conversation: str
    msg_id: int
    ts: str
    sender: str  # the nick shown, as it was when sent
    sender_key: str  # who is accountable: the folded nick (of the account, when there is one)
    text: str
    room: str | None = None  # display name of the room, for room messages
    to: str | None = None  # display nick of the recipient, for direct messages
    client_id: str | None = None  # the sender's request id, for idempotent resends
    notice: bool = False  # never to be answered automatically (an IRC NOTICE)
    deleted: bool = False  # a tombstone: deleted by its sender or a room operator, text ""
    reply_to: int | None = None  # the msg_id (same conversation) of the message it answers
    file: StoredFile | None = None  # the file it carries (UPLOAD); None on a tombstone
    edited_at: str | None = None  # when its text was last changed (EDIT); None: never


class Page(msgspec.Struct, frozen=True, kw_only=True):
    messages: tuple[StoredMessage, ...]
    more: bool


class Account(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    nick: str
    password_hash: str
    # Account management (hub/account_management.py): a locked account cannot log in; when it
    # was created and last logged in (ISO 8601 UTC; None: not known, from before they were kept)
    locked: bool = False
    created_at: str | None = None
    last_seen: str | None = None


DELETED_NICK = "deleted-user"  # the sender shown for the kept messages of a deleted account


class AccountErasure(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`Store.delete_account` does besides forgetting the account ``key``: its
    messages are sent by ``tombstone`` (an identity no account can have) as ``DELETED_NICK``,
    and erased too (tombstones with no text) when ``erase``; each direct conversation of
    ``renames`` (old key -> new key) moves to its new key, read markers, notification levels
    and marks with it."""

    key: str
    tombstone: str
    erase: bool = False
    renames: tuple[tuple[str, str], ...] = ()


class RoomBan(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """A room's ban: a folded nick and, when the banned user was online, its identity key;
    who set it (a nick) and when (ISO 8601 UTC), when known."""

    nick: str
    key: str | None = None
    by: str | None = None
    at: str | None = None


class RoomSettings(msgspec.Struct, frozen=True, kw_only=True):
    """A room's rules (docs/rooms.md), stored whole. Keyed by the folded ``room``."""

    room: str  # display name
    topic: str = ""
    topic_by: str | None = None
    topic_at: str | None = None
    invite_only: bool = False
    private: bool = False
    operators: tuple[str, ...] = ()  # identity keys
    bans: tuple[RoomBan, ...] = ()
    invited: tuple[str, ...] = ()  # identity keys
    created_at: str | None = None  # when the room was first made
    moderated: bool = False
    outside_messages: bool = False  # non-members may CHAT to it
    open_topic: bool = False  # every member may set the topic
    limit: int = 0  # most members at once (0: no limit)
    key: str | None = None  # the key JOIN needs
    voiced: tuple[str, ...] = ()  # identity keys
    allowed: tuple[RoomBan, ...] = ()  # nicks that pass invite-only (IRC +I), with who and when
    muted: tuple[RoomBan, ...] = ()  # nicks that may not speak (IRC's mute extban)


class StoredMarker(msgspec.Struct, frozen=True, kw_only=True):
    """A read marker: its identity has read ``conversation`` up to ``msg_id`` (0: nothing),
    sent up to ``ts`` (None: not known). Each half only ever increases."""

    conversation: str
    msg_id: int = 0
    ts: str | None = None


# How much a conversation may call for its user's attention (NOTIFY; hub/notify.py): every
# message, only mentions (and direct messages), or nothing. "all" is the default, never stored.
NotifyLevel = Literal["all", "mentions", "none"]
NOTIFY_LEVELS: tuple[NotifyLevel, ...] = ("all", "mentions", "none")


UpdateKind = Literal["edit", "delete", "react", "unreact"]


class StoredUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A change to stored message ``msg_id``, as an event of its conversation: ``seq`` comes
    from the same counter as msg_ids, so a resume replays it in order with the messages.
    ``value``: the new text (``edit``), the reason (``delete``, None: none given) or the
    reaction (``react``, ``unreact``); ``by``: who made it, as shown then; ``by_key``: its
    identity."""

    conversation: str
    seq: int
    msg_id: int
    kind: UpdateKind
    ts: str
    by: str
    by_key: str
    value: str | None = None


DeleteOutcome = Literal["deleted", "already_deleted", "no_such_message", "not_sender"]


class Deletion(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`Store.delete_message` did; ``message`` is the tombstone when it is one;
    ``update``: the ``delete`` update as stored (its ``seq`` possibly assigned by the store)
    when one was stored (outcome ``deleted`` and an update passed in), else None."""

    outcome: DeleteOutcome
    message: StoredMessage | None = None
    update: StoredUpdate | None = None


EditOutcome = Literal["edited", "unchanged", "no_such_message", "not_sender", "deleted",
                      "too_late"]


class Editing(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`Store.edit_message` did; ``message``: the message as it is now (for
    ``edited`` and ``unchanged``); ``update``: the ``edit`` update as stored (its ``seq``
    possibly assigned by the store) when one was stored (outcome ``edited`` and an update
    passed in), else None."""

    outcome: EditOutcome
    message: StoredMessage | None = None
    update: StoredUpdate | None = None


class StoredVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A text a message has had, and since when (when it was sent, or edited to it)."""

    text: str
    ts: str


class SearchHit(msgspec.Struct, frozen=True, kw_only=True):
    """A message :meth:`Store.search` found; ``position`` orders hits (higher: stored later)
    and is the cursor of the next page (``before``)."""

    position: int
    message: StoredMessage


class SearchPage(msgspec.Struct, frozen=True, kw_only=True):
    hits: tuple[SearchHit, ...]
    more: bool  # there are older hits than these


def search_folded(text: str) -> str:
    """How search compares texts: ignoring case (as SQLite's trigram tokenizer folds it)."""
    return text.lower()


MIN_SEARCH_WORD = 3  # characters: a trigram index finds nothing shorter


def check_search_words(words: Sequence[str]) -> None:
    """The store's precondition for :meth:`Store.search` (the hub refuses such queries)."""
    if any(len(word) < MIN_SEARCH_WORD for word in words):
        raise ValueError(f"search words are at least {MIN_SEARCH_WORD} characters")


ReactOutcome = Literal["added", "removed", "unchanged", "no_such_message", "deleted",
                       "too_many"]
MAX_REACTIONS_PER_MESSAGE = 20  # distinct reactions a message may carry (REACT)


class Reacting(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`Store.react` did; ``message`` is the message reacted to, when there is one
    (also when the outcome is ``deleted``: its tombstone); ``update``: the ``react`` or
    ``unreact`` update as stored (its ``seq`` possibly assigned by the store) when one was
    stored (outcome ``added`` or ``removed`` and an update passed in), else None."""

    outcome: ReactOutcome
    message: StoredMessage | None = None
    update: StoredUpdate | None = None


# A message's reactions as the store gives them: reaction -> the nicks that gave it, in order.
ReactionMap = dict[str, tuple[str, ...]]


class UpdatePage(msgspec.Struct, frozen=True, kw_only=True):
    updates: tuple[StoredUpdate, ...]
    more: bool  # the range holds older updates than these


# What :meth:`Store.append` says of each message of a batch: None — stored under the msg_id
# given (the node's guess); an int — stored under this id instead (only a store that assigns
# ids, PostgreSQL, and only when it differs from the guess); a StoredMessage — a resend: the
# original already stored under the same (sender_key, client_id), nothing new stored.
Appended = StoredMessage | int | None


def later_ts(a: str | None, b: str | None) -> str | None:
    """The later of two marker times (the format of ``StoredMessage.ts`` sorts as text)."""
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)


def dm_conversation(a: str, b: str) -> str:
    """The conversation key of the direct messages between folded nicks ``a`` and ``b``."""
    first, second = (a, b) if a <= b else (b, a)
    return f"@{first},{second}"


class Store(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date."""

    async def close(self) -> None: ...

    async def append(self, batch: Sequence[StoredMessage]) -> list[Appended]:
        """Store ``batch`` in one transaction. Each message's ``msg_id`` is the node's guess
        of its conversation's next id. For each message (:data:`Appended`): None — stored
        under the msg_id given; an int — stored under this id instead (a store that assigns
        ids, PostgreSQL, says so only when the id differs from the guess); a StoredMessage —
        a resend: the original already stored under the same (sender_key, client_id), as it
        is stored (also when it came earlier in this batch); nothing new is stored. Ids
        assigned to one conversation's messages of a batch increase in batch order; a batch
        that fails takes no id. Memory and SQLite store the guess and never answer an int."""

    async def last_ids(self) -> dict[str, int]:
        """The highest id of every conversation: of its messages and its updates. On
        PostgreSQL, the highest its counter has given — also for the old key of a direct
        conversation that :meth:`delete_account` moved (its ids are never given again)."""

    async def page(
        self, conversation: str, *, before: int | None = None, after: int | None = None,
        limit: int = 50,
    ) -> Page:
        """Up to ``limit`` messages, oldest first: the newest ones before ``before`` (or the
        newest of all), or the oldest ones after ``after``. ``more`` says whether the range
        holds more messages beyond this page in the direction of travel."""

    async def msg_id_at(self, conversation: str, ts: str) -> int:
        """The msg_id of the newest message of ``conversation`` sent at or before ``ts`` (a
        time as messages carry it: ISO 8601 UTC with milliseconds); 0 if none."""

    async def last_activity(
        self, conversations: Sequence[str], *, after: str, before: str
    ) -> dict[str, str]:
        """For each of ``conversations`` whose newest message was sent after ``after`` and
        before ``before`` (both exclusive), the time of that message."""

    async def create_account(self, account: Account) -> bool:
        """False if the key is taken."""

    async def get_account(self, key: str) -> Account | None: ...

    async def rename_account(self, key: str, new_key: str, new_nick: str) -> bool:
        """False if ``new_key`` belongs to another account."""

    async def set_membership(self, account_key: str, room: str, member: bool) -> None:
        """Remember (or forget) that an account is a member of ``room`` (display name)."""

    async def memberships(self) -> dict[str, list[str]]:
        """Account key -> the rooms it is a member of (display names)."""

    async def accounts(self) -> dict[str, str]:
        """Account key -> nick, for every account."""

    async def save_marks(self, account_key: str, marks: dict[str, int]) -> None:
        """Where the account stopped reading, per direct conversation (replaces earlier marks)."""

    async def load_marks(self, account_key: str) -> dict[str, int]: ...

    async def save_room(self, settings: RoomSettings, *, new: bool = False) -> bool:
        """Store a room's rules, replacing what was stored for it — or, with ``new``, only if
        nothing is stored for it yet (of nodes opening one new room at once, one makes it).
        Whether they were stored."""

    async def room_settings(self) -> list[RoomSettings]:
        """Every room's stored rules."""

    async def set_read_marker(
        self, identity: str, conversation: str, *, msg_id: int | None = None,
        ts: str | None = None,
    ) -> tuple[StoredMarker, bool]:
        """Move ``identity``'s read marker of ``conversation`` forward: to ``msg_id`` (its time
        is that message's), or to the time ``ts`` (its msg_id is the newest message's sent at or
        before it); each half only ever increases. The marker as stored now, and whether it
        moved."""

    async def read_markers(self, identity: str) -> list[StoredMarker]:
        """Every read marker of ``identity``."""

    async def set_notify_level(self, identity: str, conversation: str,
                               level: NotifyLevel) -> bool:
        """Give ``identity``'s ``conversation`` the notification ``level`` (``"all"``, the
        default, forgets the one stored); whether it changed."""

    async def notify_levels(self, identity: str) -> dict[str, NotifyLevel]:
        """``identity``'s notification levels other than ``"all"``: conversation -> level."""

    async def delete_message(
        self, conversation: str, msg_id: int, *, sender_key: str | None = None,
        update: StoredUpdate | None = None,
    ) -> Deletion:
        """Make message ``msg_id`` of ``conversation`` a tombstone (no text, ``deleted``) —
        only if ``sender_key`` sent it, when given. Its earlier texts (edits) are forgotten,
        and its earlier updates with them; ``update`` (its ``delete``) is stored in their
        place, in the same transaction, when it was deleted now, and returned as stored
        (``Deletion.update``: on PostgreSQL its ``seq`` is taken from the conversation's
        counter; elsewhere it is the one given). No update stored, no id taken."""

    async def edit_message(
        self, conversation: str, msg_id: int, *, sender_key: str, text: str, edited_at: str,
        sent_after: str | None = None, update: StoredUpdate | None = None,
    ) -> Editing:
        """Give message ``msg_id`` of ``conversation`` the text ``text``, edited at
        ``edited_at``, keeping the text it replaces as a version — only if ``sender_key`` sent
        it (else ``not_sender``), it is no tombstone (``deleted``) and, when ``sent_after`` is
        given, it was sent at or after that time (else ``too_late``). The same text again
        changes nothing (``unchanged``). ``update`` (its ``edit``) is stored in the same
        transaction when the text changed, and returned as stored (``Editing.update``, its
        ``seq`` as with :meth:`delete_message`)."""

    async def message_versions(self, conversation: str, msg_id: int) -> list[StoredVersion] | None:
        """Every text message ``msg_id`` has had, oldest first, the current one last; None if
        there is no such message, [] if it is a tombstone."""

    async def search(
        self, conversations: Sequence[str], words: Sequence[str], *,
        before: int | None = None, limit: int = 20,
    ) -> SearchPage:
        """Up to ``limit`` messages of ``conversations`` whose text holds every one of
        ``words`` (each at least 3 characters; ignoring case), newest stored first, only those
        before position ``before`` when given. Deleted messages are never found; an edited one
        is found by its current text."""

    async def save_metadata(self, target: str, values: Sequence[tuple[str, str]]) -> None:
        """Store the metadata of ``target`` (an account key or a folded room name), replacing
        what was stored for it: ``values`` in order, none to forget it."""

    async def metadata(self) -> dict[str, dict[str, str]]:
        """Every target's stored metadata, each in the order it was saved."""

    async def react(
        self, conversation: str, msg_id: int, *, identity: str, nick: str, reaction: str,
        ts: str, remove: bool = False, update: StoredUpdate | None = None,
    ) -> Reacting:
        """Add ``identity``'s ``reaction`` (shown as from ``nick``) to message ``msg_id`` of
        ``conversation`` — or take it back (``remove``). Adding one already there, or removing
        one that is not, is ``unchanged``; a deleted message takes none (``deleted``); a new
        reaction past :data:`MAX_REACTIONS_PER_MESSAGE` distinct ones is ``too_many``.
        ``update`` (its ``react`` or ``unreact``) is stored in the same transaction when
        something changed, and returned as stored (``Reacting.update``, its ``seq`` as with
        :meth:`delete_message`)."""

    async def updates(
        self, conversation: str, *, after: int, upto: int, limit: int,
    ) -> UpdatePage:
        """The updates of ``conversation`` with ``after`` < seq <= ``upto`` to messages with
        msg_id <= ``after`` (what a client that has everything up to ``after`` missed about
        it): the newest ``limit`` of them, oldest first."""

    async def reactions(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, ReactionMap]:
        """The reactions of those of ``msg_ids`` that have any, each reaction's nicks in the
        order given, reactions in the order first given."""

    async def messages(self, conversation: str, msg_ids: Sequence[int]) -> dict[int, StoredMessage]:
        """Those of ``msg_ids`` that are stored in ``conversation`` (tombstones too)."""

    async def set_password(self, key: str, password_hash: str) -> bool:
        """Replace the account's password hash (and forget its reset token); False if there
        is no such account."""

    async def set_reset_token(self, key: str, token_hash: str, expires: str) -> bool:
        """Give the account one reset token (``token_hash``: its SHA-256, hex), good until
        ``expires`` (ISO 8601 UTC), replacing any other; False if there is no such account."""

    async def reset_password(self, key: str, token_hash: str, now: str,
                             password_hash: str) -> bool:
        """If ``token_hash`` is the account's reset token and it has not expired at ``now``:
        use it up and set ``password_hash``. False (and nothing changes but an expired token
        going) otherwise."""

    async def set_locked(self, key: str, locked: bool) -> bool:
        """Lock or unlock the account; False if there is no such account."""

    async def locked_accounts(self) -> set[str]:
        """The keys of the locked accounts."""

    async def note_seen(self, key: str, ts: str) -> None:
        """The account logged in at ``ts`` (its ``last_seen``)."""

    async def account_list(self) -> list[Account]:
        """Every account, by key."""

    async def delete_account(self, erasure: AccountErasure) -> bool:
        """Forget the account ``erasure.key`` — its memberships, marks, read markers,
        notification levels, metadata, certificates and reset token — and carry out
        ``erasure`` on its messages, in one transaction. False if there was no such account
        (the messages are still carried out)."""

    async def bind_certificate(self, account_key: str, fingerprint: str) -> bool:
        """Bind the client certificate whose SHA-256 ``fingerprint`` is given to the account
        (SASL EXTERNAL, docs/tls.md); True if it is bound to it now (already was: still True),
        False if another account holds it (then nothing changes)."""

    async def unbind_certificate(self, account_key: str, fingerprint: str) -> bool:
        """Forget the binding; False if ``fingerprint`` was not bound to this account."""

    async def certificates(self, account_key: str) -> list[str]:
        """The fingerprints bound to the account, in the order they were bound."""

    async def certificate_account(self, fingerprint: str) -> str | None:
        """The key of the account ``fingerprint`` is bound to, or None."""

    async def file_message(self, file_id: str) -> StoredMessage | None:
        """The message that carries (or carried: a tombstone) the file ``file_id``."""

    async def files_usage(self, sender_key: str) -> int:
        """The bytes of the files ``sender_key``'s messages carry (deleted ones not counted)."""

    async def file_hashes(self) -> set[str]:
        """The sha256 of every file a message that is not deleted carries (blobs in use)."""
