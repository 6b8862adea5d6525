"""The IRC dialect: SETNAME, away-notify, account-notify, extended-join, multi-prefix,
userhost-in-names, account-tag and bot mode (+B, WHO's B, WHOIS 335, the bot tag)."""

from __future__ import annotations

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.state import Phase
from palaver.protocol.messages import (
    Authenticated,
    Error,
    Hello,
    Invited,
    Joined,
    ListUsers,
    Message,
    Presence,
    SetRealname,
    SetUserMode,
    UserInfo,
    UserMode,
    Users,
    UserUpdated,
    Welcome,
)


def registered(nick: str = "ann", caps: str = "", account: str | None = None) -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick)
    d.receive_data(b"CAP LS 302\r\n")
    if caps:
        d.receive_data(f"CAP REQ :{caps}\r\n".encode())
    if account is not None:
        d.encode(Authenticated(account=account))
    out = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :Ann Smith\r\nCAP END\r\n".encode())
    hello = out[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi",
                     account=account is not None))
    assert d.phase is Phase.REGISTERED
    return d


def lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\r\n") if line]


def replies(items: list[Inbound]) -> list[str]:
    return [line for item in items if isinstance(item, bytes) for line in lines(item)]


def requests(items: list[Inbound]) -> list[object]:
    return [item for item in items if not isinstance(item, bytes)]


# --------------------------------------------------------------------------- SETNAME


def test_setname_asks_the_hub_and_its_answer_is_shown_with_the_cap_only() -> None:
    d = registered(caps="setname")
    [ask] = requests(d.receive_data(b"SETNAME :\x02Ann\x02 Smythe\r\n"))
    assert isinstance(ask, SetRealname) and ask.realname == "Ann Smythe"
    answer = UserUpdated(id=ask.id, nick="ann", change="realname", realname="Ann Smythe")
    assert lines(d.encode(answer)) == [":ann!ann@palaver SETNAME :Ann Smythe"]
    assert d.realname == "Ann Smythe"  # our own, for extended-join
    other = UserUpdated(nick="bob", change="realname", realname="Bob")
    assert lines(d.encode(other)) == [":bob!bob@palaver SETNAME :Bob"]
    assert registered(nick="cy").encode(other) == b""  # no setname: nothing


def test_a_realname_palaver_cannot_keep_is_fail_setname() -> None:
    d = registered(caps="setname")
    for bad in (b"SETNAME :\x02\x02\r\n", b"SETNAME :" + b"x" * 101 + b"\r\n"):
        assert replies(d.receive_data(bad)) == [
            ":palaver FAIL SETNAME INVALID_REALNAME :Realname is not valid"]
    [ask] = requests(d.receive_data(b"SETNAME :fine\r\n"))
    refusal = Error(id=ask.id, code=ErrorCode.INVALID_FIELD, message="no", field="realname")  # type: ignore[union-attr]
    assert lines(d.encode(refusal)) == [
        ":palaver FAIL SETNAME INVALID_REALNAME :Realname is not valid"]


# --------------------------------------------------------------------------- away-notify etc.


def test_room_mates_changes_are_lines_only_for_the_caps_that_ask_for_them() -> None:
    away = UserUpdated(nick="bob", change="away", away="lunch")
    back = UserUpdated(nick="bob", change="away")
    account = UserUpdated(nick="bob", change="account", account="bob")
    d = registered(caps="away-notify account-notify")
    assert lines(d.encode(away)) == [":bob!bob@palaver AWAY :lunch"]
    assert lines(d.encode(back)) == [":bob!bob@palaver AWAY"]
    assert lines(d.encode(account)) == [":bob!bob@palaver ACCOUNT bob"]
    plain = registered(nick="cy")
    assert [plain.encode(e) for e in (away, back, account)] == [b"", b"", b""]


def test_a_join_is_extended_and_says_the_joiner_is_away_to_those_who_asked() -> None:
    join = Presence(nick="bob", event="join", room="#a", realname="Bob B", account="Bob",
                    away="lunch")
    guest = Presence(nick="gus", event="join", room="#a")
    d = registered(caps="extended-join away-notify")
    assert lines(d.encode(join)) == [":bob!bob@palaver JOIN #a Bob :Bob B",
                                     ":bob!bob@palaver AWAY :lunch"]
    assert lines(d.encode(guest)) == [":gus!gus@palaver JOIN #a * :gus"]
    assert lines(registered(nick="cy").encode(join)) == [":bob!bob@palaver JOIN #a"]


