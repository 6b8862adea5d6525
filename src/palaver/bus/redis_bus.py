"""RedisBus: the Bus port over Redis pub/sub (redis-py's asyncio client, hiredis's parser).

How this works: a conversation's channel is ``prefix + conversation`` on the Redis server of
its shard (``crc32(conversation) % len(urls)``: the same on every node given the same URLs in
the same order). A frame is the message's id (8 bytes, big-endian) and the payload.

Per shard, one connection publishes (one at a time, so a node's messages leave in the order it
published them) and one task owns a subscriber connection: it connects, subscribes to every
channel asked for, sends a PING and, when the PONG comes back (every SUBSCRIBE before it has
been done: Redis answers in order), says the shard is ``up``. Then it reads: messages are told
to the receiver; a quiet connection gets a PING every ``ping_interval``, and one whose PING is
not answered within ``ping_timeout`` counts as dead (a network that drops packets gives no
error). When the connection fails, the shard is ``down`` and the task connects again after a
backoff that doubles from ``backoff_min`` to ``backoff_max``, until :meth:`RedisBus.close`.
While a shard is down, publishing on it says False at once: the message is in the store, and
every node re-reads the store when the shard is up again. redis-py's own retries are off but for
one on a PUBLISH (its connection may have died since the last one): the shard's task is the
one place that reconnects. The connections speak RESP2, where pub/sub messages are replies
(RESP3, redis-py's default, would hand them to a push handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from palaver.bus.base import BusError, BusReceiver, decode_frame, encode_frame, shard_of

log = logging.getLogger(__name__)

PREFIX: Final = "palaver:"
CONNECT_TIMEOUT: Final = 2.0  # seconds to connect to a Redis server
COMMAND_TIMEOUT: Final = 2.0  # seconds a PUBLISH or SUBSCRIBE may take
PING_INTERVAL: Final = 1.0  # a subscriber connection quiet this long is pinged
PING_TIMEOUT: Final = 3.0  # and is dead when the PONG has not come this long after
BACKOFF_MIN: Final = 0.05  # seconds before reconnecting, doubled up to BACKOFF_MAX
BACKOFF_MAX: Final = 2.0
CLOSE_TIMEOUT: Final = 5.0
_ERRORS: Final = (RedisError, OSError, TimeoutError)


def redacted(url: str) -> str:
    """``url`` without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(eq=False)
class _Shard:
    index: int
    url: str
    pool: ConnectionPool  # makes the subscriber connections
    publisher: Redis
    channels: dict[bytes, str] = field(default_factory=dict)  # subscribed: -> conversation
    waiters: dict[bytes, list[asyncio.Future[None]]] = field(default_factory=dict)
    conn: AbstractConnection | None = None  # the subscriber connection, once connected
    up: bool = False
    task: asyncio.Task[None] | None = None


