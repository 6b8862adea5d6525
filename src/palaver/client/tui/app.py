"""``palaver chat`` on a TTY: a Textual app over a ResilientClient and a ChatModel.

How this works: the screen is the rooms sidebar (the console ``palaver``, the rooms, the direct
conversations ``@nick``, each with its unread count), the current room's topic, the log of the
current conversation, the input line, the member list (operators first, ``@nick``), a status
bar and a footer of keys. Below :data:`NARROW` columns the two side panes collapse (F2 shows
or hides them, at any width) and the log takes the width. All state lives in the pure
:class:`~palaver.client.tui.model.ChatModel`; this module only feeds it and draws it:

- a worker connects (after the login screen when no nick was given, or after a refusal) and
  then hands every client event to :meth:`ChatModel.apply`, with the conversation its request
  was typed in when it answers one of ours, and redraws (:meth:`ChatApp.draw`); then it sends
  the pages of big rooms' member lists the model wants (:meth:`ChatModel.member_requests`:
  one at a time per room, bounded; the HELLO says ``member_pages``);
- the input line goes to :meth:`ChatModel.interpret`; what it returns is sent with a fresh id
  — but ``/upload`` and ``/download`` run as workers (:mod:`palaver.client.transfers`), their
  progress and refusals shown in the conversation they were typed in;
- drawing appends only the new lines of the current conversation to the log (and draws it anew
  when the conversation changed, when a pending line was taken out, or when the log's width
  changed: :class:`ChatLog` reflows); the sidebar and the member list are rebuilt when the
  model's version counters moved. A line typed while the link is down is shown at once, marked
  pending, until it is acknowledged. At login the rooms' last messages are fetched (HISTORY)
  and shown. Every piece of text is a
  ``rich.text.Text`` (never markup), and the model made it safe with ``render``/``sanitize``, so
  ``[bold]`` in a message shows as typed and control characters come out neutralised.

Ctrl+C (or ``/quit``) says BYE and exits; Ctrl+N / Ctrl+P (also Alt+Down / Alt+Up, or a click)
switch conversations. :attr:`ChatApp.updated` is set after each redraw (tests wait on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from datetime import tzinfo
from typing import ClassVar, Final

import msgspec
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message as TextualMessage
from textual.widgets import Footer, Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from palaver.client.backoff import Backoff
from palaver.client.commands import DownloadFile, UploadFile
from palaver.client.connection import ConnectionClosed, NotPalaver, ServerError
from palaver.client.events import Acknowledged, ClientEvent, Disconnected, Reconnected, Reconnecting
from palaver.client.render import error_line, sanitize
from palaver.client.resilient import HANDSHAKE_TIMEOUT, ResilientClient, describe
from palaver.client.terminal import CLOSE_TIMEOUT, RECONNECT, os_reason
from palaver.client.transfers import Transfers
from palaver.client.tui.login import Login, LoginScreen
from palaver.client.tui.model import JOIN_HISTORY, ChatModel
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Quit
from palaver.tls import describe_failure

NOT_CONNECTED: Final = "not connected; your line was not sent"
NARROW: Final = 80  # columns: below this the side panes start collapsed
MENTION_STYLE: Final = "bold reverse"  # a line that mentions me (client/mentions.py)
PASSWORD_WRONG: Final = frozenset({ErrorCode.AUTH_FAILED.value, ErrorCode.AUTH_THROTTLED.value,
                                   ErrorCode.INVALID_PASSWORD.value})


class RoomList(OptionList, can_focus=False):
    """The sidebar: clicked, never focused (typing stays in the input line)."""


class ChatLog(RichLog):
    """The log; says :class:`ChatLog.Reflow` when its width changes (its lines were wrapped
    for the old one)."""

    class Reflow(TextualMessage):
        """The log's width changed: draw its lines anew."""

    _drawn_width = 0

    def on_resize(self, event: events.Resize) -> None:
        super().on_resize(event)
        width = event.size.width
        if width and width != self._drawn_width:
            if self._drawn_width:
                self.post_message(self.Reflow())
            self._drawn_width = width


