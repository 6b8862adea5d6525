"""How ``palaver chat`` shows what the server sends: pure formatting, no I/O, no state.

:func:`render` turns one server event into display lines, given a :class:`View` (who I am, the
current room, the time zone). Everything that came from the server goes through :func:`sanitize`
first, so nothing another user typed can move the cursor, recolour the terminal or reorder text:
C0 controls become caret form (ESC -> ``^[``), DEL, C1 controls, bidi overrides/isolates (and lone
surrogates) become ``<U+XXXX>``. Tab is kept; newlines split multi-line texts into continuation
lines, indented under the first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Final

import msgspec

from palaver.client.mentions import mentions
from palaver.client.render_replies import render_reacted, with_reply_and_reactions
from palaver.protocol.file_text import text_with_file
from palaver.protocol.messages import (
    AccountDeleted,
    CertificateList,
    Deleted,
    Edited,
    EditList,
    Error,
    Gap,
    Goodbye,
    Invited,
    Joined,
    Left,
    MembersChanged,
    Message,
    NotificationLevel,
    Offline,
    Online,
    PasswordChanged,
    Presence,
    Reacted,
    Registered,
    Result,
    RoomList,
    RoomUpdated,
    SearchResults,
    ServerMessage,
    Users,
    Welcome,
)

# C0 controls but tab, DEL, C1 controls, bidi embeddings/overrides/isolates, surrogates.
UNSAFE: Final = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class View:
    """What rendering depends on: my nick, the current room, the zone for clock times."""

    me: str
    room: str | None = None
    tz: tzinfo | None = None  # None: the local time zone
    operators: frozenset[str] = frozenset()  # the room's (folded): their @room/@here mention me
    mark_mentions: bool = False  # palaver chat: "!" before a message that mentions me


def _neutralise(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"^{chr(code + 64)}" if code < 0x20 else f"<U+{code:04X}>"


def sanitize(text: str) -> str:
    """``text`` as one safe line (a newline shows as ``^J``)."""
    return UNSAFE.sub(_neutralise, text)


def sanitize_lines(text: str) -> list[str]:
    """``text`` split at newlines, each line made safe."""
    return [sanitize(line) for line in text.split("\n")]


def clock(ts: str, tz: tzinfo | None = None) -> str:
    """``hh:mm`` of an ISO 8601 timestamp in zone ``tz`` (local time when None)."""
    try:
        moment = datetime.fromisoformat(ts)
    except ValueError:
        return "--:--"
    if moment.tzinfo is None:  # the protocol says UTC; be lenient about a missing "Z"
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz).strftime("%H:%M")


def same_name(a: str | None, b: str | None) -> bool:
    """Nicks and room names compare ignoring case."""
    return a is not None and b is not None and a.lower() == b.lower()


def error_line(message: str, code: str | None = None) -> str:
    """``! message (code)``."""
    line = f"! {sanitize(message)}"
    return f"{line} ({sanitize(code)})" if code else line


def info_line(text: str) -> str:
    """``* text`` (``text`` is ours: not sanitised)."""
    return f"* {text}"


def block(prefix: str, text: str) -> list[str]:
    """``prefix`` + first line of ``text`` (made safe), later lines indented under it."""
    first, *rest = sanitize_lines(text)
    indent = " " * len(prefix)
    return [prefix + first, *((indent + line) if line else "" for line in rest)]


DELETED_TEXT: Final = "(message deleted)"
EDITED_MARK: Final = " (edited)"  # after the text of a message edited since it was sent
MENTION_MARK: Final = "!"  # before the time of a message that mentions me: "![12:00] <bob> …"


def render_message(event: Message, view: View) -> list[str]:
    if event.reply_to is not None or event.reactions:  # client/render_replies.py
        return with_reply_and_reactions(event, lambda bare: render_message(bare, view))
    if event.deleted:  # a tombstone, in history or a replay
        event = msgspec.structs.replace(event, text=DELETED_TEXT)
    elif event.file is not None:  # its name, size and URL (protocol/file_text.py)
        text = text_with_file(event.text, event.file, event.msg_id)  # [file 41] …: /download
        event = msgspec.structs.replace(event, text=text)
    if event.edited_at is not None and not event.deleted:  # EDITED
        event = msgspec.structs.replace(event, text=event.text + EDITED_MARK)
    stamp = f"[{clock(event.ts, view.tz)}]"
    if view.mark_mentions and not event.deleted \
            and mentions(event.text, view.me, event.sender, view.operators):
        stamp = MENTION_MARK + stamp  # client/mentions.py
    sender = sanitize(event.sender)
    if event.to is not None:
        if same_name(event.sender, view.me):
            return block(f"{stamp} -> *{sanitize(event.to)}* ", event.text)
        return block(f"{stamp} *{sender}* ", event.text)
    if event.room is not None and not same_name(event.room, view.room):
        return block(f"{stamp} {sanitize(event.room)} <{sender}> ", event.text)
    return block(f"{stamp} <{sender}> ", event.text)


def render_presence(event: Presence, view: View) -> list[str]:
    nick = sanitize(event.nick)
    room = sanitize(event.room or "?")
    if event.event == "join":
        return [f"* {nick} joined {room}"]
    if event.event == "leave":
        return [f"* {nick} left {room}"]
    if event.event == "quit":
        reason = f" ({sanitize(event.reason)})" if event.reason else ""
        return [f"* {nick} quit{reason}"]
    if event.event == "kick":
        reason = f" ({sanitize(event.reason)})" if event.reason else ""
        who = "you were" if same_name(event.nick, view.me) else f"{nick} was"
        return [f"* {who} kicked from {room} by {sanitize(event.by or '?')}{reason}"]
    return [f"* {nick} is now known as {sanitize(event.new_nick or '?')}"]


SHOWN_NICKS = 50  # a line names at most this many members of a big room, then counts the rest


def nick_list(nicks: Sequence[str], total: int) -> str:
    """``a, b, c``; for a long list the first :data:`SHOWN_NICKS` and how many more."""
    shown = ", ".join(sanitize(n) for n in nicks[:SHOWN_NICKS])
    rest = total - min(len(nicks), SHOWN_NICKS)
    return f"{shown} and {rest:,} more" if rest > 0 else shown


def members_changed_line(event: MembersChanged) -> str:
    """A big room's joins and leaves since the last batch, on one line."""
    parts = []
    if event.joined:
        parts.append(f"{nick_list(event.joined, len(event.joined))} joined")
    if event.left:
        parts.append(f"{nick_list(event.left, len(event.left))} left")
    return f"* {sanitize(event.room)}: {'; '.join(parts)} ({event.count:,} here)"


def render(event: ServerMessage, view: View) -> list[str]:
    """The lines that show ``event``; Ping, Pong and the like show nothing."""
    if isinstance(event, Message):
        return render_message(event, view)
    if isinstance(event, Presence):
        return render_presence(event, view)
    if isinstance(event, Result):
        return sanitize_lines(event.result) if event.result else []
    if isinstance(event, Error):
        return [error_line(event.message, event.code)]
    if isinstance(event, MembersChanged):
        return [members_changed_line(event)]
    if isinstance(event, Joined):
        total = event.members_total or len(event.members)
        lines = [f"* you joined {sanitize(event.room)} ({total:,} here: "
                 f"{nick_list(event.members, total)})"]
        if event.topic:
            lines.append(f"* topic: {sanitize(event.topic)}")
        return lines
    if isinstance(event, Left):
        return [f"* you left {sanitize(event.room)}"]
    if isinstance(event, Users):
        where = f"in {sanitize(event.room)}" if event.room is not None else "online"
        users = ", ".join(sanitize(u) for u in event.users)
        if event.total is not None:  # a page of a big room
            more = f" (/who {sanitize(event.room)} more: the next page)" \
                if event.next and event.room is not None else ""
            return [f"* {len(event.users)} of {event.total:,} {where}: {users}{more}"]
        return [f"* {len(event.users)} {where}: {users}" if users else f"* nobody {where}"]
    if isinstance(event, RoomList):
        lines = [f"* {len(event.rooms)} room{'' if len(event.rooms) == 1 else 's'}:"]
        for info in event.rooms:
            people = f"{info.members} member{'' if info.members == 1 else 's'}"
            topic = f" - {sanitize(info.topic)}" if info.topic else ""
            lines.append(f"  {sanitize(info.room)} ({people}){topic}")
        return lines
    if isinstance(event, Welcome):
        lines = [f"* connected to {sanitize(event.server)} as {sanitize(event.nick)}"]
        if event.motd:
            lines.extend(f"* {line}" for line in sanitize_lines(event.motd))
        return lines
    if isinstance(event, Goodbye):
        return [f"* disconnected: {sanitize(event.reason)}"]
    if isinstance(event, Registered):
        return [f"* {sanitize(event.nick)} is now an account: log in with --password"]
    if isinstance(event, PasswordChanged):
        return [f"* the password of {sanitize(event.account)} is changed"]
    if isinstance(event, CertificateList):
        return render_certificates(event)
    if isinstance(event, AccountDeleted):
        return [f"* the account {sanitize(event.account)} is deleted"]
    if isinstance(event, RoomUpdated):
        return render_room_updated(event)
    if isinstance(event, Invited):
        if event.id is not None or same_name(event.by, view.me):
            return [f"* you invited {sanitize(event.nick)} to {sanitize(event.room)}"]
        room = sanitize(event.room)
        return [f"* {sanitize(event.by)} invited you to {room} (/join {room})"]
    if isinstance(event, Gap):
        where = sanitize(event.room or f"@{event.peer}")
        return [f"* messages {event.after + 1}-{event.before - 1} of {where} were not fetched"]
    if isinstance(event, Reacted):
        return render_reacted(event)
    if isinstance(event, Deleted):
        where = sanitize(event.room or f"@{event.to}")
        reason = f" ({sanitize(event.reason)})" if event.reason else ""
        return [f"* {sanitize(event.by)} deleted message {event.msg_id} of {where}{reason}"]
    if isinstance(event, Edited):
        return render_edited(event, view)
    if isinstance(event, EditList):
        return render_edit_list(event, view)
    if isinstance(event, SearchResults):
        return render_search_results(event, view)
    if isinstance(event, NotificationLevel):  # answers only: not those told at login
        return [render_notify_level(event)] if event.id is not None else []
    if isinstance(event, Online | Offline):
        state = "online" if isinstance(event, Online) else "offline"
        return [f"* {sanitize(event.nick)} is {state}"]
    return []


NOTIFY_MEANING: Final = {
    "all": "every message may notify you",
    "mentions": "only mentions and direct messages notify you",
    "none": "nothing notifies you",
}


def render_notify_level(event: NotificationLevel) -> str:
    """``* notifications of #dev: mentions (only mentions and direct messages notify you)``."""
    where = sanitize(event.room) if event.room is not None else f"@{sanitize(event.peer or '?')}"
    return f"* notifications of {where}: {event.level} ({NOTIFY_MEANING.get(event.level, '')})"


def render_edited(event: Edited, view: View) -> list[str]:
    """``* alice edited message 42 of #dev: the new text`` (of ``@bob`` for a direct one: the
    other end)."""
    if event.room is not None:
        where = event.room
    else:
        other = event.to if same_name(event.sender or "", view.me) else event.sender
        where = f"@{other or '?'}"
    return block(f"* {sanitize(event.by)} edited message {event.msg_id} of {sanitize(where)}: ",
                 event.text)


def render_edit_list(event: EditList, view: View) -> list[str]:
    """EDITS' answer: each text message N has had, oldest first, with the time it got it."""
    where = sanitize(event.room or f"@{event.peer}")
    head = f"* message {event.msg_id} of {where}"
    if not event.versions:
        return [f"{head} was deleted: no texts are kept"]
    lines = [f"{head} by {sanitize(event.sender or '?')}, {len(event.versions)} "
             f"{'text' if len(event.versions) == 1 else 'texts'}, oldest first:"]
    for version in event.versions:
        lines.extend(block(f"  [{clock(version.ts, view.tz)}] ", version.text))
    return lines


