"""Plain TCP connections served from one epoll set: a transport of ~100 bytes per connection.

Why: an asyncio transport costs about 1.2 KB per connection under uvloop (its transport object,
its libuv handle, a copy of the context, the loop's weak reference to it) and as much under plain
asyncio — about half of what an idle palaver connection costs in all. The plain stream doors
(JSON lines/text, IRC) instead put each accepted socket in one epoll set of their listener's,
which the event loop watches as a single file descriptor. A connection is then an
:class:`EpollTransport` (its file descriptor, its protocol, a word of flags), a dictionary entry,
and the kernel's socket; bytes not yet taken by the kernel wait in the listener's dictionary of
pending writes, so a connection that has none keeps no buffer.

To its protocol it is an ``asyncio.Transport`` with asyncio's contract: ``connection_made``;
``data_received``; ``eof_received`` (its transport closes unless it returns true);
``pause_writing`` past the write-buffer limit and ``resume_writing`` at a quarter of it;
``connection_lost`` once, at a later loop turn. ``write``/``writelines`` write at once (one
``writev`` for many frames) and buffer what the kernel does not take; ``write_eof`` and
``close`` wait for the buffer to drain; ``abort`` does not. Level-triggered: a socket is in the
set only while it is read or has bytes waiting, so one whose reading is paused (rate limits,
a login being checked) costs nothing per loop turn whatever its peer does.

TLS doors keep asyncio's transports (``create_server(ssl=...)``); so does everything where
``select.epoll`` is missing (not Linux), or with the ``stream_io = "asyncio"`` setting.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import socket
from collections.abc import Callable, Iterable
from typing import Any, Final, cast

log = logging.getLogger("palaver.transports")

AVAILABLE: Final = hasattr(select, "epoll")

_READ_SIZE: Final = 65_536  # per read: under glibc's mmap threshold, so a read is a heap block
_IOV_MAX: Final = 1_024  # buffers per writev (Linux's IOV_MAX); more are joined into one
_ACCEPTS: Final = 128  # connections accepted per loop turn and listening socket
_EVENTS: Final = 512  # readiness events handled per loop turn (the rest the next turn)
_ACCEPT_RETRY: Final = 1.0  # out of file descriptors: seconds before accepting again
_RESOURCE_ERRORS: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

_EPOLLIN: Final = select.EPOLLIN if AVAILABLE else 1
_EPOLLOUT: Final = select.EPOLLOUT if AVAILABLE else 4

# EpollTransport._state bits
_IN: Final = 1  # in the epoll set for reading
_OUT: Final = 2  # in the epoll set for writing
_PAUSED: Final = 4  # the protocol paused reading
_READ_EOF: Final = 8  # the peer's end of stream was read
_CLOSING: Final = 16  # close() called: close once the buffer is written
_EOF_WANTED: Final = 32  # write_eof() called: shut our side once the buffer is written
_EOF_WRITTEN: Final = 64
_WRITE_PAUSED: Final = 128  # pause_writing was called and resume_writing not yet
_LOST: Final = 256  # the file descriptor is closed; connection_lost is called or on its way

_DEFAULT_HIGH: Final = 65_536  # asyncio's default write-buffer limit


class _Gone(asyncio.Protocol):
    """The protocol of a transport whose connection is lost (so no cycle keeps either)."""


_GONE: Final = _Gone()


class EpollListener:
    """Listening sockets whose connections are :class:`EpollTransport`\\ s of one epoll set:
    what ``asyncio.Server`` is to ``loop.create_server`` (``sockets``, ``close``,
    ``wait_closed``). Made by :func:`listen`."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 factory: Callable[[], asyncio.Protocol],
                 sockets: list[socket.socket]) -> None:
        self.loop = loop
        self.sockets = sockets
        self._factory = factory
        self._epoll = select.epoll()
        self._transports: dict[int, EpollTransport] = {}
        self.pending: dict[int, bytearray] = {}  # unsent bytes of the connections that have any
        self.making: EpollTransport | None = None  # the connection whose connection_made runs
        self.making_peer: Any = None  # ... and its peer's address, as accept gave it
        self._serving = True
        self._closed = asyncio.Event()
        loop.add_reader(self._epoll.fileno(), self._ready)
        for sock in sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    # ------------------------------------------------------------------ the asyncio.Server part

    def is_serving(self) -> bool:
        return self._serving

    def close(self) -> None:
        """Accept no more connections; those open stay open (as asyncio's ``Server.close``)."""
        if not self._serving:
            return
        self._serving = False
        for sock in self.sockets:
            with contextlib.suppress(ValueError, OSError):  # (the loop may be closed)
                self.loop.remove_reader(sock.fileno())
            sock.close()
        self._closed.set()
        self._settle()

    async def wait_closed(self) -> None:
        """Until it is closed (its connections may still be open: as asyncio's, in 3.11)."""
        if self._serving:
            await self._closed.wait()

    def _settle(self) -> None:
        """Closed and no connection left: let the epoll set go."""
        if self._serving or self._transports or self._epoll.closed:
            return
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self._epoll.fileno())
        self._epoll.close()

    # ------------------------------------------------------------------ accepting

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(_ACCEPTS):
            try:
                # socket.accept without the socket object it would make (and we would not keep)
                fd, peer = sock._accept()  # type: ignore[attr-defined]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in _RESOURCE_ERRORS:
                    continue  # the peer gave up before we took it (ECONNABORTED, ...)
                log.error("accepting connections paused for %.0f s: %s", _ACCEPT_RETRY, exc)
                self.loop.remove_reader(sock.fileno())
                self.loop.call_later(_ACCEPT_RETRY, self._accept_again, sock)
                return
            self._adopt(fd, peer)

    def _accept_again(self, sock: socket.socket) -> None:
        if self._serving:
            self.loop.add_reader(sock.fileno(), self._accept, sock)

    def _adopt(self, fd: int, peer: Any) -> None:
        try:
            os.set_blocking(fd, False)  # (TCP_NODELAY and SO_SNDBUF come from the listener)
            protocol = self._factory()
        except BaseException:
            os.close(fd)
            raise
        try:
            self._epoll.register(fd, _EPOLLIN)
        except OSError as exc:  # (out of epoll watches: max_user_watches)
            os.close(fd)
            log.error("a connection could not be watched, closed: %s", exc)
            return
        transport = EpollTransport(self, fd, protocol)
        self._transports[fd] = transport
        self.making, self.making_peer = transport, peer
        try:
            protocol.connection_made(transport)
        except Exception as exc:
            transport.fail(exc, "connection_made failed")
        finally:
            self.making = self.making_peer = None

    # ------------------------------------------------------------------ readiness

    def _ready(self) -> None:
        transports = self._transports
        for fd, events in self._epoll.poll(0, _EVENTS):
            transport = transports.get(fd)
            if transport is not None:
                transport.ready(events)

    def watch(self, fd: int, old: int, new: int) -> None:
        """Change what the epoll set watches on ``fd`` from ``old`` to ``new`` (_IN/_OUT bits)."""
        mask = (_EPOLLIN if new & _IN else 0) | (_EPOLLOUT if new & _OUT else 0)
        if not old:
            self._epoll.register(fd, mask)
        elif not new:  # out of the set: not even a hang-up is reported until watched again
            self._epoll.unregister(fd)
        else:
            self._epoll.modify(fd, mask)

    def forget(self, fd: int, watched: int) -> None:
        """The connection on ``fd`` is over: out of the set and closed."""
        if watched:
            with contextlib.suppress(OSError):
                self._epoll.unregister(fd)
        self._transports.pop(fd, None)
        self.pending.pop(fd, None)
        os.close(fd)

    def lost(self) -> None:
        """A connection's connection_lost has run."""
        self._settle()


