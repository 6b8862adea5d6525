"""The hub's profile handlers: username/realname, away status, ban lists, part reasons."""

from __future__ import annotations

import pytest

from palaver.hub.hub import format_ts
from palaver.protocol.messages import (
    Away,
    Ban,
    BanEntry,
    BanList,
    Error,
    Hello,
    Invite,
    Invited,
    Join,
    Leave,
    ListBans,
    ListUsers,
    Message,
    Presence,
    Register,
    Registered,
    Say,
    SendDirect,
    SetAway,
    SetRealname,
    SetUserMode,
    UserInfo,
    UserMode,
    Users,
    UserUpdated,
)
from tests.unit.hub_harness import Harness


def test_username_and_realname_are_kept_and_shown_by_who_with_details() -> None:
    h = Harness()
    ann = h.open()
    h.send(ann, Hello(version=1, nick="ann", username="annie", realname="Ann Smith"))
    bob = h.login("bob")
    h.clear()
    h.send(bob, ListUsers(id="w", details=True))
    assert h.take(bob) == [Users(id="w", users=("ann", "bob"), info=(
        UserInfo(nick="ann", username="annie", realname="Ann Smith"), UserInfo(nick="bob")))]
    h.send(bob, ListUsers(id="r", room="#lobby", details=True))
    [users] = h.take(bob)
    assert isinstance(users, Users) and users.info[0].realname == "Ann Smith"
    h.send(bob, ListUsers(id="plain"))
    assert h.take(bob) == [Users(id="plain", users=("ann", "bob"))]  # no details: no info
    again = h.open()  # a second session of the same guest changes nothing
    token = h.token_of(ann)
    h.send(again, Hello(version=1, nick="ann", token=token, realname="Other"))
    assert h.hub._online["ann"].realname == "Ann Smith"


@pytest.mark.parametrize(("fields", "field"), [
    ({"username": "a b"}, "username"),
    ({"username": ""}, "username"),
    ({"username": "x" * 33}, "username"),
    ({"realname": "a\nb"}, "realname"),
    ({"realname": "\x1b[2J"}, "realname"),
    ({"realname": "x" * 101}, "realname"),
])
def test_a_bad_username_or_realname_is_refused_with_the_hello(
    fields: dict[str, str], field: str,
) -> None:
    h = Harness()
    sid = h.open()
    h.send(sid, Hello(id="h", version=1, nick="ann", **fields))
    [error] = h.take(sid)
    assert isinstance(error, Error) and (error.code, error.field) == ("invalid_field", field)
    assert not h.hub.is_registered(sid)


def test_away_is_per_user_told_to_its_sessions_and_to_dm_senders() -> None:
    h = Harness()
    ann = h.login("ann")
    token = h.token_of(ann)
    ann2 = h.open()
    h.send(ann2, Hello(version=1, nick="ann", token=token))
    bob = h.login("bob")
    h.clear()
    h.send(ann, SetAway(id="a", message="gone fishing"))
    assert h.take(ann) == [Away(id="a", nick="ann", message="gone fishing")]
    assert h.take(ann2) == [Away(nick="ann", message="gone fishing")]
    assert h.take(bob) == [UserUpdated(nick="ann", change="away", away="gone fishing")]
    h.send(bob, SendDirect(id="d", to="ANN", text="hi"))
    got = h.take(bob)
    assert isinstance(got[0], Message) and got[0].id == "d"
    assert got[1:] == [Away(nick="ann", message="gone fishing")]  # after the DM's answer
    h.send(bob, ListUsers(id="w", details=True))
    [users] = h.take(bob)
    assert isinstance(users, Users) and users.info[0].away == "gone fishing"
    h.clear()
    h.send(ann2, SetAway(id="b"))  # back, from the other session
    assert h.take(ann2) == [Away(id="b", nick="ann")]
    assert h.take(ann) == [Away(nick="ann")]
    assert h.take(bob) == [UserUpdated(nick="ann", change="away")]  # a room-mate
    h.send(bob, SendDirect(id="e", to="ann", text="hi"))
    assert [type(e) for e in h.take(bob)] == [Message]
    h.send(ann, SetAway(id="c", message="x"))
    h.send(ann, SendDirect(id="f", to="ann", text="note to self"))
    assert not any(isinstance(e, Away) and e.id is None for e in h.take(ann))


