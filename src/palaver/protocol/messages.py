"""Protocol v1 wire messages: one frozen, tagged msgspec Struct per message type.

These types are the shared vocabulary of the whole server. Client messages are the commands the hub
handles (whatever door they came through); server messages are the events the hub emits, encoded
once per dialect. Evolution rules (docs/protocol.md): new fields get defaults, a field's type never
changes, unknown fields are ignored. The JSON Schema in docs/protocol.schema.json is generated from
this module (``python -m palaver.protocol.schema``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

PROTOCOL_VERSION = 1

RequestId = Annotated[str, msgspec.Meta(max_length=64, description="Client-chosen request id.")]
Number = int | float
HistoryLimit = Annotated[int, msgspec.Meta(ge=1, le=200)]
MAX_MSG_ID = 2**63 - 1  # what a store can hold (SQLite and PostgreSQL: a signed 64-bit integer)
MsgId = Annotated[int, msgspec.Meta(ge=0, le=MAX_MSG_ID)]
MAX_ROOM_LIMIT = 100_000  # the largest member limit a room may have (MODE limit)
RoomLimit = Annotated[int, msgspec.Meta(ge=0, le=MAX_ROOM_LIMIT)]
ProtocolVersion = Annotated[int, msgspec.Meta(ge=0, le=65_535)]
# Client-only tags (IRCv3 message-tags, "+name": typing notifications, replies, reactions),
# relayed with a message or alone (TAGMSG), never stored (docs/protocol.md, "Client tags").
ClientTags = Annotated[dict[str, str], msgspec.Meta(max_length=64)]
# Where a sender's client wrapped a long line (IRC's multiline concat): offsets in the text.
Breaks = Annotated[tuple[Annotated[int, msgspec.Meta(ge=1, le=4_000)], ...],
                   msgspec.Meta(max_length=100)]
OnlyTo = Literal["operators", "voiced"]
# How much a conversation may call for attention (NOTIFY): "all" is the default.
NotifyLevelName = Literal["all", "mentions", "none"]
Timestamp = Annotated[str, msgspec.Meta(max_length=40)]  # ISO 8601 (checked by the hub)


class Wire(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", omit_defaults=True):
    """Base of every wire message. ``id`` echoes the client's request id on direct replies."""

    id: RequestId | None = None


# --------------------------------------------------------------------------- client -> server


class Hello(Wire, frozen=True, tag="HELLO"):
    """Handshake; must be the first frame of a connection.

    ``password`` logs in to the account ``nick``. ``since`` resumes: for each room (``"#dev"``) or
    direct conversation (``"@bob"``), the last ``msg_id`` the client has; the server sends what
    came after. ``rooms`` lists rooms a guest rejoins. ``token`` is the guest token from an
    earlier WELCOME: it reclaims that guest's identity (and nick, if still free or its own).
    ``username`` and ``realname`` (IRC's USER) are shown to others by WHO with ``details``; the
    first session of a user sets them. ``autojoin`` false: do not join the server's default
    rooms (the IRC door sends it: IRC clients join what they ask for). ``metadata``: keys and
    values of one's own metadata to set on arrival (IRC's before-connect ``METADATA SET``);
    with it (even empty), WELCOME carries the user's metadata. ``member_pages``: this client
    takes a big room's member list in pages (JOINED and USERS carry ``members_next``).
    """

    version: ProtocolVersion
    nick: str
    password: str | None = None
    since: dict[str, MsgId] | None = None
    rooms: tuple[str, ...] | None = None
    token: str | None = None
    username: str | None = None
    realname: str | None = None
    autojoin: bool = True
    metadata: Annotated[dict[str, str], msgspec.Meta(max_length=20)] | None = None
    member_pages: bool = False


class Register(Wire, frozen=True, tag="REGISTER"):
    """Make the current nick an account protected by ``password``."""

    nick: str
    password: str


class History(Wire, frozen=True, tag="HISTORY"):
    """A page of stored messages of a room (``room``) or direct conversation (``with``).

    ``before``/``after`` are exclusive ``msg_id`` bounds; with neither, the newest page.
    ``before_ts``/``after_ts`` are exclusive time bounds instead (ISO 8601 UTC): at most one
    bound of the four.
    """

    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    before: MsgId | None = None
    after: MsgId | None = None
    limit: HistoryLimit = 50
    before_ts: Timestamp | None = None
    after_ts: Timestamp | None = None


class ListConversations(Wire, frozen=True, tag="CONVERSATIONS"):
    """One's conversations (the rooms one is in, one's direct conversations) whose newest
    message was sent after ``after_ts`` and before ``before_ts`` (exclusive, ISO 8601 UTC):
    the ``limit`` that were active first (IRC's CHATHISTORY TARGETS)."""

    after_ts: Timestamp
    before_ts: Timestamp
    limit: HistoryLimit = 50


class Join(Wire, frozen=True, tag="JOIN"):
    """Join a room, creating it if it does not exist; ``key``: the room's key, if it has one
    (MODE ``key``)."""

    room: str
    key: str | None = None


class Leave(Wire, frozen=True, tag="LEAVE"):
    """Leave a room; ``reason`` is shown to its members (PRESENCE leave)."""

    room: str
    reason: str | None = None


class Say(Wire, frozen=True, tag="CHAT"):
    """Post a message to a room the sender is in. ``notice``: text that must never be answered
    automatically (by a bot); it arrives as a notice (an IRC ``NOTICE``). ``tags``: client-only
    tags relayed with it (not stored); ``breaks``: where the sender's client wrapped a line
    (not stored). ``only``: to the room's operators (``voiced``: and voiced members) only, not
    stored (STATUS_MESSAGE). ``reply_to``: the msg_id of the room's message this one answers
    (REACT and replies in docs/protocol.md)."""

    room: str
    text: str
    notice: bool = False
    tags: ClientTags | None = None
    breaks: Breaks = ()
    only: OnlyTo | None = None
    reply_to: MsgId | None = None


