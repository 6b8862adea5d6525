"""The IRC door's channels in memory: JOIN keys, MODE settings and members, NAMES, LIST
filters, KICK targets, and the numerics and MODE lines the room rules' events become."""

from __future__ import annotations

from typing import Final

import pytest

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.channels import list_filter, prefixed
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.registration import ISUPPORT
from palaver.protocol.irc.rooms import changed_modes
from palaver.protocol.messages import (
    Allow,
    AllowList,
    BanEntry,
    BanList,
    ClientMessage,
    Disallow,
    Error,
    GrantOperator,
    GrantVoice,
    Hello,
    InvitationList,
    Join,
    Joined,
    Kick,
    ListAllowed,
    ListInvitations,
    ListRooms,
    ListUsers,
    Mute,
    RevokeVoice,
    RoomInfo,
    RoomList,
    RoomUpdated,
    Say,
    SetRoomMode,
    Unmute,
    Users,
    Welcome,
)

R: Final = "#chan"


def registered(nick: str = "ann") -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick)
    out = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :Ann\r\n".encode())
    hello = out[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    return d


def requests(out: list[Inbound]) -> list[ClientMessage]:
    return [m for m in out if not isinstance(m, bytes)]  # type: ignore[misc]


def lines(data: bytes | list[Inbound]) -> list[str]:
    if isinstance(data, list):
        data = b"".join(m for m in data if isinstance(m, bytes))
    return [line.decode() for line in data.split(b"\r\n") if line]


def answer(d: IrcDialect, request: ClientMessage, event: object) -> list[str]:
    """The lines ``event`` (an answer to ``request``) becomes."""
    return lines(d.encode(msgspec_replace(event, id=request.id)))


def msgspec_replace(event: object, **fields: object) -> object:
    import msgspec

    return msgspec.structs.replace(event, **fields)  # type: ignore[type-var]


# ---------------------------------------------------------------------- commands


def test_join_gives_each_channel_its_key() -> None:
    d = registered()
    out = requests(d.receive_data(b"JOIN #a,#b,#c one,,three\r\n"))
    assert [(m.room, m.key) for m in out if isinstance(m, Join)] == [
        ("#a", "one"), ("#b", None), ("#c", "three")]


def test_mode_settings_are_one_request_and_members_one_each() -> None:
    d = registered()
    out = d.receive_data(b"MODE #chan +imntl-s 5\r\nMODE #chan +kv-v beer bob carl\r\n"
                         b"MODE #chan -lk *\r\n")
    [first, voice, devoice, second, third] = requests(out)  # a MODE's settings go last
    assert first == SetRoomMode(id=first.id, room=R, invite_only=True, moderated=True,
                                outside_messages=False, open_topic=False, limit=5,
                                private=False)
    assert isinstance(voice, GrantVoice) and voice.nick == "bob"
    assert isinstance(devoice, RevokeVoice) and devoice.nick == "carl"
    assert second == SetRoomMode(id=second.id, room=R, key="beer")
    assert third == SetRoomMode(id=third.id, room=R, limit=0, key="")
    assert lines(out) == []


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "", "100001"])
def test_a_bad_limit_is_696_and_the_rest_goes_on(limit: str) -> None:
    d = registered()
    out = d.receive_data(f"MODE #chan +lm :{limit}\r\n".encode())
    [mode] = requests(out)
    assert mode == SetRoomMode(id=mode.id, room=R, moderated=True)
    [error] = lines(out)
    assert error.startswith(f":palaver 696 ann #chan l {limit or '*'} :")


@pytest.mark.parametrize("key", ["", " ", "passphrase with spaces", "long" * 100, "a,b"])
def test_a_bad_key_is_696_with_a_star(key: str) -> None:
    d = registered()
    out = d.receive_data(f"MODE #chan +k :{key}\r\n".encode())
    assert requests(out) == []
    [error] = lines(out)
    assert error.startswith(":palaver 696 ann #chan k * :a key is 1-23 printable ASCII")


