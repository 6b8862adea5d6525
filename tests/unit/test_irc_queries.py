"""The IRC door's questions in memory: WHO and WHOX, WHOIS, WHOWAS, LUSERS, HELP, INFO, LINKS."""

from __future__ import annotations

import pytest

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.help import TOPICS
from palaver.protocol.irc.table import COMMANDS
from palaver.protocol.messages import (
    GetStats,
    Hello,
    ListPastUsers,
    ListUsers,
    PastUser,
    PastUsers,
    ServerStats,
    UserInfo,
    Users,
    Welcome,
)

COOL = UserInfo(nick="coolNick", username="myusernam", realname="My UniqueReal Name")
OTHER = UserInfo(nick="otherNick", username="other", realname="Realname", away="away")


def registered(nick: str = "otherNick") -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick, server="My.Little.Server",
                   info="test server")
    out = d.receive_data(f"NICK {nick}\r\nUSER u 0 * :Real\r\n".encode())
    hello = out[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    return d


def lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\r\n") if line]


def replies(items: list[Inbound]) -> list[str]:
    return [line for item in items if isinstance(item, bytes) for line in lines(item)]


def answer(d: IrcDialect, command: str, event: object) -> list[str]:
    """Send ``command``, then render ``event`` (a hub answer) with its id."""
    [request] = d.receive_data(f"{command}\r\n".encode())
    assert not isinstance(request, bytes), lines(request)
    return lines(d.encode(event.__class__(**{**_fields(event), "id": request.id})))  # type: ignore[union-attr]


def _fields(event: object) -> dict[str, object]:
    import msgspec

    return {f.name: getattr(event, f.name) for f in msgspec.structs.fields(event)}  # type: ignore[arg-type]


# --------------------------------------------------------------------------- WHO


def test_who_asks_the_hub_about_a_channel_a_nick_or_everyone() -> None:
    d = registered()
    room, nick, mask, star, zero = d.receive_data(
        b"WHO #chan\r\nWHO coolNick\r\nWHO cool*\r\nWHO\r\nWHO 0\r\n")
    assert room == ListUsers(id="t.2", room="#chan", details=True)
    assert nick == ListUsers(id="t.3", nick="coolNick", details=True)
    assert mask == ListUsers(id="t.4", details=True)
    assert star == ListUsers(id="t.5", details=True)
    assert zero == ListUsers(id="t.6", details=True)


def test_who_of_a_channel_shows_away_operator_and_channel_prefixes() -> None:
    d = registered()
    oper = UserInfo(nick="coolNick", username="myusernam", realname="Real", operator=True)
    event = Users(users=("coolNick", "otherNick", "v"), room="#chan", operators=("coolNick",),
                  voiced=("v",), info=(oper, OTHER, UserInfo(nick="v")))
    assert answer(d, "WHO #CHAN", event) == [
        ":My.Little.Server 352 otherNick #chan myusernam palaver My.Little.Server coolNick H*@ "
        ":0 Real",
        ":My.Little.Server 352 otherNick #chan other palaver My.Little.Server otherNick G "
        ":0 Realname",
        ":My.Little.Server 352 otherNick #chan v palaver My.Little.Server v H+ :0 v",
        ":My.Little.Server 315 otherNick #CHAN :End of /WHO list",
    ]


def test_who_of_a_mask_matches_nicks_usernames_and_realnames_and_keeps_the_mask() -> None:
    d = registered()
    everyone = Users(users=("coolNick", "otherNick"), info=(COOL, OTHER))
    assert answer(d, "WHO coolni*", everyone) == [
        ":My.Little.Server 352 otherNick * myusernam palaver My.Little.Server coolNick H "
        ":0 My UniqueReal Name",
        ":My.Little.Server 315 otherNick coolni* :End of /WHO list",
    ]
    assert len(answer(d, "WHO *", everyone)) == 3
    assert len(answer(d, "WHO :*UniqueReal*", everyone)) == 2
    assert answer(d, "WHO idontexist", Users(users=())) == [
        ":My.Little.Server 315 otherNick idontexist :End of /WHO list"]


def test_who_o_lists_only_operators() -> None:
    d = registered()
    oper = UserInfo(nick="coolNick", operator=True)
    assert len(answer(d, "WHO * o", Users(users=("coolNick", "otherNick"),
                                          info=(oper, OTHER)))) == 2


def test_whox_answers_the_fields_asked_in_their_order_with_the_token() -> None:
    d = registered()
    one = Users(users=("coolNick",), info=(UserInfo(
        nick="coolNick", username="myusernam", realname="My UniqueReal Name", idle=3),))
    expected = [":My.Little.Server 354 otherNick 123 * myusernam 255.255.255.255 palaver "
                "My.Little.Server coolNick H 0 3 0 n/a :My UniqueReal Name",
                ":My.Little.Server 315 otherNick coolNick :End of /WHO list"]
    assert answer(d, "WHO coolNick %tcuihsnfdlaor,123", one) == expected
    assert answer(d, "WHO coolNick %roaldfnshiuct,123", one) == expected
    assert answer(d, "WHO coolNick %tn,321", one)[0] == (
        ":My.Little.Server 354 otherNick 321 :coolNick")
    account = Users(users=("coolNick",), info=(UserInfo(nick="coolNick", account="acct"),))
    assert answer(d, "WHO coolNick %na", account)[0] == (
        ":My.Little.Server 354 otherNick coolNick :acct")
    assert answer(d, "WHO coolNick %tn,toolong", one)[0] == (  # a bad token is left out
        ":My.Little.Server 354 otherNick :coolNick")


@pytest.mark.parametrize("char", "cuihsnfdlaor")
def test_whox_of_one_field_is_one_354_with_something_in_it(char: str) -> None:
    d = registered()
    first = answer(d, f"WHO coolNick %{char}", Users(users=("coolNick",), info=(COOL,)))[0]
    prefix = ":My.Little.Server 354 otherNick "
    assert first.startswith(prefix) and first[len(prefix):].strip(":")


def test_whox_is_advertised() -> None:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: "ann")
    out = d.receive_data(b"NICK ann\r\nUSER u 0 * :Real\r\n")
    hello = out[-1]
    assert isinstance(hello, Hello)
    welcome = lines(d.encode(Welcome(id=hello.id, version=1, nick="ann", server="p",
                                     rooms=(), motd="hi")))
    assert any(" 005 " in line and " WHOX " in line for line in welcome)