class RedisBus:
    def __init__(self, urls: str | list[str] | tuple[str, ...], *, prefix: str = PREFIX,
                 connect_timeout: float = CONNECT_TIMEOUT,
                 command_timeout: float = COMMAND_TIMEOUT,
                 ping_interval: float = PING_INTERVAL, ping_timeout: float = PING_TIMEOUT,
                 backoff_min: float = BACKOFF_MIN, backoff_max: float = BACKOFF_MAX) -> None:
        self.urls = [urls] if isinstance(urls, str) else list(urls)
        if not self.urls:
            raise ValueError("RedisBus needs at least one Redis URL")
        self.prefix = prefix.encode("utf-8")
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self._receiver: BusReceiver | None = None
        self._shards: list[_Shard] = []
        self._closing: asyncio.Event | None = None
        self._closed = False

    @property
    def shards(self) -> int:
        return len(self.urls)

    def shard_of(self, conversation: str) -> int:
        return shard_of(conversation, len(self.urls))

    def is_up(self, shard: int) -> bool:
        return bool(self._shards) and self._shards[shard].up

    # ------------------------------------------------------------------ the port

    async def open(self, receiver: BusReceiver) -> None:
        if self._closed or self._receiver is not None:
            raise BusError("this bus was already opened")
        self._receiver = receiver
        self._closing = asyncio.Event()
        options: dict[str, Any] = {
            "socket_connect_timeout": self.connect_timeout,
            "socket_timeout": self.command_timeout,
            "retry": Retry(NoBackoff(), 0),
            "client_name": "palaver",
            "protocol": 2,  # pub/sub replies read as replies (RESP3 makes them pushes)
        }
        for index, url in enumerate(self.urls):
            try:
                pool = ConnectionPool.from_url(url, **options)
                # One retry: its connection may have died since the last PUBLISH (a restart).
                publisher = Redis.from_url(url, single_connection_client=True,
                                           **(options | {"retry": Retry(NoBackoff(), 1)}))
            except ValueError as exc:
                await self.close()
                raise BusError(f"not a Redis URL: {redacted(url)}: {exc}") from None
            self._shards.append(_Shard(index, url, pool, publisher))
        for shard in self._shards:
            shard.task = asyncio.create_task(self._run(shard),
                                             name=f"palaver-bus-shard-{shard.index}")

    async def publish(self, conversation: str, msg_id: int, payload: bytes) -> bool:
        shard = self._shard(conversation)
        if not shard.up:
            return False
        channel = self._channel(conversation)
        try:
            async with asyncio.timeout(self.command_timeout):
                await shard.publisher.publish(channel, encode_frame(msg_id, payload))
        except _ERRORS as exc:
            log.debug("bus: publishing on %s failed: %s", redacted(shard.url), exc)
            return False
        return True

    async def subscribe(self, conversation: str) -> None:
        shard = self._shard(conversation)
        channel = self._channel(conversation)
        if channel in shard.channels:
            return
        shard.channels[channel] = conversation
        conn = shard.conn
        if conn is None:  # down: subscribed on reconnect, before it says up
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        shard.waiters.setdefault(channel, []).append(done)
        try:
            async with asyncio.timeout(self.command_timeout):
                await conn.send_command("SUBSCRIBE", channel)
                await asyncio.shield(done)
        except _ERRORS as exc:  # the subscriber task reconnects, and subscribes again
            log.debug("bus: subscribing on %s failed: %s", redacted(shard.url), exc)
        finally:
            waiting = shard.waiters.get(channel, [])
            if done in waiting:
                waiting.remove(done)
            if not waiting:
                shard.waiters.pop(channel, None)

    async def unsubscribe(self, conversation: str) -> None:
        shard = self._shard(conversation)
        channel = self._channel(conversation)
        if shard.channels.pop(channel, None) is None:
            return
        conn = shard.conn
        if conn is None:
            return
        try:
            async with asyncio.timeout(self.command_timeout):
                await conn.send_command("UNSUBSCRIBE", channel)
        except _ERRORS as exc:  # what still comes for it is not told
            log.debug("bus: unsubscribing on %s failed: %s", redacted(shard.url), exc)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._receiver = None  # nothing is told from now on
        if self._closing is not None:
            self._closing.set()
        tasks = [shard.task for shard in self._shards if shard.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        for shard in self._shards:
            with contextlib.suppress(*_ERRORS):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await shard.publisher.aclose()
            with contextlib.suppress(*_ERRORS):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await shard.pool.aclose()

    # ------------------------------------------------------------------ the shard's task

    def _shard(self, conversation: str) -> _Shard:
        if self._closed or not self._shards:
            raise BusError("the bus is not open")
        return self._shards[self.shard_of(conversation)]

    def _channel(self, conversation: str) -> bytes:
        return self.prefix + conversation.encode("utf-8")

    async def _run(self, shard: _Shard) -> None:
        """Connect, subscribe, read; on a failure, report down and connect again."""
        closing = self._closing
        assert closing is not None
        delay = self.backoff_min
        while not self._closed:  # each turn ends with a failure, bounded by the timeouts
            was_up = False
            conn: AbstractConnection = shard.pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await conn.connect()  # type: ignore[no-untyped-call]
                shard.conn = conn
                channels = list(shard.channels)  # what is subscribed from now on is sent on it
                if channels:
                    await conn.send_command("SUBSCRIBE", *channels)
                await conn.send_command("PING")
                await self._read(shard, conn)
            except _ERRORS as exc:
                if not self._closed:
                    log.warning("bus: Redis at %s: %s", redacted(shard.url),
                                exc or type(exc).__name__)
            finally:
                shard.conn = None
                self._release_waiters(shard)
                with contextlib.suppress(*_ERRORS):
                    await conn.disconnect(nowait=True)
                if shard.up:
                    was_up = True
                    shard.up = False
                    self._tell_state(shard, False)
            if was_up:
                delay = self.backoff_min
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await closing.wait()
            delay = min(delay * 2, self.backoff_max)

    async def _read(self, shard: _Shard, conn: AbstractConnection) -> None:
        """Read from the subscriber connection until it fails (an exception) or the bus is
        closed. The PING sent after the SUBSCRIBEs is outstanding when this starts."""
        loop = asyncio.get_running_loop()
        pinged: float | None = loop.time()
        while not self._closed:  # ends with a failure: every read is bounded
            reply = await conn.read_response(timeout=self.ping_interval)
            now = loop.time()
            if reply is None:  # quiet
                if pinged is None:
                    await conn.send_command("PING")
                    pinged = now
                elif now - pinged >= self.ping_timeout:
                    raise TimeoutError(f"no answer to PING in {self.ping_timeout:.1f} s")
                continue
            kind = reply[0] if isinstance(reply, list) and reply else reply
            if kind == b"message" and len(reply) == 3:
                self._tell_message(shard, reply[1], reply[2])
            elif kind in (b"pong", b"PONG"):
                pinged = None
                if not shard.up:
                    shard.up = True
                    self._tell_state(shard, True)
            elif kind == b"subscribe" and len(reply) == 3:
                for done in shard.waiters.pop(reply[1], []):
                    if not done.done():
                        done.set_result(None)
            if pinged is not None and now - pinged >= self.ping_timeout:
                # messages keep coming, but the PING is not answered: something is wrong
                raise TimeoutError(f"no answer to PING in {self.ping_timeout:.1f} s")

    @staticmethod
    def _release_waiters(shard: _Shard) -> None:
        for waiting in shard.waiters.values():
            for done in waiting:
                if not done.done():
                    done.set_result(None)  # subscribed again on reconnect
        shard.waiters.clear()

    def _tell_message(self, shard: _Shard, channel: bytes, frame: bytes) -> None:
        receiver = self._receiver
        conversation = shard.channels.get(channel)
        if receiver is None or conversation is None:  # closed, or unsubscribed meanwhile
            return
        try:
            msg_id, payload = decode_frame(frame)
        except ValueError as exc:
            log.warning("bus: dropped a message on %r: %s", conversation, exc)
            return
        try:
            receiver.bus_message(conversation, msg_id, payload)
        except Exception:
            log.exception("the bus's receiver failed")

    def _tell_state(self, shard: _Shard, up: bool) -> None:
        receiver = self._receiver
        if receiver is None:
            return
        log.info("bus: Redis at %s is %s", redacted(shard.url), "up" if up else "down")
        try:
            receiver.bus_state(shard.index, up)
        except Exception:
            log.exception("the bus's receiver failed")