class SendDirect(Wire, frozen=True, tag="DM"):
    """Send a direct message to one user (``notice``, ``tags``, ``breaks``, ``reply_to`` as for
    CHAT)."""

    to: str
    text: str
    notice: bool = False
    tags: ClientTags | None = None
    breaks: Breaks = ()
    reply_to: MsgId | None = None


class SendTags(Wire, frozen=True, tag="TAGMSG"):
    """Client-only tags alone (a typing notification, a reaction) to a room the sender is in
    (``room``, ``only`` as for CHAT) or to a user (``to``): relayed at once, never stored."""

    tags: ClientTags
    room: str | None = None
    to: str | None = None
    only: OnlyTo | None = None


class SetNick(Wire, frozen=True, tag="NICK"):
    """Change one's nickname."""

    nick: str


class ListUsers(Wire, frozen=True, tag="WHO"):
    """List everyone online, or the members of ``room``; with ``details``, USERS carries each
    one's ``info`` (username, realname, away message) too. ``nick``: only that user (WHOIS),
    with more ``info``: its rooms, since when it is online, how long it has been idle.
    ``after``: the next page of a room's members (USERS' ``next``, for a client that takes
    member pages)."""

    room: str | None = None
    details: bool = False
    nick: str | None = None
    after: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class ListRooms(Wire, frozen=True, tag="ROOMS"):
    """List the rooms."""


class RunCommand(Wire, frozen=True, tag="COMMAND"):
    """Run a server command (``help``, ``time``, ``joke``, ``echo``, ``sum``)."""

    name: str
    args: tuple[str | Number, ...] = ()


class Ping(Wire, frozen=True, tag="PING"):
    """Keepalive; either side may send it and the other answers PONG."""


class Pong(Wire, frozen=True, tag="PONG"):
    """Answer to PING."""


class Quit(Wire, frozen=True, tag="BYE"):
    """The client is leaving."""

    reason: str | None = None


class SetTopic(Wire, frozen=True, tag="TOPIC"):
    """Set ``room``'s topic (an empty one clears it). Room operators (docs/rooms.md)."""

    room: str
    topic: str


class GrantOperator(Wire, frozen=True, tag="OP"):
    """Make ``nick`` (in the room) one of ``room``'s operators."""

    room: str
    nick: str


class RevokeOperator(Wire, frozen=True, tag="DEOP"):
    """``nick`` is no longer one of ``room``'s operators."""

    room: str
    nick: str


class GrantVoice(Wire, frozen=True, tag="VOICE"):
    """Let ``nick`` (in the room) speak in ``room`` when it is moderated."""

    room: str
    nick: str


class RevokeVoice(Wire, frozen=True, tag="DEVOICE"):
    """``nick`` no longer has a voice in ``room``."""

    room: str
    nick: str


class Kick(Wire, frozen=True, tag="KICK"):
    """Put ``nick`` out of ``room``; they may join again unless banned."""

    room: str
    nick: str
    reason: str | None = None


class Ban(Wire, frozen=True, tag="BAN"):
    """Keep ``nick`` (and the identity wearing it now) out of ``room``; out at once if in."""

    room: str
    nick: str


class Unban(Wire, frozen=True, tag="UNBAN"):
    """Lift the ban on ``nick`` in ``room``."""

    room: str
    nick: str


class Invite(Wire, frozen=True, tag="INVITE"):
    """Let ``nick`` into ``room`` even when it is invite-only (or private)."""

    room: str
    nick: str


class SetRoomMode(Wire, frozen=True, tag="MODE"):
    """Change ``room``'s settings; one left out stays as it is (none: the current state).
    ``moderated``: only operators and voiced members speak; ``outside_messages``: non-members
    may CHAT to it; ``open_topic``: every member may set the topic; ``limit``: most members
    (0: no limit); ``key``: what JOIN must give ("" : none)."""

    room: str
    invite_only: bool | None = None
    private: bool | None = None
    moderated: bool | None = None
    outside_messages: bool | None = None
    open_topic: bool | None = None
    limit: RoomLimit | None = None
    key: str | None = None


class ListBans(Wire, frozen=True, tag="BANS"):
    """The nicks banned from ``room`` (members may ask)."""

    room: str


class Allow(Wire, frozen=True, tag="ALLOW"):
    """Put ``nick`` on ``room``'s allow list: it may join even when the room is invite-only
    (IRC's invite exception, ``+I``), until DISALLOW."""

    room: str
    nick: str


class Disallow(Wire, frozen=True, tag="DISALLOW"):
    """Take ``nick`` off ``room``'s allow list."""

    room: str
    nick: str


class Mute(Wire, frozen=True, tag="MUTE"):
    """``nick`` may stay in ``room`` but not speak there (unless voiced or an operator), until
    UNMUTE (IRC's mute extban, ``+b m:nick!*@*``); BANS lists it."""

    room: str
    nick: str


class Unmute(Wire, frozen=True, tag="UNMUTE"):
    """``nick`` may speak in ``room`` again."""

    room: str
    nick: str


class ListAllowed(Wire, frozen=True, tag="ALLOWED"):
    """The nicks on ``room``'s allow list (members may ask)."""

    room: str


class ListInvitations(Wire, frozen=True, tag="INVITATIONS"):
    """The rooms one is invited to and has not joined yet."""


class SetAway(Wire, frozen=True, tag="AWAY"):
    """Be away with ``message`` (shown to whoever sends you a DM, and in WHO details); without
    one (or with an empty one), be back. Per user: all of its sessions, until it goes offline."""

    message: str | None = None


