"""Arriving: the default rooms a HELLO joins (or not: ``autojoin``), and AUTH before HELLO."""

from __future__ import annotations

from palaver.hub import HubConfig
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Authenticate,
    Authenticated,
    Error,
    Hello,
    Join,
    Joined,
    Leave,
    Presence,
    RoomUpdated,
    SetRoomMode,
    Welcome,
)
from tests.unit.hub_harness import Harness


def test_a_hello_joins_every_default_room() -> None:
    h = Harness(HubConfig(default_rooms=("#lobby", "#news")))
    ann = h.login("ann")
    welcome, *joined = h.take(ann)
    assert isinstance(welcome, Welcome) and welcome.rooms == ("#lobby", "#news")
    assert [j.room for j in joined if isinstance(j, Joined)] == ["#lobby", "#news"]


def test_no_default_rooms_puts_nobody_anywhere() -> None:
    h = Harness(HubConfig(default_rooms=()))
    ann = h.login("ann")
    [welcome] = h.take(ann)
    assert isinstance(welcome, Welcome) and welcome.rooms == ()


def test_a_hello_without_autojoin_joins_nothing_and_nobody_hears_of_it() -> None:
    h = Harness()
    bob = h.login("bob")
    h.clear()
    ann = h.open()
    h.send(ann, Hello(version=1, nick="ann", autojoin=False))
    [welcome] = h.take(ann)
    assert isinstance(welcome, Welcome) and welcome.rooms == ()
    assert h.take(bob) == []
    h.send(ann, Join(id="j", room="#lobby"))  # it may still join one, as any room
    assert isinstance(h.take(ann)[0], Joined)
    assert h.take(bob) == [Presence(nick="ann", event="join", room="#lobby")]


def test_an_account_that_joined_a_default_room_is_put_back_in_it_without_autojoin() -> None:
    h = Harness()
    h.hub._accounts["ann"] = "ann"
    hello = Hello(version=1, nick="ann", password="secret123", autojoin=False)
    ann, _ = h.login_account(hello)
    h.send(ann, Join(room="#lobby"))
    h.drop(ann)
    again, _ = h.login_account(hello)
    welcome = h.take(again)[0]
    assert isinstance(welcome, Welcome) and welcome.rooms == ("#lobby",)
    h.send(again, Leave(room="#lobby"))  # and once it leaves, it is not
    h.drop(again)
    third, _ = h.login_account(hello)
    welcome = h.take(third)[0]
    assert isinstance(welcome, Welcome) and welcome.rooms == ()


def test_every_default_room_is_nobody_s() -> None:
    h = Harness(HubConfig(default_rooms=("#lobby", "#news")))
    ann = h.login("ann")
    joined = [e for e in h.take(ann) if isinstance(e, Joined)]
    assert [(j.room, j.operators) for j in joined] == [("#lobby", ()), ("#news", ())]
    h.send(ann, SetRoomMode(id="m", room="#news", invite_only=True))
    [refusal] = h.take(ann)
    assert not isinstance(refusal, RoomUpdated)  # no operator: its first member is nobody's


# --------------------------------------------------------------------------- AUTH


def authenticated_session(h: Harness, nick: str = "ann", *, verified: bool = True
                          ) -> tuple[int, list[object]]:
    """A session that sent AUTH for ``nick``, with the core's verdict."""
    sid = h.open()
    auth = Authenticate(id="a", nick=nick, password="secret123")
    assert h.hub.needs_login(sid, auth)
    h.apply(h.hub.login(sid, auth, verified=verified, marks={}, now=h.clock.now))
    return sid, list(h.take(sid))


def test_auth_proves_an_account_and_the_hello_after_it_needs_no_password() -> None:
    h = Harness()
    h.hub._accounts["ann"] = "Ann"
    sid, answer = authenticated_session(h)
    assert answer == [Authenticated(id="a", account="Ann")]
    h.send(sid, Hello(id="h", version=1, nick="ann", autojoin=False))
    [welcome] = h.take(sid)
    assert isinstance(welcome, Welcome) and (welcome.nick, welcome.account) == ("Ann", True)
    assert h.hub._online["ann"].key == "ann" and not h.hub.needs_login(sid, Authenticate(
        nick="ann", password="x"))
    h.send(sid, Authenticate(id="again", nick="ann", password="secret123"))
    [refusal] = h.take(sid)
    assert isinstance(refusal, Error) and refusal.code == ErrorCode.ALREADY_REGISTERED


def test_an_account_proved_by_auth_may_wear_another_free_nick() -> None:
    h = Harness()
    h.hub._accounts.update({"ann": "ann", "bob": "bob"})
    h.login("carl")
    sid, _ = authenticated_session(h)
    for taken, code in (("bob", ErrorCode.NICK_REGISTERED), ("carl", ErrorCode.NICK_TAKEN),
                        ("car1", ErrorCode.NICK_CONFUSABLE)):
        h.send(sid, Hello(id="h", version=1, nick=taken))
        [refusal] = h.take(sid)
        assert isinstance(refusal, Error) and refusal.code == code, taken
    h.send(sid, Hello(id="h", version=1, nick="annie"))  # the AUTH still holds: a free nick
    welcome = h.take(sid)[0]
    assert isinstance(welcome, Welcome) and (welcome.nick, welcome.account) == ("annie", True)
    user = h.hub._online["annie"]
    assert (user.key, user.account) == ("ann", True) and h.hub._online_accounts["ann"] is user


def test_a_wrong_auth_proves_nothing() -> None:
    h = Harness()
    h.hub._accounts["ann"] = "ann"
    sid, answer = authenticated_session(h, verified=False)
    assert [(e.code, e.id) for e in answer if isinstance(e, Error)] == [
        (ErrorCode.AUTH_FAILED, "a")]
    h.send(sid, Hello(id="h", version=1, nick="ann"))
    [refusal] = h.take(sid)
    assert isinstance(refusal, Error) and refusal.code == ErrorCode.NICK_REGISTERED
    _, answer = authenticated_session(h, "zed")  # no such account: the same refusal
    assert [e.code for e in answer if isinstance(e, Error)] == [ErrorCode.AUTH_FAILED]