def test_kick_several_users_of_one_channel_or_pairs_at_most_four() -> None:
    d = registered()
    one = requests(d.receive_data(b"KICK #chan bar,baz :bye\r\n"))
    pairs = requests(d.receive_data(b"KICK #a,#b bar,baz\r\n"))
    many = requests(d.receive_data(b"KICK #chan a,b,c,d,e\r\n"))
    assert [(k.room, k.nick, k.reason) for k in one if isinstance(k, Kick)] == [
        (R, "bar", "bye"), (R, "baz", "bye")]
    assert [(k.room, k.nick) for k in pairs if isinstance(k, Kick)] == [
        ("#a", "bar"), ("#b", "baz")]
    assert [k.nick for k in many if isinstance(k, Kick)] == ["a", "b", "c", "d"]
    assert lines(d.receive_data(b"KICK #a,#b bar\r\n")) == [
        ":palaver 461 ann KICK :Not enough parameters"]


def test_isupport_says_what_works() -> None:
    assert {"CHANMODES=Ib,k,l,imnst", "PREFIX=(ov)@+", "ELIST=MNU", "KEYLEN=23",
            "INVEX=I"} <= set(ISUPPORT)
    assert any(t.endswith("KICK:4") for t in ISUPPORT if t.startswith("TARGMAX="))


# ---------------------------------------------------------------------- events


def test_one_mode_line_for_the_settings_a_mode_changed() -> None:
    update = RoomUpdated(room=R, change="modes", by="op",
                         changed=("invite_only", "outside_messages", "open_topic", "limit"),
                         invite_only=True, outside_messages=True, open_topic=True, limit=2)
    assert changed_modes(update) == ["+i-nt+l", "2"]
    d = registered()
    assert lines(d.encode(update)) == [":op!op@palaver MODE #chan +i-nt+l 2"]
    removed = RoomUpdated(room=R, change="modes", by="op", changed=("limit", "key"))
    assert lines(d.encode(removed)) == [":op!op@palaver MODE #chan -lk *"]
    keyed = RoomUpdated(room=R, change="key", by="op", changed=("key",), key="beer")
    assert lines(d.encode(keyed)) == [":op!op@palaver MODE #chan +k beer"]
    voiced = RoomUpdated(room=R, change="voice", by="op", nick="bob", voiced=("bob",))
    assert lines(d.encode(voiced)) == [":op!op@palaver MODE #chan +v bob"]


def test_a_mode_that_changed_nothing_says_nothing() -> None:
    d = registered()
    [mode] = requests(d.receive_data(b"MODE #chan +t\r\n"))
    assert answer(d, mode, RoomUpdated(room=R, change="state", by="ann")) == []


def test_mode_query_is_324_and_329_with_the_key_for_members_only() -> None:
    d = registered()
    [query] = requests(d.receive_data(b"MODE #chan\r\n"))
    assert isinstance(query, ListRooms)
    member = RoomInfo(room=R, members=2, invite_only=True, limit=5, keyed=True, key="beer",
                      created_at="2026-11-18T11:06:40.000Z")
    assert answer(d, query, RoomList(rooms=(member,))) == [
        ":palaver 324 ann #chan +intkl beer :5", ":palaver 329 ann #chan :1795000000"]
    [query] = requests(d.receive_data(b"MODE #chan\r\n"))
    stranger = RoomInfo(room=R, members=2, outside_messages=True, open_topic=True,
                        keyed=True)
    assert answer(d, query, RoomList(rooms=(stranger,))) == [":palaver 324 ann #chan +k :*"]
    [query] = requests(d.receive_data(b"MODE #chan\r\n"))
    plain = RoomInfo(room=R, members=2, outside_messages=True, open_topic=True)
    assert answer(d, query, RoomList(rooms=(plain,))) == [":palaver 324 ann #chan :+"]