class Authenticate(Wire, frozen=True, tag="AUTH"):
    """Before HELLO: check ``password`` for the account ``nick`` (as a HELLO with a password
    does, throttled the same way). Answered by AUTHENTICATED; the HELLO that follows then logs
    in to that account without a password, wearing the nick it names (IRC's SASL).
    ``mechanism`` ``certificate``: the account is the one the TLS client certificate of this
    connection is bound to (CERT; IRC's SASL EXTERNAL, docs/tls.md); ``nick``, when given,
    must name it, and ``password`` is not used."""

    nick: str = ""
    password: str = ""
    mechanism: Literal["password", "certificate"] = "password"


class SetRealname(Wire, frozen=True, tag="REALNAME"):
    """Change one's realname (IRC's SETNAME): one line of 1-100 characters. Answered by
    USER_UPDATED, which everyone sharing a room with one gets too."""

    realname: str


class ManageCertificates(Wire, frozen=True, tag="CERT"):
    """An account's TLS client certificates (docs/tls.md), each named by its SHA-256
    ``fingerprint`` (64 hex digits; colons and case do not matter): ``list`` them, ``add`` one
    (without a fingerprint: the certificate this connection presented), or ``remove`` one. A
    certificate bound to an account logs in to it (AUTH with ``mechanism`` ``certificate``).
    Only accounts have certificates. Answered by CERTIFICATES."""

    action: Literal["list", "add", "remove"] = "list"
    fingerprint: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class Watch(Wire, frozen=True, tag="WATCH"):
    """Change this session's watch list (IRC's MONITOR): ``clear`` it, then ``remove`` nicks
    from it, then ``add`` nicks to it. Answered by WATCHING about the nicks added; a WATCH
    with none of the three asks about the whole list. Watched nicks coming online or going
    offline (or a nick change onto or off one) arrive as ONLINE / OFFLINE."""

    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    clear: bool = False


class MarkRead(Wire, frozen=True, tag="MARK_READ"):
    """Move one's read marker of a room (``room``) or direct conversation (``with``) forward:
    to ``msg_id`` or to the time ``ts`` (ISO 8601 UTC, ``2026-01-02T03:04:05.678Z``). A marker
    never moves back. With neither: a question, answered with the marker as it is."""

    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    msg_id: MsgId | None = None
    ts: str | None = None


class SetNotifyLevel(Wire, frozen=True, tag="NOTIFY"):
    """Set one's notification level of a room (``room``) or direct conversation (``with``):
    ``all`` (the default: every message may notify), ``mentions`` (only messages that mention
    one, and direct messages) or ``none``. Without ``level``: a question. Answered by
    NOTIFY_LEVEL, which the user's other sessions get too when the level changed."""

    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    level: NotifyLevelName | None = None


class Delete(Wire, frozen=True, tag="DELETE"):
    """Delete message ``msg_id`` of a room (``room``) or direct conversation (``with``): one's
    own, or (a room operator) anyone's in the room. It stays in history as a tombstone."""

    msg_id: MsgId
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    reason: str | None = None


class React(Wire, frozen=True, tag="REACT"):
    """Add ``reaction`` (an emoji or a short word: 1-32 characters, no spaces) to message
    ``msg_id`` of a room (``room``) or direct conversation (``with``) — or take it back
    (``remove``). Adding one twice is adding it once. Answered by REACTED."""

    msg_id: MsgId
    reaction: str
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    remove: bool = False


class Edit(Wire, frozen=True, tag="EDIT"):
    """Change the text of one's own message ``msg_id`` of a room (``room``) or direct
    conversation (``with``) to ``text``, within the server's edit window (the ``edit_window``
    setting). Nobody edits another's message (room operators may delete it). Answered by
    EDITED; the texts it replaces are kept (EDITS)."""

    msg_id: MsgId
    text: str
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")


class ListEdits(Wire, frozen=True, tag="EDITS"):
    """Every version of message ``msg_id`` of a room (``room``) or direct conversation
    (``with``): a room's operators may ask about any message of the room, a sender about its
    own. Answered by EDIT_LIST."""

    msg_id: MsgId
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")


class BecomeOperator(Wire, frozen=True, tag="OPER"):
    """Log in as the server operator ``name`` (the ``operator_logins`` setting) with its
    ``password``: the user is a server operator until it goes offline or drops it (USER_MODE).
    Answered by USER_MODE."""

    name: str
    password: str


class SetUserMode(Wire, frozen=True, tag="USER_MODE"):
    """Change one's user modes; a mode left out stays as it is (none: just ask). ``invisible``:
    WHO does not list one to users who share no room with one; ``wallops``: receive WALLOPS;
    ``operator``: false drops server-operator rights (true is refused: that is OPER)."""

    invisible: bool | None = None
    wallops: bool | None = None
    operator: bool | None = None
    bot: bool | None = None  # a bot (IRC's +B): WHO and WHOIS say so, and so do its messages


class Kill(Wire, frozen=True, tag="KILL"):
    """Server operators: disconnect every session of ``nick``, telling them ``reason``."""

    nick: str
    reason: str | None = None


class SendWallops(Wire, frozen=True, tag="WALLOPS"):
    """Server operators: ``text`` to every user with the ``wallops`` mode."""

    text: str


class ListPastUsers(Wire, frozen=True, tag="WHOWAS"):
    """Who wore ``nick`` (``*`` and ``?`` are wildcards) before going offline or changing nick,
    newest first: at most ``count`` of them (0: all the server remembers)."""

    nick: str
    count: Annotated[int, msgspec.Meta(ge=0, le=1_000)] = 0


class GetStats(Wire, frozen=True, tag="STATS"):
    """How many users, rooms and connections there are (IRC's LUSERS)."""


# Metadata keys (docs/protocol.md, "Metadata"): 1-50 of a-z 0-9 _ . / -, checked by the hub.
MetadataKeys = Annotated[tuple[Annotated[str, msgspec.Meta(max_length=50)], ...],
                         msgspec.Meta(max_length=50)]