def test_away_ends_when_the_user_goes_offline_and_bad_messages_are_refused() -> None:
    h = Harness()
    ann = h.login("ann")
    h.clear()
    h.send(ann, SetAway(id="a", message="a\x07b"))
    [error] = h.take(ann)
    assert isinstance(error, Error) and error.code == "invalid_text"
    h.send(ann, SetAway(id="b", message="lunch"))
    h.drop(ann)
    ann = h.login("ann")
    assert h.hub._online["ann"].away is None


def test_ban_list_for_members_refused_to_outsiders() -> None:
    h = Harness()
    alice, bob, cat = h.login("alice"), h.login("bob"), h.login("cat")
    h.send(alice, Join(room="#r"))
    h.send(bob, Join(room="#r"))
    h.send(alice, Ban(room="#r", nick="Mallory"))
    h.send(alice, Ban(room="#r", nick="eve"))
    h.clear()
    h.send(bob, ListBans(id="b", room="#R"))
    at = format_ts(h.clock.now)
    assert h.take(bob) == [BanList(id="b", room="#r", nicks=("eve", "mallory"),
                                   bans=(BanEntry(nick="eve", by="alice", at=at),
                                         BanEntry(nick="mallory", by="alice", at=at)))]
    h.send(cat, ListBans(id="c", room="#r"))
    [error] = h.take(cat)
    assert isinstance(error, Error) and error.code == "not_in_room"
    h.send(cat, ListBans(id="d", room="#nowhere"))
    [error] = h.take(cat)
    assert isinstance(error, Error) and error.code == "no_such_room"
    h.send(cat, ListBans(id="e", room="#lobby"))
    assert h.take(cat) == [BanList(id="e", room="#lobby", nicks=())]


def test_a_leave_reason_reaches_the_room() -> None:
    h = Harness()
    ann, bob = h.login("ann"), h.login("bob")
    h.clear()
    h.send(ann, Leave(room="#lobby", reason="bye all"))
    assert h.take(bob) == [Presence(nick="ann", event="leave", room="#lobby", reason="bye all")]
    h.send(ann, Join(room="#x"))
    h.send(bob, Join(room="#x"))
    h.clear()
    h.send(bob, Leave(room="#x", reason="a\x1b[2Jb"))  # not a valid line: dropped
    assert h.take(ann) == [Presence(nick="bob", event="leave", room="#x")]


def test_away_changes_reach_room_mates_only_when_they_change() -> None:
    h = Harness()
    ann, bob = h.login("ann"), h.login("bob")
    loner = h.open()
    h.send(loner, Hello(version=1, nick="loner", autojoin=False))  # shares no room
    h.clear()
    h.send(ann, SetAway(id="a", message="lunch"))
    h.send(ann, SetAway(id="b", message="lunch"))  # the same again: nothing new to tell
    h.send(ann, SetAway(id="c", message="long lunch"))
    h.send(ann, SetAway(id="d"))
    h.send(ann, SetAway(id="e"))
    assert h.take(bob) == [UserUpdated(nick="ann", change="away", away="lunch"),
                           UserUpdated(nick="ann", change="away", away="long lunch"),
                           UserUpdated(nick="ann", change="away")]
    assert h.take(loner) == []
    assert [type(e) for e in h.take(ann)] == [Away] * 5  # its own answers, no USER_UPDATED


