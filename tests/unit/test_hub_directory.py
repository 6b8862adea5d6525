"""The hub's directory: WHO as the asker may see it (invisible users), WHO of one nick (WHOIS),
WHOWAS history and STATS (LUSERS)."""

from __future__ import annotations

import pytest

from palaver.hub import HubConfig
from palaver.hub.whowas import NickHistory, mask_matcher, wildcard_match
from palaver.protocol.messages import (
    Error,
    GetStats,
    Hello,
    Join,
    ListPastUsers,
    ListUsers,
    PastUser,
    PastUsers,
    Say,
    ServerStats,
    SetNick,
    SetRoomMode,
    SetUserMode,
    UserInfo,
    Users,
)
from tests.unit.hub_harness import Harness


def listed(h: Harness, sid: int, **fields: object) -> Users:
    h.clear()
    h.send(sid, ListUsers(id="q", **fields))  # type: ignore[arg-type]
    [users] = h.take(sid)
    assert isinstance(users, Users), users
    return users


def test_who_leaves_out_invisible_users_who_share_no_room_with_the_asker() -> None:
    h = Harness(HubConfig(default_rooms=()))
    evan, shiv = h.login("evan"), h.login("shiv")
    h.send(evan, SetUserMode(invisible=True))
    assert listed(h, shiv).users == ("shiv",)
    assert listed(h, evan).users == ("evan", "shiv")  # oneself: always
    assert listed(h, shiv, nick="EVAN").users == ("evan",)  # asked by nick: shown
    h.send(evan, Join(room="#test"))
    assert listed(h, shiv, room="#test").users == ()  # an outsider: not its invisible members
    h.send(shiv, Join(room="#test"))
    assert listed(h, shiv).users == ("evan", "shiv")  # a shared room: shown
    assert listed(h, shiv, room="#test").users == ("evan", "shiv")


def test_who_of_one_nick_has_its_rooms_operator_status_account_and_idle_time() -> None:
    h = Harness(HubConfig(default_rooms=()))
    ann = h.open()
    h.send(ann, Hello(version=1, nick="ann", username="annie", realname="Ann"))
    h.send(ann, Join(room="#a"))
    h.send(ann, Join(room="#secret"))
    h.send(ann, SetRoomMode(room="#secret", private=True))
    bob = h.login("bob")
    h.clock.advance(30)
    h.send(ann, Say(room="#a", text="hi"))
    h.clock.advance(12)
    [info] = listed(h, bob, nick="ann", details=True).info
    assert info == UserInfo(nick="ann", username="annie", realname="Ann", rooms=("#a",),
                            operator_of=("#a",), online_since="2026-11-18T11:06:40.000Z",
                            idle=12)
    assert listed(h, bob, nick="nobody", details=True) == Users(id="q", users=())
    [mine] = listed(h, ann, nick="ann", details=True).info  # oneself: every room
    assert mine.rooms == ("#a", "#secret")


def test_an_invisible_users_rooms_are_only_the_shared_ones() -> None:
    h = Harness(HubConfig(default_rooms=()))
    one, two = h.login("one"), h.login("two")
    h.send(one, Join(room="#xyz"))
    h.send(one, Join(room="#abc"))
    h.send(one, SetUserMode(invisible=True))
    assert listed(h, two, nick="one", details=True).info[0].rooms == ()
    h.send(two, Join(room="#xyz"))
    assert listed(h, two, nick="one", details=True).info[0].rooms == ("#xyz",)


def test_details_say_who_is_an_operator_and_logged_in_to_which_account() -> None:
    h = Harness(HubConfig(server_operators=frozenset({"root"})))
    sid = h.open()
    h.hub._accounts["root"] = "Root"
    h.login_account(Hello(version=1, nick="root", password="pw"), sid=sid)
    guest = h.login("guest")
    h.clear()
    info = {i.nick: i for i in listed(h, guest, details=True).info}
    assert (info["Root"].operator, info["Root"].account) == (True, "Root")
    assert (info["guest"].operator, info["guest"].account) == (False, None)


