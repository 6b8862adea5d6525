"""The hub's watch lists (WATCH; IRC's MONITOR): WATCHING, ONLINE, OFFLINE."""

from __future__ import annotations

from palaver.hub.watch import MAX_WATCH
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Error,
    Hello,
    Join,
    Offline,
    Online,
    Quit,
    SetAway,
    SetNick,
    SetRealname,
    UserUpdated,
    Watch,
    Watching,
)
from tests.unit.hub_harness import Harness


def watching(h: Harness, nick: str, *nicks: str) -> int:
    sid = h.login(nick)
    h.send(sid, Watch(add=nicks))
    h.clear()
    return sid


def test_watch_answers_who_is_online_and_who_is_not() -> None:
    h = Harness()
    h.login("Bob")
    alice = h.login("alice")
    h.clear()
    h.send(alice, Watch(id="w", add=("bob", "carol")))
    assert h.take(alice) == [Watching(id="w", online=("Bob",), offline=("carol",))]


def test_a_watched_nick_coming_online_and_going_offline_is_told_to_its_watchers() -> None:
    h = Harness()
    alice = watching(h, "alice", "bob")
    dave = h.login("dave")  # watches nothing
    h.clear()
    bob = h.login("bob")
    assert Online(nick="bob") in h.take(alice)
    assert not any(isinstance(e, Online) for e in h.take(dave))
    h.send(bob, Quit(reason="bye"))
    assert h.take(alice)[-1] == Offline(nick="bob")


def test_only_the_last_session_of_a_watched_user_makes_it_offline() -> None:
    h = Harness()
    alice = watching(h, "alice", "bob")
    first = h.login("bob")
    token = h.token_of(first)
    second = h.open()
    h.send(second, Hello(version=1, nick="bob", token=token))
    assert h.take(alice).count(Online(nick="bob")) == 1  # the second session says nothing
    h.drop(first)
    assert not any(isinstance(e, Offline) for e in h.take(alice))
    h.drop(second)
    assert Offline(nick="bob") in h.take(alice)


def test_a_nick_change_is_offline_for_the_old_nick_and_online_for_the_new() -> None:
    h = Harness()
    alice = watching(h, "alice", "qux")
    carol = watching(h, "carol", "baz")
    baz = h.login("baz")
    h.clear()
    h.send(baz, SetNick(nick="qux"))
    assert Online(nick="qux") in h.take(alice)
    assert Offline(nick="baz") in h.take(carol)
    h.send(baz, SetNick(nick="QUX"))  # a change of case: the same nick
    assert not any(isinstance(e, (Online, Offline)) for e in h.take(alice))
    h.send(baz, SetNick(nick="bazbat"))
    assert Offline(nick="QUX") in h.take(alice)  # as its user wrote it last


def test_remove_clear_and_the_question_about_the_whole_list() -> None:
    h = Harness()
    h.login("bob")
    alice = h.login("alice")
    h.send(alice, Watch(add=("bob", "carol", "dave")))
    h.clear()
    h.send(alice, Watch(id="r", remove=("DAVE", "nobody")))
    assert h.take(alice) == [Watching(id="r")]
    h.send(alice, Watch(id="q"))
    assert h.take(alice) == [Watching(id="q", online=("bob",), offline=("carol",))]
    h.send(alice, Watch(id="c", clear=True, add=("erin",)))
    assert h.take(alice) == [Watching(id="c", offline=("erin",))]
    h.send(alice, Watch(id="q2"))
    assert h.take(alice) == [Watching(id="q2", offline=("erin",))]


def test_a_removed_nick_is_no_longer_told() -> None:
    h = Harness()
    alice = watching(h, "alice", "qux")
    bob = watching(h, "bob", "qux")
    h.send(bob, Watch(remove=("qux",)))
    h.clear()
    h.login("qux")
    assert Online(nick="qux") in h.take(alice)
    assert not any(isinstance(e, Online) for e in h.take(bob))


def test_a_full_list_or_a_bad_nick_changes_nothing() -> None:
    h = Harness()
    alice = h.login("alice")
    h.send(alice, Watch(add=tuple(f"n{i}" for i in range(MAX_WATCH - 1))))
    h.clear()
    h.send(alice, Watch(id="full", add=("x1", "x2")))
    [error] = h.take(alice)
    assert isinstance(error, Error) and error.code == ErrorCode.WATCH_LIST_FULL
    assert error.field == "add" and error.id == "full"
    h.send(alice, Watch(id="bad", add=("ok", "*!user@host")))
    [error] = h.take(alice)
    assert isinstance(error, Error) and error.code == ErrorCode.INVALID_NICK
    h.send(alice, Watch(id="q"))
    [answer] = h.take(alice)
    assert isinstance(answer, Watching) and len(answer.offline) == MAX_WATCH - 1
    h.send(alice, Watch(id="one", add=("x1", "N1")))  # N1 is on it already: one more fits
    [answer] = h.take(alice)
    assert isinstance(answer, Watching) and answer.offline == ("x1", "N1")


def test_a_closed_session_watches_nothing_any_more() -> None:
    h = Harness()
    alice = watching(h, "alice", "bob", "carol")
    h.drop(alice)
    assert h.hub._watchers == {} and h.hub._watch_lists == {}
    h.login("bob")  # nobody to tell, nothing fails


def test_watch_needs_a_hello_first() -> None:
    h = Harness()
    sid = h.open()
    h.send(sid, Watch(id="w", add=("bob",)))
    [error] = h.take(sid)
    assert isinstance(error, Error) and error.code == ErrorCode.HANDSHAKE_REQUIRED


def test_watchers_hear_of_a_watched_user_s_changes_as_watched() -> None:
    """extended-monitor: USER_UPDATED to the watchers too, once, marked ``watched``."""
    h = Harness()

    def alone(nick: str, **fields: object) -> int:  # in no room (as IRC users arrive)
        sid = h.open()
        h.send(sid, Hello(version=1, nick=nick, autojoin=False, **fields))  # type: ignore[arg-type]
        return sid

    stranger, mate = alone("alice"), alone("carol")
    for sid in (stranger, mate):
        h.send(sid, Watch(add=("bob",)))
    bob = alone("bob")
    other_bob = alone("bob", token=h.token_of(bob))
    for sid in (mate, bob):
        h.send(sid, Join(room="#dev"))
    h.clear()
    h.send(bob, SetAway(message="lunch"))
    update = UserUpdated(nick="bob", change="away", away="lunch")
    assert [e for e in h.take(stranger) if isinstance(e, UserUpdated)] == [
        UserUpdated(nick="bob", change="away", away="lunch", watched=True)]
    assert [e for e in h.take(mate) if isinstance(e, UserUpdated)] == [update]  # only once
    assert not any(isinstance(e, UserUpdated) for e in h.take(other_bob))
    h.send(bob, SetRealname(realname="Robert"))
    [renamed] = [e for e in h.take(stranger) if isinstance(e, UserUpdated)]
    assert renamed.change == "realname" and renamed.watched
