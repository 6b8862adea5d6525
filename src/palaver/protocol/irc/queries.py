"""IRC's questions about users: WHO (and WHOX), WHOIS, WHOWAS, ISON, USERHOST; and the events
that answer them (USERS, PAST_USERS).

Every question about users online is a WHO request to the hub (``details`` when the answer needs
usernames, realnames, away messages, operator status or accounts; ``nick`` for one user, even an
invisible one: WHOIS, or WHO of a plain nick); the pending entry says which IRC reply to make of
it. Who may see whom (user mode ``+i``, private rooms) is the hub's business
(hub/directory.py). WHOWAS asks the hub's history of nicks (WHOWAS → PAST_USERS).

WHO with WHOX (``WHO <mask> %<fields>[,<token>]``, ircv3.net/specs/extensions/whox) answers
with ``354``, one field per letter asked, always in the order ``tcuihsnfdlaor``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from palaver.hub.names import fold, is_valid_nick
from palaver.hub.whowas import mask_matcher
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.channels import member_prefix, names_reply
from palaver.protocol.irc.metadata import whois_lines
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.render import HOST
from palaver.protocol.irc.rooms import unix_time
from palaver.protocol.irc.wire import IrcLine
from palaver.protocol.messages import ListPastUsers, ListUsers, PastUsers, UserInfo, Users

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

MAX_USERHOST: Final = 5  # nicks one USERHOST asks about
MAX_WHOIS: Final = 5  # nicks one WHOIS asks about
MAX_WHOWAS: Final = 1_000  # entries one WHOWAS may ask for
WHOX_FIELDS: Final = "tcuihsnfdlaor"  # the order of a 354's fields, whatever the order asked
HIDDEN_IP: Final = "255.255.255.255"  # WHOX "i": palaver never shows addresses
_About = Callable[[str], UserInfo]  # what is known of an online nick


def _has_wildcard(mask: str) -> bool:
    return "*" in mask or "?" in mask


# ---------------------------------------------------------------------- commands


def on_who(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``WHO [<mask> [o | %<fields>[,<token>]]]``; the mask is a channel, a nick or a mask of
    nicks, usernames and realnames (``0`` and none: everyone)."""
    mask = line.params[0] if line.params else "*"
    options = line.params[1] if len(line.params) > 1 else ""
    pending = Pending("who", mask, text=options)
    if mask.startswith("#"):
        out.append(irc.request(ListUsers, pending, room=mask, details=True))
    elif mask not in ("0", "*") and not _has_wildcard(mask):
        out.append(irc.request(ListUsers, pending, nick=mask, details=True))
    else:
        out.append(irc.request(ListUsers, pending, details=True))