class SocketView:
    """What ``get_extra_info("socket")`` gives: the socket's options and addresses, without a
    socket object that owns (and, collected, would close) the connection's descriptor —
    as asyncio's ``TransportSocket``."""

    __slots__ = ("_transport",)

    def __init__(self, transport: EpollTransport) -> None:
        self._transport = transport

    def fileno(self) -> int:
        return self._transport.call(lambda sock: sock.fileno())  # type: ignore[no-any-return]

    def getsockopt(self, level: int, option: int, size: int = 0) -> Any:
        return self._transport.call(lambda sock: sock.getsockopt(level, option, size)
                                    if size else sock.getsockopt(level, option))

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        self._transport.call(lambda sock: sock.setsockopt(level, option, value))

    def getpeername(self) -> Any:
        return self._transport.call(lambda sock: sock.getpeername())

    def getsockname(self) -> Any:
        return self._transport.call(lambda sock: sock.getsockname())


class EpollTransport(asyncio.Transport):
    """One connection of an :class:`EpollListener`; see the module's docstring."""

    __slots__ = ("_fd", "_high", "_listener", "_protocol", "_state")

    def __init__(self, listener: EpollListener, fd: int, protocol: asyncio.Protocol) -> None:
        # (asyncio.BaseTransport.__init__ would give it an empty dict of extras: not wanted)
        self._listener = listener
        self._fd = fd
        self._protocol = protocol
        self._state = _IN
        self._high = _DEFAULT_HIGH

    # ------------------------------------------------------------------ what the protocol calls

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        listener = self._listener
        if name == "peername" and listener.making is self:
            return listener.making_peer
        if self._state & _LOST:
            return default
        if name == "socket":
            return SocketView(self)
        if name in ("peername", "sockname"):
            try:
                return self.call(lambda sock: (sock.getpeername() if name == "peername"
                                                else sock.getsockname()))
            except OSError:
                return default
        return default

    def is_closing(self) -> bool:
        return bool(self._state & (_CLOSING | _LOST))

    def close(self) -> None:
        state = self._state
        if state & (_CLOSING | _LOST):
            return
        self._set(state | _CLOSING)
        if self._fd not in self._listener.pending:
            self._finish(None)

    def abort(self) -> None:
        self._finish(None)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = cast(asyncio.Protocol, protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def is_reading(self) -> bool:
        return not self._state & (_PAUSED | _READ_EOF | _CLOSING | _LOST)

    def pause_reading(self) -> None:
        if not self._state & _LOST:
            self._set(self._state | _PAUSED)

    def resume_reading(self) -> None:
        if not self._state & _LOST:
            self._set(self._state & ~_PAUSED)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        # The low mark is a quarter of the high one, as asyncio's default; ``low`` is not kept.
        self._high = _DEFAULT_HIGH if high is None else high

    def get_write_buffer_size(self) -> int:
        if self._state & _LOST:  # (its descriptor's number may be another connection's now)
            return 0
        pending = self._listener.pending.get(self._fd)
        return 0 if pending is None else len(pending)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._high // 4, self._high

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._state & (_CLOSING | _EOF_WANTED | _LOST) or not data:
            return
        pending = self._listener.pending.get(self._fd)
        if pending is not None:
            pending += data
            self._check_limit(pending)
            return
        sent = self._send(os.write, data)
        if sent is not None and sent < len(data):
            self._keep(memoryview(data)[sent:])

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        frames = list_of_data if isinstance(list_of_data, list) else list(list_of_data)
        if self._state & (_CLOSING | _EOF_WANTED | _LOST) or not frames:
            return
        if len(frames) > _IOV_MAX or self._fd in self._listener.pending:
            self.write(b"".join(frames))
            return
        sent = self._send(os.writev, frames)
        if sent is not None and sent < sum(map(len, frames)):
            self._keep(memoryview(b"".join(frames))[sent:])

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        state = self._state
        if state & (_CLOSING | _EOF_WANTED | _LOST):
            return
        self._set(state | _EOF_WANTED)
        if self._fd not in self._listener.pending:
            self._shut_writing()  # OSError: the caller's (asyncio raises it too)

    # ------------------------------------------------------------------ what the listener calls

    def ready(self, events: int) -> None:
        """The epoll set reported ``events`` for this connection. Reading comes first, as in
        libuv and asyncio: a peer that sends a last line and resets reports readable, writable
        and the error at once, and its line is handed over before the error ends it."""
        reading = self._state & _IN
        if events & ~_EPOLLOUT and reading:  # readable, or an error or a hang-up
            self._read_ready()  # a read tells which: data, the end, or the error
        if self._state & _OUT and (events & _EPOLLOUT or not reading):
            self._write_ready()  # writable (or, not reading, the write tells the error)

    def fail(self, exc: Exception, message: str) -> None:
        """A protocol callback raised: report it as asyncio does, and drop the connection."""
        self._listener.loop.call_exception_handler({
            "message": message, "exception": exc, "transport": self, "protocol": self._protocol})
        self._finish(exc)

    # ------------------------------------------------------------------ inside

    def _read_ready(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # reset by the peer, mostly
            self._finish(exc)
            return
        protocol = self._protocol
        if data:
            try:
                protocol.data_received(data)
            except Exception as exc:
                self.fail(exc, "data_received failed")
            return
        self._set(self._state | _READ_EOF)
        try:
            keep_open = protocol.eof_received()
        except Exception as exc:
            self.fail(exc, "eof_received failed")
            return
        if not keep_open:
            self.close()

    def _send(self, send: Callable[[int, Any], int], data: Any) -> int | None:
        """``send`` (``os.write`` or ``os.writev``) ``data`` now: how many bytes the kernel
        took, or None if the connection failed (it is lost then)."""
        try:
            return send(self._fd, data)
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError as exc:
            self._finish(exc)
            return None

    def _keep(self, rest: memoryview) -> None:
        """The kernel took part of a write: the rest waits for the socket to be writable."""
        pending = self._listener.pending[self._fd] = bytearray(rest)
        self._set(self._state | _OUT)
        self._check_limit(pending)

    def _check_limit(self, pending: bytearray) -> None:
        if len(pending) > self._high and not self._state & _WRITE_PAUSED:
            self._state |= _WRITE_PAUSED
            self._protocol_call("pause_writing")

    def _write_ready(self) -> None:
        listener = self._listener
        pending = listener.pending.get(self._fd)
        if pending is None:
            self._set(self._state & ~_OUT)
            return
        sent = self._send(os.write, pending)
        if not sent:  # (None: the connection failed; 0: not writable after all)
            return
        del pending[:sent]
        if self._state & _WRITE_PAUSED and len(pending) <= self._high // 4:
            self._state &= ~_WRITE_PAUSED
            self._protocol_call("resume_writing")
        if pending or self._state & _LOST:
            return
        del listener.pending[self._fd]
        self._set(self._state & ~_OUT)
        if self._state & _CLOSING:
            self._finish(None)
        elif self._state & _EOF_WANTED:
            try:
                self._shut_writing()
            except OSError as exc:
                self._finish(exc)

    def _shut_writing(self) -> None:
        if not self._state & _EOF_WRITTEN:
            self._state |= _EOF_WRITTEN
            self.call(lambda sock: sock.shutdown(socket.SHUT_WR))

    def call(self, operation: Callable[[socket.socket], Any]) -> Any:
        """``operation`` on a socket object lent our file descriptor for the call (OSError
        EBADF once the connection is lost)."""
        if self._state & _LOST:
            raise OSError(errno.EBADF, "the connection is closed")
        # (family -1: read from the descriptor, which CPython looks up anyway; a door listening
        # on IPv4 and IPv6 has connections of both)
        sock = socket.socket(-1, socket.SOCK_STREAM, 0, self._fd)
        try:
            return operation(sock)
        finally:
            sock.detach()

    def _protocol_call(self, name: str) -> None:
        try:
            getattr(self._protocol, name)()
        except Exception as exc:
            self.fail(exc, f"{name} failed")

    def _set(self, state: int) -> None:
        """Take ``state``, and have the epoll set watch what it says to."""
        watched = self._state & (_IN | _OUT)
        wanted = state & _OUT
        if not state & (_PAUSED | _READ_EOF | _CLOSING | _LOST):
            wanted |= _IN
        self._state = (state & ~(_IN | _OUT)) | wanted
        if wanted != watched and not state & _LOST:
            self._listener.watch(self._fd, watched, wanted)

    def _finish(self, exc: Exception | None) -> None:
        """The connection is over (``exc``: why, if it failed): the descriptor is closed now,
        ``connection_lost`` runs at the next loop turn."""
        state = self._state
        if state & _LOST:
            return
        self._state = _LOST
        self._listener.forget(self._fd, state & (_IN | _OUT))
        self._listener.loop.call_soon(self._lost, exc)

    def _lost(self, exc: Exception | None) -> None:
        protocol, self._protocol = self._protocol, _GONE
        try:
            protocol.connection_lost(exc)
        finally:
            self._listener.lost()


async def listen(factory: Callable[[], asyncio.Protocol], host: str | None, port: int, *,
                 backlog: int = 100, reuse_port: bool = False) -> EpollListener:
    """Listen on ``host``:``port`` (every address it resolves to, as ``create_server``; port 0:
    any free port) and serve each connection to a protocol from ``factory``."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            # Inherited by every accepted socket (Linux): no call per connection for it.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(exc.errno, f"error while attempting to bind on address "
                                         f"{address!r}: {exc.strerror}") from None
            sock.listen(backlog)
            sock.setblocking(False)
        if not sockets:
            raise OSError(f"no address to listen on for {host!r}")
        return EpollListener(loop, factory, sockets)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise

