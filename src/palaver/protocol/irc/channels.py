"""IRC channels onto palaver's rooms: JOIN, PART, TOPIC, NAMES, LIST, MODE, KICK, INVITE; and
the events that answer them (JOINED, LEFT, ROOM_LIST, ROOM_UPDATED, INVITED, BAN_LIST).

The room rules behind MODE, TOPIC, KICK and INVITE are the hub's (docs/rooms.md); the lines
every member sees for them are made in :mod:`palaver.protocol.irc.rooms`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from palaver.hub.profile import MAX_PART_REASON
from palaver.hub.rules import check_key
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import PeerError
from palaver.protocol.irc import markers
from palaver.protocol.irc.operators import on_user_mode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.profile import own_join
from palaver.protocol.irc.render import hostmask
from palaver.protocol.irc.rooms import (
    FLAG_MODES,
    MAX_KICKS,
    MUTE_EXTBAN,
    ban_nick,
    channel_modes,
    room_updated_line,
    unix_time,
)
from palaver.protocol.irc.wire import IrcLine, one_line, strip_formatting
from palaver.protocol.messages import (
    MAX_ROOM_LIMIT,
    Allow,
    AllowList,
    Ban,
    BanList,
    ClientMessage,
    Disallow,
    GrantOperator,
    GrantVoice,
    InvitationList,
    Invite,
    Invited,
    Join,
    Joined,
    Kick,
    Leave,
    Left,
    ListAllowed,
    ListBans,
    ListInvitations,
    ListRooms,
    ListUsers,
    Mute,
    RevokeOperator,
    RevokeVoice,
    RoomInfo,
    RoomList,
    RoomUpdated,
    SetRoomMode,
    SetTopic,
    Unban,
    Unmute,
    Users,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect


_MEMBER_MODES: Final[dict[tuple[str, bool], tuple[str, type[ClientMessage]]]] = {
    ("o", True): ("op", GrantOperator), ("o", False): ("deop", RevokeOperator),
    ("v", True): ("voice", GrantVoice), ("v", False): ("devoice", RevokeVoice)}
_MASK_MODES: Final[dict[tuple[str, bool], tuple[str, type[ClientMessage]]]] = {
    ("b", True): ("ban", Ban), ("b", False): ("unban", Unban),
    ("I", True): ("allow", Allow), ("I", False): ("disallow", Disallow),
    ("m", True): ("mute", Mute), ("m", False): ("unmute", Unmute)}  # +b m:nick!*@*


def prefixed(nicks: tuple[str, ...], operators: tuple[str, ...],
             voiced: tuple[str, ...] = (), caps: frozenset[str] = frozenset()) -> list[str]:
    """NAMES entries: ``@nick`` for the room's operators, ``+nick`` for voiced members (both,
    ``@+nick``, with multi-prefix); ``nick!user@host`` with userhost-in-names."""
    full = "userhost-in-names" in caps
    ranked = {*operators, *voiced}
    if not full and ranked <= set(nicks):  # (the usual case) no work for the unranked many
        ops, voices = set(operators), set(voiced)
        return [member_prefix(n in ops, n in voices, caps) + n if n in ranked else n
                for n in nicks]
    ops, voices = {n.lower() for n in operators}, {n.lower() for n in voiced}
    return [member_prefix(n.lower() in ops, n.lower() in voices, caps)
            + (hostmask(n) if full else n) for n in nicks]


def member_prefix(op: bool, voiced: bool, caps: frozenset[str]) -> str:
    """A member's rank as NAMES and WHO show it: ``@`` or ``+``, the highest only — or all of
    them, highest first, with multi-prefix."""
    if "multi-prefix" in caps:
        return ("@" if op else "") + ("+" if voiced else "")
    return "@" if op else "+" if voiced else ""


def names_symbol(private: bool) -> str:
    """RPL_NAMREPLY's channel type: ``@`` for a secret (private) channel, ``=`` for others."""
    return "@" if private else "="


# ---------------------------------------------------------------------- commands


