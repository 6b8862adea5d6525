"""History by time in the hub (hub/conversations.py): HISTORY's time bounds on the store's
millisecond grid, CONVERSATIONS as the user's rooms and direct conversations."""

from __future__ import annotations

import pytest

from palaver.hub.effects import FetchActivity, FetchHistory
from palaver.protocol.messages import Error, History, Join, ListConversations, SendDirect
from tests.unit.hub_harness import Harness


def fetch(h: Harness, sid: int, message: History) -> FetchHistory:
    [effect] = h.hub.handle(sid, message, h.clock.now)
    assert isinstance(effect, FetchHistory), effect
    return effect


@pytest.mark.parametrize(("bound", "until", "since"), [
    ({"before_ts": "2026-01-01T00:00:07.000Z"}, "2026-01-01T00:00:06.999Z", None),
    ({"before_ts": "2026-01-01T00:00:07.0004Z"}, "2026-01-01T00:00:07.000Z", None),
    ({"before_ts": "2026-01-01T01:00:07+01:00"}, "2026-01-01T00:00:06.999Z", None),
    ({"after_ts": "2026-01-01T00:00:03.000Z"}, None, "2026-01-01T00:00:03.000Z"),
    ({"after_ts": "2026-01-01T00:00:03.9999Z"}, None, "2026-01-01T00:00:03.999Z"),
])
def test_time_bounds_become_inclusive_times_on_the_millisecond_grid(
    bound: dict[str, str], until: str | None, since: str | None,
) -> None:
    h = Harness()
    ann = h.login("ann")
    effect = fetch(h, ann, History(room="#lobby", **bound))  # type: ignore[arg-type]
    assert (effect.until, effect.since, effect.before, effect.after) == (until, since,
                                                                          None, None)


@pytest.mark.parametrize(("fields", "field"), [
    ({"before_ts": "yesterday"}, "before_ts"),
    ({"after_ts": "2026-01-01T00:00:00"}, "after_ts"),  # no zone
    ({"after_ts": "2026-01-01T00:00:00Z", "before": 3}, "after_ts"),
    ({"before_ts": "2026-01-01T00:00:00Z", "after_ts": "2025-01-01T00:00:00Z"}, "after_ts"),
])
def test_bad_time_bounds_are_invalid_field(fields: dict[str, object], field: str) -> None:
    h = Harness()
    ann = h.login("ann")
    h.clear()
    h.send(ann, History(room="#lobby", **fields))  # type: ignore[arg-type]
    [refusal] = h.take(ann)
    assert isinstance(refusal, Error) and (refusal.code, refusal.field) == ("invalid_field",
                                                                            field)


def test_conversations_are_the_users_rooms_and_direct_conversations() -> None:
    h = Harness()
    ann = h.login("ann")
    h.login("bob")
    h.send(ann, Join(room="#dev"))
    h.send(ann, SendDirect(to="bob", text="hi"))
    [effect] = h.hub.handle(ann, ListConversations(
        after_ts="2026-01-01T00:00:00.0005Z", before_ts="2026-01-02T00:00:00.0005Z", limit=7,
        id="c"), h.clock.now)
    assert isinstance(effect, FetchActivity)
    assert (effect.request_id, effect.after, effect.before, effect.limit) == (
        "c", "2026-01-01T00:00:00.000Z", "2026-01-02T00:00:00.001Z", 7)
    rooms = {room for _, room, _ in effect.conversations if room}
    peers = {peer for _, _, peer in effect.conversations if peer}
    assert rooms == {"#lobby", "#dev"} and peers == {"bob"}
