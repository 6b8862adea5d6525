"""A client that survives lost connections: reconnects, resumes, resends, shows nothing twice.

    client = await ResilientClient.connect("127.0.0.1", 8000, "alice", backoff=Backoff(0.1, 5))
    ack = await (await client.send_chat("#lobby", "hi"))   # the MESSAGE that acknowledged it
    async for event in client.events(): ...                # server frames and link events
    await client.quit()

How this works: one supervisor task owns the connection (a :class:`Client`). It feeds every frame
from the server to a :class:`~palaver.client.tracker.ResumeTracker` (the sans-I/O bookkeeping),
puts what the tracker says to show into one queue (:meth:`events`), settles the futures of
answered requests and sends the history requests the tracker asks for. When the connection ends
— EOF, a reset, or a BYE we did not ask for (``server shutting down`` included) — it reports
:class:`Disconnected`, waits (:class:`~palaver.client.backoff.Backoff`, reported as
:class:`Reconnecting`) and opens a new one with a HELLO that logs in again (``password``) or
reclaims the guest (``token``), rejoins the rooms and carries ``since`` (the marks), and then
resends every request not yet answered, with the same ids, in the order first sent — before
anything new, which waits in the same queue while the link is down. A refused HELLO other than
"unavailable" (a wrong password, a nick taken by someone else) ends it for good.

A request that breaks a documented limit (a text over 4,000 characters or only spaces, a frame
over ``max_frame`` bytes: :mod:`palaver.client.limits`) is never sent: :meth:`submit` answers it
at once as the server would — its future fails with :class:`ServerError` and the ERROR, with the
request's id, is in the event stream. A request that the server refuses (an ERROR with its id) is
answered, so it is not resent; one after which the connection keeps dropping is given up after a
few tries (the tracker's *strikes*) and reported the same way, so a reconnect loop cannot spin.

Every request (:meth:`submit`) is pending until the frame with its id arrives; resending a
JOIN, a WHO or a HISTORY is harmless, and the server stores a CHAT or DM at most once per id and
answers a resend with the original MESSAGE. A MESSAGE is shown once per (conversation, msg_id).

GAP (more was missed than the server replays): by default (``fill_gaps``) the client fetches the
missing messages with HISTORY and shows them, in order, before the replayed ones; the GAP itself
is not shown. With ``fill_gaps=False`` the GAP event is shown and fetching is up to the user.
``join(room, history=50)`` shows the room's last 50 messages after JOINED, before newer ones;
``login_history=50`` does the same for the rooms the first WELCOME lists. ``member_pages``: every
HELLO says so, and a big room's members come in pages (JOINED ``members_next``, WHO ``after``;
docs/protocol.md §21) — for a client that fetches the rest (``palaver chat`` does).

The first connection is not retried: :meth:`connect` raises as :meth:`Client.connect` does —
and :class:`~palaver.client.connection.NotPalaver` when the port does not answer the handshake's
PING like a palaver server within ``handshake_timeout`` (:meth:`Client.handshake`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import AsyncIterator, Callable
from ssl import SSLContext
from typing import Final, cast

import msgspec

from palaver.client.backoff import Backoff
from palaver.client.connection import Client, ConnectionClosed, ServerError
from palaver.client.events import ClientEvent, Disconnected, Reconnected, Reconnecting
from palaver.client.limits import MAX_FRAME
from palaver.client.tracker import ResumeTracker, Step
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Error,
    Goodbye,
    Join,
    Joined,
    Message,
    Ping,
    Pong,
    Quit,
    Say,
    SendDirect,
    ServerMessage,
    Welcome,
    Wire,
)
from palaver.tls import describe_failure

HANDSHAKE_TIMEOUT: Final = 2.0  # a palaver server answers the handshake's PING at once
RETRYABLE: Final = frozenset({ErrorCode.UNAVAILABLE.value, ErrorCode.INTERNAL_ERROR.value})


class ResilientClient:
    def __init__(
        self,
        host: str,
        port: int,
        nick: str,
        *,
        password: str | None = None,
        backoff: Backoff | None = None,
        fill_gaps: bool = True,
        connect_timeout: float = 10.0,
        id_prefix: str | None = None,
        rand: Callable[[], float] = random.random,
        ssl: SSLContext | None = None,
        max_frame: int = MAX_FRAME,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        login_history: int = 0,
        member_pages: bool = False,
    ) -> None:
        self.host = host
        self.handshake_timeout = handshake_timeout  # for a first answer: is it palaver at all?
        self.port = port
        self.ssl = ssl  # TLS for every connection (palaver.tls.client_context), or None
        self.tracker = ResumeTracker(nick, password=password, id_prefix=id_prefix,
                                     fill_gaps=fill_gaps, max_frame=max_frame,
                                     login_history=login_history, member_pages=member_pages)
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.welcome: Welcome | None = None
        self.reconnects = 0
        self._rand = rand
        self._current: Client | None = None  # the connection, from connect to close
        self._live: Client | None = None  # ...once it said WELCOME and took the resends
        self._futures: dict[str, asyncio.Future[ServerMessage]] = {}
        self._events: asyncio.Queue[ClientEvent | None] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._quitting = False
        self._ended: ConnectionClosed | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._watchers: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        nick: str,
        *,
        password: str | None = None,
        backoff: Backoff | None = None,
        fill_gaps: bool = True,
        connect_timeout: float = 10.0,
        ssl: SSLContext | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        login_history: int = 0,
        member_pages: bool = False,
    ) -> ResilientClient:
        """Connect and say HELLO; raises (ServerError, NotPalaver, OSError, TimeoutError, ...)
        if it fails (with ``ssl``: :class:`ssl.SSLCertVerificationError` when the certificate
        is wrong)."""
        client = cls(host, port, nick, password=password, backoff=backoff, fill_gaps=fill_gaps,
                     connect_timeout=connect_timeout, ssl=ssl,
                     handshake_timeout=handshake_timeout, login_history=login_history,
                     member_pages=member_pages)
        await client.start()
        return client

    async def start(self) -> None:
        """Connect; return once every room we are in has its mark (so nothing can be missed;
        waiting at most ``connect_timeout``)."""
        conn, welcome = await self._open()
        self._began(conn, welcome, first=True)
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(conn))
        with contextlib.suppress(TimeoutError, ConnectionClosed):  # a server that never says
            await self._until(lambda: all(self.tracker.ready(r) for r in welcome.rooms),
                              self.connect_timeout)

    async def __aenter__(self) -> ResilientClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ state

    @property
    def nick(self) -> str:
        return self.tracker.me

    @property
    def connection(self) -> Client | None:
        """The current connection, if any (tests cut it with ``.abort()``)."""
        return self._current

    @property
    def connected(self) -> bool:
        return self._live is not None

    @property
    def ended(self) -> bool:
        return self._ended is not None

    # ------------------------------------------------------------------ requests

    async def submit(self, message: Wire, *, history: int = 0) -> asyncio.Future[ServerMessage]:
        """Send ``message`` (now, or once reconnected); the future gets the frame carrying its
        id (ERROR: :class:`ServerError`; the client ending first: :class:`ConnectionClosed`).

        ``message`` keeps its id if it has one (use :meth:`next_id`). ``history`` (JOIN only):
        also show that many of the room's last messages.
        """
        if self._ended is not None:
            raise self._ended
        if message.id is None:
            message = msgspec.structs.replace(message, id=self.tracker.next_id())
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        refused = self.tracker.check(message)
        if refused is not None:  # the server would refuse it (or close on it): never sent
            future.set_exception(ServerError(refused))
            self._emit(refused)
            return future
        message = self.tracker.submit(message, history=history)
        assert message.id is not None
        self._futures[message.id] = future
        self._idle.clear()
        live = self._live
        if live is not None:
            with contextlib.suppress(ConnectionClosed, ConnectionError):
                live.write(message)
                await live.drain()
        return future

    def next_id(self) -> str:
        return self.tracker.next_id()

    async def request(self, message: Wire, *, timeout: float | None = 10.0) -> ServerMessage:
        """Send ``message`` and return its reply (across reconnects, within ``timeout``)."""
        return await asyncio.wait_for(await self.submit(message), timeout)

    async def send_chat(self, room: str, text: str) -> asyncio.Future[Message]:
        """Say ``text`` in ``room``; the future gets the acknowledging MESSAGE."""
        return cast("asyncio.Future[Message]", await self.submit(Say(room=room, text=text)))

    async def send_dm(self, to: str, text: str) -> asyncio.Future[Message]:
        """Send ``text`` to ``to``; the future gets the acknowledging MESSAGE."""
        return cast("asyncio.Future[Message]", await self.submit(SendDirect(to=to, text=text)))

    async def join(self, room: str, *, history: int = 0, timeout: float | None = 10.0) -> Joined:
        """Join ``room``; return JOINED once the room has its mark (and, with ``history``, its
        last messages are in the event stream)."""
        async with asyncio.timeout(timeout):
            reply = await (await self.submit(Join(room=room), history=history))
            assert isinstance(reply, Joined)
            await self._until(lambda: self.tracker.ready(reply.room), None)
        return reply

    async def wait_idle(self) -> None:
        """Until no request is waiting for its reply (or the client has ended)."""
        await self._idle.wait()

    async def wait_settled(self) -> None:
        """Until every request of the user's has its reply and no history is being fetched
        (every message asked for is in the event stream), or the client has ended."""
        with contextlib.suppress(ConnectionClosed):
            await self._until(lambda: self.tracker.settled, None)

    async def _until(self, predicate: Callable[[], bool], timeout: float | None) -> None:
        """Until ``predicate()`` holds (checked after each step); ConnectionClosed at the end."""
        if predicate():
            return
        if self._ended is not None:
            raise self._ended
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        watch = (predicate, future)
        self._watchers.append(watch)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._watchers.remove(watch)

    # ------------------------------------------------------------------ events

    async def next_event(self, timeout: float | None = 10.0) -> ClientEvent:
        """The next event; raises :class:`ConnectionClosed` once the client has ended."""
        item = await asyncio.wait_for(self._events.get(), timeout)
        if item is None:
            self._events.put_nowait(None)  # every later call sees the end too
            assert self._ended is not None
            raise self._ended
        return item

    async def events(self) -> AsyncIterator[ClientEvent]:
        """Every event until the client ends (quit, close, or gave up reconnecting)."""
        while True:
            try:
                yield await self.next_event(timeout=None)
            except ConnectionClosed:
                return

    # ------------------------------------------------------------------ closing

    async def quit(self, reason: str | None = None, *, timeout: float = 5.0) -> None:
        """Say BYE (if connected), stop reconnecting, and wait for the end."""
        self._quitting = True
        self._stopping.set()
        live = self._live
        if live is not None:
            with contextlib.suppress(ConnectionClosed, ConnectionError):
                live.write(Quit(reason=reason))
                await live.drain()
        elif self._current is not None:
            await self._current.close()  # mid-handshake: nothing to say goodbye to yet
        if self._supervisor is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._supervisor), timeout)
        await self.close()

    async def close(self) -> None:
        """Stop at once (an abrupt disconnect, as far as the server knows)."""
        self._quitting = True
        self._stopping.set()
        if self._supervisor is not None and not self._supervisor.done():
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self._current is not None:
            await self._current.close()
            self._current = None
        self._finish("closed")

    # ------------------------------------------------------------------ the supervisor

    async def _open(self) -> tuple[Client, Welcome]:
        conn = await Client.connect(self.host, self.port, timeout=self.connect_timeout,
                                    ssl=self.ssl)
        self._current = conn
        try:
            reply = await conn.handshake(self.tracker.hello(), timeout=self.connect_timeout,
                                         probe_timeout=self.handshake_timeout)
        except BaseException:
            await conn.close()
            raise
        return conn, reply

    def _began(self, conn: Client, welcome: Welcome, *, first: bool) -> None:
        """A connection is up: resend what is pending, in order, before anything new."""
        self.tracker.welcomed(welcome)  # its requests join the pending ones, sent just below
        self.welcome = welcome
        self._emit(welcome if first else Reconnected(welcome))
        if self.tracker.pending:
            self._idle.clear()
        with contextlib.suppress(ConnectionClosed):
            for message in self.tracker.pending:
                conn.write(message)
        self._live = conn

    async def _supervise(self, conn: Client) -> None:
        reason = "connection closed"
        try:
            while True:
                reason = await self._pump(conn)
                self._live = None
                await conn.close()
                if self._quitting:
                    return
                self._apply(self.tracker.lost())  # the same request each time: give it up
                self._emit(Disconnected(reason))
                again = await self._reconnect(reason)
                if again is None:
                    return
                conn = again
        finally:
            self._live = None
            self._finish(reason)

    async def _pump(self, conn: Client) -> str:
        """Handle every frame of ``conn``; return why it ended."""
        while True:
            try:
                event = await conn.next_event(timeout=None)
            except ConnectionClosed as closed:
                return closed.reason
            if isinstance(event, Welcome | Goodbye | Ping):
                continue  # the handshake is done; the end comes as ConnectionClosed
            if isinstance(event, Pong) and event.id == conn.probe_id:
                continue  # the handshake's "is it palaver?"
            self._apply(self.tracker.receive(event))

    async def _reconnect(self, reason: str) -> Client | None:
        attempt = 0
        while True:
            attempt += 1
            if self.backoff.gives_up(attempt):
                self._emit(Disconnected(reason, final=True))
                return None
            delay = self.backoff.delay(attempt, self._rand())
            self._emit(Reconnecting(attempt, delay, reason))
            if await self._stopped_within(delay):
                return None
            try:
                conn, welcome = await self._open()
            except ServerError as exc:
                reason = f"{exc.error.message} ({exc.code})"
                if exc.code not in RETRYABLE:
                    self._emit(Disconnected(reason, final=True))
                    return None
                continue
            except ConnectionClosed as exc:
                reason = exc.reason
                continue
            except (OSError, TimeoutError) as exc:
                reason = describe(exc)
                continue
            if self._quitting:
                await conn.close()
                return None
            self.reconnects += 1
            self._began(conn, welcome, first=False)
            return conn

    async def _stopped_within(self, delay: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return False
        return True

    # ------------------------------------------------------------------ plumbing

    def _apply(self, step: Step) -> None:
        live = self._live
        if live is not None:
            with contextlib.suppress(ConnectionClosed):
                for message in step.requests:
                    live.write(message)
        for request_id, reply in step.replies:
            future = self._futures.pop(request_id, None)
            if future is not None and not future.done():
                if isinstance(reply, Error):
                    future.set_exception(ServerError(reply))
                else:
                    future.set_result(reply)
        for event in step.events:
            self._emit(event)
        if not self.tracker.pending:
            self._idle.set()
        for predicate, watcher in self._watchers:
            if not watcher.done() and predicate():
                watcher.set_result(None)

    def _emit(self, event: ClientEvent) -> None:
        if self._ended is None:
            self._events.put_nowait(event)

    def _finish(self, reason: str) -> None:
        if self._ended is not None:
            return
        _, held = self.tracker.abandon()
        for event in held:
            self._emit(event)
        self._ended = ConnectionClosed(reason)
        for future in self._futures.values():
            if not future.done():
                future.set_exception(self._ended)
        self._futures.clear()
        for _, watcher in self._watchers:
            if not watcher.done():
                watcher.set_exception(self._ended)
        self._idle.set()
        self._events.put_nowait(None)


def _retrieve(future: asyncio.Future[ServerMessage]) -> None:
    """Mark an exception as seen: a caller may well never await a send's future."""
    if not future.cancelled():
        future.exception()


def describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return describe_failure(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


__all__ = ["HANDSHAKE_TIMEOUT", "RETRYABLE", "ResilientClient", "describe"]
