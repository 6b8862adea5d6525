"""The IRC door's two tables: every command it understands, and every event it renders.

:data:`COMMANDS` says once, for each verb, which handler takes it, how many parameters it needs
(fewer is ``461 ERR_NEEDMOREPARAMS``, or the numeric the RFC names for that verb) and whether it
may come before registration (else ``451``) — the checks no handler repeats (ergo's
``irc/commands.go`` is the model). :data:`EVENTS` maps each hub event type to the function
that renders it for one connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import (
    channels,
    editing,
    files,
    help,
    history,
    markers,
    messaging,
    metadata,
    monitor,
    multiline,
    notify,
    operators,
    queries,
    reactions,
    redaction,
    refusals,
    registration,
    search,
    server_info,
)
from palaver.protocol.irc.account import account_deleted, on_account, password_changed
from palaver.protocol.irc.certificates import certificate_list, on_cert
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.profile import on_setname, user_updated
from palaver.protocol.irc.sasl import authenticated, on_authenticate
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import (
    AccountDeleted,
    AllowList,
    Authenticated,
    Away,
    BanList,
    CertificateList,
    Conversations,
    Deleted,
    Edited,
    EditList,
    Error,
    FileKey,
    Goodbye,
    HistoryPage,
    InvitationList,
    Invited,
    Joined,
    Left,
    MembersChanged,
    Message,
    MetadataSubscriptions,
    MetadataValues,
    NotificationLevel,
    Offline,
    Online,
    PasswordChanged,
    PastUsers,
    Ping,
    Presence,
    Reacted,
    ReadMarker,
    Registered,
    Result,
    RoomList,
    RoomUpdated,
    SearchResults,
    ServerStats,
    StatusMessage,
    Tagged,
    UserMode,
    Users,
    UserUpdated,
    Wallops,
    Watching,
    Welcome,
    Wire,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

Handler = Callable[["IrcDialect", IrcLine, list[Inbound]], None]
Renderer = Callable[["IrcDialect", Any, Pending | None], bytes]


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    min_params: int = 0
    before_registration: bool = False
    missing: tuple[str, ...] = ()  # the numeric for too few parameters, if not 461


COMMANDS: Final[dict[str, Command]] = {
    # registration and the connection (palaver.protocol.irc.registration)
    "CAP": Command(registration.on_cap, 1, before_registration=True),
    "NICK": Command(registration.on_nick, 1, before_registration=True,
                    missing=("431", "No nickname given")),
    "PASS": Command(registration.on_pass, 1, before_registration=True),
    "PING": Command(registration.on_ping, 1, before_registration=True,
                    missing=("409", "No origin specified")),
    "PONG": Command(registration.on_pong, before_registration=True),
    "QUIT": Command(registration.on_quit, before_registration=True),
    "USER": Command(registration.on_user, 4, before_registration=True),
    "AUTHENTICATE": Command(on_authenticate, 1, before_registration=True),  # irc/sasl.py
    "SETNAME": Command(on_setname, 1),  # irc/profile.py
    "CERT": Command(on_cert),  # an account's TLS client certificates (irc/certificates.py)
    # change one's password, delete; RESET before registration too (irc/account.py)
    "ACCOUNT": Command(on_account, 1, before_registration=True),
    # channels (palaver.protocol.irc.channels)
    "INVITE": Command(channels.on_invite),  # none: the invitation list; one: 461
    "JOIN": Command(channels.on_join, 1),
    "KICK": Command(channels.on_kick, 2),
    "LIST": Command(channels.on_list),
    "MODE": Command(channels.on_mode, 1),
    "NAMES": Command(channels.on_names),
    "PART": Command(channels.on_part, 1),
    "TOPIC": Command(channels.on_topic, 1),
    # questions about users (palaver.protocol.irc.queries)
    "ISON": Command(queries.on_ison, 1),
    "USERHOST": Command(queries.on_userhost, 1),
    "WHO": Command(queries.on_who),
    "WHOIS": Command(queries.on_whois, 1, missing=("431", "No nickname given")),
    "WHOWAS": Command(queries.on_whowas, 1, missing=("431", "No nickname given")),
    # questions about the server (palaver.protocol.irc.server_info, .help)
    "HELP": Command(help.on_help),
    "HELPOP": Command(help.on_help),
    "INFO": Command(server_info.on_info),
    "LINKS": Command(server_info.on_links),
    "LUSERS": Command(server_info.on_lusers),
    "MOTD": Command(server_info.on_motd),
    "TIME": Command(server_info.on_time),
    "VERSION": Command(server_info.on_version),
    # server operators (palaver.protocol.irc.operators; MODE <own nick> too)
    "KILL": Command(operators.on_kill, 1),
    "OPER": Command(operators.on_oper, 2),
    "WALLOPS": Command(operators.on_wallops, 1),
    # messages (palaver.protocol.irc.messaging): their handler says 411/412 itself, and
    # nothing at all for a NOTICE
    "AWAY": Command(messaging.on_away),
    "NOTICE": Command(messaging.on_notice),
    "PRIVMSG": Command(messaging.on_privmsg),
    "TAGMSG": Command(messaging.on_tagmsg),
    "BATCH": Command(multiline.on_batch, 1),  # a client's draft/multiline batch
    "CHATHISTORY": Command(history.on_chathistory, 1),  # draft/chathistory
    # watch lists, read markers, deletion (palaver.protocol.irc.monitor, .markers, .redaction)
    "MONITOR": Command(monitor.on_monitor, 1),
    "MARKREAD": Command(markers.on_markread),  # FAIL MARKREAD NEED_MORE_PARAMS itself
    "REDACT": Command(redaction.on_redact, 2),
    "SEARCH": Command(search.on_search, 2),  # palaver's full-text search (irc/search.py)
    "EDIT": Command(editing.on_edit, 3),  # palaver's own: edit a message (irc/editing.py)
    "EDITS": Command(editing.on_edits, 2),
    "NOTIFY": Command(notify.on_notify, 1),  # palaver's notification levels (irc/notify.py)
    "FILE": Command(files.on_file, 2),  # palaver's own: a link to a file (irc/files.py)
    # draft/metadata-3 (palaver.protocol.irc.metadata): before registration too
    "METADATA": Command(metadata.on_metadata, 2, before_registration=True),
}

EVENTS: Final[dict[type[Wire], Renderer]] = {
    Welcome: registration.welcome,
    Authenticated: authenticated,
    CertificateList: certificate_list,  # CERT (irc/certificates.py)
    PasswordChanged: password_changed,  # ACCOUNT PASSWORD (irc/account.py)
    AccountDeleted: account_deleted,  # ACCOUNT DELETE, then Goodbye (irc/account.py)
    UserUpdated: user_updated,  # away-notify, setname, account-notify (irc/profile.py)
    Registered: registration.registered,
    Goodbye: registration.goodbye,
    Joined: channels.joined,
    Left: channels.left,
    RoomList: channels.room_list,
    RoomUpdated: channels.room_updated,
    Invited: channels.invited,
    BanList: channels.ban_list,
    AllowList: channels.allow_list,
    InvitationList: channels.invitation_list,
    Users: queries.users,
    PastUsers: queries.past_users,
    Result: server_info.result,
    ServerStats: server_info.server_stats,
    UserMode: operators.user_mode,
    Wallops: operators.wallops,
    Presence: messaging.presence,
    MembersChanged: messaging.members_changed,  # a big room's joins and leaves (hub/crowds.py)
    Message: messaging.message,
    StatusMessage: messaging.status_message,
    Tagged: messaging.tagged,
    HistoryPage: history.history_page,
    Conversations: history.conversations,
    Away: messaging.away,
    Ping: messaging.ping,
    Error: refusals.error,
    Watching: monitor.watching,
    Online: monitor.online,
    Offline: monitor.offline,
    ReadMarker: markers.read_marker,
    NotificationLevel: notify.notify_level,  # answers only (irc/notify.py)
    Deleted: redaction.deleted,
    Reacted: reactions.reacted,  # +draft/react TAGMSG, or a NOTICE (irc/reactions.py)
    Edited: editing.edited,  # a NOTICE from the sender, +draft/reply (irc/editing.py)
    EditList: editing.edit_list,
    SearchResults: search.results,
    FileKey: files.file_key,  # FILE's second answer (irc/files.py)
    MetadataValues: metadata.values,
    MetadataSubscriptions: metadata.subscriptions,
}
