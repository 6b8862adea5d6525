"""An asyncio client for protocol v1, used by the terminal client, the tests and the benchmarks.

    async with await Client.connect("127.0.0.1", 8000, nick="alice") as client:
        await client.request(Join(room="#dev"))            # waits for JOINED (or raises)
        await client.send(Say(room="#dev", text="hi"))     # fire and forget
        async for event in client.events(): ...

Every frame from the server lands in :meth:`events` (replies included, in order); :meth:`request`
also hands its caller the reply that carries the request's ``id``. PING is answered by itself.

Is it palaver at all? :meth:`Client.handshake` sends a PING before the HELLO: a palaver server
answers it at once (even while it checks a password), so a port that says something that is not
a palaver frame — an HTTP or IRC server, TLS — or nothing within ``probe_timeout`` raises
:class:`NotPalaver` instead of leaving the caller waiting or retrying for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from ssl import SSLContext
from types import TracebackType
from typing import Any, Final, TypeVar

from palaver.client.render import sanitize
from palaver.client.session import ClientSession
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Error,
    Goodbye,
    Hello,
    Ping,
    Pong,
    Quit,
    ServerMessage,
    Welcome,
    Wire,
)

READ_SIZE: Final = 65_536
PREVIEW: Final = 200  # bytes of a stranger's greeting kept to show what it said
EventT = TypeVar("EventT", bound=Wire)


class ConnectionClosed(Exception):
    """The server closed the connection (``reason`` says why when it told us)."""

    def __init__(self, reason: str = "connection closed") -> None:
        super().__init__(reason)
        self.reason = reason


class NotPalaver(ConnectionClosed):
    """The peer does not speak palaver's JSON lines: ``reason`` says what it did instead."""


