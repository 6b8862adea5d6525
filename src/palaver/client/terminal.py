"""``palaver chat``: the line-mode terminal client.

How this works: a daemon thread reads standard input with ``os.read`` (so a TTY, a pipe and a
regular file redirected with ``<`` all work) and hands whole lines to the asyncio loop through a
queue; ``None`` marks the end of input. The connection is a
:class:`~palaver.client.resilient.ResilientClient`: when it is lost the client says
``* disconnected: <reason>``, ``* reconnecting in ...``, then ``* reconnected``; it resumes where
it left off, resends the lines not yet acknowledged, and shows nothing twice. After the handshake
two tasks run side by side:

- input: each line goes through :func:`~palaver.client.commands.parse_line`; a request is sent
  with a fresh id and remembered as pending. ``/join`` and ``/leave`` wait for their reply, so the
  next line is said in the room they made current; local lines (``/help``, usage errors) wait
  until earlier requests are answered, so a script's output follows its input order. ``/join``
  also shows the room's last :data:`JOIN_HISTORY` messages, before anything newer. ``/who
  #room`` waits too: in a big room (docs/protocol.md §21; the HELLO says ``member_pages``) its
  answer is a page, and ``/who #room more`` asks for the next one from where it ended.
- events: each server frame updates the state (my nick, my rooms, the current room), is printed
  through :func:`~palaver.client.render.render`, and settles the pending request it answers.

At the end of input the client waits until every request has its reply (or ERROR) — while the
link is down, until it is back — says BYE and waits for the server to close; with nothing
pending and no link, it just stops. Exit status: 0 when the chat ended, 1 when it could not start
(no connection, a port that is not palaver's JSON door, nick refused without a TTY to ask again,
wrong password) or stdout was closed under it, 130 on Ctrl+C.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import io
import os
import re
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import tzinfo
from typing import Final, TextIO

import msgspec

from palaver.client.backoff import Backoff
from palaver.client.commands import (
    HELP,
    DownloadFile,
    LocalError,
    ShowHelp,
    UploadFile,
    parse_line,
)
from palaver.client.connection import ConnectionClosed, NotPalaver, ServerError
from palaver.client.events import (
    Acknowledged,
    ClientEvent,
    Disconnected,
    Reconnected,
    Reconnecting,
)
from palaver.client.render import View, error_line, info_line, render, same_name, sanitize
from palaver.client.resilient import HANDSHAKE_TIMEOUT, ResilientClient
from palaver.client.transfers import Transfers
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Goodbye,
    Join,
    Joined,
    Leave,
    Left,
    ListUsers,
    Presence,
    Quit,
    Users,
    Welcome,
    Wire,
)
from palaver.tls import describe_failure

READ_SIZE: Final = 65_536
CLOSE_TIMEOUT: Final = 10.0  # how long to wait for the server to close after our BYE
JOIN_HISTORY: Final = 50  # messages shown on joining a room
RECONNECT: Final = Backoff(initial=0.5, maximum=30.0)  # for ever, at most 30 s apart
RETRY_NICK: Final = frozenset({ErrorCode.NICK_TAKEN.value, ErrorCode.INVALID_NICK.value,
                               ErrorCode.NICK_CONFUSABLE.value})

Lines = asyncio.Queue[str | None]
_ERRNO: Final = re.compile(r"\[Errno (\d+)\]")


class Output:
    """Lines to a text stream, flushed one by one (so a pipe sees each line at once)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __call__(self, lines: Iterable[str]) -> None:
        for line in lines:
            self._stream.write(line + "\n")
            self._stream.flush()

    def prompt(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


def read_lines_in_thread(fd: int | None, loop: asyncio.AbstractEventLoop, lines: Lines) -> None:
    """Feed the lines read from ``fd`` into ``lines`` (then ``None``) from a daemon thread."""

    def deliver(item: str | None) -> None:
        loop.call_soon_threadsafe(lines.put_nowait, item)

    def read() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            while True:
                try:
                    data = os.read(fd, READ_SIZE) if fd is not None else b""
                except OSError:  # e.g. the terminal went away
                    data = b""
                pending += decoder.decode(data, final=not data)
                *complete, pending = pending.split("\n")
                for line in complete:
                    deliver(line.removesuffix("\r"))
                if not data:
                    if pending:
                        deliver(pending)
                    deliver(None)
                    return
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return

    threading.Thread(target=read, name="palaver-stdin", daemon=True).start()


class Chat:
    """One chat session's state and its two loops (input and events)."""

    def __init__(self, client: ResilientClient, out: Output, tz: tzinfo | None = None) -> None:
        welcome = client.welcome
        self.client = client
        self.out = out
        self.tz = tz
        self.me = client.nick
        self.rooms: list[str] = list(welcome.rooms) if welcome is not None else []
        self.room: str | None = self.rooms[0] if self.rooms else None
        self.quitting = False
        self.settled = asyncio.Event()
        self.settled.set()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self.transfers = Transfers(client, lambda: self.me)  # /upload, /download
        self._rejoining: set[str] = set()  # rooms whose JOINED a reconnect brings back: not shown
        self.pages: dict[str, str] = {}  # folded room -> where the next page of members starts

    def view(self) -> View:
        return View(me=self.me, room=self.room, tz=self.tz, mark_mentions=True)

    # ------------------------------------------------------------------ input

    async def pump_input(self, lines: Lines) -> None:
        """Act on each line until the end of input or ``/quit``."""
        while (line := await lines.get()) is not None:
            action = parse_line(line, self.room, self.me, pages=self.pages)
            if action is None:
                continue
            if isinstance(action, UploadFile | DownloadFile):
                await self.settled.wait()  # after the replies to earlier lines
                try:
                    if isinstance(action, UploadFile):
                        await self.transfers.upload(action, self.out)
                    else:
                        await self.transfers.download(action, self.out)
                except (ConnectionClosed, ConnectionError):
                    return
                continue
            if isinstance(action, ShowHelp | LocalError):
                await self.settled.wait()  # after the replies to earlier lines, in input order
                self.out(HELP if isinstance(action, ShowHelp) else [error_line(action.message)])
            else:
                try:
                    if isinstance(action.message, Quit):
                        self.quitting = True
                        await self.client.quit(action.message.reason, timeout=CLOSE_TIMEOUT)
                        return
                    reply = await self.request(action.message)
                    if isinstance(action.message, Join | Leave):
                        await reply  # the next line must see the new current room
                    elif isinstance(action.message, ListUsers) and action.message.room:
                        await reply  # a "/who #room more" next must see where this page ends
                except (ConnectionClosed, ConnectionError):
                    return  # the events loop reports the end

    async def request(self, message: Wire) -> asyncio.Future[None]:
        """Send ``message`` with a fresh id; the future is done when its reply has been shown."""
        request_id = self.client.next_id()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.settled.clear()
        history = JOIN_HISTORY if isinstance(message, Join) else 0
        await self.client.submit(msgspec.structs.replace(message, id=request_id), history=history)
        return future

    # ------------------------------------------------------------------ events

    async def pump_events(self) -> str:
        """Show every event until the connection ends; return why it ended."""
        try:
            while True:
                try:
                    event = await self.client.next_event(timeout=None)
                except ConnectionClosed as closed:
                    return closed.reason
                self.on_event(event)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_result(None)
            self._pending.clear()
            self.settled.set()

    def on_event(self, event: ClientEvent) -> None:
        if isinstance(event, Disconnected | Reconnecting | Reconnected | Acknowledged):
            self.on_link_event(event)
            return
        if isinstance(event, Goodbye):
            return  # shown (or not) once the connection has ended
        self.transfers.seen(event)
        if self.transfers.owns(event):  # /upload's, /download's: they say it their way
            return
        ours = event.id is not None and event.id in self._pending
        extra: list[str] = []
        if isinstance(event, Welcome):
            self.me = event.nick
        elif isinstance(event, Joined):
            if not ours and event.room.lower() in self._rejoining:
                self._rejoining.discard(event.room.lower())
                return  # back in a room we were in, after a reconnect: nothing new
            if not any(same_name(event.room, r) for r in self.rooms):
                self.rooms.append(event.room)
            if ours or self.room is None:
                self.room = event.room
        elif isinstance(event, Users) and event.room is not None:
            self._paged(event)
        elif isinstance(event, Left):
            self.pages.pop(event.room.lower(), None)
            self.rooms = [r for r in self.rooms if not same_name(r, event.room)]
            if same_name(event.room, self.room):
                self.room = self.rooms[-1] if self.rooms else None
                extra.append(
                    info_line(f"now talking in {sanitize(self.room)}") if self.room
                    else info_line("you are in no room now; /join #room to talk")
                )
        elif (isinstance(event, Presence) and event.event == "nick"
              and event.new_nick and same_name(event.nick, self.me)):
            self.me = event.new_nick
        self.out(render(event, self.view()) + extra)
        if ours:
            assert event.id is not None
            self._settle(event.id)

    def _paged(self, event: Users) -> None:
        """A room's members, or a page of them: where ``/who #room more`` goes on from."""
        room = event.room
        assert room is not None
        if event.next is not None:
            self.pages[room.lower()] = event.next
        else:
            self.pages.pop(room.lower(), None)

    def on_link_event(
        self, event: Disconnected | Reconnecting | Reconnected | Acknowledged
    ) -> None:
        if isinstance(event, Acknowledged):  # its message was shown already
            if event.message.id is not None and event.message.id in self._pending:
                self._settle(event.message.id)
        elif isinstance(event, Disconnected):
            self.out([info_line(f"{'gave up: ' if event.final else 'disconnected: '}"
                                f"{sanitize(event.reason)}")])
        elif isinstance(event, Reconnecting):
            self.out([info_line(f"reconnecting in {event.delay:.1f}s (attempt {event.attempt})")])
        else:
            self.me = event.welcome.nick
            self._rejoining = {room.lower() for room in self.rooms}
            self.out([info_line(f"reconnected as {sanitize(self.me)}")])

    def _settle(self, request_id: str) -> None:
        future = self._pending.pop(request_id)
        if not future.done():
            future.set_result(None)
        if not self._pending:
            self.settled.set()

    # ------------------------------------------------------------------ the whole session

    async def run(self, lines: Lines) -> None:
        events = asyncio.create_task(self.pump_events())
        typing = asyncio.create_task(self.pump_input(lines))
        try:
            await asyncio.wait({events, typing}, return_when=asyncio.FIRST_COMPLETED)
            if typing.done():
                typing.result()  # re-raise what broke it (stdout gone, say)
            if not events.done():
                if not self.quitting:  # end of input: let every request be answered first
                    settled = asyncio.create_task(self._all_answered())
                    await asyncio.wait({events, settled}, return_when=asyncio.FIRST_COMPLETED)
                    settled.cancel()
                if not self.quitting and not events.done():
                    self.quitting = True
                    await self.client.quit(timeout=CLOSE_TIMEOUT)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(events), CLOSE_TIMEOUT)
            if events.done():
                events.result()  # re-raises what broke it, if anything did
        finally:
            for task in (typing, events):
                task.cancel()
            await asyncio.gather(typing, events, return_exceptions=True)

    async def _all_answered(self) -> None:
        """Every line's reply shown, and the history asked for (``/join``) too."""
        await self.settled.wait()
        await self.client.wait_settled()
        await self.settled.wait()


# --------------------------------------------------------------------------- start and stop


async def ask_nick(lines: Lines, out: Output, interactive: bool) -> str | None:
    """The next non-empty line of input (after a prompt on a TTY); None at the end of input."""
    while True:
        if interactive:
            out.prompt("Nickname: ")
        line = await lines.get()
        if line is None:
            return None
        if line.strip():
            return line.strip()


async def connect(
    host: str,
    port: int,
    nick: str | None,
    lines: Lines,
    out: Output,
    err: Callable[[str], None],
    interactive: bool,
    password: str | None = None,
    backoff: Backoff = RECONNECT,
    tls: ssl.SSLContext | None = None,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
) -> ResilientClient | None:
    """A registered client, or None after telling the user why not."""
    while True:
        if nick is None:
            nick = await ask_nick(lines, out, interactive)
            if nick is None:
                err("palaver: no nickname given")
                return None
        try:
            return await ResilientClient.connect(host, port, nick, password=password,
                                                 backoff=backoff, ssl=tls,
                                                 handshake_timeout=handshake_timeout,
                                                 member_pages=True)
        except ServerError as exc:
            if interactive and exc.code in RETRY_NICK:
                out([error_line(exc.error.message, exc.code)])
                nick = None
                continue
            err(f"palaver: {sanitize(exc.error.message)} ({sanitize(exc.code)})")
        except NotPalaver as exc:  # before ConnectionClosed, which it is
            err(f"palaver: {host}:{port} {exc.reason}")
        except ConnectionClosed as exc:
            err(f"palaver: {host}:{port} closed the connection: {sanitize(exc.reason)}")
        except TimeoutError:
            err(f"palaver: cannot connect to {host}:{port}: timed out")
        except ssl.SSLError as exc:  # before OSError, which it is
            err(f"palaver: cannot connect to {host}:{port}: {describe_failure(exc)}")
        except OSError as exc:
            err(f"palaver: cannot connect to {host}:{port}: {os_reason(exc)}")
        return None


