"""A room's cached audience and nick list: grown in place by a join, made again after any other
change, always what a fresh pass over its members gives."""

from __future__ import annotations

from palaver.hub.state import Room, User, guest_key, holds_token


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
