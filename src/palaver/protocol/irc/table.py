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
from palaver.protocol.irc import channels, messaging, queries, refusals, registration
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import (
    Away,
    BanList,
    Error,
    Goodbye,
    Invited,
    Joined,
    Left,
    Message,
    Ping,
    Presence,
    Registered,
    Result,
    RoomList,
    RoomUpdated,
    Users,
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
    # channels (palaver.protocol.irc.channels)
    "INVITE": Command(channels.on_invite, 2),
    "JOIN": Command(channels.on_join, 1),
    "KICK": Command(channels.on_kick, 2),
    "LIST": Command(channels.on_list),
    "MODE": Command(channels.on_mode, 1),
    "NAMES": Command(channels.on_names),
    "PART": Command(channels.on_part, 1),
    "TOPIC": Command(channels.on_topic, 1),
    # questions (palaver.protocol.irc.queries)
    "ISON": Command(queries.on_ison, 1),
    "MOTD": Command(queries.on_motd),
    "TIME": Command(queries.on_time),
    "USERHOST": Command(queries.on_userhost, 1),
    "VERSION": Command(queries.on_version),
    "WHO": Command(queries.on_who),
    "WHOIS": Command(queries.on_whois, 1, missing=("431", "No nickname given")),
    # messages (palaver.protocol.irc.messaging): their handler says 411/412 itself, and
    # nothing at all for a NOTICE
    "AWAY": Command(messaging.on_away),
    "NOTICE": Command(messaging.on_notice),
    "PRIVMSG": Command(messaging.on_privmsg),
    "TAGMSG": Command(messaging.on_tagmsg),
}

EVENTS: Final[dict[type[Wire], Renderer]] = {
    Welcome: registration.welcome,
    Registered: registration.registered,
    Goodbye: registration.goodbye,
    Joined: channels.joined,
    Left: channels.left,
    RoomList: channels.room_list,
    RoomUpdated: channels.room_updated,
    Invited: channels.invited,
    BanList: channels.ban_list,
    Users: queries.users,
    Result: queries.result,
    Presence: messaging.presence,
    Message: messaging.message,
    Away: messaging.away,
    Ping: messaging.ping,
    Error: refusals.error,
}