# --------------------------------------------------------------------------- WHOIS


def test_whois_shows_everything_the_hub_says_of_the_user() -> None:
    d = registered("nick1")
    info = UserInfo(nick="nick2", username="u2", realname="Real Two", away="brb",
                    operator=True, account="val", rooms=("#chan1", "#chan2", "#x"),
                    operator_of=("#chan1", "#chan2"), online_since="2026-11-18T11:06:40.000Z",
                    idle=12)
    assert answer(d, "WHOIS My.Little.Server nick2", Users(users=("nick2",), info=(info,))) == [
        ":My.Little.Server 311 nick1 nick2 u2 palaver * :Real Two",
        ":My.Little.Server 319 nick1 nick2 :@#chan1 @#chan2 #x",
        ":My.Little.Server 312 nick1 nick2 My.Little.Server :test server",
        ":My.Little.Server 301 nick1 nick2 :brb",
        ":My.Little.Server 313 nick1 nick2 :is an IRC operator",
        ":My.Little.Server 330 nick1 nick2 val :is logged in as",
        ":My.Little.Server 317 nick1 nick2 12 1795000000 :seconds idle, signon time",
        ":My.Little.Server 318 nick1 nick2 :End of /WHOIS list",
    ]


def test_whois_of_several_nicks_asks_for_each_and_a_missing_one_is_401() -> None:
    d = registered("qux")
    out = d.receive_data(b"WHOIS a,b\r\n")
    assert out == [ListUsers(id="t.2", nick="a", details=True),
                   ListUsers(id="t.3", nick="b", details=True)]
    assert lines(d.encode(Users(id="t.3", users=()))) == [
        ":My.Little.Server 401 qux b :No such nick",
        ":My.Little.Server 318 qux b :End of /WHOIS list"]


# --------------------------------------------------------------------------- WHOWAS


def test_whowas_asks_the_history_with_a_count_and_renders_314_312_369() -> None:
    d = registered("nick1")
    plain, one, negative, junk = d.receive_data(
        b"WHOWAS nick2\r\nWHOWAS nick2 1\r\nWHOWAS nick2 -1\r\nWHOWAS nick2 x\r\n")
    assert plain == ListPastUsers(id="t.2", nick="nick2")
    assert one == ListPastUsers(id="t.3", nick="nick2", count=1)
    assert negative == ListPastUsers(id="t.4", nick="nick2")
    assert junk == ListPastUsers(id="t.5", nick="nick2")
    event = PastUsers(nick="nick2", users=(
        PastUser(nick="nick2", until="2026-11-18T11:06:41.000Z", username="ident3",
                 realname="Realname"),
        PastUser(nick="nick2", until="2026-11-18T11:06:40.000Z")))
    assert lines(d.encode(PastUsers(id="t.2", nick=event.nick, users=event.users))) == [
        ":My.Little.Server 314 nick1 nick2 ident3 palaver * :Realname",
        ":My.Little.Server 312 nick1 nick2 My.Little.Server :2026-11-18T11:06:41.000Z",
        ":My.Little.Server 314 nick1 nick2 nick2 palaver * :nick2",
        ":My.Little.Server 312 nick1 nick2 My.Little.Server :2026-11-18T11:06:40.000Z",
        ":My.Little.Server 369 nick1 nick2 :End of WHOWAS",
    ]
    assert lines(d.encode(PastUsers(id="t.3", nick="nick2"))) == [
        ":My.Little.Server 406 nick1 nick2 :There was no such nickname",
        ":My.Little.Server 369 nick1 nick2 :End of WHOWAS",
    ]


