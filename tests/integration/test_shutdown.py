"""Shutdown under load (docs/operations.md, "Running"): read nothing more, finish and answer the
commits in flight, then BYE, then close the store — even when a commit outlasts
``shutdown_grace``.

The store is a twin whose commits wait on an event the test sets; every wait is on an event
(a frame, a log record, the end of a stream), never on a sleep.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from palaver.protocol.messages import Goodbye, Message
from palaver.server import app
from palaver.server.app import Server
from palaver.server.config import Settings
from palaver.store.base import StoredMessage
from palaver.store.memory import MemoryStore
from tests.integration.raw import RawPeer

WAIT = 15.0
HELLO = b'{"type":"HELLO","version":1,"nick":"%s"}\n'


def say(text: str, request_id: str) -> bytes:
    return f'{{"type":"CHAT","room":"#lobby","text":"{text}","id":"{request_id}"}}\n'.encode()


class SlowStore(MemoryStore):
    """A memory store whose commits wait for ``release`` while ``hold`` is set, and which
    refuses to work once closed (as SQLite does: "Cannot operate on a closed database")."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = False
        self.committing = asyncio.Event()
        self.release = asyncio.Event()
        self.history: list[str] = []  # "stored <texts>" and "closed", in order

    async def append(self, batch: Sequence[StoredMessage]) -> list[StoredMessage | None]:
        if self.hold:
            self.committing.set()
            await self.release.wait()
        if "closed" in self.history:
            raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
        outcome = await super().append(batch)
        self.history.append("stored " + " ".join(m.text for m in batch))
        return outcome

    async def close(self) -> None:
        self.history.append("closed")
        await super().close()


class Seen(logging.Handler):
    """Sets ``event`` when a record containing ``text`` is logged."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.WARNING)
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def test_shutdown_finishes_and_answers_the_commit_in_flight_before_bye_and_closing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    store = SlowStore()
    monkeypatch.setattr(app, "open_store", lambda settings: store)
    # A short grace: the commit outlasts it, as a commit under load or on a slow disk does.
    server = Server(Settings(port=0, data_dir=str(tmp_path), web_port=0, irc_port=0,
                             shutdown_grace=0.2, argon2_time_cost=1, argon2_memory_kib=8,
                             rate_burst=1_000, rate_per_second=1_000.0))
    await server.start()
    core = server.core
    assert core is not None
    sender = await RawPeer.open(server.port)
    witness = await RawPeer.open(server.port)
    await sender.send(HELLO % b"sender")
    await witness.send(HELLO % b"witness")
    assert type(await sender.frame()).__name__ == "Welcome"
    assert type(await witness.frame()).__name__ == "Welcome"
    waited = Seen("still being stored")
    logging.getLogger("palaver").addHandler(waited)
    shutting_down = asyncio.Event()
    wait_idle = core.pipeline.wait_idle

    async def noted_wait_idle() -> None:  # the shutdown now waits for the commits
        shutting_down.set()
        await wait_idle()

    core.pipeline.wait_idle = noted_wait_idle  # type: ignore[method-assign]
    try:
        store.hold = True
        # Five messages in one write: read together, they are one batch, committed at once.
        await sender.send(b"".join(say(f"m{n}", f"m{n}") for n in range(5)))
        await asyncio.wait_for(store.committing.wait(), WAIT)
        stopping = asyncio.create_task(server.stop())
        await asyncio.wait_for(shutting_down.wait(), WAIT)
        await sender.send(say("late", "late"))  # after the shutdown began: not accepted
        await asyncio.wait_for(waited.event.wait(), WAIT)  # the commit outlasted the grace
        store.release.set()
        await asyncio.wait_for(stopping, WAIT)
    finally:
        logging.getLogger("palaver").removeHandler(waited)
        store.release.set()
    sent = await sender.frames_until_closed(WAIT)
    heard = await witness.frames_until_closed(WAIT)
    acks = [f.id for f in sent if isinstance(f, Message)]
    assert acks == [f"m{n}" for n in range(5)]  # every accepted message is acknowledged...
    assert sent[-1] == Goodbye(reason="server shutting down")  # ...before the BYE
    assert [f.text for f in heard if isinstance(f, Message)] == [f"m{n}" for n in range(5)]
    assert heard[-1] == Goodbye(reason="server shutting down")
    # Stored, then the store closed; the late message was never read, so never stored.
    assert store.history == ["stored m0 m1 m2 m3 m4", "closed"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    sender.close()
    witness.close()
