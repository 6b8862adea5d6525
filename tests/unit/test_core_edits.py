"""The core's edits (EDIT, EDITS): asked of the store in the order of the commands, after the
messages stored before them; a store failure is ``unavailable`` and the session goes on."""

from __future__ import annotations

from collections.abc import Sequence

from palaver.protocol.messages import (
    Edit,
    Edited,
    EditList,
    Error,
    ListEdits,
    Message,
    Ping,
    Pong,
    Say,
)
from palaver.store.base import Editing, StoredMessage, StoredVersion
from palaver.store.memory import MemoryStore
from tests.unit.test_core_asks import answers, core_with


async def test_an_edit_right_after_its_message_finds_it_stored() -> None:
    store = MemoryStore()
    core, conn = core_with(store)
    core.receive(conn, Say(id="q1", room="#dev", text="teh"))  # not stored yet ...
    core.receive(conn, Edit(id="q2", room="#dev", msg_id=1, text="the"))  # ... when this comes
    core.receive(conn, Ping(id="q3"))
    core.receive(conn, ListEdits(id="q4", room="#dev", msg_id=1))
    await core.pipeline.wait_idle()
    got = answers(conn)
    assert [type(f) for f in got] == [Message, Edited, Pong, EditList]
    assert isinstance(got[3], EditList)
    assert [v.text for v in got[3].versions] == ["teh", "the"]
    assert (await store.page("#dev")).messages[0].text == "the"


class BrokenEdits(MemoryStore):
    async def edit_message(self, conversation: str, msg_id: int, *, sender_key: str, text: str,
                           edited_at: str, sent_after: str | None = None) -> Editing:
        raise OSError("disk full")

    async def messages(self, conversation: str, msg_ids: Sequence[int]
                       ) -> dict[int, StoredMessage]:
        raise OSError("disk full")

    async def message_versions(self, conversation: str, msg_id: int
                               ) -> list[StoredVersion] | None:
        raise OSError("disk full")


async def test_a_store_failure_is_unavailable_and_the_session_goes_on() -> None:
    core, conn = core_with(BrokenEdits())
    core.receive(conn, Say(id="q1", room="#dev", text="one"))
    core.receive(conn, Edit(id="q2", room="#dev", msg_id=1, text="two"))
    core.receive(conn, ListEdits(id="q3", room="#dev", msg_id=1))
    core.receive(conn, Ping(id="q4"))
    await core.pipeline.wait_idle()
    _, edit_error, list_error, pong = answers(conn)
    for error, request_id in ((edit_error, "q2"), (list_error, "q3")):
        assert isinstance(error, Error) and (error.code, error.id) == ("unavailable", request_id)
    assert pong == Pong(id="q4")