def os_reason(exc: OSError) -> str:
    """``Connection refused``, not ``[Errno 111] Connect call failed ('127.0.0.1', 8000)``."""
    if isinstance(exc, socket.gaierror) and exc.strerror:
        return exc.strerror
    if exc.errno:
        return os.strerror(exc.errno)
    # Several addresses failed ("Multiple exceptions: [Errno 111] ..., [Errno 111] ...").
    errnos = set(_ERRNO.findall(str(exc)))
    if len(errnos) == 1:
        return os.strerror(int(errnos.pop()))
    return exc.strerror or str(exc) or type(exc).__name__


async def main(
    host: str, port: int, nick: str | None, *, stdin: TextIO | None, out: Output,
    err: Callable[[str], None], tz: tzinfo | None = None, password: str | None = None,
    backoff: Backoff = RECONNECT, tls: ssl.SSLContext | None = None,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
) -> int:
    lines: Lines = asyncio.Queue()
    try:
        fd: int | None = stdin.fileno() if stdin is not None else None
    except (OSError, ValueError):  # closed, or not backed by a file descriptor
        fd = None
    interactive = fd is not None and os.isatty(fd)
    read_lines_in_thread(fd, asyncio.get_running_loop(), lines)
    client = await connect(host, port, nick, lines, out, err, interactive, password, backoff,
                           tls, handshake_timeout)
    if client is None:
        return 1
    try:
        await Chat(client, out, tz).run(lines)
    finally:
        await client.close()
    return 0


def run_terminal(host: str, port: int, nick: str | None, password: str | None = None,
                 tls: ssl.SSLContext | None = None,
                 handshake_timeout: float = HANDSHAKE_TIMEOUT) -> int:
    """Run ``palaver chat`` on stdin/stdout; returns the exit status. With ``password``, log in
    to the account ``nick`` (and again after each reconnect); with ``tls``, over TLS. A port that
    does not answer like palaver within ``handshake_timeout`` seconds: exit status 1."""
    if isinstance(sys.stdout, io.TextIOWrapper):  # never die on a character the locale lacks
        sys.stdout.reconfigure(errors="backslashreplace")

    def err(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        return asyncio.run(main(host, port, nick, stdin=sys.stdin, out=Output(sys.stdout),
                                err=err, password=password, tls=tls,
                                handshake_timeout=handshake_timeout))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # stdout was closed (`palaver chat | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit does not complain
        return 1