def test_topic_query_is_332_and_333() -> None:
    d = registered()
    [query] = requests(d.receive_data(b"TOPIC #chan\r\n"))
    room = RoomInfo(room=R, members=1, topic="tea", topic_by="bob",
                    topic_at="2026-11-18T11:06:40.000Z")
    assert answer(d, query, RoomList(rooms=(room,))) == [
        ":palaver 332 ann #chan :tea", ":palaver 333 ann #chan bob :1795000000"]


def test_names_marks_operators_and_voices_and_secret_channels() -> None:
    assert prefixed(("a", "b", "c"), ("a",), ("a", "b")) == ["@a", "+b", "c"]
    # ranks named in another case than the members (the slower way) give the same
    assert prefixed(("Ann", "bob", "c"), ("ann",), ("BOB",)) == ["@Ann", "+bob", "c"]
    assert prefixed(("Ann", "bob"), ("Ann",), ("bob",), frozenset({"multi-prefix"})) == [
        "@Ann", "+bob"]
    assert prefixed(("a", "b"), (), ()) == ["a", "b"]
    d = registered()
    event = Joined(room=R, members=("ann", "bob"), topic="", operators=("bob",),
                   voiced=("ann",), private=True)
    assert lines(d.encode(event))[1:] == [":palaver 353 ann @ #chan :+ann @bob",
                                          ":palaver 366 ann #chan :End of /NAMES list"]


def test_names_of_several_channels_ends_once() -> None:
    d = registered()
    first, second, third = requests(d.receive_data(b"NAMES #a,#nowhere,#b\r\n"))
    assert all(isinstance(m, ListUsers) for m in (first, second, third))
    assert answer(d, first, Users(room="#a", users=("ann",), operators=("ann",))) == [
        ":palaver 353 ann = #a :@ann"]
    assert answer(d, second, Error(code="no_such_room", message="there is no room")) == []
    assert answer(d, third, Users(room="#b", users=("ann", "x"), private=True)) == [
        ":palaver 353 ann @ #b :ann x", ":palaver 366 ann #a,#nowhere,#b :End of /NAMES list"]
    [alone] = requests(d.receive_data(b"NAMES #gone\r\n"))
    assert answer(d, alone, Error(code="no_such_room", message="there is no room")) == [
        ":palaver 366 ann #gone :End of /NAMES list"]


def test_list_filters_by_name_mask_negated_mask_and_member_count() -> None:
    rooms = [RoomInfo(room="#chan1", members=1), RoomInfo(room="#chan2", members=2)]

    def listed(arg: str) -> set[str]:
        wanted = list_filter(arg)
        return {r.room for r in rooms if wanted(r)}

    assert listed("") == listed(">0") == listed("<100") == {"#chan1", "#chan2"}
    assert listed("*an1") == listed("!*an2") == listed("<2") == {"#chan1"}
    assert listed("#c*n2") == listed("!#c*n1") == listed(">1") == {"#chan2"}
    assert listed("*an3") == listed("!#ch*") == listed("<1") == set()
    assert listed("#CHAN1,#chan2") == {"#chan1", "#chan2"}
    assert listed("#nonexistent") == set()
    assert listed("C>2") == {"#chan1", "#chan2"}  # not supported (not in ELIST): no filter


@pytest.mark.parametrize(("kind", "code", "numeric"), [
    ("JOIN #chan", "bad_key", "475 ann #chan :Cannot join channel (+k)"),
    ("JOIN #chan", "room_full", "471 ann #chan :Cannot join channel (+l)"),
    ("JOIN #chan", "invite_only", "473 ann #chan :Cannot join channel (+i)"),
    ("PRIVMSG #chan :hi", "moderated", "404 ann #chan :Cannot send to channel (+m)"),
    ("MODE #chan +v bob", "not_operator", "482 ann #chan :You're not channel operator"),
    ("MODE #chan +v bob", "user_not_in_room", "441 ann bob #chan :They aren't on that channel"),
])
def test_refusals_become_their_numerics(kind: str, code: str, numeric: str) -> None:
    d = registered()
    [request] = requests(d.receive_data(f"{kind}\r\n".encode()))
    assert isinstance(request, Join | Say | GrantVoice | GrantOperator)
    assert answer(d, request, Error(code=code, message="no")) == [f":palaver {numeric}"]


