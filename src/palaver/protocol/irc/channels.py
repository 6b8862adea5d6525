"""IRC channels onto palaver's rooms: JOIN, PART, TOPIC, NAMES, LIST, MODE, KICK, INVITE; and
the events that answer them (JOINED, LEFT, ROOM_LIST, ROOM_UPDATED, INVITED, BAN_LIST).

The room rules behind MODE, TOPIC, KICK and INVITE are the hub's (docs/rooms.md); the lines
every member sees for them are made in :mod:`palaver.protocol.irc.rooms`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from palaver.hub.profile import MAX_PART_REASON
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import markers
from palaver.protocol.irc.operators import on_user_mode
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import hostmask
from palaver.protocol.irc.rooms import (
    FLAG_MODES,
    ban_nick,
    channel_modes,
    room_updated_line,
    unix_time,
)
from palaver.protocol.irc.wire import IrcLine, one_line, strip_formatting
from palaver.protocol.messages import (
    Ban,
    BanList,
    GrantOperator,
    Invite,
    Invited,
    Join,
    Joined,
    Kick,
    Leave,
    Left,
    ListBans,
    ListRooms,
    ListUsers,
    RevokeOperator,
    RoomList,
    RoomUpdated,
    SetRoomMode,
    SetTopic,
    Unban,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect


def prefixed(nicks: tuple[str, ...], operators: tuple[str, ...]) -> list[str]:
    """NAMES entries: ``@nick`` for the room's operators."""
    ops = {n.lower() for n in operators}
    return [f"@{n}" if n.lower() in ops else n for n in nicks]


# ---------------------------------------------------------------------- commands


def on_join(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    for channel in filter(None, line.params[0].split(",")):
        if channel == "0":
            out.append(irc.num("403", "0", "Leaving every channel at once is not supported"))
        else:
            out.append(irc.request(Join, Pending("join", channel), room=channel))


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
    channels = [c for c in (line.params[0].split(",") if line.params else []) if c]
    if not channels:
        out.append(irc.num("366", "*", "End of /NAMES list"))
    for channel in channels:
        out.append(irc.request(ListUsers, Pending("names", channel), room=channel))


def on_list(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    wanted = line.params[0] if line.params and line.params[0].startswith("#") else ""
    out.append(irc.request(ListRooms, Pending("list", wanted)))


def on_kick(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    channel = line.params[0]
    reason = strip_formatting(line.params[2]) if len(line.params) > 2 else None
    for nick in filter(None, line.params[1].split(",")):
        out.append(irc.request(Kick, Pending("kick", channel, nick), room=channel,
                               nick=nick, reason=reason or None))


def on_invite(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    nick, channel = line.params[0], line.params[1]
    out.append(irc.request(Invite, Pending("invite", channel, nick), room=channel, nick=nick))


def on_mode(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    target, changes = line.params[0], line.params[1:]
    if target.startswith("#"):
        if not changes:
            out.append(irc.request(ListRooms, Pending("mode", target)))
        elif changes[0].lstrip("+") == "b" and len(changes) == 1:  # the ban list
            out.append(irc.request(ListBans, Pending("bans", target), room=target))
        elif changes[0].lstrip("+") in ("e", "I") and len(changes) == 1:
            code, what = {"e": ("349", "exception"),
                          "I": ("347", "invite")}[changes[0].lstrip("+")]
            out.append(irc.num(code, target, f"End of channel {what} list"))
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
    """``+o/-o nick``, ``+b/-b mask``, ``+i/-i``, ``+s/-s`` (docs/rooms.md)."""
    adding, flags = True, {}
    for char in change:
        if char in "+-":
            adding = char == "+"
        elif char in "ob":
            if not params:
                out.append(irc.need_more("MODE"))
                return
            param = params.pop(0)
            if char == "o":
                kind, command = ("op", GrantOperator) if adding else ("deop", RevokeOperator)
                out.append(irc.request(command, Pending(kind, channel, param),
                                       room=channel, nick=param))
                continue
            nick = ban_nick(param)
            if nick is None:
                out.append(irc.num("696", channel, "b", param,
                                   "Only nick bans (nick!*@*) are supported"))
                continue
            ban_kind, ban = ("ban", Ban) if adding else ("unban", Unban)
            out.append(irc.request(ban, Pending(ban_kind, channel, nick), room=channel,
                                   nick=nick))
        elif char in FLAG_MODES:
            flags[FLAG_MODES[char]] = adding
        elif char not in "nt":  # no outside messages, ops set the topic: always so here
            out.append(irc.num("472", char, "is unknown mode char to me"))
    if flags:
        out.append(irc.request(SetRoomMode, Pending("chanmode", channel), room=channel,
                               **flags))


# ---------------------------------------------------------------------- events


def joined(irc: IrcDialect, event: Joined, pending: Pending | None) -> bytes:
    me = irc.me()
    lines = [irc.line("JOIN", event.room, source=hostmask(me), trailing=False)]
    if event.topic:
        lines.append(irc.num("332", event.room, event.topic))
        if event.topic_by:
            lines.append(irc.num("333", event.room, event.topic_by, unix_time(event.topic_at)))
    lines.append(irc.renderer.names(me, event.room, prefixed(event.members, event.operators),
                                    before_end=markers.on_join(irc, event)))  # read marker
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
        if pending.kind == "mode":
            return irc.num("324", room.room, channel_modes(room.invite_only, room.private))
        if not room.topic:
            return irc.num("331", room.room, "No topic is set")
        return irc.num("332", room.room, room.topic)
    wanted = {c.lower() for c in arg.split(",") if c}
    lines = [irc.num("321", "Channel", "Users  Name")]
    lines.extend(irc.num("322", r.room, str(r.members), r.topic) for r in event.rooms
                 if not wanted or r.room.lower() in wanted)
    lines.append(irc.num("323", "End of /LIST"))
    return b"".join(lines)


def room_updated(irc: IrcDialect, event: RoomUpdated, pending: Pending | None) -> bytes:
    if event.change == "state":
        return irc.num("324", event.room, channel_modes(event.invite_only, event.private))
    return room_updated_line(event, irc.server)


def invited(irc: IrcDialect, event: Invited, pending: Pending | None) -> bytes:
    if pending is not None:  # our invitation went out
        return irc.num("341", event.nick, event.room)
    return irc.line("INVITE", event.nick, event.room, source=hostmask(event.by),
                    trailing=False)


def ban_list(irc: IrcDialect, event: BanList, pending: Pending | None) -> bytes:
    lines = [irc.num("367", event.room, f"{nick}!*@*") for nick in event.nicks]
    lines.append(irc.num("368", event.room, "End of channel ban list"))
    return b"".join(lines)
