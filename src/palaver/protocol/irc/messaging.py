"""IRC messages and presence: PRIVMSG, NOTICE, TAGMSG, AWAY; and the events that carry them
(MESSAGE, PRESENCE, AWAY, PING).

A channel target is a room (CHAT), any other a nick (DM). CTCP ACTION becomes palaver's
``* nick does`` text and comes back as ACTION; other CTCP queries are not forwarded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from palaver.hub.profile import MAX_AWAY
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.registration import MAX_TARGETS
from palaver.protocol.irc.rooms import kick_line
from palaver.protocol.irc.wire import IrcLine, one_line, strip_formatting
from palaver.protocol.messages import Away, Message, Presence, Say, SendDirect, SetAway, Wire

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect


# ---------------------------------------------------------------------- commands


def on_privmsg(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    _send_text(irc, line, out, "privmsg")


def on_notice(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    _send_text(irc, line, out, "notice")


def _send_text(irc: IrcDialect, line: IrcLine, out: list[Inbound], kind: str) -> None:
    quiet = kind == "notice"  # never an automatic reply to a NOTICE (RFC 2812 3.3.2)
    if not line.params or not line.params[0]:
        if not quiet:
            out.append(irc.num("411", f"No recipient given ({line.command})"))
        return
    if len(line.params) < 2 or not line.params[1]:
        if not quiet:
            out.append(irc.num("412", "No text to send"))
        return
    targets = [t for t in line.params[0].split(",") if t]
    if len(targets) > MAX_TARGETS:
        if not quiet:
            out.append(irc.num("407", line.params[0], "Too many targets"))
        return
    text = _text_of(irc, line.params[1])
    if not text:
        if not quiet and not line.params[1].startswith("\x01"):
            out.append(irc.num("412", "No text to send"))
        return  # a CTCP query other than ACTION: nothing to forward
    for target in targets:
        if target.startswith("#"):
            out.append(irc.request(Say, Pending(kind, target), room=target, text=text,
                                   notice=quiet))
        else:
            out.append(irc.request(SendDirect, Pending(kind, target), to=target, text=text,
                                   notice=quiet))


def _text_of(irc: IrcDialect, raw: str) -> str:
    """IRC text as palaver text: CTCP ACTION becomes ``* nick does``; formatting goes."""
    if raw.startswith("\x01"):
        body = raw[1:-1] if raw.endswith("\x01") else raw[1:]
        verb, _, rest = body.partition(" ")
        if verb.upper() != "ACTION" or not rest.strip():
            return ""
        raw = f"* {irc.nick_of() or irc.nick or '*'} {rest}"
    return strip_formatting(raw).strip("\n")


def on_tagmsg(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    return  # client-only tags (typing notifications) are not relayed


def on_away(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    message = one_line(line.params[0], MAX_AWAY) if line.params else None
    out.append(irc.request(SetAway, Pending("away"), message=message))


# ---------------------------------------------------------------------- events


def presence(irc: IrcDialect, event: Presence, pending: Pending | None) -> bytes:
    if pending is not None and pending.kind == "nick" and event.new_nick:
        irc.nick = event.new_nick  # our own change, confirmed to this connection
    if event.event == "kick":
        return kick_line(event, irc.server)
    return irc.renderer.presence(event)


def message(irc: IrcDialect, event: Message, pending: Pending | None) -> bytes:
    if event.id is None:  # someone's message (or ours, from another of our sessions)
        return irc.renderer.message(event)
    if "echo-message" not in irc.caps:
        return b""  # the acknowledgement of our own message: IRC shows it already
    return irc.renderer.message(event)


def away(irc: IrcDialect, event: Away, pending: Pending | None) -> bytes:
    me = irc.me()
    if pending is None and event.nick.lower() != me.lower():  # a DM's target is away
        return irc.num("301", event.nick, event.message or "")
    if event.message:  # ours (asked here, or on another of our sessions)
        return irc.num("306", "You have been marked as being away")
    return irc.num("305", "You are no longer marked as being away")


def ping(irc: IrcDialect, event: Wire, pending: Pending | None) -> bytes:
    return irc.line("PING", irc.server)