def test_the_ban_list_names_each_bans_setter_and_time() -> None:
    d = registered()
    [query] = requests(d.receive_data(b"MODE #chan +b\r\n"))
    event = BanList(room=R, nicks=("bar", "old"),
                    bans=(BanEntry(nick="bar", by="op", at="2026-11-18T11:06:40.000Z"),
                          BanEntry(nick="old")))
    assert answer(d, query, event) == [
        ":palaver 367 ann #chan bar!*@* op!op@palaver :1795000000",
        ":palaver 367 ann #chan :old!*@*",
        ":palaver 368 ann #chan :End of channel ban list"]


def test_the_allow_list_is_plus_i_and_its_list_346() -> None:
    d = registered()
    out = requests(d.receive_data(b"MODE #chan +I bar!*@*\r\nMODE #chan -I Baz\r\n"
                                  b"MODE #chan I\r\n"))
    allow, disallow, query = out
    assert allow == Allow(id=allow.id, room=R, nick="bar")
    assert disallow == Disallow(id=disallow.id, room=R, nick="Baz")
    assert isinstance(query, ListAllowed)
    event = AllowList(room=R, nicks=("bar",),
                      allowed=(BanEntry(nick="bar", by="op", at="2026-11-18T11:06:40.000Z"),))
    assert answer(d, query, event) == [
        ":palaver 346 ann #chan bar!*@* op!op@palaver :1795000000",
        ":palaver 347 ann #chan :End of Channel Invite Exception List"]
    update = RoomUpdated(room=R, change="allow", by="op", nick="bar")
    assert lines(d.encode(update)) == [":op!op@palaver MODE #chan +I bar!*@*"]
    assert lines(d.receive_data(b"MODE #chan +I *!*@host\r\n"))[0].startswith(
        ":palaver 696 ann #chan I *!*@host :")


def test_invite_alone_lists_ones_invitations() -> None:
    d = registered()
    [query] = requests(d.receive_data(b"INVITE\r\n"))
    assert isinstance(query, ListInvitations)
    assert answer(d, query, InvitationList(rooms=("#a", "#b"))) == [
        ":palaver 336 ann :#a", ":palaver 336 ann :#b", ":palaver 337 ann :End of /INVITE list"]
    assert lines(d.receive_data(b"INVITE bob\r\n")) == [
        ":palaver 461 ann INVITE :Not enough parameters"]


def test_the_mute_extban_is_mute_and_listed_with_the_bans() -> None:
    assert "EXTBAN=,m" in ISUPPORT
    d = registered()
    mute, unmute = requests(d.receive_data(b"MODE #chan +b-b m:bar!*@* m:baz\r\n"))
    assert mute == Mute(id=mute.id, room=R, nick="bar")
    assert unmute == Unmute(id=unmute.id, room=R, nick="baz")
    update = RoomUpdated(room=R, change="mute", by="op", nick="bar")
    assert lines(d.encode(update)) == [":op!op@palaver MODE #chan +b m:bar!*@*"]
    [query] = requests(d.receive_data(b"MODE #chan +b\r\n"))
    event = BanList(room=R, nicks=("eve",), muted=(
        BanEntry(nick="bar", by="op", at="2026-11-18T11:06:40.000Z"),))
    assert answer(d, query, event) == [
        ":palaver 367 ann #chan :eve!*@*",
        ":palaver 367 ann #chan m:bar!*@* op!op@palaver :1795000000",
        ":palaver 368 ann #chan :End of channel ban list"]
    [say] = requests(d.receive_data(b"PRIVMSG #chan :hi\r\n"))
    assert answer(d, say, Error(code="muted", message="no")) == [
        ":palaver 404 ann #chan :Cannot send to channel (muted)"]