def test_whowas_without_a_nick_or_with_an_impossible_one() -> None:
    d = registered("nick1")
    assert replies(d.receive_data(b"WHOWAS\r\n")) == [
        ":My.Little.Server 431 nick1 :No nickname given"]
    assert replies(d.receive_data(b"WHOWAS bad!nick\r\n")) == [
        ":My.Little.Server 406 nick1 bad!nick :There was no such nickname",
        ":My.Little.Server 369 nick1 bad!nick :End of WHOWAS"]


# --------------------------------------------------------------------------- the server


def test_lusers_renders_the_hubs_counts() -> None:
    d = registered("bar")
    [ask] = d.receive_data(b"LUSERS\r\n")
    assert ask == GetStats(id="t.2")
    stats = ServerStats(id=ask.id, users=3, invisible=1, operators=1, unregistered=2,
                        rooms=4, max_users=5)
    assert lines(d.encode(stats)) == [
        ":My.Little.Server 251 bar :There are 2 users and 1 invisible on 1 servers",
        ":My.Little.Server 252 bar 1 :operator(s) online",
        ":My.Little.Server 253 bar 2 :unknown connection(s)",
        ":My.Little.Server 254 bar 4 :channels formed",
        ":My.Little.Server 255 bar :I have 3 clients and 0 servers",
        ":My.Little.Server 265 bar 3 5 :Current local users 3, max 5",
        ":My.Little.Server 266 bar 3 5 :Current global users 3, max 5",
    ]


@pytest.mark.parametrize("verb", ["HELP", "HELPOP"])
def test_help_has_a_topic_for_every_command_and_524_for_the_rest(verb: str) -> None:
    d = registered("nick")
    index = replies(d.receive_data(f"{verb}\r\n".encode()))
    assert index[0].startswith(":My.Little.Server 704 nick * :")
    assert index[-1] == ":My.Little.Server 706 nick * :End of /HELP"
    assert all(" 705 nick * :" in line for line in index[1:-1])
    assert "PRIVMSG" in " ".join(index)
    privmsg = replies(d.receive_data(f"{verb} privmsg\r\n".encode()))
    assert privmsg[0] == (":My.Little.Server 704 nick privmsg "
                          ":PRIVMSG <target>[,<target>...] :<text>")
    assert replies(d.receive_data(f"{verb} THISISNOTACOMMAND\r\n".encode())) == [
        ":My.Little.Server 524 nick THISISNOTACOMMAND :No help available on this topic"]
    for command in COMMANDS:
        assert replies(d.receive_data(f"{verb} {command}\r\n".encode()))[0].startswith(
            f":My.Little.Server 704 nick {command} :")


def test_every_help_topic_is_a_command() -> None:
    assert set(TOPICS) <= set(COMMANDS)


def test_motd_shows_the_door_s_message_of_the_day() -> None:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: "nick", server="s", motd="Be nice.")
    assert replies(d.receive_data(b"MOTD\r\n")) == [":s 451 nick :You have not registered"]
    [hello] = d.receive_data(b"NICK nick\r\nUSER u 0 * :Real\r\n")
    d.encode(Welcome(id=hello.id, version=1, nick="nick", server="p", rooms=(),  # type: ignore[union-attr]
                     motd="Be nice."))
    assert replies(d.receive_data(b"MOTD\r\n")) == [
        ":s 375 nick :- s Message of the day -", ":s 372 nick :- Be nice.",
        ":s 376 nick :End of /MOTD command."]
    assert replies(registered("nick").receive_data(b"MOTD\r\n")) == [
        ":My.Little.Server 422 nick :MOTD File is missing"]  # a door without one


def test_info_links_and_another_server() -> None:
    d = registered("nick")
    info = replies(d.receive_data(b"INFO\r\n"))
    assert all(" 371 nick :" in line for line in info[:-1])
    assert info[-1] == ":My.Little.Server 374 nick :End of /INFO list"
    assert replies(d.receive_data(b"INFO My.Little.Server\r\n")) == info
    assert replies(d.receive_data(b"INFO *little*\r\n")) == info
    assert replies(d.receive_data(b"INFO nick\r\n")) == info  # a nick: on this server
    assert replies(d.receive_data(b"INFO invalid.server.example\r\n")) == [
        ":My.Little.Server 402 nick invalid.server.example :No such server"]
    assert replies(d.receive_data(b"LINKS\r\n")) == [
        ":My.Little.Server 364 nick My.Little.Server My.Little.Server :0 test server",
        ":My.Little.Server 365 nick * :End of /LINKS list"]
    assert replies(d.receive_data(b"LINKS other.example\r\n")) == [
        ":My.Little.Server 365 nick other.example :End of /LINKS list"]