class ChatApp(App[int]):
    CSS_PATH = "chat.tcss"
    TITLE = "palaver"
    ENABLE_COMMAND_PALETTE = False
    AUTO_FOCUS = "#input"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+c", "leave", "Quit", priority=True),
        Binding("ctrl+q", "leave", "Quit", show=False, priority=True),
        Binding("ctrl+n", "step(1)", "Next", priority=True),
        Binding("ctrl+p", "step(-1)", "Prev", priority=True),
        Binding("f2", "toggle_panes", "Panes", priority=True),
        Binding("alt+down", "step(1)", show=False, priority=True),
        Binding("alt+up", "step(-1)", show=False, priority=True),
    ]

    def __init__(
        self,
        host: str,
        port: int,
        nick: str | None = None,
        password: str | None = None,
        *,
        backoff: Backoff = RECONNECT,
        tz: tzinfo | None = None,
        connect_timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
    ) -> None:
        super().__init__()
        self.handshake_timeout = handshake_timeout
        self.tls = tls
        self.host = host
        self.port = port
        self.nick = nick
        self.password = password
        self.backoff = backoff
        self.connect_timeout = connect_timeout
        self.model = ChatModel(nick or "", tz=tz)
        self.client: ResilientClient | None = None
        self.transfers: Transfers | None = None  # /upload, /download (client/transfers.py)
        self.updated = asyncio.Event()
        self._origins: dict[str, str] = {}  # request id -> the conversation it was typed in
        self._quitting = False
        self._shown = ("", 0)  # the conversation in the log, and its lines written so far
        self._rewrites_drawn = 0
        self._sidebar_drawn = -1
        self._members_drawn = -1
        self._narrow: bool | None = None  # below NARROW columns (None: not measured yet)
        self.panes_shown = True
        self.rooms = RoomList(id="rooms")
        self.topic_bar = Static(id="topic")
        self.log_view = ChatLog(id="log", wrap=True, min_width=20, markup=False,
                                highlight=False)
        self.input_line = Input(placeholder="a message, or /help", id="input")
        self.member_list = Static(id="members")
        self.members_pane = VerticalScroll(self.member_list, id="members-pane")
        self.status_bar = Static(id="status")

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self.rooms
            with Vertical(id="middle"):
                yield self.topic_bar
                yield self.log_view
                yield self.input_line
            yield self.members_pane
        yield self.status_bar
        yield Footer()

    def on_mount(self) -> None:
        self._fit(self.size.width)
        self.draw()
        if self.nick:
            self.start(self.nick, self.password)
        else:
            self.ask_login()

    async def on_unmount(self) -> None:
        if self.client is not None:
            await self.client.close()

    # ------------------------------------------------------------------ connecting

    def ask_login(self, error: str | None = None, *, password_wrong: bool = False) -> None:
        screen = LoginScreen(f"{self.host}:{self.port}", error=error, nick=self.nick or "",
                             password=None if password_wrong else self.password,
                             focus_password=password_wrong)
        self.push_screen(screen, callback=self._logged_in)

    def _logged_in(self, login: Login | None) -> None:
        if login is not None:
            self.start(*login)

    def start(self, nick: str, password: str | None) -> None:
        self.nick, self.password = nick, password
        self.model.me = nick
        self.model.link, self.model.link_detail = "connecting", f"to {self.host}:{self.port}"
        self.draw()
        self.run_worker(self._session(nick, password), group="session", exclusive=True)

    async def _session(self, nick: str, password: str | None) -> None:
        where = f"{self.host}:{self.port}"
        try:
            client = await ResilientClient.connect(
                self.host, self.port, nick, password=password, backoff=self.backoff,
                connect_timeout=self.connect_timeout, ssl=self.tls,
                handshake_timeout=self.handshake_timeout, login_history=JOIN_HISTORY,
                member_pages=True)
        except ServerError as exc:
            self._refused(error_line(exc.error.message, exc.code),
                          password_wrong=exc.code in PASSWORD_WRONG)
            return
        except NotPalaver as exc:  # before ConnectionClosed, which it is
            self._refused(f"{where} {exc.reason}")
            return
        except ConnectionClosed as exc:
            self._refused(f"{where} closed the connection: {sanitize(exc.reason)}")
            return
        except ssl.SSLError as exc:  # before OSError, which it is
            self._refused(f"cannot connect to {where}: {describe_failure(exc)}")
            return
        except OSError as exc:
            self._refused(f"cannot connect to {where}: {os_reason(exc)}")
            return
        except TimeoutError as exc:
            self._refused(f"cannot connect to {where}: {describe(exc)}")
            return
        self.client = client
        self.transfers = Transfers(client, lambda: self.model.me)
        async for event in client.events():
            self.on_client_event(event)
            await self._fetch_members(client)
        if self._quitting:
            self.exit(0)
        elif self.model.link != "disconnected":
            self.model.link, self.model.link_detail = "disconnected", ""
        self.draw()

    async def _fetch_members(self, client: ResilientClient) -> None:
        """Ask for the next page of each big room's members the model wants (in the
        background: their answers are merged into the member list, never shown)."""
        for request in self.model.member_requests(client.next_id):
            if client.ended:
                return
            with contextlib.suppress(ConnectionClosed):
                await client.submit(request)

    def _refused(self, error: str, *, password_wrong: bool = False) -> None:
        self.model.link, self.model.link_detail = "disconnected", error
        self.draw()
        self.ask_login(error, password_wrong=password_wrong)

    # ------------------------------------------------------------------ events and input

    def on_client_event(self, event: ClientEvent) -> None:
        if self.transfers is not None:
            self.transfers.seen(event)
            if self.transfers.owns(event):  # a transfer's answer: it says it its own way
                return
        if isinstance(event, Acknowledged):
            request_id = event.message.id
        elif isinstance(event, Disconnected | Reconnecting | Reconnected):
            request_id = None
        else:
            request_id = event.id
        origin = self._origins.pop(request_id, None) if request_id is not None else None
        self.model.apply(event, origin)
        self.draw()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input is not self.input_line:
            return
        event.stop()
        self.input_line.value = ""
        outgoing = self.model.interpret(event.value)
        client = self.client
        if isinstance(outgoing, UploadFile | DownloadFile):
            if client is None or client.ended or self.transfers is None:
                self.model.info(error_line(NOT_CONNECTED))
            else:  # in the background: the chat goes on meanwhile
                self.run_worker(self._transfer(self.transfers, outgoing, self.model.current),
                                group="transfers")
        elif outgoing is not None:
            if isinstance(outgoing.message, Quit):
                await self.leave(outgoing.message.reason)
                return
            if client is None or client.ended:
                self.model.info(error_line(NOT_CONNECTED))
            else:
                request_id = client.next_id()
                self._origins[request_id] = self.model.current
                message = msgspec.structs.replace(outgoing.message, id=request_id)
                if not client.connected:  # goes out once the link is back: show it now
                    self.model.mark_pending(request_id, self.model.current, message)
                try:
                    await client.submit(message, history=outgoing.history)
                except ConnectionClosed:
                    self._origins.pop(request_id, None)
                    self.model.info(error_line(NOT_CONNECTED))
        self.draw()

    async def _transfer(self, transfers: Transfers, action: UploadFile | DownloadFile,
                        origin: str) -> None:
        """Run one /upload or /download; its lines go to the conversation it was typed in."""

        def say(lines: list[str]) -> None:
            where = origin if origin in self.model.conversations else None
            for line in lines:
                self.model.info(line, where)
            self.draw()

        command = "/upload" if isinstance(action, UploadFile) else "/download"
        try:
            if isinstance(action, UploadFile):
                await transfers.upload(action, say)
            else:
                await transfers.download(action, say)
        except (ConnectionClosed, ConnectionError):
            say([error_line(f"{command}: the connection ended")])
        except Exception as exc:  # never take the chat down with it
            say([error_line(f"{command}: {exc or type(exc).__name__}")])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.model.switch(event.option.id)
            self.draw()
        self.input_line.focus()

    async def action_leave(self) -> None:
        await self.leave(None)

    def action_step(self, delta: int) -> None:
        self.model.step(delta)
        self.draw()

    def action_toggle_panes(self) -> None:
        self.show_panes(not self.panes_shown)

    def show_panes(self, shown: bool) -> None:
        """Show or hide the sidebar and the member list."""
        self.panes_shown = shown
        self.rooms.display = shown
        self.members_pane.display = shown

    def on_resize(self, event: events.Resize) -> None:
        self._fit(event.size.width)

    def _fit(self, width: int) -> None:
        """Crossing :data:`NARROW` columns collapses (or brings back) the side panes."""
        narrow = width < NARROW
        if narrow != self._narrow:
            self._narrow = narrow
            self.show_panes(not narrow)

    def on_chat_log_reflow(self, event: ChatLog.Reflow) -> None:
        self._shown = ("", 0)  # every line again, wrapped for the new width
        self.draw()

    async def leave(self, reason: str | None) -> None:
        """Say BYE (when connected), then exit."""
        self._quitting = True
        client = self.client
        if client is not None and not client.ended:
            self.model.link, self.model.link_detail = "disconnected", "leaving"
            self.draw()
            with contextlib.suppress(ConnectionClosed, ConnectionError):
                await client.quit(reason, timeout=CLOSE_TIMEOUT)
        self.exit(0)

    # ------------------------------------------------------------------ drawing

    def draw(self) -> None:
        model = self.model
        if model.sidebar_version != self._sidebar_drawn:
            self._sidebar_drawn = model.sidebar_version
            entries = model.sidebar()
            options = []
            for entry in entries:
                label = Text(entry.title, style="bold" if entry.current else "")
                if entry.unread:
                    label.append(f" ({entry.unread})", style="bold reverse")
                options.append(Option(label, id=entry.key))
            self.rooms.set_options(options)
            self.rooms.highlighted = next(
                (i for i, entry in enumerate(entries) if entry.current), None)
        if model.members_version != self._members_drawn:
            self._members_drawn = model.members_version
            heading = model.member_heading()
            members = model.members() if heading else []
            self.member_list.update(Text("\n".join([heading, *members]) if heading else ""))
        conversation = model.conversation
        key, shown = self._shown
        if key != conversation.key or conversation.rewrites != self._rewrites_drawn:
            self._rewrites_drawn = conversation.rewrites
            self.log_view.clear()
            new = conversation.lines
        else:
            count = conversation.total - shown
            new = conversation.lines[-count:] if count > 0 else []
        for line in new:  # a message that mentions me starts "![" (client/render.py)
            self.log_view.write(Text(line, style=MENTION_STYLE if line.startswith("![") else ""))
        self._shown = (conversation.key, conversation.total)
        topic = model.topic()
        self.topic_bar.update(Text(topic))
        self.topic_bar.display = bool(topic)
        self.status_bar.update(Text(model.status()))
        self.status_bar.set_class(model.link != "connected", "offline")
        self.updated.set()

    def log_lines(self) -> list[str]:
        """The text of the log as drawn (for tests): one string per screen line."""
        return ["".join(segment.text for segment in strip).rstrip()
                for strip in self.log_view.lines]


def run_tui(host: str, port: int, nick: str | None, password: str | None = None,
            tls: ssl.SSLContext | None = None,
            handshake_timeout: float = HANDSHAKE_TIMEOUT) -> int:
    """Run the full-screen ``palaver chat``; returns the exit status."""
    app = ChatApp(host, port, nick, password, tls=tls, handshake_timeout=handshake_timeout)
    app.run()
    return app.return_code or 0


__all__ = ["ChatApp", "run_tui"]