def test_realname_changes_answer_the_asker_and_reach_its_sessions_and_room_mates() -> None:
    h = Harness()
    ann = h.open()
    h.send(ann, Hello(version=1, nick="ann", realname="Ann"))
    token = h.token_of(ann)
    ann2 = h.open()
    h.send(ann2, Hello(version=1, nick="ann", token=token))
    bob = h.login("bob")
    h.clear()
    h.send(ann, SetRealname(id="r", realname="Ann Smith"))
    event = UserUpdated(nick="ann", change="realname", realname="Ann Smith")
    assert h.take(ann) == [UserUpdated(id="r", nick="ann", change="realname",
                                       realname="Ann Smith")]
    assert h.take(ann2) == [event]
    assert h.take(bob) == [event]
    h.send(bob, ListUsers(id="w", details=True))
    [users] = h.take(bob)
    assert isinstance(users, Users) and users.info[0].realname == "Ann Smith"
    for bad in ("", "   ", "a\nb", "x" * 101, "\x1b[2J"):
        h.send(ann, SetRealname(id="bad", realname=bad))
        [error] = h.take(ann)
        assert isinstance(error, Error) and (error.code, error.field) == (
            "invalid_field", "realname"), bad
    assert h.take(bob) == []


def test_a_join_says_who_joined_realname_account_and_away() -> None:
    h = Harness()
    bob = h.login("bob")
    h.hub._accounts["ann"] = "Ann"
    ann, _ = h.login_account(Hello(version=1, nick="ann", password="secret123",
                                   realname="Ann Smith", autojoin=False))
    h.send(ann, SetAway(message="brb"))
    h.clear()
    h.send(ann, Join(room="#lobby"))
    assert h.take(bob) == [Presence(nick="Ann", event="join", room="#lobby",
                                    realname="Ann Smith", account="Ann", away="brb")]
    guest = h.login("gus")  # a guest that said nothing: nothing more than before
    assert Presence(nick="gus", event="join", room="#lobby") in h.take(bob)
    h.drop(guest)


def test_becoming_an_account_is_told_to_room_mates() -> None:
    h = Harness()
    ann, bob = h.login("ann"), h.login("bob")
    h.clear()
    h.send(ann, Register(id="r", nick="ann", password="secret123"))
    h.apply(h.hub.account_created(ann, "ann", created=True, request_id="r"))
    assert h.take(bob) == [UserUpdated(nick="ann", change="account", account="ann")]
    assert [type(e) for e in h.take(ann)] == [Registered]


def test_a_bot_and_an_account_say_so_on_their_messages_as_they_are_sent() -> None:
    h = Harness()
    h.hub._accounts["ann"] = "Ann"
    ann, _ = h.login_account(Hello(version=1, nick="ann", password="secret123"))
    bob = h.login("bob")
    h.clear()
    h.send(ann, SetUserMode(id="b", bot=True))
    [mode] = h.take(ann)
    assert isinstance(mode, UserMode) and mode.bot and mode.changed == ("bot",)
    h.send(ann, Say(id="s", room="#lobby", text="beep"))
    h.send(ann, SendDirect(id="d", to="bob", text="boop"))
    for got in (*h.take(ann), *h.take(bob)):
        assert isinstance(got, Message) and (got.account, got.bot) == ("Ann", True), got
    assert h.stored and all(not hasattr(m, "bot") for m in h.stored)  # never stored
    h.send(bob, ListUsers(id="w", details=True))
    [users] = h.take(bob)
    assert isinstance(users, Users) and [(i.nick, i.bot) for i in users.info] == [
        ("Ann", True), ("bob", False)]
    h.send(bob, Say(room="#lobby", text="a guest"))
    [plain] = h.take(ann)
    assert isinstance(plain, Message) and (plain.account, plain.bot) == (None, False)


def test_an_invitation_is_told_to_the_room_s_members_too() -> None:
    h = Harness()
    alice, bob, carol = h.login("alice"), h.login("bob"), h.login("carol")
    h.send(alice, Join(room="#dev"))
    h.send(bob, Join(room="#dev"))
    h.clear()
    h.send(alice, Invite(id="i", room="#dev", nick="carol"))
    event = Invited(room="#dev", by="alice", nick="carol")
    assert h.take(alice) == [Invited(id="i", room="#dev", by="alice", nick="carol")]
    assert h.take(carol) == [event]
    assert h.take(bob) == [event]
