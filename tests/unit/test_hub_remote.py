"""A node of a cluster (hub/remote.py, hub/interest.py): members on other nodes shown in rooms
here, their joins, leaves and renames told; other nodes' messages delivered in the order
released; ids moving only when released."""

from __future__ import annotations

import pytest

from palaver.hub.effects import Persist
from palaver.hub.hub import HubConfig
from palaver.hub.interest import Interest
from palaver.protocol.messages import (
    Join,
    Joined,
    Leave,
    ListUsers,
    Message,
    Presence,
    Say,
    Users,
)
from palaver.roster.base import Member
from tests.unit.hub_harness import Harness


@pytest.fixture
def h() -> Harness:
    harness = Harness(HubConfig(store_assigns_ids=True, default_rooms=()))
    harness.hub.interest = Interest(lambda: None)
    return harness


def names(h: Harness, sid: int, room: str) -> set[str]:
    h.send(sid, ListUsers(room=room, id="w"))
    users = [e for e in h.take(sid) if isinstance(e, Users)]
    return set(users[-1].users)


def test_members_elsewhere_are_listed_and_their_comings_and_goings_told(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    h.clear()
    h.apply(h.hub.set_remote_members("#dev", {"~b": Member("bob", False)}))
    assert [(e.nick, e.event) for e in h.take(alice) if isinstance(e, Presence)] == [
        ("bob", "join")]
    assert names(h, alice, "#dev") == {"alice", "bob"}
    h.apply(h.hub.set_remote_members("#dev", {"~b": Member("robert", False)}))
    renamed = [e for e in h.take(alice) if isinstance(e, Presence)]
    assert [(e.nick, e.event, e.new_nick) for e in renamed] == [("bob", "nick", "robert")]
    h.apply(h.hub.set_remote_members("#dev", {}))
    assert [(e.nick, e.event) for e in h.take(alice) if isinstance(e, Presence)] == [
        ("robert", "leave")]
    assert names(h, alice, "#dev") == {"alice"}


def test_a_room_opening_here_shows_who_is_in_it_elsewhere_without_news(h: Harness) -> None:
    assert h.hub.set_remote_members("#ops", {"~b": Member("bob", False)}) == []  # not open
    alice = h.login("alice")
    h.send(alice, Join(room="#ops", id="j"))
    joined = [e for e in h.take(alice) if isinstance(e, Joined)]
    assert set(joined[0].members) == {"alice", "bob"}
    assert h.hub.local_members("#ops") == {h.hub._online["alice"].key: Member("alice", False)}


def test_the_room_closes_here_when_its_last_member_here_leaves(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    h.apply(h.hub.set_remote_members("#dev", {"~b": Member("bob", False)}))
    h.send(alice, Leave(room="#dev"))
    assert not h.hub.room_open("#dev")
    assert h.hub.local_members("#dev") == {}
    assert h.hub._ghosts == {}  # the member elsewhere is no longer shown anywhere here
    h.send(alice, Join(room="#dev", id="again"))  # and is shown again when it reopens
    assert names(h, alice, "#dev") == {"alice", "bob"}


def test_ids_move_when_released_not_when_guessed(h: Harness) -> None:
    alice = h.login("alice")
    h.send(alice, Join(room="#dev"))
    effects = h.hub.handle(alice, Say(room="#dev", text="hi", id="s1"), h.clock.now)
    persist = next(e for e in effects if isinstance(e, Persist))
    assert persist.message.msg_id == 1 and h.hub.last_id_of("#dev") == 0  # a guess
    event = Message(msg_id=7, ts="2026-12-06T00:00:00.000Z", sender="bob", text="elsewhere",
                    room="#dev")
    h.clear()
    h.apply(h.hub.remote_message("#dev", event))
    assert h.take(alice) == [event]
    assert h.hub.last_id_of("#dev") == 7
    h.hub.skip_to("#quiet", 12)
    assert h.hub.last_id_of("#quiet") == 12
