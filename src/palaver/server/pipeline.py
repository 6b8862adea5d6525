"""Group commit with ordered release: nothing is delivered before what came before it is stored.

How this works: the core submits every effect list here, in the order the hub produced them.
A :class:`Persist` joins the open batch and takes its place in the queue; any effect behind an
uncommitted Persist waits in the queue too. The open batch is committed at the next loop turn —
so the messages of one turn (and of every turn while a commit is in flight) share one
transaction — and when a commit finishes, the queue is released from the front up to the first
Persist still waiting. With no commit pending, effects pass straight through.

Some effects ask the store a question whose answer the hub turns into replies (a read marker
moved, a message deleted: ``asks``, effect type -> the coroutine that carries it out and returns
the effects to release). They take their place in the queue like a Persist: each starts once
everything before it is released (so it sees every message stored before it), everything behind
it waits, and the effects it returns are released in its place — so the answer to a command
never overtakes the answers to earlier ones, nor is overtaken by later ones (an IRC PONG).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from palaver.hub.effects import Effect, Persist
from palaver.server.metrics import ServerMetrics
from palaver.store.base import Store, StoredMessage

log = logging.getLogger("palaver.server.pipeline")

# None: stored. An int: stored under this id (the store assigns ids: a node of a cluster). A
# message: the original of a resend, stored earlier. An exception: not stored.
Outcome = StoredMessage | int | Exception | None


class _Waiting:
    __slots__ = ("done", "effect", "outcome")

    def __init__(self, effect: Persist) -> None:
        self.effect = effect
        self.outcome: Outcome = None
        self.done = False


class _Asked:
    """An effect that asks the store something; ``answer``: the effects to release for it."""

    __slots__ = ("answer", "done", "effect", "started")

    def __init__(self, effect: Effect) -> None:
        self.effect = effect
        self.answer: list[Effect] = []
        self.started = False
        self.done = False


Ask = Callable[[Any], Awaitable[Iterable[Effect]]]


class CommitPipeline:
    def __init__(
        self,
        store: Store,
        release: Callable[[Effect, Outcome], None],
        metrics: ServerMetrics | None = None,
        asks: Mapping[type[Any], Ask] | None = None,
        settle: Callable[[list[Persist]], Awaitable[list[Persist]]] | None = None,
    ) -> None:
        self._store = store
        self._release = release
        self._metrics = metrics if metrics is not None else ServerMetrics()
        self._asks = dict(asks or {})
        self._settle = settle  # a committed batch's Persists, before release (replies' quotes)
        self._loop = asyncio.get_running_loop()
        self._queue: deque[_Waiting | _Asked | Effect] = deque()
        self._open: list[_Waiting] = []
        self._committing = False
        self._scheduled = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.batches = 0
        self.committed = 0

    def submit(self, effects: Iterable[Effect]) -> None:
        queue = self._queue
        for effect in effects:
            if type(effect) is Persist:
                waiting = _Waiting(effect)
                self._open.append(waiting)
                queue.append(waiting)
                self._idle.clear()
                if not self._scheduled and not self._committing:
                    self._scheduled = True
                    self._loop.call_soon(self._start)
            elif type(effect) in self._asks:
                asked = _Asked(effect)
                queue.append(asked)
                self._idle.clear()
                if len(queue) == 1:  # nothing before it: it starts now
                    self._ask(asked)
            elif queue:
                queue.append(effect)
            else:
                self._release(effect, None)

    async def wait_idle(self) -> None:
        """Until everything submitted so far is committed and released."""
        await self._idle.wait()

    def _start(self) -> None:
        self._scheduled = False
        if self._committing or not self._open:
            return
        batch, self._open = self._open, []
        self._committing = True
        self._loop.create_task(self._commit(batch))

    async def _commit(self, batch: list[_Waiting]) -> None:
        outcomes: list[Outcome]
        failed = False
        started = time.perf_counter()
        try:
            stored = await self._store.append([waiting.effect.message for waiting in batch])
            outcomes = list(stored)
        except Exception as exc:  # the store failed: nothing in this batch is acknowledged
            log.exception("could not store a batch of %d messages", len(batch))
            outcomes = [exc] * len(batch)
            failed = True
        self._metrics.committed(len(batch), time.perf_counter() - started, failed=failed)
        if self._settle is not None and not failed:
            try:
                settled = await self._settle([waiting.effect for waiting in batch])
                for waiting, effect in zip(batch, settled, strict=True):
                    waiting.effect = effect
            except Exception:  # decoration only: the batch goes out as it is
                log.exception("could not settle a batch of %d messages", len(batch))
        for waiting, outcome in zip(batch, outcomes, strict=True):
            waiting.outcome = outcome
            waiting.done = True
        self.batches += 1
        self.committed += len(batch)
        self._committing = False
        self._drain()
        if self._open:
            self._start()
        elif not self._queue:
            self._idle.set()

    def _ask(self, asked: _Asked) -> None:
        asked.started = True
        self._loop.create_task(self._answer(asked))

    async def _answer(self, asked: _Asked) -> None:
        try:
            asked.answer = list(await self._asks[type(asked.effect)](asked.effect))
        except Exception:  # the ask reports its own failures; this is a bug: release the rest
            log.exception("could not carry out %s", type(asked.effect).__name__)
        asked.done = True
        self._drain()
        if not self._queue and not self._open and not self._committing:
            self._idle.set()

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            head = queue[0]
            if type(head) is _Waiting:
                if not head.done:
                    return
                queue.popleft()
                self._release(head.effect, head.outcome)
            elif type(head) is _Asked:
                if not head.done:
                    if not head.started:
                        self._ask(head)
                    return
                queue.popleft()
                for effect in head.answer:  # in its place (no Persist: asks answer with events)
                    self._release(effect, None)
            else:
                queue.popleft()
                self._release(head, None)  # type: ignore[arg-type]