class SetMetadata(Wire, frozen=True, tag="METADATA_SET"):
    """Set ``key`` of one's own metadata — or of ``room`` (its operators), or of the user
    ``nick`` (server operators) — to ``value``; without ``value``, remove the key. Answered by
    METADATA with the key as it is now."""

    key: str
    value: str | None = None
    nick: str | None = None
    room: str | None = None


class ClearMetadata(Wire, frozen=True, tag="METADATA_CLEAR"):
    """Remove every key of one's own metadata (or ``room``'s, ``nick``'s as for METADATA_SET).
    Answered by METADATA listing the keys removed."""

    nick: str | None = None
    room: str | None = None


class GetMetadata(Wire, frozen=True, tag="METADATA_GET"):
    """The metadata of oneself, of the user ``nick`` or of ``room``: the ``keys`` asked, in
    order (each without a value when not set), or (no keys) every key set."""

    keys: MetadataKeys = ()
    nick: str | None = None
    room: str | None = None


class SyncMetadata(Wire, frozen=True, tag="METADATA_SYNC"):
    """The keys this session subscribes to of the user ``nick`` (oneself without it) or of
    ``room`` and each of its members: as METADATA_GET, but only what one subscribes to."""

    nick: str | None = None
    room: str | None = None


class SubscribeMetadata(Wire, frozen=True, tag="METADATA_SUB"):
    """Change this session's metadata subscriptions: ``remove`` keys, then ``add`` keys (in
    order, until the list is full); neither: just ask. Allowed before HELLO. Changes of the
    keys subscribed to arrive as METADATA with ``change``. Answered by METADATA_SUBS."""

    add: MetadataKeys = ()
    remove: MetadataKeys = ()


class ChangePassword(Wire, frozen=True, tag="PASSWORD"):
    """Change one's account password: ``old`` is the one in use, ``new`` follows REGISTER's
    rules. Answered by PASSWORD_CHANGED; the account's other sessions are closed (BYE
    ``password changed``), this one stays. Throttled as a login."""

    old: str
    new: str


class ResetPassword(Wire, frozen=True, tag="RESET_PASSWORD"):
    """Before HELLO (or on a guest's session): set a new password for the account ``nick``
    with a one-time ``token`` that a server operator issued (``palaver admin
    reset-password``). Answered by PASSWORD_CHANGED; the account's sessions are closed.
    Throttled as a login."""

    nick: str
    token: str
    new: str


class DeleteAccount(Wire, frozen=True, tag="DELETE_ACCOUNT"):
    """Delete one's account, proving it with its ``password``. Answered by ACCOUNT_DELETED,
    then BYE; every session of the account is closed and its nick is free again."""

    password: str


class Upload(Wire, frozen=True, tag="UPLOAD"):
    """Ask to upload a file of ``size`` bytes named ``name`` to ``room`` (or to ``with``, a
    direct conversation), with an optional ``text`` (its caption). Answered by UPLOAD_READY:
    the body goes to its ``url`` (HTTP PUT or POST) before ``expires``; when it has arrived
    whole, the file is posted as a MESSAGE with ``file`` (docs/protocol.md, "Files").
    ``media_type`` is the client's guess, never trusted: the server sniffs the content."""

    name: Annotated[str, msgspec.Meta(max_length=1_000)]
    size: Annotated[int, msgspec.Meta(ge=0, le=MAX_MSG_ID)]
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    media_type: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    text: str = ""


class GetFileKey(Wire, frozen=True, tag="FILE_KEY"):
    """Ask for a download key: file URLs are fetched with ``?key=`` it (docs/protocol.md,
    "Files"). Answered by FILE_KEY."""


class Search(Wire, frozen=True, tag="SEARCH"):
    """Full-text search of the conversations one may read: the rooms one is in and one's
    direct conversations — or only ``room``, or only the one ``with`` a nick. Every word of
    ``query`` (split at spaces, each at least 3 characters, at most 8 words) must occur in a
    message's text, as any substring, ignoring case. ``before``: the ``next`` of an earlier
    SEARCH_RESULTS, for the page of older hits. Answered by SEARCH_RESULTS."""

    query: Annotated[str, msgspec.Meta(max_length=200)]
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    before: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=50)] = 20


ClientMessage = (
    Hello | Join | Leave | Say | SendDirect | SetNick | ListUsers | ListRooms | RunCommand | Ping
    | Pong | Quit | Register | History | SetTopic | GrantOperator | RevokeOperator | Kick | Ban
    | Unban | Invite | SetRoomMode | ListBans | SetAway
    | Authenticate | SetRealname
    | ManageCertificates
    | GrantVoice | RevokeVoice | Allow | Disallow | ListAllowed | ListInvitations | Mute | Unmute
    | Watch | MarkRead | Delete
    | React
    | Edit | ListEdits
    | BecomeOperator | SetUserMode | Kill | SendWallops | ListPastUsers | GetStats
    | SendTags | ListConversations
    | SetMetadata | ClearMetadata | GetMetadata | SyncMetadata | SubscribeMetadata
    | ChangePassword | ResetPassword | DeleteAccount
    | Upload | GetFileKey
    | Search
    | SetNotifyLevel
)


# --------------------------------------------------------------------------- server -> client


class Welcome(Wire, frozen=True, tag="WELCOME"):
    """Handshake accepted."""

    version: int
    nick: str
    server: str
    rooms: tuple[str, ...]
    motd: str
    account: bool = False
    token: str | None = None
    metadata: dict[str, str] | None = None  # one's own metadata (see HELLO's metadata)


