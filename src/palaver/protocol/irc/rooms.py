"""IRC's channel moderation onto palaver's room rules, sans-I/O (docs/rooms.md).

``MODE #chan +o/-o nick`` (GrantOperator/RevokeOperator), ``+v/-v nick`` (GrantVoice/
RevokeVoice), ``+b/-b nick!*@*`` (Ban/Unban: only masks that name a nick; palaver bans nicks
and identities, not hosts), and the settings — ``+i`` invite-only, ``+s`` private, ``+m``
moderated, ``-n`` outside messages, ``-t`` open topic, ``+l n`` limit, ``+k key`` key — as one
SetRoomMode; ``TOPIC #chan :text``, ``KICK`` and ``INVITE`` become hub commands too.
ROOM_UPDATED, INVITED and a ``kick`` PRESENCE become ``MODE``, ``TOPIC``, ``INVITE`` and
``KICK`` lines. Broadcast lines here depend on nothing but the event (they are encoded once for
every connection with the same capabilities).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc.render import clean, hostmask
from palaver.protocol.irc.wire import format_line
from palaver.protocol.messages import Presence, RoomInfo, RoomSetting, RoomUpdated

# A parameterless mode letter -> (SetRoomMode's field, its value when the mode is set). +n and
# +t are palaver's defaults: their fields say the opposite (outside messages, an open topic).
FLAG_MODES: Final[dict[str, tuple[RoomSetting, bool]]] = {
    "i": ("invite_only", True), "m": ("moderated", True), "n": ("outside_messages", False),
    "s": ("private", True), "t": ("open_topic", False)}
SETTING_LETTERS: Final[dict[RoomSetting, str]] = {
    **{field: letter for letter, (field, _) in FLAG_MODES.items()}, "limit": "l", "key": "k"}
# ISUPPORT CHANMODES: lists, always a parameter, a parameter when set, never one.
CHANMODES: Final = "Ib,k,l," + "".join(sorted(FLAG_MODES))
CHANNEL_MODES: Final = "Ibiklmnostv"  # RPL_MYINFO's channel modes, and those with a parameter
CHANNEL_PARAM_MODES: Final = "Ibklov"
MUTE_EXTBAN: Final = "m:"  # +b m:nick!*@* mutes nick (ISUPPORT EXTBAN=,m)
MAX_KICKS: Final = 4  # targets of one KICK (ISUPPORT TARGMAX); more are left out
ROOM_KINDS: Final = ("topic_set", "op", "deop", "voice", "devoice", "kick", "ban", "unban",
                     "allow", "disallow", "mute", "unmute", "invite", "chanmode", "bans",
                     "allowed")


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
    letter = {"op": "+o", "deop": "-o", "voice": "+v", "devoice": "-v"}.get(change)
    if letter is not None and event.nick:
        return format_line("MODE", room, letter, event.nick, source=source, trailing=False)
    mask = {"ban": "+b", "unban": "-b", "allow": "+I", "disallow": "-I", "mute": "+b",
            "unmute": "-b"}.get(change)
    if mask is not None and event.nick:
        extban = MUTE_EXTBAN if change in ("mute", "unmute") else ""
        return format_line("MODE", room, mask, f"{extban}{event.nick}!*@*", source=source,
                           trailing=False)
    if event.changed:
        return format_line("MODE", room, *changed_modes(event), source=source, trailing=False)
    return b""


def changed_modes(event: RoomUpdated) -> list[str]:
    """``MODE``'s mode string and parameters for the settings a ROOM_UPDATED changed:
    ``["+im-n+l", "5"]``."""
    modes, params, sign = "", [], ""
    for setting in event.changed:
        letter, value = SETTING_LETTERS[setting], getattr(event, setting)
        if setting == "limit":
            on, param = value > 0, str(value) if value else None
        elif setting == "key":
            on, param = value is not None, value if value is not None else "*"
        else:
            on, param = bool(value) == FLAG_MODES[letter][1], None
        if ("+" if on else "-") != sign:
            sign = "+" if on else "-"
            modes += sign
        modes += letter
        if param is not None:
            params.append(param)
    return [modes, *params]


def channel_modes(room: RoomInfo | RoomUpdated, *, key: str | None = None) -> list[str]:
    """RPL_CHANNELMODEIS's mode string and parameters: ``["+klnt", "beer", "5"]`` (the key as
    ``key`` gives it; ``*`` for one the asker may not see)."""
    flags = "".join(letter for letter, (field, on) in sorted(FLAG_MODES.items())
                    if bool(getattr(room, field)) == on)
    keyed = room.keyed if isinstance(room, RoomInfo) else room.key is not None
    params = [key or "*"] if keyed else []
    if room.limit:
        params.append(str(room.limit))
    return ["+" + flags + ("k" if keyed else "") + ("l" if room.limit else ""), *params]


def kick_line(event: Presence, server: str) -> bytes:
    source = hostmask(event.by) if event.by else server
    return format_line("KICK", event.room or "*", event.nick, clean(event.reason or event.nick),
                       source=source)


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
    table[("join", ErrorCode.BAD_KEY)] = ("475", "{arg}", "Cannot join channel (+k)")
    table[("join", ErrorCode.ROOM_FULL)] = ("471", "{arg}", "Cannot join channel (+l)")
    table[("join", ErrorCode.NO_SUCH_ROOM)] = ("403", "{arg}", "No such channel")
    table[("chanmode", ErrorCode.INVALID_KEY)] = ("HINT", "696", "{arg}", "k", "*")
    table[("chanmode", ErrorCode.INVALID_ARGS)] = ("HINT", "477", "{arg}")
    for kind in ("privmsg", "tagmsg"):
        table[(kind, ErrorCode.MODERATED)] = ("404", "{arg}", "Cannot send to channel (+m)")
        table[(kind, ErrorCode.MUTED)] = ("404", "{arg}", "Cannot send to channel (muted)")
    # NAMES of several channels: one 366 after the last; the others say nothing when refused
    table[("names_more", ErrorCode.INVALID_ROOM)] = ("SILENT",)
    table[("names_more", ErrorCode.NO_SUCH_ROOM)] = ("SILENT",)
    return table


ROOM_ERROR_NUMERICS: Final = _room_errors()
