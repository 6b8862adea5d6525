"""The core's store questions (read markers, deletions): answered in the order of the commands,
after the messages stored before them, through the commit pipeline (server/pipeline.py)."""

from __future__ import annotations

from palaver.hub import Hub
from palaver.hub.hub import format_ts
from palaver.protocol.messages import (
    Delete,
    Deleted,
    Error,
    Hello,
    Join,
    MarkRead,
    Message,
    Ping,
    Pong,
    ReadMarker,
    Say,
    ServerMessage,
)
from palaver.server.core import ServerCore
from palaver.server.liveness import Timeouts
from palaver.server.passwords import Passwords
from palaver.store.base import StoredMarker
from palaver.store.memory import MemoryStore
from tests.unit.test_core import FakeConnection

NOW = 1_795_000_000.0


def core_with(store: MemoryStore) -> tuple[ServerCore, FakeConnection]:
    core = ServerCore(Hub(), store, Passwords(time_cost=1, memory_kib=8), timeouts=Timeouts(),
                      send_queue_limit=65_536, wall_clock=lambda: NOW)
    conn = FakeConnection()
    conn.sid = core.attach(conn)
    core.receive(conn, Hello(version=1, nick="alice"))
    core.receive(conn, Join(room="#dev"))
    return core, conn


def answers(conn: FakeConnection) -> list[ServerMessage]:
    return [f for f in conn.frames() if f.id is not None and f.id.startswith("q")]


async def test_answers_leave_in_the_order_of_the_commands() -> None:
    core, conn = core_with(MemoryStore())
    core.receive(conn, Say(id="q1", room="#dev", text="one"))
    core.receive(conn, MarkRead(id="q2", room="#dev", ts=format_ts(NOW)))
    core.receive(conn, Ping(id="q3"))  # answered at once by the hub: it must wait its turn
    core.receive(conn, Delete(id="q4", room="#dev", msg_id=1))
    core.receive(conn, Ping(id="q5"))
    await core.pipeline.wait_idle()
    got = answers(conn)
    assert [type(f) for f in got] == [Message, ReadMarker, Pong, Deleted, Pong]
    assert got[1] == ReadMarker(id="q2", room="#dev", msg_id=1, ts=format_ts(NOW))


async def test_a_question_sees_the_messages_sent_before_it() -> None:
    store = MemoryStore()
    core, conn = core_with(store)
    core.receive(conn, Say(id="q1", room="#dev", text="oops"))  # not stored yet ...
    core.receive(conn, Delete(id="q2", room="#dev", msg_id=1))  # ... when this arrives
    await core.pipeline.wait_idle()
    assert [type(f) for f in answers(conn)] == [Message, Deleted]
    assert (await store.page("#dev")).messages[0].deleted


class BrokenMarkers(MemoryStore):
    async def set_read_marker(self, identity: str, conversation: str, *,
                              msg_id: int | None = None, ts: str | None = None,
                              ) -> tuple[StoredMarker, bool]:
        raise OSError("disk full")


async def test_a_store_failure_is_unavailable_and_the_session_goes_on() -> None:
    core, conn = core_with(BrokenMarkers())
    core.receive(conn, MarkRead(id="q1", room="#dev", ts=format_ts(NOW)))
    core.receive(conn, Ping(id="q2"))
    await core.pipeline.wait_idle()
    error, pong = answers(conn)
    assert isinstance(error, Error) and (error.code, error.id) == ("unavailable", "q1")
    assert pong == Pong(id="q2")
