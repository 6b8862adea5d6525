"""The room's members: senders of numbered messages and receivers, each a resending client.

How this works: every member is an account (registered once, at the start), logged in with
:class:`~palaver.client.ResilientClient` and a member of :data:`ROOM` from before the first
message is sent, so what each must end up showing is the room's whole stored sequence.

- Failover: a member has a home node. When its connection drops, the client reports
  ``Reconnecting(attempt)`` and waits before the attempt; meanwhile :meth:`Member._pump` points
  the client's ``port`` at the node to try: attempt 1 its home, attempt k the (k-1)-th node
  after it, round the ring. A killed node's members are thus on other nodes a moment later, and
  back home at their next reconnect. (An account may be online on several nodes; a guest's nick
  is claimed by its node for the claim's lease, 30 s, so guests could not move like this.)
- What a member shows: every ``MESSAGE`` of the room the client yields, in order: (msg_id,
  sender, text), the time and the node it was on. The raw frames are counted too (a wrapper on
  the tracker's ``receive``): a message the server sent twice, which the client showed once, is
  counted as a repeat (allowed by the protocol: the client drops them; reported, not failed).
- A sender (:class:`Sender`) sends ``CHAT``s with its own ids (``"<nick>.<n>"``) and texts
  (``"<nick> <n>"``), at most ``window`` unanswered at a time. The client resends what is
  unanswered, with the same ids, on each new connection. A refusal (``unavailable``: the store
  could not take it, PostgreSQL being down; ``abandoned``: the client gave it up after its
  connection kept dropping) is submitted again, same id, after ``RETRY_PAUSE``. A message is
  *acknowledged* when the MESSAGE with its id comes back; its id and time are recorded.
- If a client ends for good (a HELLO refused for another reason than ``unavailable``), a new
  one takes over, and the member's record starts a new *segment*: a new client resumes from
  the newest message, not from the old client's marks (reported as a problem).

Every loop is bounded: sending by the ``stop`` event and its count, resubmission by
``MAX_RESUBMITS``, the waits by timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from palaver.client import Backoff, Client, ResilientClient
from palaver.client.connection import ConnectionClosed, ServerError
from palaver.client.events import Disconnected, Reconnected, Reconnecting
from palaver.protocol.messages import Error as ErrorFrame
from palaver.protocol.messages import (
    Message,
    Register,
    Registered,
    Say,
    ServerMessage,
    Welcome,
)

ROOM: Final = "#soak"
PASSWORD: Final = "soak soak soak"
BACKOFF: Final = Backoff(initial=0.1, maximum=1.0)  # never gives up
RETRY_PAUSE: Final = 0.25  # seconds before a refused message is submitted again
MAX_RESUBMITS: Final = 2_000  # per message (at RETRY_PAUSE: minutes of refusals)
CONNECT_ATTEMPTS: Final = 60  # first connections (a node may be restarting)
RESUBMITTED: Final = frozenset({"unavailable", "abandoned", "internal_error"})  # refusals


@dataclass
class Shown:
    msg_id: int
    sender: str
    text: str
    at: float  # time.monotonic() when the client yielded it
    node: str  # the node the member was connected to


@dataclass
class Sent:
    client_id: str
    text: str
    sent_at: float  # first submitted
    node: str  # the sender's node then
    phase: str
    acked_at: float | None = None
    msg_id: int | None = None  # the acknowledging MESSAGE's
    refusals: Counter[str] = field(default_factory=Counter)  # error code -> times


@dataclass
class Nodes:
    """The nodes' names and ports, in ring order."""

    names: list[str]
    ports: list[int]

    def port_of(self, name: str) -> int:
        return self.ports[self.names.index(name)]

    def name_of(self, port: int) -> str:
        return self.names[self.ports.index(port)]

    def nth_after(self, name: str, k: int) -> str:
        return self.names[(self.names.index(name) + k) % len(self.names)]