def on_join(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``JOIN #a,#b key_a,key_b``: the n-th key goes with the n-th channel."""
    keys = line.params[1].split(",") if len(line.params) > 1 else []
    for index, channel in enumerate(line.params[0].split(",")):
        if not channel:
            continue
        if channel == "0":
            out.append(irc.num("403", "0", "Leaving every channel at once is not supported"))
            continue
        key = keys[index] if index < len(keys) and keys[index] else None
        out.append(irc.request(Join, Pending("join", channel), room=channel, key=key))


def on_part(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    reason = one_line(line.params[1], MAX_PART_REASON) if len(line.params) > 1 else None
    for channel in filter(None, line.params[0].split(",")):
        out.append(irc.request(Leave, Pending("part", channel, text=reason or ""),
                               room=channel, reason=reason))


def on_topic(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    if len(line.params) > 1:
        channel = line.params[0]
        out.append(irc.request(SetTopic, Pending("topic_set", channel), room=channel,
                               topic=strip_formatting(line.params[1])))
    else:
        out.append(irc.request(ListRooms, Pending("topic", line.params[0])))


def on_names(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``NAMES #a,#b``: 353 for each channel, one 366 (naming them all) after the last."""
    asked = line.params[0] if line.params else ""
    channels = [c for c in asked.split(",") if c]
    if not channels:
        out.append(irc.num("366", "*", "End of /NAMES list"))
    for index, channel in enumerate(channels):
        last = index == len(channels) - 1
        pending = Pending("names", asked) if last else Pending("names_more", channel)
        out.append(irc.request(ListUsers, pending, room=channel))


def on_list(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``LIST [#a,#b | mask | !mask | <n | >n]`` (ELIST=MNU): filtered here."""
    out.append(irc.request(ListRooms, Pending("list", line.params[0] if line.params else "")))


def on_kick(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``KICK #a nick1,nick2 :why`` or ``KICK #a,#b nick1,nick2`` (pairs); at most
    :data:`MAX_KICKS` targets, the rest left out (as TARGMAX allows)."""
    channels = [c for c in line.params[0].split(",") if c]
    nicks = [n for n in line.params[1].split(",") if n]
    if not channels or not nicks or len(channels) not in (1, len(nicks)):
        out.append(irc.need_more("KICK"))
        return
    reason = strip_formatting(line.params[2]) if len(line.params) > 2 else None
    pairs = zip(channels * len(nicks) if len(channels) == 1 else channels, nicks, strict=False)
    for channel, nick in list(pairs)[:MAX_KICKS]:
        out.append(irc.request(Kick, Pending("kick", channel, nick), room=channel,
                               nick=nick, reason=reason or None))


def on_invite(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``INVITE nick #chan``; ``INVITE`` alone: the channels one is invited to (336/337)."""
    if not line.params:
        out.append(irc.request(ListInvitations, Pending("invitations")))
        return
    if len(line.params) < 2:
        out.append(irc.need_more("INVITE"))
        return
    nick, channel = line.params[0], line.params[1]
    out.append(irc.request(Invite, Pending("invite", channel, nick), room=channel, nick=nick))


def on_mode(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, changes = line.params[0], line.params[1:]
    if target.startswith("#"):
        if not changes:
            out.append(irc.request(ListRooms, Pending("mode", target)))
        elif changes[0].lstrip("+") == "b" and len(changes) == 1:  # the ban list
            out.append(irc.request(ListBans, Pending("bans", target), room=target))
        elif changes[0].lstrip("+") == "I" and len(changes) == 1:  # the allow list
            out.append(irc.request(ListAllowed, Pending("allowed", target), room=target))
        elif changes[0].lstrip("+") == "e" and len(changes) == 1:
            out.append(irc.num("349", target, "End of channel exception list"))
        else:
            _channel_modes(irc, target, changes[0], list(changes[1:]), out)
        return
    me = irc.me()
    if target.lower() != me.lower():
        out.append(irc.num("502", "Cannot change mode for other users"))
    else:  # user modes are the hub's (palaver.protocol.irc.operators)
        on_user_mode(irc, me, list(changes), out)


def _channel_modes(irc: IrcDialect, channel: str, change: str, params: list[str],
                   out: list[Inbound]) -> None:
    """``+o/-o nick``, ``+v/-v nick``, ``+b/-b mask``, and the settings (``imnst``, ``l n``,
    ``k key``) as one SetRoomMode (docs/rooms.md). A bad ``l`` or ``k`` value is 696 and the
    rest of the change goes on."""
    adding, settings = True, dict[str, object]()
    for char in change:
        if char in "+-":
            adding = char == "+"
        elif char in "ovbI":
            if not params:
                out.append(irc.need_more("MODE"))
                return
            _member_mode(irc, channel, char, adding, params.pop(0), out)
        elif char == "l":
            if not adding:
                settings["limit"] = 0
                continue
            value = params.pop(0) if params else ""
            if not value.isdigit() or not 0 < int(value) <= MAX_ROOM_LIMIT:
                out.append(irc.num("696", channel, "l", value or "*",
                                   f"the limit is a number from 1 to {MAX_ROOM_LIMIT}"))
                continue
            settings["limit"] = int(value)
        elif char == "k":
            value = params.pop(0) if params else ""  # -k takes the key (or anything), or none
            if not adding:
                settings["key"] = ""
                continue
            try:
                settings["key"] = check_key(value)
            except PeerError as refusal:
                out.append(irc.num("696", channel, "k", "*", refusal.message))
        elif char in FLAG_MODES:
            field, on = FLAG_MODES[char]
            settings[field] = on if adding else not on
        else:
            out.append(irc.num("472", char, "is unknown mode char to me"))
    if settings:
        out.append(irc.request(SetRoomMode, Pending("chanmode", channel), room=channel,
                               **settings))


def _member_mode(irc: IrcDialect, channel: str, char: str, adding: bool, param: str,
                 out: list[Inbound]) -> None:
    """``o`` and ``v`` (about a member), ``b`` and ``I`` (about a nick) become their
    commands."""
    if char in "ov":
        kind, command = _MEMBER_MODES[(char, adding)]
        out.append(irc.request(command, Pending(kind, channel, param), room=channel,
                               nick=param))
        return
    muting = char == "b" and param.startswith(MUTE_EXTBAN)
    nick = ban_nick(param[len(MUTE_EXTBAN):] if muting else param)
    if nick is None:
        out.append(irc.num("696", channel, char, param,
                           "Only nick masks (nick!*@*) are supported"))
        return
    kind, command = _MASK_MODES[("m" if muting else char, adding)]
    out.append(irc.request(command, Pending(kind, channel, nick), room=channel, nick=nick))


# ---------------------------------------------------------------------- events


def joined(irc: IrcDialect, event: Joined, pending: Pending | None) -> bytes:
    me = irc.me()
    lines = [own_join(irc, event.room)]  # extended-join too (irc/profile.py)
    if event.topic:
        lines.append(irc.num("332", event.room, event.topic))
        if event.topic_by:
            lines.append(irc.num("333", event.room, event.topic_by, unix_time(event.topic_at)))
    lines.append(irc.renderer.names(me, event.room,
                                    prefixed(event.members, event.operators, event.voiced,
                                             irc.caps),
                                    before_end=markers.on_join(irc, event),  # read marker
                                    symbol=names_symbol(event.private)))
    return b"".join(lines)


def left(irc: IrcDialect, event: Left, pending: Pending | None) -> bytes:
    if pending is not None and pending.text:  # our PART, with its reason
        return irc.line("PART", event.room, pending.text, source=hostmask(irc.me()))
    return irc.line("PART", event.room, source=hostmask(irc.me()), trailing=False)


def room_list(irc: IrcDialect, event: RoomList, pending: Pending | None) -> bytes:
    arg = pending.arg if pending else ""
    if pending is not None and pending.kind in ("topic", "mode"):
        room = next((r for r in event.rooms if r.room.lower() == arg.lower()), None)
        if room is None:
            return irc.num("403", arg, "No such channel")
        if pending.kind == "mode":  # RPL_CHANNELMODEIS, RPL_CREATIONTIME
            lines = [irc.num("324", room.room, *channel_modes(room, key=room.key))]
            if room.created_at:
                lines.append(irc.num("329", room.room, unix_time(room.created_at)))
            return b"".join(lines)
        if not room.topic:
            return irc.num("331", room.room, "No topic is set")
        lines = [irc.num("332", room.room, room.topic)]
        if room.topic_by:
            lines.append(irc.num("333", room.room, room.topic_by, unix_time(room.topic_at)))
        return b"".join(lines)
    wanted = list_filter(arg)
    lines = [irc.num("321", "Channel", "Users  Name")]
    lines.extend(irc.num("322", r.room, str(r.members), r.topic) for r in event.rooms
                 if wanted(r))
    lines.append(irc.num("323", "End of /LIST"))
    return b"".join(lines)


def list_filter(arg: str) -> Callable[[RoomInfo], bool]:
    """LIST's filters (ELIST=MNU), comma-separated: channel names and masks (``#c*n2``,
    ``*an1``: any may match), ``!mask`` (none may match), ``<n`` and ``>n`` (fewer, more
    members than n). Any other filter (C, T) is ignored."""
    names: list[str] = []
    unwanted: list[str] = []
    counts: list[Callable[[int], bool]] = []
    for item in filter(None, arg.lower().split(",")):
        if item[0] in "<>" and item[1:].isdigit():
            counts.append(_member_count(item[0], int(item[1:])))
        elif item.startswith("!") and len(item) > 1:
            unwanted.append(item[1:])
        elif item[0] in "#*?":
            names.append(item)

    def matches(room: RoomInfo) -> bool:
        name = room.room.lower()
        return ((not names or any(fnmatch.fnmatchcase(name, n) for n in names))
                and not any(fnmatch.fnmatchcase(name, n) for n in unwanted)
                and all(count(room.members) for count in counts))

    return matches


def _member_count(sign: str, n: int) -> Callable[[int], bool]:
    return (lambda members: members < n) if sign == "<" else (lambda members: members > n)


def names_reply(irc: IrcDialect, event: Users, pending: Pending) -> bytes:
    """NAMES: 353 for the room, and 366 after the last room asked about (``names``, whose
    argument is what NAMES asked: ``#a,#b``); ``names_more``: 353 only."""
    last = pending.kind == "names"
    return irc.renderer.names(irc.me(), event.room or pending.arg,
                              prefixed(event.users, event.operators, event.voiced, irc.caps),
                              symbol=names_symbol(event.private), with_end=last,
                              end_name=pending.arg if last else None)


def room_updated(irc: IrcDialect, event: RoomUpdated, pending: Pending | None) -> bytes:
    if event.change == "state":  # a MODE that changed nothing: nothing to say (as IRC does)
        return b""
    return room_updated_line(event, irc.server)


def invited(irc: IrcDialect, event: Invited, pending: Pending | None) -> bytes:
    if pending is not None:  # our invitation went out
        return irc.num("341", event.nick, event.room)
    if event.nick.lower() != irc.me().lower() and "invite-notify" not in irc.caps:
        return b""  # someone else invited to a channel of ours: only with invite-notify
    return irc.line("INVITE", event.nick, event.room, source=hostmask(event.by),
                    trailing=False)


def ban_list(irc: IrcDialect, event: BanList, pending: Pending | None) -> bytes:
    """RPL_BANLIST: ``#chan nick!*@* setter time`` (the setter and time when known), then the
    mutes as ``m:nick!*@*``."""
    known = {ban.nick: ban for ban in event.bans}
    entries = [(nick, known.get(nick), "") for nick in event.nicks]
    entries += [(mute.nick, mute, MUTE_EXTBAN) for mute in event.muted]
    lines = []
    for nick, ban, extban in entries:
        setter = [hostmask(ban.by), unix_time(ban.at)] if ban is not None and ban.by else []
        lines.append(irc.num("367", event.room, f"{extban}{nick}!*@*", *setter))
    lines.append(irc.num("368", event.room, "End of channel ban list"))
    return b"".join(lines)


def allow_list(irc: IrcDialect, event: AllowList, pending: Pending | None) -> bytes:
    """RPL_INVEXLIST: ``#chan nick!*@* setter time`` per nick on the allow list, then 347."""
    known = {entry.nick: entry for entry in event.allowed}
    lines = []
    for nick in event.nicks:
        entry = known.get(nick)
        setter = [hostmask(entry.by), unix_time(entry.at)] if entry and entry.by else []
        lines.append(irc.num("346", event.room, f"{nick}!*@*", *setter))
    lines.append(irc.num("347", event.room, "End of Channel Invite Exception List"))
    return b"".join(lines)


def invitation_list(irc: IrcDialect, event: InvitationList, pending: Pending | None) -> bytes:
    """RPL_INVITELIST (336) per channel one is invited to, then RPL_ENDOFINVITELIST (337)."""
    lines = [irc.num("336", room) for room in event.rooms]
    lines.append(irc.num("337", "End of /INVITE list"))
    return b"".join(lines)