class Joined(Wire, frozen=True, tag="JOINED"):
    """You joined ``room``. ``last_id`` is the newest message's msg_id (0: none yet) — where
    a client's resume mark for the room starts."""

    room: str
    members: tuple[str, ...]
    topic: str
    last_id: int = 0
    topic_by: str | None = None
    topic_at: str | None = None
    operators: tuple[str, ...] = ()  # the members who are the room's operators
    invite_only: bool = False
    private: bool = False
    voiced: tuple[str, ...] = ()  # the members with a voice (moderated rooms)
    moderated: bool = False
    outside_messages: bool = False
    open_topic: bool = False
    limit: int = 0
    key: str | None = None
    created_at: str | None = None  # when the room was first made
    read_msg_id: int = 0  # the user's read marker of the room (READ_MARKER): msg_id and ts
    read_ts: str | None = None
    # A big room, to a client that takes member pages: ``members`` is the first page (sorted
    # ignoring case), ``members_total`` counts them all, WHO with ``after`` gives the next.
    members_total: int | None = None
    members_next: str | None = None


class Left(Wire, frozen=True, tag="LEFT"):
    """You left ``room``."""

    room: str


PresenceEvent = Literal["join", "leave", "quit", "nick", "kick"]


class Presence(Wire, frozen=True, tag="PRESENCE"):
    """Someone joined or left a room, quit, changed nick, or was kicked (by ``by``)."""

    nick: str
    event: PresenceEvent
    room: str | None = None
    reason: str | None = None
    new_nick: str | None = None
    by: str | None = None
    # On a join: who joined, as WHO details say (IRC's extended-join and away-notify).
    realname: str = ""
    account: str | None = None  # the account it is logged in to (as registered)
    away: str | None = None  # its away message, if it is away


class MembersChanged(Wire, frozen=True, tag="MEMBERS_CHANGED"):
    """Who joined and who left a big room (more members than the server's ``presence_limit``)
    since the last one, at most once per ``presence_interval``: it stands for their PRESENCE
    joins, leaves and quits. ``count``: its members now."""

    room: str
    joined: tuple[str, ...] = ()
    left: tuple[str, ...] = ()
    count: int = 0