def test_whowas_remembers_users_that_left_or_changed_nick_newest_first() -> None:
    h = Harness(HubConfig(whowas_entries=3))
    asker = h.login("asker")
    for ident in ("ident2", "ident3"):
        sid = h.open()
        h.send(sid, Hello(version=1, nick="nick2", username=ident, realname="Realname"))
        h.clock.advance(1)
        h.drop(sid)
    cat = h.login("cat")
    h.send(cat, SetNick(nick="kitten"))
    h.clear()
    h.send(asker, ListPastUsers(id="w", nick="NICK2"))
    [answer] = h.take(asker)
    assert isinstance(answer, PastUsers)
    assert [u.username for u in answer.users] == ["ident3", "ident2"]
    assert answer.users[0] == PastUser(nick="nick2", until="2026-11-18T11:06:41.000Z",
                                       username="ident3", realname="Realname")
    h.send(asker, ListPastUsers(id="w1", nick="nick2", count=1))
    [answer] = h.take(asker)
    assert isinstance(answer, PastUsers) and len(answer.users) == 1
    h.send(asker, ListPastUsers(id="c", nick="c?t"))
    [answer] = h.take(asker)
    assert isinstance(answer, PastUsers) and [u.nick for u in answer.users] == ["cat"]
    h.send(asker, ListPastUsers(id="n", nick="nobody"))
    assert h.take(asker) == [PastUsers(id="n", nick="nobody")]
    assert len(h.hub.history) == 3  # bounded: the oldest went first


@pytest.mark.parametrize("mask", ["", "x" * 65, "no body"])
def test_a_bad_whowas_nick_is_invalid_nick(mask: str) -> None:
    h = Harness()
    sid = h.login("ann")
    h.clear()
    h.send(sid, ListPastUsers(id="w", nick=mask))
    [error] = h.take(sid)
    assert isinstance(error, Error) and error.code == "invalid_nick"


def test_stats_count_users_invisible_operators_unregistered_rooms_and_the_peak() -> None:
    h = Harness(HubConfig(server_operators=frozenset({"root"})))
    bar = h.login("bar")
    qux = h.login("qux")
    h.open()  # a connection that has not said HELLO
    h.send(qux, SetUserMode(invisible=True))
    h.send(qux, Join(room="#hidden"))
    h.send(qux, SetRoomMode(room="#hidden", private=True))
    h.clear()
    h.send(bar, GetStats(id="s"))
    assert h.take(bar) == [ServerStats(id="s", users=2, invisible=1, operators=0,
                                       unregistered=1, rooms=1, max_users=2)]
    h.drop(qux)
    h.clear()
    h.send(bar, GetStats(id="s"))
    assert h.take(bar) == [ServerStats(id="s", users=1, invisible=0, operators=0,
                                       unregistered=1, rooms=1, max_users=2)]


@pytest.mark.parametrize(("mask", "name", "matches"), [
    ("*", "", True), ("*", "abc", True), ("a*c", "abc", True), ("a*c", "abcd", False),
    ("*ck2", "nick2", True), ("n?ck*", "nick2", True), ("?", "", False),
    ("[x]", "[x]", True), ("[x]", "x", False), ("**a", "ba", True), ("*a*", "bbb", False),
    ("exact", "exact", True), ("exact", "exac", False),
])
def test_masks_know_only_star_and_question_mark(mask: str, name: str, matches: bool) -> None:
    assert wildcard_match(mask, name) is matches
    assert mask_matcher(mask)(name) is matches


def test_a_mask_full_of_stars_is_matched_in_linear_steps() -> None:
    assert not wildcard_match("*a" * 200 + "b", "a" * 300)  # a regex would backtrack for ever


def test_the_history_is_bounded() -> None:
    history = NickHistory(limit=2)
    assert history.lookup("*") == ()