def on_whois(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``WHOIS [<server>] <nick>[,<nick>...]``: one answer (ending in 318) per nick."""
    for nick in [n for n in line.params[-1].split(",") if n][:MAX_WHOIS]:
        out.append(irc.request(ListUsers, Pending("whois", nick), nick=nick, details=True))


def on_whowas(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``WHOWAS <nick>[,<nick>...] [<count>]``; a count that is not positive: all."""
    try:
        count = int(line.params[1]) if len(line.params) > 1 else 0
    except ValueError:
        count = 0
    count = min(max(count, 0), MAX_WHOWAS)
    for nick in [n for n in line.params[0].split(",") if n][:MAX_WHOIS]:
        if len(nick) > 64 or (not _has_wildcard(nick) and not is_valid_nick(nick)):
            out.append(irc.num("406", nick, "There was no such nickname")
                       + irc.num("369", nick, "End of WHOWAS"))
        else:
            out.append(irc.request(ListPastUsers, Pending("whowas", nick), nick=nick,
                                   count=count))


def on_ison(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    out.append(irc.request(ListUsers, Pending("ison", " ".join(line.params))))


def on_userhost(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    asked = " ".join(line.params[:MAX_USERHOST])
    out.append(irc.request(ListUsers, Pending("userhost", asked), details=True))


# ---------------------------------------------------------------------- events


def users(irc: IrcDialect, event: Users, pending: Pending | None) -> bytes:
    kind, arg = (pending.kind, pending.arg) if pending else ("who", event.room or "*")
    if pending is not None and kind in ("names", "names_more"):
        return names_reply(irc, event, pending)  # palaver.protocol.irc.channels
    if kind == "ison":
        online = {n.lower(): n for n in event.users}
        present = [online[n.lower()] for n in arg.split(" ") if n.lower() in online]
        return irc.num("303", " ".join(present))
    info = {i.nick.lower(): i for i in event.info}  # filled when we asked for details

    def about(nick: str) -> UserInfo:
        return info.get(nick.lower()) or UserInfo(nick=nick)

    if kind == "userhost":  # RPL_USERHOST: nick=+user@host, "-" when away
        online = {n.lower(): n for n in event.users}
        asked = [about(online[n.lower()]) for n in arg.split(" ") if n.lower() in online]
        return irc.num("302", " ".join(
            f"{u.nick}{'*' if u.operator else ''}={'-' if u.away else '+'}"
            f"{u.username or u.nick}@{HOST}" for u in asked))
    if kind == "whois":
        return _whois(irc, event, arg, about)
    return _who(irc, event, arg, pending.text if pending else "", about)


def _whois(irc: IrcDialect, event: Users, arg: str, about: _About) -> bytes:
    whom = [n for n in event.users if fold(n) == fold(arg)]
    if not whom:
        return irc.num("401", arg, "No such nick") + irc.num("318", arg, "End of /WHOIS list")
    user = about(whom[0])
    nick = user.nick
    lines = [irc.num("311", nick, user.username or nick, HOST, "*", user.realname or nick)]
    if user.rooms:
        ops = {fold(r) for r in user.operator_of}
        lines.append(irc.num("319", nick, " ".join(
            f"@{room}" if fold(room) in ops else room for room in user.rooms)))
    lines.append(irc.num("312", nick, irc.server, irc.info))
    if user.away:
        lines.append(irc.num("301", nick, user.away))
    if user.operator:
        lines.append(irc.num("313", nick, "is an IRC operator"))
    if user.account:
        lines.append(irc.num("330", nick, user.account, "is logged in as"))
    if user.bot:
        lines.append(irc.num("335", nick, "is a bot"))
    if user.secure:
        lines.append(irc.num("671", nick, "is using a secure connection"))
    if user.idle is not None and user.online_since:
        lines.append(irc.num("317", nick, str(user.idle), unix_time(user.online_since),
                             "seconds idle, signon time"))
    lines.extend(whois_lines(irc, nick, user.metadata))  # 760 (draft/metadata-3)
    lines.append(irc.num("318", nick, "End of /WHOIS list"))
    return b"".join(lines)


def _who(irc: IrcDialect, event: Users, mask: str, options: str, about: _About) -> bytes:
    """WHO: a channel's members, one nick, or the online users matching a mask."""
    channel = event.room or "*"
    everyone = mask in ("0", "*") or event.room is not None or not _has_wildcard(mask)
    matches = mask_matcher(fold(mask))
    room_ops = {n.lower() for n in event.operators}
    voiced = {n.lower() for n in event.voiced}
    fields, token = _whox(options)
    lines: list[bytes] = []
    for nick in event.users:
        user = about(nick)
        if not everyone and not any(matches(fold(name)) for name in
                                    (user.nick, user.username, user.realname) if name):
            continue
        if options == "o" and not user.operator:  # WHO <mask> o: operators only
            continue
        flags = ("G" if user.away else "H") + ("*" if user.operator else "") + member_prefix(
            nick.lower() in room_ops, nick.lower() in voiced, irc.caps) + (
            "B" if user.bot else "")
        if fields is None:
            lines.append(irc.num("352", channel, user.username or nick, HOST, irc.server, nick,
                                 flags, f"0 {user.realname or nick}"))
            continue
        values = {"t": token, "c": channel, "u": user.username or nick, "i": HIDDEN_IP,
                  "h": HOST, "s": irc.server, "n": nick, "f": flags, "d": "0",
                  "l": str(user.idle or 0), "a": user.account or "0", "o": "n/a",
                  "r": user.realname or nick}
        lines.append(irc.num("354", *(values[f] for f in fields)))
    lines.append(irc.num("315", mask, "End of /WHO list"))
    return b"".join(lines)


def _whox(options: str) -> tuple[str | None, str]:
    """The WHOX fields asked (in the order of a 354), and the token (``t``): (None, "") for a
    plain WHO. A token is 1 to 3 digits; another one is left out."""
    if not options.startswith("%"):
        return None, ""
    letters, _, token = options[1:].partition(",")
    fields = "".join(f for f in WHOX_FIELDS if f in letters)
    if not (token.isdigit() and len(token) <= 3 and token.isascii()):
        token = ""
        fields = fields.replace("t", "")
    return fields, token


def past_users(irc: IrcDialect, event: PastUsers, pending: Pending | None) -> bytes:
    nick = pending.arg if pending is not None else event.nick
    if not event.users:
        return irc.num("406", nick, "There was no such nickname") + irc.num(
            "369", nick, "End of WHOWAS")
    lines: list[bytes] = []
    for user in event.users:
        lines.append(irc.num("314", user.nick, user.username or user.nick, HOST, "*",
                             user.realname or user.nick))
        lines.append(irc.num("312", user.nick, irc.server, user.until))
    lines.append(irc.num("369", nick, "End of WHOWAS"))
    return b"".join(lines)
