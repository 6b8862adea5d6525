"""IRC's channel moderation onto palaver's room rules, sans-I/O (docs/rooms.md).

``MODE #chan +o/-o nick`` (GrantOperator/RevokeOperator), ``+b/-b nick!*@*`` (Ban/Unban: only
masks that name a nick; palaver bans nicks and identities, not hosts), ``+i``/``+s``
(SetRoomMode: invite-only, private), ``TOPIC #chan :text``, ``KICK`` and ``INVITE`` become hub
commands; ROOM_UPDATED, INVITED and a ``kick`` PRESENCE become ``MODE``, ``TOPIC``, ``INVITE``
and ``KICK`` lines. Broadcast lines here depend on nothing but the event (they are encoded once
for every connection with the same capabilities).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.render import clean, hostmask
from palaver.protocol.irc.wire import format_line
from palaver.protocol.messages import Presence, RoomUpdated

# One parameterless mode letter per flag of SetRoomMode.
FLAG_MODES: Final = {"i": "invite_only", "s": "private"}
ROOM_KINDS: Final = ("topic_set", "op", "deop", "kick", "ban", "unban", "invite", "chanmode",
                     "bans")


def ban_nick(mask: str) -> str | None:
    """The nick a ban mask names: ``nick``, ``nick!*@*``, ``nick!*`` — else None."""
    nick, _, rest = mask.partition("!")
    if not nick or any(c in nick for c in "*?@"):
        return None
    if rest in ("", "*", "*@*", "*@palaver", f"{nick}@palaver"):
        return nick
    return None


def room_updated_line(event: RoomUpdated, server: str) -> bytes:
    """The line every member sees for a change of the room's rules ('' for ``state``)."""
    source = hostmask(event.by) if event.by else server
    change, room = event.change, event.room
    if change == "topic":
        return format_line("TOPIC", room, clean(event.topic), source=source)
    if change in ("op", "deop") and event.nick:
        sign = "+" if change == "op" else "-"
        return format_line("MODE", room, f"{sign}o", event.nick, source=source, trailing=False)
    if change in ("ban", "unban") and event.nick:
        sign = "+" if change == "ban" else "-"
        return format_line("MODE", room, f"{sign}b", f"{event.nick}!*@*", source=source,
                           trailing=False)
    if change == "invite_only":
        return format_line("MODE", room, "+i" if event.invite_only else "-i", source=source,
                           trailing=False)
    if change == "private":
        return format_line("MODE", room, "+s" if event.private else "-s", source=source,
                           trailing=False)
    return b""


def kick_line(event: Presence, server: str) -> bytes:
    source = hostmask(event.by) if event.by else server
    return format_line("KICK", event.room or "*", event.nick, clean(event.reason or event.nick),
                       source=source)


def channel_modes(invite_only: bool, private: bool) -> str:
    """The 324 mode string: ``+nt`` and the flags that are on."""
    return "+nt" + ("i" if invite_only else "") + ("s" if private else "")


def unix_time(ts: str | None) -> str:
    """An ISO 8601 UTC time (``...Z``) as the seconds IRC's 333 wants; "0" if unknown."""
    if not ts:
        return "0"
    try:
        return str(int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()))
    except ValueError:
        return "0"


def _room_errors() -> dict[tuple[str, str], tuple[str, ...]]:
    table: dict[tuple[str, str], tuple[str, ...]] = {}
    for kind in ROOM_KINDS:
        table[(kind, ErrorCode.NOT_OPERATOR)] = ("482", "{arg}", "You're not channel operator")
        table[(kind, ErrorCode.NOT_IN_ROOM)] = ("442", "{arg}", "You're not on that channel")
        table[(kind, ErrorCode.NO_SUCH_ROOM)] = ("403", "{arg}", "No such channel")
        table[(kind, ErrorCode.INVALID_ROOM)] = ("403", "{arg}", "No such channel")
        table[(kind, ErrorCode.USER_NOT_IN_ROOM)] = ("441", "{nick}", "{arg}",
                                                      "They aren't on that channel")
        table[(kind, ErrorCode.NO_SUCH_USER)] = ("401", "{nick}", "No such nick/channel")
        table[(kind, ErrorCode.INVALID_NICK)] = ("401", "{nick}", "No such nick/channel")
    table[("invite", ErrorCode.ALREADY_IN_ROOM)] = ("443", "{nick}", "{arg}",
                                                     "is already on channel")
    table[("join", ErrorCode.BANNED)] = ("474", "{arg}", "Cannot join channel (+b)")
    table[("join", ErrorCode.INVITE_ONLY)] = ("473", "{arg}", "Cannot join channel (+i)")
    table[("join", ErrorCode.NO_SUCH_ROOM)] = ("403", "{arg}", "No such channel")
    return table


ROOM_ERROR_NUMERICS: Final = _room_errors()