class ServerError(Exception):
    """The server answered a request with ERROR."""

    def __init__(self, error: Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.code = error.code


class Client:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._session = ClientSession()
        self._events: asyncio.Queue[ServerMessage | ConnectionClosed] = asyncio.Queue()
        self._pending: dict[str, asyncio.Future[ServerMessage]] = {}
        self._closed: ConnectionClosed | None = None
        self.nick: str | None = None
        self.welcome: Welcome | None = None
        self.protocol_errors: list[PeerError] = []
        self.probe_id: str | None = None  # the PING of handshake(): its PONG is no news
        self._first_frame: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._first_frame.add_done_callback(_retrieve)
        self._first_bytes = b""  # what the peer said before its first frame (for NotPalaver)
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(
        cls, host: str, port: int, nick: str | None = None, *, timeout: float = 10.0,
        ssl: SSLContext | None = None,
    ) -> Client:
        """Open a connection; with ``nick``, also say HELLO and wait for WELCOME. With ``ssl``
        (e.g. :func:`palaver.tls.client_context`), speak TLS and check the server's certificate
        for ``host``; a failed check raises :class:`ssl.SSLCertVerificationError`."""
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, limit=READ_SIZE, ssl=ssl), timeout
        )
        client = cls(reader, writer)
        if nick is not None:
            try:
                await asyncio.wait_for(client.hello(nick), timeout)
            except BaseException:
                await client.close()
                raise
        return client

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ sending

    async def hello(self, nick: str) -> Welcome:
        reply = await self.request(Hello(version=PROTOCOL_VERSION, nick=nick))
        assert isinstance(reply, Welcome)
        self.welcome = reply
        self.nick = reply.nick
        return reply

    async def handshake(
        self, hello: Hello, *, probe_timeout: float = 2.0, timeout: float | None = 10.0
    ) -> Welcome:
        """PING then HELLO in one write; :class:`NotPalaver` unless a palaver frame comes back
        within ``probe_timeout``; then the WELCOME (within ``timeout``; ERROR raises)."""
        ping = self._session.with_id(Ping())
        self.probe_id = ping.id  # from now on, anything but a palaver frame first: NotPalaver
        if self.protocol_errors and not self._first_frame.done():  # it spoke before we did
            raise NotPalaver(f"is not palaver's JSON port: it said: "
                             f"{_preview(self._first_bytes)}")
        request = self._session.with_id(hello)
        assert request.id is not None
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # NotPalaver may come first
        self._pending[request.id] = future
        try:
            await self.send_raw(self._session.data_to_send(ping)
                                + self._session.data_to_send(request))
            try:
                await asyncio.wait_for(asyncio.shield(self._first_frame), probe_timeout)
            except TimeoutError:
                raise NotPalaver(f"is not palaver's JSON port: no answer within "
                                 f"{probe_timeout:g} s") from None
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request.id, None)
        if isinstance(reply, Error):
            raise ServerError(reply)
        assert isinstance(reply, Welcome)
        self.welcome, self.nick = reply, reply.nick
        return reply

    async def send(self, message: Wire) -> None:
        """Send one frame without waiting for a reply."""
        await self.send_raw(self._session.data_to_send(message))

    def write(self, message: Wire) -> None:
        """Queue one frame for sending at once, without waiting (see :meth:`drain`)."""
        if self._closed is not None:
            raise self._closed
        self._writer.write(self._session.data_to_send(message))

    async def drain(self) -> None:
        """Wait until the transport's buffer is below its high-water mark."""
        if self._closed is not None:
            raise self._closed
        await self._writer.drain()

    async def send_raw(self, data: bytes) -> None:
        """Send bytes as they are (tests use this to send broken frames)."""
        if self._closed is not None:
            raise self._closed
        self._writer.write(data)
        await self._writer.drain()

    async def request(self, message: Wire, *, timeout: float | None = 10.0) -> ServerMessage:
        """Send ``message`` with an id and return the reply carrying it; ERROR raises."""
        message = self._session.with_id(message)
        assert message.id is not None
        future: asyncio.Future[ServerMessage] = asyncio.get_running_loop().create_future()
        self._pending[message.id] = future
        try:
            await self.send(message)
            reply = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(message.id, None)
        if isinstance(reply, Error):
            raise ServerError(reply)
        return reply

    # ------------------------------------------------------------------ receiving

    async def next_event(self, timeout: float | None = 10.0) -> ServerMessage:
        """The next frame from the server; raises :class:`ConnectionClosed` at the end."""
        item = await asyncio.wait_for(self._events.get(), timeout)
        if isinstance(item, ConnectionClosed):
            self._events.put_nowait(item)  # every later call sees the end too
            raise item
        return item

    async def events(self) -> AsyncIterator[ServerMessage]:
        """Every frame from the server until the connection ends."""
        while True:
            try:
                yield await self.next_event(timeout=None)
            except ConnectionClosed:
                return

    async def wait_for(self, kind: type[EventT], *, timeout: float | None = 10.0) -> EventT:
        """Skip events until one of type ``kind`` arrives, and return it."""
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next_event(timeout=None)
                if isinstance(event, kind):
                    return event

    def pending_events(self) -> list[ServerMessage]:
        """Take every event already received, without waiting."""
        out: list[ServerMessage] = []
        while not self._events.empty():
            item = self._events.get_nowait()
            if isinstance(item, ConnectionClosed):
                self._events.put_nowait(item)
                break
            out.append(item)
        return out

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def _read_loop(self) -> None:
        reason = "connection closed"
        stranger = False  # the peer said something, but never a palaver frame
        try:
            while True:
                data = await self._reader.read(READ_SIZE)
                if not data:
                    stranger = (self.probe_id is not None and not self._first_frame.done()
                                and bool(self._first_bytes))
                    break
                if not self._first_frame.done() and len(self._first_bytes) < PREVIEW:
                    self._first_bytes += data[:PREVIEW]
                for item in self._session.receive_data(data):
                    if isinstance(item, PeerError):
                        self.protocol_errors.append(item)
                        if self.probe_id is not None and not self._first_frame.done():
                            stranger = True
                            return
                        continue
                    if not self._first_frame.done():
                        self._first_frame.set_result(None)
                    if isinstance(item, Ping):
                        self._writer.write(self._session.data_to_send(Pong(id=item.id)))
                    elif isinstance(item, Goodbye):
                        reason = item.reason
                    self._events.put_nowait(item)
                    if item.id is not None:
                        future = self._pending.get(item.id)
                        if future is not None and not future.done():
                            future.set_result(item)
        except (ConnectionError, OSError):
            reason = "connection reset"
        finally:
            if stranger:
                self._closed = NotPalaver(f"is not palaver's JSON port: it said: "
                                          f"{_preview(self._first_bytes)}")
                self._writer.transport.abort()
            else:
                self._closed = ConnectionClosed(reason)
            if not self._first_frame.done():
                self._first_frame.set_exception(self._closed)
            self._events.put_nowait(self._closed)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._closed)

    # ------------------------------------------------------------------ closing

    async def quit(self, reason: str | None = None, *, timeout: float = 5.0) -> None:
        """Say BYE and wait for the server to close the connection."""
        with contextlib.suppress(ConnectionClosed, ConnectionError):
            await self.send(Quit(reason=reason))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader_task), timeout)
        await self.close()

    async def close(self) -> None:
        """Close the connection at once (an abrupt disconnect, as far as the server knows)."""
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
        if not self._reader_task.done():
            self._reader_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader_task

    def abort(self) -> None:
        """Reset the connection (RST), as a crashed client would."""
        transport = self._writer.transport
        transport.abort()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark an exception as seen (nobody may be waiting for it any more)."""
    if not future.cancelled():
        future.exception()


def _preview(data: bytes) -> str:
    """The first line of ``data``, made safe and short: ``HTTP/1.1 400 Bad Request``."""
    first = data.split(b"\n", 1)[0].strip()
    text = sanitize(first.decode("utf-8", errors="replace"))
    return (text[:60] + "…" if len(text) > 60 else text) if text else "nothing readable"