class Quote(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The head of the message a reply answers (MESSAGE's ``quote``) or a reaction is about
    (REACTED's): its msg_id, sender, and its first words (at most 100 characters, ``…`` when
    cut); ``deleted``: it was deleted (no text)."""

    msg_id: int
    sender: str = msgspec.field(name="from")
    text: str = ""
    deleted: bool = False


# A message's reactions (MESSAGE's ``reactions``): each reaction -> the nicks that gave it,
# in the order they did.
Reactions = dict[str, tuple[str, ...]]


class FileRef(msgspec.Struct, frozen=True, kw_only=True):
    """A file a MESSAGE carries (UPLOAD): its sanitised ``name``, ``size`` in bytes, ``type``
    (sniffed by the server), ``sha256`` (hex) and ``url`` (fetched with ``?key=`` a FILE_KEY;
    only the conversation's members may)."""

    name: str
    size: int
    type: str
    sha256: str
    url: str


class Message(Wire, frozen=True, tag="MESSAGE"):
    """A chat message in a room (``room``) or a direct message (``to``); ``notice``: not to be
    answered automatically."""

    msg_id: int
    ts: str
    sender: str = msgspec.field(name="from")
    text: str
    room: str | None = None
    to: str | None = None
    notice: bool = False
    tags: ClientTags | None = None  # the sender's client-only tags (live only, never stored)
    breaks: Breaks = ()  # where the sender's client wrapped a line (live only)
    deleted: bool = False  # deleted (DELETED): a tombstone, its text empty
    # The sender's account (as registered), and whether it is a bot (USER_MODE): on messages
    # as they are sent, not in HISTORY or replays.
    account: str | None = None
    bot: bool = False
    reply_to: int | None = None  # the msg_id of the message this one answers (CHAT reply_to)
    quote: Quote | None = None  # that message's head, when it is known
    reactions: Reactions | None = None  # in HISTORY and replays: its reactions (REACT)
    edited_at: str | None = None  # when it was last edited (EDITED); absent: never edited
    file: FileRef | None = None  # the file it carries (UPLOAD); none once deleted


class UserInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of USERS' ``info``: what a user said of itself (empty: not said), and its away
    message if it is away."""

    nick: str
    username: str = ""
    realname: str = ""
    away: str | None = None
    operator: bool = False  # a server operator
    account: str | None = None  # the account it is logged in to
    bot: bool = False  # a bot (USER_MODE)
    # Only when WHO asked about one ``nick``: its rooms the asker may know of, those it is an
    # operator of, when it came online and the seconds since its last message.
    rooms: tuple[str, ...] = ()
    operator_of: tuple[str, ...] = ()
    online_since: str | None = None
    idle: int | None = None
    metadata: dict[str, str] | None = None  # its metadata (only for one ``nick``)
    secure: bool = False  # every session of it is over TLS (only for one ``nick``)


class Users(Wire, frozen=True, tag="USERS"):
    """Answer to WHO. For a room, ``operators`` are the members who are its operators. ``info``
    (only when WHO asked for ``details``): one entry per user, in the order of ``users``."""

    users: tuple[str, ...]
    room: str | None = None
    operators: tuple[str, ...] = ()
    info: tuple[UserInfo, ...] = ()
    voiced: tuple[str, ...] = ()  # for a room: the members with a voice
    private: bool = False  # for a room: it is private
    # A page of a big room's members (see JOINED): how many in all, and where the next starts.
    total: int | None = None
    next: str | None = None


class RoomInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of ROOM_LIST. ``keyed``: JOIN needs a key, which ``key`` is (for the room's
    members only)."""

    room: str
    members: int
    topic: str = ""
    invite_only: bool = False
    private: bool = False
    topic_by: str | None = None
    topic_at: str | None = None
    created_at: str | None = None
    moderated: bool = False
    outside_messages: bool = False
    open_topic: bool = False
    limit: int = 0
    keyed: bool = False
    key: str | None = None


class RoomList(Wire, frozen=True, tag="ROOM_LIST"):
    """Answer to ROOMS."""

    rooms: tuple[RoomInfo, ...]


class Result(Wire, frozen=True, tag="RESULT"):
    """Answer to COMMAND."""

    name: str
    result: str


class Goodbye(Wire, frozen=True, tag="BYE"):
    """The server is closing this connection, and why."""

    reason: str


class Registered(Wire, frozen=True, tag="REGISTERED"):
    """The nick is now an account."""

    nick: str


class HistoryPage(Wire, frozen=True, tag="HISTORY_PAGE"):
    """Answer to HISTORY: messages oldest first; ``more`` if the range holds more beyond them."""

    messages: tuple[Message, ...]
    more: bool
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")


class ConversationInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of CONVERSATIONS: a room (``room``) or the other end of a direct conversation
    (``with``), and when its newest message was sent."""

    last_ts: str
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")


class Conversations(Wire, frozen=True, tag="CONVERSATIONS"):
    """Answer to CONVERSATIONS: the conversations, the one active first first."""

    conversations: tuple[ConversationInfo, ...]


class Gap(Wire, frozen=True, tag="GAP"):
    """On resume: messages with ``after`` < msg_id < ``before`` were not sent; fetch them with
    HISTORY."""

    after: int
    before: int
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")


class Tagged(Wire, frozen=True, tag="TAGMSG"):
    """Client-only tags from ``from`` to a room (``room``; ``only``: to some of its members) or
    to you (``to``). ``ref`` names this relay (IRC's msgid). Never stored."""

    ref: str
    ts: str
    sender: str = msgspec.field(name="from")
    tags: ClientTags
    room: str | None = None
    to: str | None = None
    only: OnlyTo | None = None


class StatusMessage(Wire, frozen=True, tag="STATUS_MESSAGE"):
    """A message to some members of ``room`` only (``only``: its operators, or its operators
    and voiced members; IRC's ``PRIVMSG @#room``). Never stored, so it has no ``msg_id``:
    ``ref`` names it (IRC's msgid)."""

    ref: str
    ts: str
    sender: str = msgspec.field(name="from")
    text: str
    room: str
    only: OnlyTo = "operators"
    notice: bool = False
    tags: ClientTags | None = None
    breaks: Breaks = ()



class Error(Wire, frozen=True, tag="ERROR"):
    """A request was refused; ``code`` is stable, ``message`` is for humans."""

    code: str
    message: str
    field: str | None = None
    retry_after_ms: int | None = None  # rate_limited, auth_throttled: wait this long first


RoomSetting = Literal["invite_only", "private", "moderated", "outside_messages", "open_topic",
                      "limit", "key"]
RoomChange = Literal["topic", "op", "deop", "ban", "unban", "invite_only", "private", "state",
                     "voice", "devoice", "moderated", "outside_messages", "open_topic", "limit",
                     "key", "modes", "allow", "disallow", "mute", "unmute"]


class RoomUpdated(Wire, frozen=True, tag="ROOM_UPDATED"):
    """``by`` changed ``room``'s rules (``change``; ``nick`` is whom an op/deop/voice/devoice/
    ban/unban is about); the rest is the room's state after it. A MODE that changed settings
    sends one ROOM_UPDATED: ``change`` names the setting (``modes`` when it changed several)
    and ``changed`` lists them all. ``state``: nothing changed (a MODE without settings, or one
    that changed nothing), sent to the asker only."""

    room: str
    change: RoomChange
    by: str | None = None
    nick: str | None = None
    topic: str = ""
    topic_by: str | None = None
    topic_at: str | None = None
    operators: tuple[str, ...] = ()
    invite_only: bool = False
    private: bool = False
    changed: tuple[RoomSetting, ...] = ()
    voiced: tuple[str, ...] = ()
    moderated: bool = False
    outside_messages: bool = False
    open_topic: bool = False
    limit: int = 0
    key: str | None = None
    created_at: str | None = None


class Invited(Wire, frozen=True, tag="INVITED"):
    """``by`` invited ``nick`` to ``room`` (to the invited, and to the inviter as the answer)."""

    room: str
    by: str
    nick: str


class BanEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of BAN_LIST's ``bans``: who set the ban on ``nick`` and when, if known."""

    nick: str
    by: str | None = None
    at: str | None = None


class BanList(Wire, frozen=True, tag="BAN_LIST"):
    """Answer to BANS: the banned nicks (folded to lower case), sorted; ``bans``: the same
    bans, each with its setter and time."""

    room: str
    nicks: tuple[str, ...]
    bans: tuple[BanEntry, ...] = ()
    muted: tuple[BanEntry, ...] = ()  # the nicks muted in the room (MUTE), the same way


class AllowList(Wire, frozen=True, tag="ALLOW_LIST"):
    """Answer to ALLOWED: the nicks on the room's allow list (folded to lower case), sorted;
    ``allowed``: the same, each with who put it there and when (as BAN_LIST's ``bans``)."""

    room: str
    nicks: tuple[str, ...]
    allowed: tuple[BanEntry, ...] = ()


class InvitationList(Wire, frozen=True, tag="INVITATION_LIST"):
    """Answer to INVITATIONS: the rooms one is invited to (and not in), sorted."""

    rooms: tuple[str, ...]


class Away(Wire, frozen=True, tag="AWAY"):
    """``nick`` is away with ``message`` (no message: back). To the user's own sessions when it
    changes (the asker's copy answers AWAY), and to whoever sends it a DM while it is away."""

    nick: str
    message: str | None = None


class Authenticated(Wire, frozen=True, tag="AUTHENTICATED"):
    """Answer to AUTH: the password is right for ``account`` (the account's name as it was
    registered); the next HELLO logs in to it."""

    account: str


UserChange = Literal["away", "realname", "account"]


class UserUpdated(Wire, frozen=True, tag="USER_UPDATED"):
    """``nick`` changed what others see of it (``change``): its ``away`` message (none: back),
    its ``realname``, or it became the ``account`` (REGISTER). The rest is how it is now. To
    everyone sharing a room with it, and to its own sessions for a realname (the asker's copy
    answers REALNAME; an AWAY is answered by AWAY)."""

    nick: str
    change: UserChange
    away: str | None = None
    realname: str = ""
    account: str | None = None
    watched: bool = False  # to a watcher (WATCH) that shares no room with it (extended-monitor)


class CertificateList(Wire, frozen=True, tag="CERTIFICATES"):
    """Answer to CERT: the fingerprints bound to ``account`` now, oldest first; the one the
    request ``added`` or ``removed``; and ``current``, the fingerprint of the certificate this
    connection presented (none: it presented none)."""

    account: str
    fingerprints: tuple[str, ...] = ()
    added: str | None = None
    removed: str | None = None
    current: str | None = None


class Watching(Wire, frozen=True, tag="WATCHING"):
    """Answer to WATCH: of the nicks it added (or, for a question, of the whole watch list),
    those online now (``online``, as they are written now) and the others (``offline``, as
    they were written in the WATCH)."""

    online: tuple[str, ...] = ()
    offline: tuple[str, ...] = ()


class Online(Wire, frozen=True, tag="ONLINE"):
    """A nick on this session's watch list came online (or someone took it)."""

    nick: str


class Offline(Wire, frozen=True, tag="OFFLINE"):
    """A nick on this session's watch list went offline (or its user took another one)."""

    nick: str


class ReadMarker(Wire, frozen=True, tag="READ_MARKER"):
    """Where the user has read up to in a room (``room``) or direct conversation (``with``):
    every message up to ``msg_id``, sent up to ``ts``. ``ts`` absent: nothing read yet. To
    every session of the user when it moves (the asker's copy answers MARK_READ), and at
    login for its direct conversations (JOINED carries the rooms' markers)."""

    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    msg_id: int = 0
    ts: str | None = None


class NotificationLevel(Wire, frozen=True, tag="NOTIFY_LEVEL"):
    """The user's notification level of a room (``room``) or direct conversation (``with``),
    see NOTIFY. To every session of the user when it changes (the asker's copy answers
    NOTIFY), and after WELCOME for each conversation whose level is not ``all``."""

    level: NotifyLevelName
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")


class Deleted(Wire, frozen=True, tag="DELETED"):
    """``by`` deleted message ``msg_id`` of ``room`` (or the direct message ``from`` → ``to``),
    giving ``reason``. To the room's members (the two ends of a direct conversation); history
    keeps it with ``deleted`` and no text."""

    msg_id: int
    by: str
    room: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    reason: str | None = None
    seq: int | None = None  # its id among the conversation's events (§15): a resume mark


class Reacted(Wire, frozen=True, tag="REACTED"):
    """``by`` added ``reaction`` to message ``msg_id`` of ``room`` (or the direct message
    ``from`` → ``to``) — or took it back (``remove``). ``quote``: that message's head. To the
    room's members (the two ends of a direct conversation), the asker's copy answering REACT;
    a REACT that changed nothing is answered to the asker only."""

    msg_id: int
    by: str
    reaction: str
    remove: bool = False
    room: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    quote: Quote | None = None
    seq: int | None = None  # its id among the conversation's events (§15): a resume mark


class Edited(Wire, frozen=True, tag="EDITED"):
    """``by`` (its sender) changed the text of message ``msg_id`` of ``room`` (or the direct
    message ``from`` → ``to``) to ``text``, at ``edited_at``. To the room's members (the two
    ends of a direct conversation), the asker's copy answering EDIT; HISTORY and replays show
    the message's current text and ``edited_at``."""

    msg_id: int
    text: str
    edited_at: str
    by: str
    room: str | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    seq: int | None = None  # its id among the conversation's events (§15): a resume mark


class MessageVersion(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One text a message has had (EDIT_LIST), and since when: ``ts`` is when it was sent (the
    first version) or when the edit that made it was."""

    text: str
    ts: str


class EditList(Wire, frozen=True, tag="EDIT_LIST"):
    """Answer to EDITS: the texts message ``msg_id`` of ``room`` (or of the direct conversation
    ``with``) has had, oldest first, the current one last (a single one: never edited; none:
    deleted). ``from``: who sent it."""

    msg_id: int
    versions: tuple[MessageVersion, ...] = ()
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    sender: str | None = msgspec.field(default=None, name="from")


UserModeName = Literal["invisible", "wallops", "operator", "bot"]


class UserMode(Wire, frozen=True, tag="USER_MODE"):
    """``nick``'s user modes (see the client's USER_MODE) and which of them ``changed``. To all
    of the user's sessions when they change (the asker's copy answers USER_MODE or OPER)."""

    nick: str
    invisible: bool = False
    wallops: bool = False
    operator: bool = False
    changed: tuple[UserModeName, ...] = ()
    bot: bool = False


class Wallops(Wire, frozen=True, tag="WALLOPS"):
    """A server operator's ``text`` to every user with the ``wallops`` mode."""

    sender: str = msgspec.field(name="from")
    text: str


class PastUser(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One entry of PAST_USERS: a nick as it was, and when (``until``) it went offline or
    changed nick."""

    nick: str
    until: str
    username: str = ""
    realname: str = ""


class PastUsers(Wire, frozen=True, tag="PAST_USERS"):
    """Answer to WHOWAS: the entries for ``nick`` (as asked), newest first; none: unknown."""

    nick: str
    users: tuple[PastUser, ...] = ()


class ServerStats(Wire, frozen=True, tag="SERVER_STATS"):
    """Answer to STATS: users online (``invisible`` and ``operators`` of them), connections not
    logged in yet, rooms (not counting private ones) and the most users online at once."""

    users: int
    invisible: int
    operators: int
    unregistered: int
    rooms: int
    max_users: int


class MetadataEntry(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One key of a user's (``nick``) or a room's (``room``) metadata; no ``value``: not
    set."""

    key: str
    value: str | None = None
    nick: str | None = None
    room: str | None = None


class MetadataValues(Wire, frozen=True, tag="METADATA"):
    """Metadata of the user ``nick`` or the room ``room`` (and, for a room, of its members):
    the answer to METADATA_GET, _SET, _CLEAR and _SYNC; with ``change``, a change ``by``
    someone of keys this session subscribes to; without either, what a JOIN brings (the
    room's and its members' keys this session subscribes to, or a newcomer's)."""

    entries: tuple[MetadataEntry, ...] = ()
    nick: str | None = None
    room: str | None = None
    change: bool = False
    by: str | None = None


class MetadataSubscriptions(Wire, frozen=True, tag="METADATA_SUBS"):
    """Answer to METADATA_SUB: every key this session subscribes to now (``keys``), those of
    the request now subscribed (``added``) and removed (``removed``), and ``refused``: the
    first key that did not fit the list and every key after it."""

    keys: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()


class PasswordChanged(Wire, frozen=True, tag="PASSWORD_CHANGED"):
    """Answer to PASSWORD and RESET_PASSWORD: ``account`` (as registered) has a new
    password."""

    account: str


class AccountDeleted(Wire, frozen=True, tag="ACCOUNT_DELETED"):
    """Answer to DELETE_ACCOUNT: ``account`` is gone. Its stored messages are ``kept`` (as
    from ``deleted-user``) or ``erased`` (tombstones), as the server is set up
    (``deleted_account_messages``). BYE follows."""

    account: str
    messages: Literal["kept", "erased"] = "kept"


class UploadReady(Wire, frozen=True, tag="UPLOAD_READY"):
    """Answer to UPLOAD: send the file's bytes to ``url`` (HTTP PUT or POST, exactly the
    size announced) before ``expires``; the upload ``token`` (in the URL) works once."""

    token: str
    url: str
    expires: str
    max_bytes: int = 0  # the server's upload size limit


class FileKey(Wire, frozen=True, tag="FILE_KEY"):
    """Answer to FILE_KEY: add ``?key=`` this to a file's URL to fetch it, until ``expires``
    (ask again before then)."""

    key: str
    expires: str


class SearchHit(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One message SEARCH found: where (``room``, or ``with``: the other end of a direct
    conversation), which (``msg_id``), who sent it and when, its whole text, and ``marks``: where
    the query's words occur in ``text``, as [start, end) offsets in Unicode code points."""

    msg_id: int
    sender: str = msgspec.field(name="from")
    ts: str
    text: str
    room: str | None = None
    peer: str | None = msgspec.field(default=None, name="with")
    marks: tuple[tuple[int, int], ...] = ()


class SearchResults(Wire, frozen=True, tag="SEARCH_RESULTS"):
    """Answer to SEARCH: up to ``limit`` ``hits``, newest first; ``next``, when there are
    older hits, is the ``before`` that asks for them."""

    query: str
    hits: tuple[SearchHit, ...] = ()
    next: str | None = None


ServerMessage = (
    Welcome | Joined | Left | Presence | MembersChanged | Message | Users | RoomList | Result
    | Ping | Pong | Goodbye
    | Error | Registered | HistoryPage | Gap | RoomUpdated | Invited | BanList | Away
    | AllowList | InvitationList
    | Authenticated | UserUpdated
    | CertificateList
    | Watching | Online | Offline | ReadMarker | Deleted
    | Reacted
    | Edited | EditList
    | UserMode | Wallops | PastUsers | ServerStats
    | Tagged | StatusMessage | Conversations
    | MetadataValues | MetadataSubscriptions
    | PasswordChanged | AccountDeleted
    | UploadReady | FileKey
    | SearchResults
    | NotificationLevel
)

CLIENT_MESSAGE_TYPES: tuple[type[Wire], ...] = (
    Hello, Join, Leave, Say, SendDirect, SetNick, ListUsers, ListRooms, RunCommand, Ping, Pong,
    Quit, Register, History, SetTopic, GrantOperator, RevokeOperator, Kick, Ban, Unban, Invite,
    SetRoomMode, ListBans, SetAway,
    Authenticate, SetRealname,
    ManageCertificates,
    GrantVoice, RevokeVoice, Allow, Disallow, ListAllowed, ListInvitations, Mute, Unmute,
    Watch, MarkRead, Delete,
    React,
    Edit, ListEdits,
    BecomeOperator, SetUserMode, Kill, SendWallops, ListPastUsers, GetStats,
    SendTags, ListConversations,
    SetMetadata, ClearMetadata, GetMetadata, SyncMetadata, SubscribeMetadata,
    ChangePassword, ResetPassword, DeleteAccount,
    Upload, GetFileKey,
    Search,
    SetNotifyLevel,
)
SERVER_MESSAGE_TYPES: tuple[type[Wire], ...] = (
    Welcome, Joined, Left, Presence, MembersChanged, Message, Users, RoomList, Result, Ping,
    Pong, Goodbye, Error,
    Registered, HistoryPage, Gap, RoomUpdated, Invited, BanList, Away,
    AllowList, InvitationList,
    Authenticated, UserUpdated,
    CertificateList,
    Watching, Online, Offline, ReadMarker, Deleted,
    Reacted,
    Edited, EditList,
    UserMode, Wallops, PastUsers, ServerStats,
    Tagged, StatusMessage, Conversations,
    MetadataValues, MetadataSubscriptions,
    PasswordChanged, AccountDeleted,
    UploadReady, FileKey,
    SearchResults,
    NotificationLevel,
)