def test_our_own_join_is_extended_with_what_we_are() -> None:
    joined = Joined(room="#a", members=("ann",), topic="")
    d = registered(caps="extended-join", account="jilles")
    assert lines(d.encode(joined))[0] == ":ann!ann@palaver JOIN #a jilles :Ann Smith"
    guest = registered(caps="extended-join")
    assert lines(guest.encode(joined))[0] == ":ann!ann@palaver JOIN #a * :Ann Smith"


# --------------------------------------------------------------------------- NAMES and WHO


def test_names_show_every_prefix_with_multi_prefix_and_hostmasks_with_userhost_in_names() -> None:
    joined = Joined(room="#a", members=("ann", "bob", "cy"), topic="", operators=("ann",),
                    voiced=("ann", "bob"))
    names = [line for line in lines(registered().encode(joined)) if " 353 " in line]
    assert names == [":palaver 353 ann = #a :@ann +bob cy"]
    d = registered(caps="multi-prefix userhost-in-names")
    names = [line for line in lines(d.encode(joined)) if " 353 " in line]
    assert names == [":palaver 353 ann = #a :@+ann!ann@palaver +bob!bob@palaver cy!cy@palaver"]


def test_who_flags_show_every_prefix_with_multi_prefix_and_b_for_a_bot() -> None:
    users = Users(users=("ann", "bot"), room="#a", operators=("ann",), voiced=("ann",),
                  info=(UserInfo(nick="ann"), UserInfo(nick="bot", bot=True)))
    for caps, flags in (("", ["H@", "HB"]), ("multi-prefix", ["H@+", "HB"])):
        d = registered(caps=caps)
        [who] = requests(d.receive_data(b"WHO #a\r\n"))
        assert isinstance(who, ListUsers)
        got = [line.split(" ")[8] for line in lines(d.encode(Users(
            id=who.id, users=users.users, room="#a", operators=users.operators,
            voiced=users.voiced, info=users.info))) if " 352 " in line]
        assert got == flags, caps


def test_whois_says_a_bot_is_one() -> None:
    d = registered()
    [ask] = requests(d.receive_data(b"WHOIS robo\r\n"))
    answer = Users(id=ask.id, users=("robo",), info=(UserInfo(nick="robo", bot=True),))  # type: ignore[union-attr]
    assert ":palaver 335 ann robo :is a bot" in lines(d.encode(answer))


# --------------------------------------------------------------------------- bot mode, tags


def test_mode_plus_b_makes_us_a_bot_in_the_hub_and_is_echoed() -> None:
    d = registered()
    [ask] = requests(d.receive_data(b"MODE ann +B\r\n"))
    assert isinstance(ask, SetUserMode) and ask.bot is True
    answer = UserMode(id=ask.id, nick="ann", bot=True, changed=("bot",))
    assert lines(d.encode(answer)) == [":ann!ann@palaver MODE ann :+B"]


def test_a_message_says_its_senders_account_and_that_it_is_a_bot_to_those_who_asked() -> None:
    message = Message(msg_id=1, ts="2026-01-01T00:00:00.000Z", sender="bob", text="beep",
                      room="#a", account="Bob", bot=True)
    d = registered(caps="message-tags account-tag")
    [line] = lines(d.encode(message))
    assert line == "@account=Bob;bot;msgid=#a/1 :bob!bob@palaver PRIVMSG #a :beep"
    assert lines(registered(caps="account-tag").encode(message)) == [
        "@account=Bob :bob!bob@palaver PRIVMSG #a :beep"]  # the bot tag needs message-tags
    assert lines(registered().encode(message)) == [":bob!bob@palaver PRIVMSG #a :beep"]


def test_others_invitations_are_shown_with_invite_notify_only() -> None:
    others = Invited(room="#a", by="bob", nick="cy")
    mine = Invited(room="#a", by="bob", nick="ann")
    assert lines(registered(caps="invite-notify").encode(others)) == [
        ":bob!bob@palaver INVITE cy #a"]
    plain = registered()
    assert plain.encode(others) == b""
    assert lines(plain.encode(mine)) == [":bob!bob@palaver INVITE ann #a"]