class Member:
    def __init__(self, nick: str, home: str, nodes: Nodes) -> None:
        self.nick = nick
        self.home = home
        self.nodes = nodes
        self.client: ResilientClient | None = None
        self.segments: list[list[Shown]] = []  # one per client (normally one)
        self.endings: list[str] = []  # why a client ended for good
        self.raw: Counter[int] = Counter()  # MESSAGE frames without an id, per msg_id
        # Every MESSAGE frame of the room in the order received (an acknowledgement, with a
        # request id, as -msg_id; 0: a WELCOME): for --keep.
        self.frames = array("q")
        self.disconnects = 0
        self.link_log: list[tuple[float, str, str]] = []  # (time, what, detail): for --keep
        self.failovers = 0  # connections made to another node than home
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def node(self) -> str:
        """The node it is (or will next be) connected to."""
        assert self.client is not None
        return self.nodes.name_of(self.client.port)

    @property
    def shown(self) -> list[Shown]:
        return [shown for segment in self.segments for shown in segment]

    @property
    def last_shown(self) -> int:
        return self.segments[-1][-1].msg_id if self.segments and self.segments[-1] else 0

    async def register(self) -> None:
        """Make its account (on its home node) and leave."""
        client = await Client.connect("127.0.0.1", self.nodes.port_of(self.home), self.nick)
        try:
            reply = await client.request(Register(nick=self.nick, password=PASSWORD))
            assert isinstance(reply, Registered), reply
        finally:
            await client.close()

    async def connect(self, *, join: bool) -> None:
        """Log in on its home node (retried: it may be restarting), join the room, and start
        recording."""
        port = self.nodes.port_of(self.home)
        for attempt in range(CONNECT_ATTEMPTS):  # bounded
            try:
                self.client = await ResilientClient.connect(
                    "127.0.0.1", port, self.nick, password=PASSWORD, backoff=BACKOFF)
                break
            except (OSError, TimeoutError, ServerError, ConnectionClosed):
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.5)  # (a pause between attempts)
        assert self.client is not None
        self._spy(self.client)
        self.segments.append([])
        if join:
            await self.client.join(ROOM)
        self._pumps.append(asyncio.get_running_loop().create_task(self._pump(self.client)))

    def _spy(self, client: ResilientClient) -> None:
        """Count the raw MESSAGE frames of the room, before the client's own bookkeeping."""
        tracker = client.tracker
        receive = tracker.receive

        def counting(event: ServerMessage) -> object:
            if type(event) is Message and event.room == ROOM:
                self.frames.append(event.msg_id if event.id is None else -event.msg_id)
                if event.id is None:
                    self.raw[event.msg_id] += 1
            return receive(event)

        welcomed = tracker.welcomed

        def noting(welcome: Welcome) -> object:
            self.frames.append(0)  # a new connection's WELCOME
            return welcomed(welcome)

        tracker.receive = counting  # type: ignore[method-assign, assignment]
        tracker.welcomed = noting  # type: ignore[method-assign, assignment]

    async def _pump(self, client: ResilientClient) -> None:
        segment = self.segments[-1]
        async for event in client.events():
            if type(event) is Message:
                if event.room == ROOM:
                    segment.append(Shown(event.msg_id, event.sender, event.text,
                                         time.monotonic(), self.nodes.name_of(client.port)))
            elif type(event) is Reconnecting:
                client.port = self.nodes.port_of(self.nodes.nth_after(self.home,
                                                                      event.attempt - 1))
            elif type(event) is Reconnected:
                node = self.nodes.name_of(client.port)
                self.link_log.append((time.monotonic(), "reconnected", node))
                if node != self.home:
                    self.failovers += 1
            elif type(event) is Disconnected:
                self.disconnects += 1
                self.link_log.append((time.monotonic(), "disconnected", event.reason))
                if event.final:
                    self.endings.append(event.reason)

    def go_home(self) -> bool:
        """If connected elsewhere than home, drop the connection: the client reconnects,
        and its first attempt is home. Whether it did."""
        client = self.client
        if client is None or client.port == self.nodes.port_of(self.home):
            return False
        connection = client.connection
        if connection is not None:
            connection.abort()
        return True

    async def ensure_client(self) -> ResilientClient:
        """The client, or a new one if it ended for good (a new segment)."""
        assert self.client is not None
        if self.client.ended:
            await self.connect(join=False)
        assert self.client is not None
        return self.client

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        if self._pumps:
            await asyncio.wait(self._pumps, timeout=10)


class Sender(Member):
    def __init__(self, nick: str, home: str, nodes: Nodes) -> None:
        super().__init__(nick, home, nodes)
        self.sent: list[Sent] = []
        self.unanswered: dict[str, Sent] = {}  # client id -> not acknowledged yet
        self.resubmits = 0
        self.gave_up: list[Sent] = []  # refused MAX_RESUBMITS times
        self._tasks: set[asyncio.Task[None]] = set()
        self._answered = asyncio.Event()

    async def send(self, stop: asyncio.Event, interval: float, window: int,
                   phase: Callable[[], str]) -> None:
        """Send one message every ``interval`` seconds while fewer than ``window`` are
        unanswered, until ``stop``."""
        while not stop.is_set():  # bounded by stop
            if len(self.unanswered) < window:
                n = len(self.sent) + 1
                sent = Sent(f"{self.nick}.{n}", f"{self.nick} {n}", time.monotonic(),
                            self.node, phase())
                self.sent.append(sent)
                self.unanswered[sent.client_id] = sent
                await self._submit(sent)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _submit(self, sent: Sent) -> None:
        for _ in range(CONNECT_ATTEMPTS):  # bounded: a new client each time one has ended
            client = await self.ensure_client()
            try:
                future = await client.submit(Say(id=sent.client_id, room=ROOM, text=sent.text))
            except ConnectionClosed:
                continue
            future.add_done_callback(lambda done: self._answer(sent, done))
            return
        self._give_up(sent)

    def _give_up(self, sent: Sent) -> None:
        self.gave_up.append(sent)
        self.unanswered.pop(sent.client_id, None)
        self._answered.set()

    def _answer(self, sent: Sent, done: asyncio.Future[ServerMessage]) -> None:
        if done.cancelled():
            return
        error = done.exception()
        if error is None:
            ack = done.result()
            assert isinstance(ack, Message), ack
            sent.acked_at, sent.msg_id = time.monotonic(), ack.msg_id
            self.unanswered.pop(sent.client_id, None)
            self._answered.set()
            return
        code = (error.error.code if isinstance(error, ServerError)
                else type(error).__name__)
        sent.refusals[code] += 1
        if isinstance(error, ServerError) and isinstance(error.error, ErrorFrame) and (
                error.code not in RESUBMITTED):
            self._give_up(sent)  # refused for good (a bug, here)
            return
        if sum(sent.refusals.values()) > MAX_RESUBMITS:
            self._give_up(sent)
            return
        self.resubmits += 1
        task = asyncio.get_running_loop().create_task(self._again(sent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _again(self, sent: Sent) -> None:
        await asyncio.sleep(RETRY_PAUSE)
        await self._submit(sent)

    async def settle(self, timeout: float) -> bool:
        """Until every message sent is acknowledged (or given up); False on the timeout."""
        deadline = time.monotonic() + timeout
        while self.unanswered:  # bounded by the deadline
            self._answered.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), min(left, 1.0))
        return True
