"""A room's cached audience and nick list: grown in place by a join, made again after any other
change, always what a fresh pass over its members gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.hub.effects import SessionId
from palaver.hub.state import SMALL, Room, User, guest_key, holds_token


def user(nick: str, *sessions: int) -> User:
    u = User(f"~{nick}", nick, account=False)
    u.sessions = sessions
    return u


def fresh(room: Room) -> tuple[tuple[int, ...], tuple[str, ...]]:
    return (tuple(s for u in room.members.values() for s in u.sessions),
            tuple(u.nick for u in room.members.values()))


def test_a_join_grows_the_cached_audience_and_nicks_in_member_order() -> None:
    room = Room("#big")
    told: list[str] = []
    room.observer = told.append
    for n in range(5):
        room.add(user(f"u{n}", 10 * n, 10 * n + 1))
        assert (room.targets(), room.nicks()) == fresh(room)  # cached now, grown next time
    assert room.targets() == (0, 1, 10, 11, 20, 21, 30, 31, 40, 41)
    assert told == ["#big"] * 5  # a node of a cluster hears of each join


def test_joins_before_the_first_use_and_changes_after_it() -> None:
    room = Room("#r")
    ann, bob, cy = user("ann", 1), user("bob", 2), user("cy", 3)
    room.add(ann)
    room.add(bob)
    assert (room.targets(), room.nicks()) == ((1, 2), ("ann", "bob"))
    bob.nick = "bobby"  # a nick change: the hub calls changed()
    room.changed()
    room.add(cy)
    assert (room.targets(), room.nicks()) == ((1, 2, 3), ("ann", "bobby", "cy"))
    del room.members[ann.key]
    room.changed()
    assert (room.targets(), room.nicks()) == fresh(room) == ((2, 3), ("bobby", "cy"))


def test_adding_a_member_again_keeps_its_place_and_no_duplicate() -> None:
    room = Room("#r")
    ann, bob = user("ann", 1), user("bob", 2)
    room.add(ann)
    room.add(bob)
    room.targets(), room.nicks()
    room.add(ann)
    assert (room.targets(), room.nicks()) == ((1, 2), ("ann", "bob")) == fresh(room)


def test_a_guest_holds_the_token_its_key_comes_from_and_nobody_else_does() -> None:
    guest = User(guest_key("a-secret-token-123"), "ann", account=False)
    assert holds_token(guest, "a-secret-token-123")
    assert not holds_token(guest, "a-secret-token-124")
    assert not holds_token(guest, None)
    account = User(guest_key("a-secret-token-123"), "ann", account=True)  # (never so keyed)
    assert not holds_token(account, "a-secret-token-123")


ROOM_NAMES = [f"#r{i}" for i in range(12)]  # more than SMALL: both of UserRooms' forms


@given(st.lists(st.tuples(st.sampled_from(["set", "del", "pop", "clear"]),
                          st.sampled_from(ROOM_NAMES)), max_size=60))
def test_user_rooms_behaves_as_a_dict_of_rooms_by_key(steps: list[tuple[str, str]]) -> None:
    rooms = {name: Room(name) for name in ROOM_NAMES}
    mine, model = User("ann", "Ann", account=True).rooms, dict[str, Room]()
    for op, name in steps:
        room = rooms[name]
        if op == "set":
            mine[room.key] = model[room.key] = room
        elif op == "del":
            if room.key in model:
                del mine[room.key], model[room.key]
            else:
                with pytest.raises(KeyError):
                    del mine[room.key]
        elif op == "pop":
            assert mine.pop(room.key) is model.pop(room.key, None)
        else:
            mine.clear()
            model.clear()
        assert list(mine) == list(model) and list(mine.values()) == list(model.values())
        assert list(mine.items()) == list(model.items()) and len(mine) == len(model)
        for key in (r.key for r in rooms.values()):
            assert (key in mine) == (key in model) and mine.get(key) is model.get(key)
    assert bool(mine) == bool(model)


def test_a_user_in_a_few_rooms_holds_them_in_a_tuple_and_in_many_in_a_dict() -> None:
    user = User("ann", "Ann", account=True)
    rooms = user.rooms
    for name in ROOM_NAMES[:SMALL]:
        rooms[name] = Room(name)
    assert type(user._rooms) is tuple
    user.rooms[ROOM_NAMES[SMALL]] = Room(ROOM_NAMES[SMALL])  # (another view: the same rooms)
    assert type(user._rooms) is dict and list(rooms) == ROOM_NAMES[:SMALL + 1]
    assert rooms["#r3"].name == "#r3"
    with pytest.raises(KeyError):
        rooms["#nowhere"]


@pytest.mark.parametrize("count", [3, SMALL + 4])  # a tuple, a dict
def test_a_loop_over_a_users_rooms_may_change_them_in_either_form(count: int) -> None:
    rooms = User("ann", "Ann", account=True).rooms
    for name in ROOM_NAMES[:count]:
        rooms[name] = Room(name)
    for room in rooms.values():
        del rooms[room.key]
    assert len(rooms) == 0


def test_a_user_with_one_session_holds_its_id_and_no_tuple() -> None:
    user = User("ann", "Ann", account=True)
    assert user.sessions == ()
    user.sessions += (SessionId(7),)
    assert user._sessions == 7 and user.sessions == (7,)  # one: the id itself
    user.sessions += (SessionId(9),)
    assert user._sessions == (7, 9) and user.sessions == (7, 9)
    user.sessions = tuple(s for s in user.sessions if s != 7)
    assert user._sessions == 9 and user.sessions == (9,)
    user.sessions = ()
    assert user.sessions == () and not user.sessions


def test_a_rooms_targets_are_every_session_of_every_member_whatever_its_form() -> None:
    room = Room("#dev")
    ann, bob, ghost = (User(key, key, account=True) for key in ("ann", "bob", "ghost"))
    ann.sessions = (SessionId(1),)  # one: held as the id
    for user in (ann, ghost):  # ghost: a member on another node, no session here
        room.add(user)
    assert room.targets() == (1,)
    bob.sessions = (SessionId(2), SessionId(3))  # several: a tuple
    room.add(bob)
    assert room.targets() == (1, 2, 3)
    room.changed()
    assert room.targets() == (1, 2, 3)  # made again from the members
