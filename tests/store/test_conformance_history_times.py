"""The store conformance suite, continued: history by time (IRC's CHATHISTORY timestamps and
TARGETS): the msg_id sent at or before a time, and which conversations were active when.

Runs against every backend with the fixture of :mod:`tests.store.test_conformance`.
"""

from __future__ import annotations

from palaver.store import Store
from tests.store.test_conformance import msg, store

__all__ = ["store"]  # the fixture, shared with test_conformance.py

TS = "2026-11-21T00:00:{:02d}.000Z"  # msg(conversation, n) is sent at second n


async def test_the_msg_id_at_a_time_is_the_newest_sent_at_or_before_it(store: Store) -> None:
    await store.append([msg("#lobby", n) for n in range(1, 6)])
    assert await store.msg_id_at("#lobby", TS.format(3)) == 3
    assert await store.msg_id_at("#lobby", "2026-11-21T00:00:03.500Z") == 3
    assert await store.msg_id_at("#lobby", "2026-11-21T00:00:02.999Z") == 2
    assert await store.msg_id_at("#lobby", "2020-01-01T00:00:00.000Z") == 0
    assert await store.msg_id_at("#lobby", "2030-01-01T00:00:00.000Z") == 5
    assert await store.msg_id_at("#empty", TS.format(3)) == 0


async def test_last_activity_names_conversations_whose_newest_message_is_inside(
    store: Store,
) -> None:
    await store.append([msg("#a", n) for n in range(1, 5)]
                       + [msg("#b", n) for n in range(1, 3)] + [msg("@alice,bob", 1)]
                       + [msg("#c", n) for n in range(1, 7)])  # #c: its newest is after
    window = {"after": TS.format(1), "before": TS.format(5)}  # both exclusive
    assert await store.last_activity(["#a", "#b", "#c", "@alice,bob", "#none"],
                                     **window) == {"#a": TS.format(4), "#b": TS.format(2)}
    assert await store.last_activity([], **window) == {}
    many = [f"#r{n}" for n in range(1_200)] + ["#a"]  # more than SQLite takes at once
    assert await store.last_activity(many, after=TS.format(0), before=TS.format(9)) == {
        "#a": TS.format(4)}
