"""Arriving: the default rooms a HELLO joins (or not: ``autojoin``), and AUTH before HELLO."""

from __future__ import annotations

from palaver.hub import HubConfig
from palaver.protocol.messages import (
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
