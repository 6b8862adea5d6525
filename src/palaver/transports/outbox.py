"""The sending half that every connection shares, whatever carries its bytes.

The core hands a connection encoded events with :meth:`QueuedSender.send`; they wait in the
connection's outbox until the core flushes every dirty connection at the next loop turn (the
subclass's ``flush`` writes them in one go). While a resume replays history (:meth:`hold`)
live events wait behind it, and :meth:`release` puts the replay first.

Slow readers (docs/limits.md, "Send queue"; the rule is
:class:`~palaver.server.limits.SendQueueRule`): what the kernel does not take waits in the
transport's write buffer. A connection whose buffer passes the limit is *behind* (the stream
doors learn it from asyncio's ``pause_writing``/``resume_writing``, the WebSocket door by looking
at each flush); behind for the grace period, it is cut off — so a burst that a client reads is
delivered, and a client that does not read is dropped. A hard ceiling on what waits keeps memory
bounded whatever happens. A cut connection is reset (:func:`reset`): its kernel buffer is
dropped at once, not sent on for minutes. Each connection's kernel send buffer is bounded
(:func:`bound_send_buffer`; the stream doors' once, on the listening socket:
:func:`bound_listener_send_buffers`) so that a client that stops reading fills it, and is
noticed, within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, cast

from palaver.transports.epoll import EpollListener

if TYPE_CHECKING:
    from palaver.server.core import Connection, ServerCore

_LINGER_RESET: Final = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def bound_send_buffer(transport: asyncio.BaseTransport, size: int) -> None:
    """Set the kernel's send buffer of ``transport``'s socket to ``size`` bytes (SO_SNDBUF;
    Linux doubles it for its bookkeeping); 0 leaves the kernel's own, autotuned one."""
    sock = transport.get_extra_info("socket")
    if size and sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def bound_listener_send_buffers(server: asyncio.Server | EpollListener, size: int) -> None:
    """:func:`bound_send_buffer` once for every connection ``server`` accepts: set on its
    listening sockets, the buffer size (and the lock that stops the kernel autotuning it) is
    inherited by each accepted socket, so a stream connection costs no call (and no socket
    object kept by the transport) for it."""
    if size:
        for sock in server.sockets:
            with contextlib.suppress(OSError, AttributeError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


def reset(transport: asyncio.Transport) -> None:
    """Close ``transport`` at once with a TCP reset: nothing queued is sent, in the process or
    in the kernel, and the kernel frees the connection's buffers now."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    transport.abort()


# The slots of what QueuedSender keeps: each connection class lists them in its own __slots__
# (QueuedSender has none, so that a connection class may also have another base with slots:
# StreamConnection is its own ConnectionPolicy).
SENDER_SLOTS: Final = ("_behind", "_held", "_judge_at", "_outbox", "_queued")


class QueuedSender:
    # (mypy checks what QueuedSender assigns against the slots each connection class gives it)
    __slots__ = SENDER_SLOTS if TYPE_CHECKING else ()

    _outbox: list[bytes]
    _queued: int
    _held: list[bytes] | None
    _behind: float | None
    _judge_at: asyncio.TimerHandle | None

    # Provided by the connection class.
    _core: ServerCore
    closing: bool

    def _init_outbox(self) -> None:
        self._outbox = []  # what waits (one list for the connection's life: see flush)
        self._queued = 0
        self._held = None  # frames waiting behind a replay
        self._behind = None  # since when the client is behind (loop time)
        self._judge_at = None  # the end of its grace

    def _write_buffer_size(self) -> int:
        """Bytes written but not yet taken by the kernel (the subclass knows its transport)."""
        raise NotImplementedError

    def send(self, data: bytes) -> None:
        if self.closing:
            return
        if self._held is not None:
            self._held.append(data)
            return
        if not self._outbox:
            self._core.mark_dirty(self)  # type: ignore[arg-type]  # the subclass is one
        self._outbox.append(data)
        self._queued += len(data)
        # What one loop turn queues is bounded by what the turn read; this only bounds memory.
        # Slow readers are caught by what they leave unread over time (_behind).
        if self._queued > self._core.limits.send_queue.ceiling:
            self._judge()

    def send_each(self, conns: Sequence[Connection], data: bytes,
                  skip: Connection | None) -> int:
        """:meth:`send` ``data`` to each of ``conns`` (QueuedSenders all) but ``skip``; how many.

        A big room's message comes here once per group of recipients that render it alike
        (server/audiences.py): the usual case — not closing, not held — is :meth:`send` without
        a call per recipient, and the newly dirty connections are handed to the core together."""
        core = self._core
        ceiling = core.limits.send_queue.ceiling
        size = len(data)
        dirty: list[Connection] = []
        sent = 0
        for conn in cast("Sequence[QueuedSender]", conns):
            if conn is skip:  # type: ignore[comparison-overlap]  # the subclasses are ones
                continue
            sent += 1
            if conn.closing or conn._held is not None:
                conn.send(data)
                continue
            outbox = conn._outbox
            if not outbox:
                dirty.append(conn)  # type: ignore[arg-type]  # the subclasses are ones
            outbox.append(data)
            conn._queued = queued = conn._queued + size
            if queued > ceiling:
                conn._judge()
        if dirty:
            core.mark_all_dirty(dirty)
        return sent

    def hold(self) -> None:
        if self._held is None:
            self._held = []

    def release(self, first: list[bytes]) -> None:
        held, self._held = self._held or [], None
        for data in first:
            self.send(data)
        for data in held:
            self.send(data)

    # ------------------------------------------------------------------ slow readers

    def _look(self, buffered: int) -> None:
        """The write buffer holds ``buffered`` bytes now: behind, caught up, or as it was."""
        rule = self._core.limits.send_queue
        since = rule.behind_since(buffered, self._behind, self._core.monotonic())
        if since is None:
            self._caught_up()
        elif self._behind is None:
            self._fell_behind(since)

    def _fell_behind(self, now: float) -> None:
        """The write buffer passed the limit: the grace period starts."""
        if self._behind is not None or self.closing:
            return
        self._behind = now
        self._judge_at = self._core.loop.call_later(
            self._core.limits.send_queue.grace, self._grace_over)

    def _caught_up(self) -> None:
        """The write buffer drained to the low water mark: not behind any more."""
        self._behind = None
        if self._judge_at is not None:
            self._judge_at.cancel()
            self._judge_at = None

    def _grace_over(self) -> None:
        self._judge_at = None
        self._look(self._write_buffer_size())
        self._judge()

    def _judge(self) -> None:
        """Cut the connection off if the send-queue rule says so."""
        if self.closing:
            return
        why = self._core.limits.send_queue.cut(self._queued + self._write_buffer_size(),
                                               self._behind, self._core.monotonic())
        if why is not None:
            self._core.overflowed(self, why)  # type: ignore[arg-type]  # the subclass is one

    def _drop_queue(self) -> None:
        """Being cut off: free what waits for this connection now."""
        self._outbox.clear()
        self._queued = 0
        self._held = None
        self._caught_up()
