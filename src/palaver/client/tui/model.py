"""The state behind the chat screen, sans-I/O: conversations, unread counts, members, status.

How this works: :class:`ChatModel` takes every event of a
:class:`~palaver.client.resilient.ResilientClient` (:meth:`ChatModel.apply`) and every line the
user types (:meth:`ChatModel.interpret`), and keeps what the screen shows:

- the conversations, in sidebar order: the console (``*``: the server's greeting, link news),
  then the rooms, then the direct conversations (``@bob``), each with its display lines (made by
  :func:`~palaver.client.render.render`, so everything is sanitised), its unread count (messages
  from others that arrived while it was not the current one; a room's messages from before we
  joined it — its history — are no news) and, for a room, its members (from JOINED, PRESENCE,
  MEMBERS_CHANGED and WHO), which of them are operators (shown ``@nick``, first) and its topic
  (from JOINED, ROOM_UPDATED and WHO);
- the current conversation: where typed text goes and whose log is shown;
- the link status (connecting / connected as X / reconnecting in Ns (attempt k) / disconnected).

A typed line goes through :func:`~palaver.client.commands.parse_line` with the current room; in
a direct conversation plain text becomes a DM to its peer and ``/leave`` closes it; ``/msg nick``
without text opens (or switches to) that conversation; ``/upload`` and ``/download`` are
handed back to the app (in a direct conversation, for its peer). Replies (RESULT, ERROR, ...) are
shown in the conversation the request was typed in (``origin``) — but the answers to ``/who``,
``/rooms`` and ``/help`` go to the console (the system view), which becomes current: they are
about the server, not about the room or the person one was talking to. A line typed while the
link is down (:meth:`ChatModel.mark_pending`) shows at once, marked ``(pending)``, until its
acknowledgement (or refusal) replaces it.

Big rooms (docs/protocol.md §21; the app's HELLO says ``member_pages``): MEMBERS_CHANGED is
applied to the member list ("these are in, these are out") and shown as one line in the room;
a JOINED that carries only the first page of members (``members_next``) starts a background
fetch of the others: :meth:`ChatModel.member_requests` hands the app one ``WHO after`` per room
at a time, the next only when the answer came, at most :data:`MEMBER_PAGES` pages and
:data:`MEMBER_FETCH` names per JOINED; those answers are merged, never shown. Until the list is
whole the member pane says "500 of 1,204 here" (the server's count). ``/who #room`` typed in a
big room shows a page in the console, ``/who #room more`` the next.

Each conversation counts its lines (``total``) so that a view can append just the new ones, and
its ``rewrites`` (a pending line taken out): then the view draws it anew; ``sidebar_version`` and
``members_version`` change when those panes need redrawing.
Nothing here does I/O or knows about Textual.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Final, Literal

import msgspec

from palaver.client.commands import (
    HELP,
    DownloadFile,
    LocalError,
    ShowHelp,
    UploadFile,
    parse_line,
)
from palaver.client.events import (
    Acknowledged,
    ClientEvent,
    Disconnected,
    Reconnected,
    Reconnecting,
)
from palaver.client.render import View, block, error_line, info_line, render, same_name, sanitize
from palaver.client.tracker import fold
from palaver.protocol.messages import (
    Edited,
    Error,
    Gap,
    Goodbye,
    Join,
    Joined,
    Leave,
    Left,
    ListUsers,
    MembersChanged,
    Message,
    Presence,
    React,
    Reacted,
    RoomList,
    RoomUpdated,
    Say,
    SendDirect,
    Users,
    Welcome,
    Wire,
)

CONSOLE: Final = "*"
MAX_LINES: Final = 5_000  # kept per conversation; older lines are dropped
JOIN_HISTORY: Final = 50  # messages shown on /join
MEMBER_PAGES: Final = 40  # pages of a big room's members fetched after a JOINED, at most
MEMBER_FETCH: Final = 10_000  # ... and no more once the list holds this many names

Kind = Literal["console", "room", "dm"]
Link = Literal["connecting", "connected", "reconnecting", "disconnected"]


@dataclass(slots=True)
class Conversation:
    key: str  # "*", "#dev" or "@bob" (folded)
    kind: Kind
    name: str  # as the server spells it: "#Dev", "bob"; "palaver" for the console
    lines: list[str] = field(default_factory=list)
    total: int = 0  # lines ever added (a view appends lines[-(total - shown):])
    unread: int = 0
    members: dict[str, str] = field(default_factory=dict)  # folded nick -> nick
    count: int | None = None  # members as the server counts them (a big room), if it said
    fetch: str | None = None  # a big room: where the next page of members starts, to fetch
    fetching: str | None = None  # the id of the page request in flight
    pages: int = 0  # pages fetched since the JOINED
    announced: bool = False  # its JOINED was shown (a rejoin after a reconnect is not news)
    operators: set[str] = field(default_factory=set)  # folded nicks
    topic: str = ""
    history_until: int = 0  # a room's messages up to this msg_id were there before we joined
    rewrites: int = 0  # lines taken out (not just added): a view draws it anew

    @property
    def title(self) -> str:
        return sanitize(f"@{self.name}" if self.kind == "dm" else self.name)

    @property
    def member_count(self) -> int:
        """How many members: the server's count when it gave one, else those listed."""
        return len(self.members) if self.count is None else max(self.count, 0)

    def set_members(self, nicks: tuple[str, ...] | list[str]) -> None:
        self.members = {fold(nick): nick for nick in nicks}

    def add_members(self, nicks: tuple[str, ...] | list[str]) -> None:
        for nick in nicks:
            self.members[fold(nick)] = nick

    def remove_members(self, nicks: tuple[str, ...] | list[str]) -> None:
        for nick in nicks:
            self.members.pop(fold(nick), None)
            self.operators.discard(fold(nick))

    def add(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.total += len(lines)
        if len(self.lines) > MAX_LINES + MAX_LINES // 10:
            del self.lines[:-MAX_LINES]

    def take_out(self, lines: list[str]) -> None:
        """Remove the last occurrence of ``lines`` (a block added before), if still there."""
        size = len(lines)
        for start in range(len(self.lines) - size, -1, -1):
            if self.lines[start:start + size] == lines:
                del self.lines[start:start + size]
                self.total -= size
                self.rewrites += 1
                return


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the sidebar."""

    key: str
    title: str
    unread: int
    current: bool


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request to send for a typed line (``history``: for a JOIN, messages to show)."""

    message: Wire
    history: int = 0


class ChatModel:
    def __init__(self, me: str, *, tz: tzinfo | None = None, app_name: str = "palaver") -> None:
        self.me = me
        self.tz = tz
        console = Conversation(CONSOLE, "console", app_name)
        self.conversations: dict[str, Conversation] = {CONSOLE: console}
        self.current = CONSOLE
        self.link: Link = "connecting"
        self.link_detail = ""
        self.sidebar_version = 0
        self.members_version = 0
        self.pending: dict[str, tuple[str, list[str]]] = {}  # request id -> (key, its lines)
        self.fetches: dict[str, str] = {}  # member page request id -> its room's key
        self.who_pages: dict[str, str] = {}  # folded room -> the next page after a typed /who

    # ------------------------------------------------------------------ reading

    @property
    def conversation(self) -> Conversation:
        return self.conversations[self.current]

    def order(self) -> list[Conversation]:
        """Sidebar order: the console, the rooms, then the direct conversations."""
        rank = {"console": 0, "room": 1, "dm": 2}
        return sorted(self.conversations.values(), key=lambda c: rank[c.kind])  # stable

    def sidebar(self) -> list[Entry]:
        return [Entry(c.key, c.title, c.unread, c.key == self.current) for c in self.order()]

    def members(self) -> list[str]:
        """Who is in the current conversation (sanitised, sorted): a room's operators first,
        marked ``@``."""
        conversation = self.conversation
        if conversation.kind == "room":
            ops = conversation.operators
            ranked = sorted(conversation.members.values(),
                            key=lambda n: (fold(n) not in ops, n.lower()))
            return [("@" if fold(n) in ops else "") + sanitize(n) for n in ranked]
        if conversation.kind == "dm":
            return sorted((sanitize(n) for n in [self.me, conversation.name]), key=str.lower)
        return []

    def member_heading(self) -> str:
        """The member pane's heading: ``2 here``; ``500 of 1,204 here`` while a big room's
        list is not whole; empty for the console."""
        conversation = self.conversation
        if conversation.kind == "console":
            return ""
        if conversation.kind == "dm":
            return f"{len(self.members())} here"
        listed, count = len(conversation.members), conversation.member_count
        return f"{listed:,} of {count:,} here" if count > listed else f"{listed:,} here"

    def member_requests(self, next_id: Callable[[], str]) -> list[ListUsers]:
        """The next page of members to fetch for each big room that wants one and has none in
        flight (each with an id from ``next_id``); the app sends them, and their answers come
        back through :meth:`apply` to be merged, never shown."""
        requests = []
        for conversation in self.conversations.values():
            if (conversation.kind != "room" or conversation.fetch is None
                    or conversation.fetching is not None):
                continue
            if conversation.pages >= MEMBER_PAGES or len(conversation.members) >= MEMBER_FETCH:
                conversation.fetch = None  # bounded: /who #room more goes on by hand
                continue
            request = ListUsers(room=conversation.name, after=conversation.fetch, id=next_id())
            assert request.id is not None
            conversation.fetching = request.id
            self.fetches[request.id] = conversation.key
            requests.append(request)
        return requests

    def topic(self) -> str:
        """The current room's topic (sanitised; empty for none, or for a DM or the console)."""
        conversation = self.conversation
        return sanitize(conversation.topic) if conversation.kind == "room" else ""

    def status(self) -> str:
        """The status bar's text."""
        me = sanitize(self.me)
        if self.link == "connected":
            text = f"connected as {me}"
        elif self.link == "reconnecting":
            text = f"reconnecting {self.link_detail}"
        elif self.link == "disconnected":
            text = f"disconnected: {self.link_detail}" if self.link_detail else "disconnected"
        else:
            text = f"connecting {self.link_detail}".rstrip()
        elsewhere = sum(c.unread for c in self.conversations.values() if c.key != self.current)
        unread = f" | {elsewhere} unread" if elsewhere else ""  # seen with the sidebar hidden
        return f"{text} | {self.conversation.title}{unread}"

    # ------------------------------------------------------------------ moving around

    def switch(self, key: str) -> bool:
        """Make ``key`` current (clearing its unread count); False if there is no such one."""
        if key not in self.conversations:
            return False
        if key != self.current or self.conversations[key].unread:
            self.current = key
            self.conversations[key].unread = 0
            self._changed(members=True)
        return True

    def step(self, delta: int) -> None:
        """Switch to the next (``1``) or previous (``-1``) conversation in the sidebar, round."""
        keys = [c.key for c in self.order()]
        self.switch(keys[(keys.index(self.current) + delta) % len(keys)])

    def info(self, text: str, key: str | None = None) -> None:
        """Show one line of ours (not sanitised) in ``key`` (default: the current one)."""
        self._show(key or self.current, [text])

    # ------------------------------------------------------------------ typed lines

    def interpret(self, line: str) -> Outgoing | UploadFile | DownloadFile | None:
        """What a typed line asks for: a request to send, a file to send or fetch (the app
        runs it: client/transfers.py), or None (shown here, or nothing)."""
        conversation = self.conversation
        room = conversation.name if conversation.kind == "room" else None
        if conversation.kind == "dm":
            room = "@" + conversation.name  # a stand-in, turned into a DM below
        action = parse_line(line, room, self.me, pages=self.who_pages)
        if action is None:
            return None
        if isinstance(action, ShowHelp):
            self._show(CONSOLE, [*HELP, "Ctrl+N / Ctrl+P (or Alt+Down / Alt+Up) switch "
                                        "conversations; F2 shows or hides the side panes; "
                                        "Ctrl+C quits."])
            self.switch(CONSOLE)
            return None
        if isinstance(action, UploadFile | DownloadFile):
            if conversation.kind == "dm" and action.room == room:  # the stand-in: this DM
                return dataclasses.replace(action, room=None, peer=conversation.name)
            return action
        if isinstance(action, LocalError):
            words = line.split()
            if len(words) == 2 and words[0].lower() == "/msg":
                self.open_direct(words[1])
                return None
            self._show(self.current, [error_line(action.message)])
            return None
        message = action.message
        if conversation.kind == "dm" and isinstance(message, Say) and message.room == room:
            return Outgoing(SendDirect(to=conversation.name, text=message.text,
                                       reply_to=message.reply_to))
        if conversation.kind == "dm" and isinstance(message, React) and message.room == room:
            return Outgoing(msgspec.structs.replace(message, room=None, peer=conversation.name))
        if conversation.kind == "dm" and isinstance(message, Leave) and message.room == room:
            self.close(conversation.key)
            return None
        return Outgoing(message, JOIN_HISTORY if isinstance(message, Join) else 0)

    def mark_pending(self, request_id: str, key: str, message: Wire) -> None:
        """Show ``message`` (a CHAT or DM typed while the link is down) at once in ``key``,
        marked pending, until the reply to ``request_id`` takes it out."""
        if not isinstance(message, Say | SendDirect) or key not in self.conversations:
            return
        lines = block(f"[--:--] <{sanitize(self.me)}> ", message.text)
        lines[-1] += " (pending)"
        self.pending[request_id] = (key, lines)
        self._show(key, lines)

    def open_direct(self, nick: str) -> None:
        """Open (or switch to) the direct conversation with ``nick``."""
        self.switch(self._direct(nick).key)

    def close(self, key: str) -> None:
        """Drop a conversation (not the console); the last one left becomes current."""
        if key == CONSOLE or key not in self.conversations:
            return
        del self.conversations[key]
        if self.current == key:
            rooms = [c.key for c in self.order() if c.kind == "room"]
            self.current = CONSOLE
            self.switch(rooms[-1] if rooms else CONSOLE)
        self._changed(members=True)

    # ------------------------------------------------------------------ events

    def apply(self, event: ClientEvent, origin: str | None = None) -> None:
        """Take one event; ``origin``: the conversation its request was typed in (ours)."""
        answered = event.message.id if isinstance(event, Acknowledged) else (
            None if isinstance(event, Disconnected | Reconnecting | Reconnected) else event.id)
        if answered is not None and answered in self.pending:
            key, lines = self.pending.pop(answered)
            if key in self.conversations:
                self.conversations[key].take_out(lines)
        if answered is not None and answered in self.fetches and not isinstance(
                event, Acknowledged):
            self._member_page(self.fetches.pop(answered), answered, event)
            return
        if isinstance(event, Disconnected | Reconnecting | Reconnected | Acknowledged):
            self._link_event(event)
        elif isinstance(event, Goodbye):
            pass  # the end comes as the end of the events (or Disconnected)
        elif isinstance(event, Welcome):
            self._welcome(event, [*render(event, self._view())])
        elif isinstance(event, Message):
            self._message(event, origin)
        elif isinstance(event, Joined):
            self._joined(event, origin)
        elif isinstance(event, Left):
            self._left(event)
        elif isinstance(event, Presence):
            self._presence(event)
        elif isinstance(event, MembersChanged):
            self._members_changed(event)
        else:
            where = origin if origin in self.conversations else self.current
            if isinstance(event, Gap):
                where = self._key_of(event.room, event.peer) or where
            if isinstance(event, Reacted | Edited):  # in the conversation of its message
                peer = event.to if same_name(event.sender, self.me) else event.sender
                where = self._key_of(event.room, peer) or where
            if isinstance(event, Users) and event.room is not None:
                self._users(event, origin)
            if isinstance(event, RoomUpdated):
                where = self._room_updated(event) or where
            if isinstance(event, Users | RoomList) and origin is not None:
                where = CONSOLE  # /who, /rooms: about the server, not this conversation
                self.switch(CONSOLE)
            assert where is not None
            self._show(where, render(event, self._view(where)))

    def _users(self, event: Users, origin: str | None) -> None:
        """WHO of a room: its members — or, in a big room, a page of them."""
        assert event.room is not None
        if origin is not None:  # typed: "/who #room more" goes on from here
            if event.next is not None:
                self.who_pages[fold(event.room)] = event.next
            else:
                self.who_pages.pop(fold(event.room), None)
        room = self.conversations.get(fold(event.room))
        if room is None or room.kind != "room":
            return
        if event.total is None:  # the whole list
            room.set_members(event.users)
            room.operators = {fold(n) for n in event.operators}
            room.count = None
        else:
            self._merge_page(room, event)
        self._changed(members=True)

    @staticmethod
    def _merge_page(room: Conversation, page: Users) -> None:
        """A page of a big room's members: they are in; the operators among them, too."""
        room.add_members(page.users)
        room.operators.difference_update(fold(n) for n in page.users)
        room.operators.update(fold(n) for n in page.operators)
        room.count = page.total

    def _member_page(self, key: str, request_id: str, event: ClientEvent) -> None:
        """The answer to a page :meth:`member_requests` asked for: merged, not shown; the next
        page is wanted if there is one (and the chain is still this JOINED's)."""
        room = self.conversations.get(key)
        if room is None or room.kind != "room":
            return
        ours = room.fetching == request_id
        if ours:
            room.fetching = None
        if isinstance(event, Error):  # left the room meanwhile, say: stop
            if ours:
                room.fetch = None
            return
        if not isinstance(event, Users) or event.total is None:
            if isinstance(event, Users):  # the whole list after all (it became small)
                self._users(event, None)
                room.fetch = None
            return
        self._merge_page(room, event)
        if ours:
            room.pages += 1
            after, room.fetch = room.fetch, event.next
            if after is not None and event.next is not None \
                    and fold(event.next) <= fold(after):  # never backwards: stop
                room.fetch = None
        self._changed(members=True)

    def _members_changed(self, event: MembersChanged) -> None:
        """A big room's joins and leaves since the last batch: applied, one line in the room."""
        room = self.conversations.get(fold(event.room))
        if room is None or room.kind != "room":
            return
        room.remove_members(event.left)
        room.add_members(event.joined)
        room.count = event.count
        self._show(room.key, render(event, self._view(room.key)))
        self._changed(members=True)

    def _room_updated(self, event: RoomUpdated) -> str | None:
        """A room's new rules: its topic and operators; the room's key, if we have it."""
        room = self.conversations.get(fold(event.room))
        if room is None or room.kind != "room":
            return None
        room.topic = event.topic
        room.operators = {fold(n) for n in event.operators}
        self._changed(members=True)
        return room.key

    def _link_event(self, event: Disconnected | Reconnecting | Reconnected | Acknowledged) -> None:
        if isinstance(event, Acknowledged):
            return  # its message was shown already
        if isinstance(event, Disconnected):
            self.link, self.link_detail = "disconnected", sanitize(event.reason)
            line = info_line(f"{'gave up: ' if event.final else 'disconnected: '}"
                             f"{self.link_detail}")
        elif isinstance(event, Reconnecting):
            self.link = "reconnecting"
            self.link_detail = f"in {event.delay:.1f}s (attempt {event.attempt})"
            line = info_line(f"reconnecting {self.link_detail}")
        else:
            self._welcome(event.welcome, [])
            line = info_line(f"reconnected as {sanitize(self.me)}")
        self._show(CONSOLE, [line])
        if self.current != CONSOLE:
            self._show(self.current, [line])
        self._changed()

    def _welcome(self, welcome: Welcome, lines: list[str]) -> None:
        self.me = welcome.nick
        self.link, self.link_detail = "connected", ""
        for room in welcome.rooms:
            self._room(room)
        if self.current == CONSOLE and welcome.rooms:
            self.switch(fold(welcome.rooms[0]))
        self._show(CONSOLE, lines)
        self._changed(members=True)

    def _message(self, event: Message, origin: str | None) -> None:
        if event.room is not None:
            conversation = self._room(event.room)
            lines = render(event, self._view(conversation.key))
        else:
            mine = same_name(event.sender, self.me)
            conversation = self._direct((event.to if mine else event.sender) or event.sender)
            # In its own conversation a DM reads like a room's message: "<alice> hi".
            plain = msgspec.structs.replace(event, to=None)
            lines = render(plain, self._view(conversation.key))
        self._show(conversation.key, lines)
        if origin is not None and conversation.kind == "dm":
            self.switch(conversation.key)  # /msg: go where the conversation goes on
        elif conversation.kind == "room" and event.msg_id <= conversation.history_until:
            pass  # said before we joined: history, not news
        elif conversation.key != self.current and not same_name(event.sender, self.me):
            conversation.unread += 1
            self._changed()

    def _joined(self, event: Joined, origin: str | None) -> None:
        conversation = self._room(event.room)
        conversation.name = event.room
        conversation.set_members(event.members)
        conversation.operators = {fold(n) for n in event.operators}
        conversation.topic = event.topic
        conversation.count = event.members_total  # a big room: the first page only
        conversation.fetch, conversation.fetching = event.members_next, None
        conversation.pages = 0
        if not conversation.announced or origin is not None:
            if not conversation.announced:  # what is there already is its history
                conversation.history_until = event.last_id
            conversation.announced = True
            self._show(conversation.key, render(event, self._view(conversation.key)))
        if origin is not None or self.current == CONSOLE:
            self.switch(conversation.key)
        self._changed(members=True)

    def _left(self, event: Left) -> None:
        key = fold(event.room)
        self.close(key)
        self._show(self.current, render(event, self._view()))

    def _presence(self, event: Presence) -> None:
        lines = render(event, self._view())
        if event.room is not None:
            room = self.conversations.get(fold(event.room))
            if room is None or room.kind != "room":
                return
            if event.event == "join":
                if room.count is not None and fold(event.nick) not in room.members:
                    room.count += 1
                room.add_members([event.nick])
            elif event.event in ("leave", "kick"):
                if room.count is not None:
                    room.count -= 1
                room.remove_members([event.nick])
            self._show(room.key, lines)
            self._changed(members=True)
            return
        mine = same_name(event.nick, self.me)
        new = event.new_nick if event.event == "nick" else None
        if mine and new:
            self.me = new
        touched = [c for c in self.conversations.values() if c.kind == "room"
                   and fold(event.nick) in c.members]
        for room in touched:
            op = fold(event.nick) in room.operators
            room.remove_members([event.nick])
            if new:
                room.add_members([new])
            elif room.count is not None:  # a quit
                room.count -= 1
            if op and new:
                room.operators.add(fold(new))
        direct = self.conversations.get("@" + fold(event.nick))
        if direct is not None and direct.kind == "dm":
            touched.append(direct)
            if new and not mine:
                self._rename_direct(direct, new)
        if mine:
            touched = [self.conversations[CONSOLE], *touched]
        for conversation in touched:
            self._show(conversation.key, lines)
        self._changed(members=True)

    # ------------------------------------------------------------------ plumbing

    def _view(self, key: str | None = None) -> View:
        conversation = self.conversations.get(key or self.current)
        is_room = conversation is not None and conversation.kind == "room"
        room = conversation.name if conversation is not None and is_room else None
        operators = frozenset(conversation.operators) if conversation is not None and is_room \
            else frozenset()
        return View(me=self.me, room=room, tz=self.tz, operators=operators, mark_mentions=True)

    def _key_of(self, room: str | None, peer: str | None) -> str | None:
        key = fold(room) if room is not None else "@" + fold(peer) if peer is not None else None
        return key if key in self.conversations else None

    def _room(self, room: str) -> Conversation:
        key = fold(room)
        conversation = self.conversations.get(key)
        if conversation is None:
            conversation = self.conversations[key] = Conversation(key, "room", room)
            self._changed()
        return conversation

    def _direct(self, nick: str) -> Conversation:
        key = "@" + fold(nick)
        conversation = self.conversations.get(key)
        if conversation is None:
            conversation = self.conversations[key] = Conversation(key, "dm", nick)
            self._changed()
        return conversation

    def _rename_direct(self, conversation: Conversation, new: str) -> None:
        del self.conversations[conversation.key]
        old_key, conversation.key, conversation.name = conversation.key, "@" + fold(new), new
        existing = self.conversations.get(conversation.key)
        if existing is not None:  # already had one under the new name: keep both histories
            conversation.lines = existing.lines + conversation.lines
            conversation.total = existing.total + conversation.total
            conversation.unread += existing.unread
        self.conversations[conversation.key] = conversation
        if self.current == old_key:
            self.current = conversation.key

    def _show(self, key: str, lines: list[str]) -> None:
        if lines:
            self.conversations[key].add(lines)

    def _changed(self, *, members: bool = False) -> None:
        self.sidebar_version += 1
        if members:
            self.members_version += 1


__all__ = ["CONSOLE", "JOIN_HISTORY", "ChatModel", "Conversation", "Entry", "Outgoing"]