def render_search_results(event: SearchResults, view: View) -> list[str]:
    """SEARCH's answer: one block per hit, newest first, then how to ask for older ones."""
    query = sanitize(event.query)
    if not event.hits:
        return [f'* no messages found for "{query}"']
    count = len(event.hits)
    lines = [f'* {count} message{"" if count == 1 else "s"} found for "{query}":']
    for hit in event.hits:
        where = sanitize(hit.room) if hit.room is not None else f"@{sanitize(hit.peer or '?')}"
        lines.extend(block(f"  [{clock(hit.ts, view.tz)}] {where} <{sanitize(hit.sender)}> ",
                           hit.text))
    if event.next is not None:
        lines.append(f"* older ones: the same /search with before:{sanitize(event.next)} "
                     "before the words")
    return lines


def _setting(event: RoomUpdated, setting: str) -> str:
    """One setting a MODE changed, as it is now (docs/rooms.md)."""
    on = getattr(event, setting)
    words = {"invite_only": ("invite-only", "open to everyone"),
             "private": ("private (unlisted)", "listed"),
             "moderated": ("moderated", "not moderated"),
             "outside_messages": ("open to messages from outside", "members only"),
             "open_topic": ("topic open to members", "topic for operators"),
             "limit": (f"at most {event.limit} members", "no member limit"),
             "key": ("a key to join", "no key")}[setting]
    return words[0] if on else words[1]


def render_certificates(event: CertificateList) -> list[str]:
    """CERT's answer: what changed, then every fingerprint bound (this connection's marked)."""
    account = sanitize(event.account)
    lines = []
    if event.added is not None:
        lines.append(f"* certificate {event.added} added: it logs in to {account}")
    if event.removed is not None:
        lines.append(f"* certificate {event.removed} removed")
    count = len(event.fingerprints)
    lines.append(f"* {account} has {count} certificate{'' if count == 1 else 's'}"
                 + (":" if count else ""))
    lines.extend(f"*   {sanitize(fp)}" + (" (this connection's)" if fp == event.current else "")
                 for fp in event.fingerprints)
    if event.current is not None and event.current not in event.fingerprints:
        lines.append(f"* this connection's certificate: {sanitize(event.current)} "
                     "(/cert add binds it)")
    return lines


def render_room_updated(event: RoomUpdated) -> list[str]:
    """A change of a room's rules (docs/rooms.md), or its state."""
    by, room, nick = sanitize(event.by or "the server"), sanitize(event.room), sanitize(
        event.nick or "?")
    change = event.change
    if change == "topic":
        if event.topic:
            return [f"* {by} set the topic of {room}: {sanitize(event.topic)}"]
        return [f"* {by} cleared the topic of {room}"]
    if change in ("op", "deop", "ban", "unban"):
        return [{"op": f"* {by} made {nick} an operator of {room}",
                 "deop": f"* {by} took operator status from {nick} in {room}",
                 "ban": f"* {by} banned {nick} from {room}",
                 "unban": f"* {by} lifted the ban on {nick} in {room}"}[change]]
    if change in ("voice", "devoice"):
        return [f"* {by} gave {nick} a voice in {room}" if change == "voice"
                else f"* {by} took {nick}'s voice in {room}"]
    if change not in ("invite_only", "private") and event.changed:  # the other settings
        return [f"* {by} changed {room}: "
                + ", ".join(_setting(event, setting) for setting in event.changed)]
    if change == "invite_only":
        return [f"* {by} made {room} invite-only" if event.invite_only
                else f"* {by} opened {room} to everyone"]
    if change == "private":
        return [f"* {by} made {room} private (unlisted)" if event.private
                else f"* {by} made {room} listed"]
    flags = [name for name, on in (("invite-only", event.invite_only),
                                   ("private", event.private)) if on] or ["open"]
    ops = ", ".join(sanitize(o) for o in event.operators) or "none here"
    return [f"* {room}: {', '.join(flags)}; operators: {ops}"]
