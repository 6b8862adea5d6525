"""IRC messages and presence: PRIVMSG, NOTICE, TAGMSG, AWAY; and the events that carry them
(MESSAGE, TAGMSG, STATUS_MESSAGE, PRESENCE, AWAY, PING).

A channel target is a room (CHAT), any other a nick (DM); ``@#room`` (``+#room``) is the room's
operators (and voiced members) only: STATUSMSG, a CHAT with ``only``. CTCP ACTION becomes
palaver's ``* nick does`` text and comes back as ACTION; other CTCP queries are not forwarded.
A line's client-only tags (``+name``, IRCv3 message-tags) ride with its message, or alone with
TAGMSG, to whoever negotiated message-tags (hub/relay.py: never stored).

One IRC line is one IRC line for everyone: a text too long to be relayed in one line once the
sender's full source is in front of it is cut to fit (IRC lets servers truncate); only a text
from palaver's own clients (longer, or with several lines) is split, or sent as a
``draft/multiline`` batch to a client that negotiated it (render.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from palaver.hub.profile import MAX_AWAY
from palaver.hub.relay import relayable
from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.pending import Pending
from palaver.protocol.irc.reactions import react_of, reply_of
from palaver.protocol.irc.registration import MAX_TARGETS
from palaver.protocol.irc.render import hostmask
from palaver.protocol.irc.rooms import kick_line
from palaver.protocol.irc.wire import MAX_LINE, IrcLine, fit, one_line, strip_formatting
from palaver.protocol.messages import (
    Away,
    MembersChanged,
    Message,
    OnlyTo,
    Presence,
    Say,
    SendDirect,
    SendTags,
    SetAway,
    StatusMessage,
    Tagged,
    Wire,
)

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

STATUS: Final[dict[str, OnlyTo]] = {"@": "operators", "+": "voiced"}  # STATUSMSG prefixes
_ACTION: Final = len("\x01ACTION \x01")


def client_tags(tags: dict[str, str]) -> dict[str, str]:
    """The client-only tags of a line (``+name``, ``+vendor/name``) that may be relayed (one
    that may not — a bad name, a control character in its value — is dropped)."""
    return {k: v for k, v in tags.items() if k.startswith("+") and relayable(k, v)}


def split_target(target: str) -> tuple[str, OnlyTo | None]:
    """A target without its STATUSMSG prefix, and whom that prefix names (None: everyone)."""
    only = STATUS.get(target[:1])
    if only is not None and target[1:2] == "#":
        return target[1:], only
    return target, None


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
    raw = line.params[1]
    if raw.startswith("\x01") and not _is_action(raw):
        return  # a CTCP query other than ACTION: nothing to forward
    tags = client_tags(line.tags)
    for target in targets:
        text = _text_of(irc, raw, _budget(irc, line.command, target))
        if not text.strip():
            if not quiet:
                out.append(irc.num("412", "No text to send"))
            return
        post(irc, target, text, out, notice=quiet, tags=tags)


def post(irc: IrcDialect, target: str, text: str, out: list[Inbound], *, notice: bool,
         tags: dict[str, str], breaks: tuple[int, ...] = ()) -> None:
    """The hub request for a message to ``target`` (a room, ``@#room``, or a nick)."""
    kind = "notice" if notice else "privmsg"
    name, only = split_target(target)
    reply_to = None
    if only is None:  # a +draft/reply to one of our messages: a reply (irc/reactions.py)
        reply_to, tags = reply_of(name, tags)
    extra: dict[str, object] = {"tags": tags or None, "breaks": breaks, "notice": notice,
                                "reply_to": reply_to}
    if name.startswith("#"):
        out.append(irc.request(Say, Pending(kind, target), room=name, text=text, only=only,
                               **extra))
    else:
        out.append(irc.request(SendDirect, Pending(kind, target), to=target, text=text,
                               **extra))


def _is_action(raw: str) -> bool:
    body = raw[1:-1] if raw.endswith("\x01") else raw[1:]
    verb, _, rest = body.partition(" ")
    return verb.upper() == "ACTION" and bool(rest.strip())


def _budget(irc: IrcDialect, command: str, target: str) -> int:
    """Bytes a text may have to be relayed from us to ``target`` in one line."""
    source = hostmask(irc.nick_of() or irc.nick or "*")
    return MAX_LINE - 2 - len(f":{source} {command} {target} :".encode("utf-8", "replace"))


def _text_of(irc: IrcDialect, raw: str, budget: int) -> str:
    """IRC text as palaver text: CTCP ACTION becomes ``* nick does``; formatting goes; what
    would not fit in one relayed line is cut."""
    if raw.startswith("\x01"):  # an ACTION (_is_action)
        body = raw[1:-1] if raw.endswith("\x01") else raw[1:]
        rest = fit(strip_formatting(body.partition(" ")[2]), budget - _ACTION)
        return f"* {irc.nick_of() or irc.nick or '*'} {rest}" if rest.strip() else ""
    return fit(strip_formatting(raw).strip("\n"), budget)


def on_tagmsg(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    """``TAGMSG <target>[,<target>...]``: the line's client-only tags alone (a typing
    notification, a reaction), relayed at once and never stored (SendTags)."""
    if not line.params or not line.params[0]:
        out.append(irc.num("411", "No recipient given (TAGMSG)"))
        return
    targets = [t for t in line.params[0].split(",") if t]
    if len(targets) > MAX_TARGETS:
        out.append(irc.num("407", line.params[0], "Too many targets"))
        return
    tags = client_tags(line.tags)
    if not tags:
        return  # nothing to relay
    for target in targets:
        name, only = split_target(target)
        rest = react_of(irc, name, tags, out) if only is None else tags  # irc/reactions.py
        if not rest:
            continue
        if name.startswith("#"):
            out.append(irc.request(SendTags, Pending("privmsg", target), room=name, only=only,
                                   tags=rest))
        else:
            out.append(irc.request(SendTags, Pending("privmsg", target), to=name, tags=rest))


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


def members_changed(irc: IrcDialect, event: MembersChanged, pending: Pending | None) -> bytes:
    return irc.renderer.members_changed(event)


def message(irc: IrcDialect, event: Message, pending: Pending | None) -> bytes:
    return _ours_or_not(irc, event, irc.renderer.message)


def status_message(irc: IrcDialect, event: StatusMessage, pending: Pending | None) -> bytes:
    return _ours_or_not(irc, event, irc.renderer.status_message)


def tagged(irc: IrcDialect, event: Tagged, pending: Pending | None) -> bytes:
    return _ours_or_not(irc, event, irc.renderer.tagmsg)


def _ours_or_not(irc: IrcDialect, event: Message | StatusMessage | Tagged,
                 render: Callable[[Any], bytes]) -> bytes:
    """Someone's message (or ours, from another of our sessions) as it is; the answer to our
    own only with echo-message (IRC shows it already) — but one to ourselves is a delivery
    too, sent aside (never labeled)."""
    if event.id is None:
        return render(event)
    answer = render(event) if "echo-message" in irc.caps else b""
    to = getattr(event, "to", None)
    if to is not None and to.lower() == event.sender.lower():
        return irc.aside(render(event), answer)
    return answer


def away(irc: IrcDialect, event: Away, pending: Pending | None) -> bytes:
    me = irc.me()
    if pending is None and event.nick.lower() != me.lower():  # a DM's target is away
        return irc.num("301", event.nick, event.message or "")
    if event.message:  # ours (asked here, or on another of our sessions)
        return irc.num("306", "You have been marked as being away")
    return irc.num("305", "You are no longer marked as being away")


def ping(irc: IrcDialect, event: Wire, pending: Pending | None) -> bytes:
    return irc.line("PING", irc.server)
