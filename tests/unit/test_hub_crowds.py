"""Big rooms (hub/crowds.py): presence in batches above ``presence_limit``, member pages."""

from __future__ import annotations

import pytest

from palaver.hub.hub import HubConfig
from palaver.protocol.messages import (
    Hello,
    Join,
    Joined,
    Leave,
    ListUsers,
    MembersChanged,
    Presence,
    Quit,
    SetNick,
    Users,
)
from tests.unit.hub_harness import Harness

LIMIT = 3  # more than 3 members: a crowd


@pytest.fixture
def h() -> Harness:
    return Harness(HubConfig(presence_limit=LIMIT, member_page=10))


def fill(h: Harness, n: int, prefix: str = "u") -> list[int]:
    sids = [h.login(f"{prefix}{i}") for i in range(n)]
    h.apply(h.hub.flush_presence())
    h.clear()
    return sids


def presence(events: list[object]) -> list[object]:
    return [e for e in events if isinstance(e, Presence | MembersChanged)]


def test_a_small_room_hears_every_join_at_once(h: Harness) -> None:
    first, *_ = fill(h, LIMIT - 1)
    h.login("carol")  # the room now has LIMIT members: not more than the limit
    assert [(e.nick, e.event) for e in presence(h.take(first))] == [("carol", "join")]
    assert h.hub.flush_presence() == []


def test_a_crowd_hears_joins_and_leaves_in_one_batch_per_flush(h: Harness) -> None:
    first, *_ = fill(h, LIMIT)
    dave = h.login("dave")  # the 4th: the room is a crowd now
    erin = h.login("erin")
    h.send(dave, Leave(room="#lobby"))
    h.send(h.login("frank"), Quit())  # came and went: nothing to say about frank
    assert presence(h.take(first)) == []  # nothing one by one
    h.apply(h.hub.flush_presence())
    assert h.take(first) == [MembersChanged(room="#lobby", joined=("erin",), left=(), count=4)]
    assert h.take(erin)[-1] == MembersChanged(room="#lobby", joined=("erin",), count=4)
    h.send(erin, Quit(reason="bye"))  # 4 members with erin: still a crowd
    h.apply(h.hub.flush_presence())
    assert h.take(first) == [MembersChanged(room="#lobby", left=("erin",), count=3)]
    assert h.hub.flush_presence() == []  # nothing changed since


def test_leaving_and_coming_back_between_batches_tells_nothing(h: Harness) -> None:
    first, second, *_ = fill(h, LIMIT + 2)
    h.send(second, Leave(room="#lobby"))
    h.send(second, Join(room="#lobby"))
    h.take(second)
    h.apply(h.hub.flush_presence())
    assert h.take(first) == []


def test_a_pending_joiner_who_changes_nick_is_batched_under_the_new_nick(h: Harness) -> None:
    first, *_ = fill(h, LIMIT)
    dave = h.login("dave")
    h.send(dave, SetNick(nick="david"))
    h.take(first)  # the nick change is told at once
    h.apply(h.hub.flush_presence())
    assert h.take(first) == [MembersChanged(room="#lobby", joined=("david",), count=4)]


def test_a_quit_is_told_at_once_in_small_rooms_and_batched_in_crowds(h: Harness) -> None:
    sids = fill(h, LIMIT + 1)
    h.send(sids[0], Join(room="#small"))
    h.send(sids[1], Join(room="#small"))
    h.clear()
    h.send(sids[1], Quit(reason="bedtime"))
    assert presence(h.take(sids[0])) == [Presence(nick="u1", event="quit", reason="bedtime")]
    h.apply(h.hub.flush_presence())
    assert h.take(sids[0]) == [MembersChanged(room="#lobby", left=("u1",), count=LIMIT)]


def test_a_room_that_empties_before_the_batch_tells_nobody(h: Harness) -> None:
    sids = fill(h, LIMIT + 1)
    for sid in sids:
        h.send(sid, Join(room="#side"))
    for sid in sids:
        h.send(sid, Leave(room="#side"))
    h.clear()
    assert h.hub.flush_presence() == []


def test_old_clients_get_the_whole_member_list_in_joined(h: Harness) -> None:
    fill(h, 12)
    late = h.login("zed")
    joined = next(e for e in h.take(late) if isinstance(e, Joined))
    assert len(joined.members) == 13 and joined.members_next is None
    assert joined.members_total is None


def test_member_pages_cover_everyone_once_in_nick_order(h: Harness) -> None:
    fill(h, 24)
    late = h.open()
    h.send(late, Hello(version=1, nick="Zed", member_pages=True))
    joined = next(e for e in h.take(late) if isinstance(e, Joined))
    assert joined.members_total == 25 and len(joined.members) == 10
    seen = list(joined.members)
    after = joined.members_next
    for _ in range(5):  # bounded: 25 members, 10 a page
        if after is None:
            break
        h.send(late, ListUsers(room="#lobby", after=after, id="w"))
        [page] = h.take(late)
        assert isinstance(page, Users) and page.total == 25
        seen.extend(page.users)
        after = page.next
    assert after is None
    assert seen == sorted(seen, key=str.lower) and len(set(seen)) == 25 and "Zed" in seen


def test_who_without_after_pages_only_for_who_takes_pages(h: Harness) -> None:
    old, *_ = fill(h, 12)
    h.send(old, ListUsers(room="#lobby", id="1"))
    [everyone] = h.take(old)
    assert isinstance(everyone, Users) and len(everyone.users) == 12 and everyone.next is None
    new = h.open()
    h.send(new, Hello(version=1, nick="nia", member_pages=True))
    h.clear()
    h.send(new, ListUsers(room="#lobby", id="2"))
    [page] = h.take(new)
    assert isinstance(page, Users) and (len(page.users), page.total) == (10, 13)
    assert page.next == page.users[-1]
