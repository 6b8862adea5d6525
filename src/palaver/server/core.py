"""The server core: carries out the hub's effects on live connections.

How this works: every transport (one per front door) registers its connections here. A decoded
message goes to :meth:`ServerCore.receive`, which asks the hub for effects and applies them at
once: a :class:`Deliver` encodes its event once per dialect and appends the same bytes to each
recipient's outbox — nobody is awaited — and the outboxes are flushed together, one write per
connection, at the next turn of the event loop. A connection whose queue passes the limit is cut
off, so a slow reader never slows its room-mates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from palaver.hub import Close, Deliver, Effect, Hub
from palaver.hub.effects import SessionId
from palaver.protocol.errors import ErrorCode, FrameTooLarge, PeerError
from palaver.protocol.messages import ClientMessage, Goodbye, Message, Ping, ServerMessage, Welcome
from palaver.server.liveness import Timeouts, Verdict, judge

log = logging.getLogger("palaver.server")

Encoder = Callable[[ServerMessage], bytes]


class Connection(Protocol):
    """What the core needs from a transport's connection object."""

    sid: SessionId
    opened_at: float
    last_seen: float
    pinged: bool
    peer: str

    @property
    def encoder(self) -> Encoder: ...

    def send(self, data: bytes) -> None: ...
    def flush(self) -> None: ...
    def close(self, farewell: bytes | None) -> None: ...
    def abort(self) -> None: ...


class ServerCore:
    def __init__(
        self,
        hub: Hub,
        *,
        timeouts: Timeouts,
        send_queue_limit: int,
        log_messages: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.hub = hub
        self.timeouts = timeouts
        self.send_queue_limit = send_queue_limit
        self.log_messages = log_messages
        self._wall_clock = wall_clock
        self._loop = asyncio.get_running_loop()
        self._connections: dict[SessionId, Connection] = {}
        self._next_sid = 1
        self._dirty: list[Connection] = []
        self._closed = asyncio.Event()
        self._closed.set()
        self._shutting_down = False
        self._sweeper = self._loop.call_later(timeouts.sweep_interval(), self._sweep)

    # ------------------------------------------------------------------ transports call these

    def monotonic(self) -> float:
        return self._loop.time()

    def attach(self, conn: Connection) -> SessionId:
        sid = self._next_sid
        self._next_sid += 1
        self._connections[sid] = conn
        self._closed.clear()
        self.hub.open_session(sid)
        log.debug("connection %d from %s", sid, conn.peer)
        return sid

    def receive(self, conn: Connection, message: ClientMessage) -> None:
        try:
            effects = self.hub.handle(conn.sid, message, self._wall_clock())
        except Exception:  # we broke it: log it, tell the peer no more than that
            log.exception("failed to handle %s from connection %d", type(message).__name__,
                          conn.sid)
            error = PeerError(ErrorCode.INTERNAL_ERROR, "the server could not handle this request",
                              message.id)
            effects = [self.hub.error_effect(conn.sid, error)]
        self.apply(effects)

    def reject(self, conn: Connection, error: PeerError) -> None:
        """A frame the protocol layer refused: report it; a frame over the limit also closes."""
        self.apply([self.hub.error_effect(conn.sid, error)])
        if isinstance(error, FrameTooLarge):
            log.info("closing connection %d: %s", conn.sid, error.message)
            self._drop(conn, "frame too large", farewell=None)

    def detach(self, conn: Connection, reason: str) -> None:
        """The connection is gone. Idempotent."""
        if self._connections.pop(conn.sid, None) is None:
            return
        if not self._connections:
            self._closed.set()
        if self._shutting_down:  # everyone is leaving: nobody left to tell
            return
        nick = self.hub.nick_of(conn.sid)
        self.apply(self.hub.close_session(conn.sid, reason))
        if nick is not None:
            log.info("%s left (%s)", nick, reason)

    def mark_dirty(self, conn: Connection) -> None:
        """``conn`` has queued bytes; flush it (with every other) at the next loop turn."""
        if not self._dirty:
            self._loop.call_soon(self._flush)
        self._dirty.append(conn)

    def overflowed(self, conn: Connection) -> None:
        """``conn`` passed its send-queue limit: cut it off at once, without a farewell.

        Safe inside a fan-out: a delivery iterates its own tuple of recipients, and a detached
        connection is simply skipped.
        """
        log.warning("closing connection %d (%s): send queue exceeded", conn.sid, conn.peer)
        conn.abort()
        self.detach(conn, "send queue exceeded")

    # ------------------------------------------------------------------ effects

    def apply(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if type(effect) is Deliver:
                self._deliver(effect)
            elif type(effect) is Close:
                conn = self._connections.get(effect.session)
                if conn is not None:
                    goodbye = Goodbye(id=effect.request_id, reason=effect.reason)
                    self._drop(conn, effect.reason, farewell=conn.encoder(goodbye))

    def _deliver(self, effect: Deliver) -> None:
        event = effect.event
        connections = self._connections
        skip = effect.skip
        encoded: dict[Encoder, bytes] = {}
        for sid in effect.to:
            if sid == skip:
                continue
            conn = connections.get(sid)
            if conn is None:
                continue
            encoder = conn.encoder
            data = encoded.get(encoder)
            if data is None:
                data = encoded[encoder] = encoder(event)
            conn.send(data)
        if type(event) is Welcome:
            log.info("%s joined from %s", event.nick, _peer_of(connections, effect.to))
        elif self.log_messages and type(event) is Message and skip is None:
            log.info("message %s <%s> %r", event.room or f"@{event.to}", event.sender, event.text)

    def _drop(self, conn: Connection, reason: str, farewell: bytes | None) -> None:
        conn.close(farewell)
        self.detach(conn, reason)

    def _flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    # ------------------------------------------------------------------ liveness and shutdown

    def _sweep(self) -> None:
        now = self._loop.time()
        for conn in list(self._connections.values()):
            verdict = judge(
                registered=self.hub.is_registered(conn.sid),
                opened_at=conn.opened_at,
                last_seen=conn.last_seen,
                pinged=conn.pinged,
                now=now,
                timeouts=self.timeouts,
            )
            if verdict is Verdict.PING:
                conn.pinged = True
                conn.send(conn.encoder(Ping()))
            elif verdict is not Verdict.OK:
                log.info("closing connection %d (%s): %s", conn.sid, conn.peer, verdict.value)
                self._drop(conn, verdict.value, conn.encoder(Goodbye(reason=verdict.value)))
        self._sweeper = self._loop.call_later(self.timeouts.sweep_interval(), self._sweep)

    async def shutdown(self, grace: float) -> None:
        """Say BYE to everyone, give them ``grace`` seconds to go, then cut the rest."""
        self._sweeper.cancel()
        self._shutting_down = True
        for conn in list(self._connections.values()):
            conn.close(conn.encoder(Goodbye(reason="server shutting down")))
        try:
            await asyncio.wait_for(self._closed.wait(), grace)
        except TimeoutError:
            for conn in list(self._connections.values()):
                conn.abort()
                self.detach(conn, "server shutting down")

    @property
    def connection_count(self) -> int:
        return len(self._connections)


def _peer_of(connections: dict[SessionId, Connection], sids: Iterable[SessionId]) -> str:
    for sid in sids:
        conn = connections.get(sid)
        if conn is not None:
            return conn.peer
    return "?"
