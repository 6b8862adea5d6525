"""The IRC dialect: registration table, commands to hub messages, events to IRC lines."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import FrameTooLarge
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.render import SUPPORTED_CAPS
from palaver.protocol.irc.state import (
    TRANSITIONS,
    Closing,
    IllegalTransition,
    Phase,
    Step,
    advance,
)
from palaver.protocol.irc.wire import MAX_INPUT, MAX_LINE, MAX_RUNAWAY, parse_line
from palaver.protocol.messages import (
    Away,
    BanList,
    Error,
    Goodbye,
    Hello,
    Join,
    Joined,
    Leave,
    Left,
    ListBans,
    ListUsers,
    Message,
    Presence,
    Say,
    SendDirect,
    SetAway,
    SetNick,
    UserInfo,
    Users,
    Welcome,
)

DETERMINISTIC = settings(derandomize=True, deadline=None)


def dialect(nick: str | None = None) -> IrcDialect:
    return IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick)


def irc_hello(request_id: str, **fields: object) -> Hello:
    """The HELLO the IRC door sends: it never joins the default rooms."""
    return Hello(id=request_id, version=1, autojoin=False, **fields)  # type: ignore[arg-type]


def lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\r\n") if line]


def replies(items: list[Inbound]) -> list[str]:
    return [line for item in items if isinstance(item, bytes) for line in lines(item)]


def registered(nick: str = "ann", caps: str = "") -> IrcDialect:
    d = dialect(nick)
    if caps:
        d.receive_data(f"CAP REQ :{caps}\r\nCAP END\r\n".encode())
    out = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :Ann\r\n".encode())
    hello = out[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    assert d.phase is Phase.REGISTERED
    return d


# --------------------------------------------------------------------------- the table


def test_illegal_transitions_name_role_state_and_event() -> None:
    with pytest.raises(IllegalTransition) as caught:
        advance(Phase.START, Step.COMMAND)
    assert str(caught.value) == "client cannot do a command for the hub while in start"
    for phase in Phase:
        for step in Step:
            if (phase, step) not in TRANSITIONS:
                with pytest.raises(IllegalTransition):
                    advance(phase, step)


def test_every_step_moves_the_phase_and_only_registering_lets_the_registration_go() -> None:
    for (phase, step), after in TRANSITIONS.items():
        d = registered()
        if phase is not Phase.REGISTERED:
            d = dialect()
            assert d.reg is not None
            d.reg.phase = phase
        assert d.step(step) and d.phase is after, (phase, step)
        assert (d.reg is None) is (after is Phase.REGISTERED), (phase, step)
    d = dialect()
    assert not d.step(Step.WELCOME) and d.phase is Phase.START and d.reg is not None


def test_the_connections_of_a_door_share_one_id_source_and_never_share_an_id() -> None:
    ids = RequestIds("door")
    ann, bob = IrcDialect(ids=ids), IrcDialect(ids=ids)
    [ann_hello] = ann.receive_data(b"NICK ann\r\nUSER ann 0 * :Ann\r\n")
    [bob_hello] = bob.receive_data(b"NICK bob\r\nUSER bob 0 * :Bob\r\n")
    assert isinstance(ann_hello, Hello) and isinstance(bob_hello, Hello)
    assert (ann_hello.id, bob_hello.id) == ("door.1", "door.2")


def test_nick_and_user_register_with_a_hello() -> None:
    d = dialect()
    assert d.receive_data(b"NICK ann\r\n") == []
    out = d.receive_data(b"USER ann 0 * :Ann\r\n")
    assert out == [irc_hello("t.1", nick="ann", username="ann", realname="Ann")]
    assert d.phase is Phase.WAITING


def test_user_gives_the_username_and_realname_and_an_empty_one_is_461() -> None:
    d = dialect()
    assert replies(d.receive_data(b"USER ann 0 * :\r\nUSER ann 0 *\r\n")) == [
        ":palaver 461 * USER :Not enough parameters"] * 2
    out = d.receive_data("NICK ann\r\nUSER ~a[n]n 0 * :\x02Ann\x02 \tSmith\u202e \r\n".encode())
    assert out == [irc_hello("t.1", nick="ann", username="~ann",
                         realname="Ann  Smith")]
    d = dialect()
    out = d.receive_data(b"NICK ann\r\nUSER [] 0 * :\x03\r\n")
    assert out == [irc_hello("t.1", nick="ann", username=None, realname=None)]
    d = dialect()
    out = d.receive_data(b"NICK ann\r\nUSER a 0 * :" + b"x" * 300 + b"\r\n")
    assert out == [irc_hello("t.1", nick="ann", username="a", realname="x" * 100)]


def test_cap_negotiation_suspends_registration_until_cap_end() -> None:
    d = dialect()
    out = d.receive_data(b"CAP LS 302\r\nNICK ann\r\nUSER ann 0 * :A\r\nCAP REQ :server-time\r\n")
    ls, ack = replies(out)
    assert ls.startswith(":palaver CAP * LS :echo-message message-tags server-time")
    assert ack == ":palaver CAP * ACK :server-time"
    assert d.phase is Phase.CAP
    assert d.receive_data(b"CAP END\r\n") == [
        irc_hello("t.1", nick="ann", username="ann", realname="A")]
    assert d.encode_key == ("irc", frozenset({"server-time"}))


def test_unknown_caps_are_refused_all_or_nothing() -> None:
    d = dialect()
    assert replies(d.receive_data(b"CAP REQ :server-time frob\r\n")) == [
        ":palaver CAP * NAK :server-time frob"]
    assert d.encode_key == ("irc", frozenset())


def test_pass_logs_in() -> None:
    d = dialect()
    out = d.receive_data(b"PASS secret123\r\nNICK ann\r\nUSER ann 0 * :A\r\n")
    assert out == [irc_hello("t.1", nick="ann", password="secret123",
                         username="ann", realname="A")]


def test_a_wrong_password_is_464_then_the_connection_closes_with_error() -> None:
    d = dialect()
    hello, join = d.receive_data(b"PASS wrongpass\r\nNICK ann\r\nUSER ann 0 * :A\r\n"
                                 b"JOIN #a\r\n")
    assert isinstance(hello, Hello) and d.closing is None
    out = d.encode(Error(id=hello.id, code="auth_failed", message="wrong nick or password"))
    assert lines(out) == [":palaver 464 * :Password incorrect"]
    assert d.closing == Closing("Password incorrect")  # the transport closes after this
    assert d.encode(Error(id=join.id, code="handshake_required", message="no")) == b""  # type: ignore[union-attr]
    assert lines(d.encode(Goodbye(reason="Password incorrect"))) == [
        "ERROR :Closing link: * (Password incorrect)"]


def test_a_throttled_login_closes_with_the_reason() -> None:
    d = dialect()
    (hello,) = d.receive_data(b"PASS wrongpass\r\nNICK ann\r\nUSER ann 0 * :A\r\n")
    out = d.encode(Error(id=hello.id, code="auth_throttled", message="try again in 9 s"))  # type: ignore[union-attr]
    assert out == b"" and d.closing == Closing("try again in 9 s")
    assert d.phase is Phase.START  # registering again, as far as the table goes, yet
    assert d.receive_data(b"NICK bob\r\nUSER bob 0 * :B\r\n") == []  # nothing more is read
    assert lines(d.encode(Goodbye(reason="try again in 9 s"))) == [
        "ERROR :Closing link: * (try again in 9 s)"]


def test_nick_in_use_is_433_and_a_new_nick_retries() -> None:
    d = dialect()
    hello = d.receive_data(b"NICK ann\r\nUSER ann 0 * :A\r\n")[0]
    assert isinstance(hello, Hello)
    out = d.encode(Error(id=hello.id, code="nick_taken", message="the nick ann is taken"))
    assert lines(out) == [":palaver 433 * ann :Nickname is already in use"]
    assert d.receive_data(b"NICK ann_\r\n") == [
        irc_hello("t.2", nick="ann_", username="ann", realname="A")]


def test_a_hello_refused_for_its_nick_goes_again_with_all_that_registering_gave() -> None:
    d = dialect()
    hello = d.receive_data(b"PASS secret123\r\nMETADATA * SET pronouns :she/her\r\n"
                           b"NICK ann\r\nUSER ann 0 * :A\r\n")[-1]
    assert isinstance(hello, Hello)
    d.encode(Error(id=hello.id, code="nick_taken", message="the nick ann is taken"))
    assert d.receive_data(b"NICK ann_\r\n") == [
        irc_hello("t.2", nick="ann_", password="secret123", username="ann", realname="A",
                  metadata={"pronouns": "she/her"})]


def test_what_only_registering_needs_is_let_go_at_welcome() -> None:
    d = dialect("ann")
    [hello] = d.receive_data(b"PASS secret123\r\nNICK ann\r\nUSER ann 0 * :Ann\r\n")
    assert d.phase is Phase.WAITING and d.reg is not None  # kept: the hub may refuse it
    assert (d.reg.username, d.reg.password) == ("ann", "secret123")
    assert replies(d.receive_data(b"PASS other\r\nUSER bob 0 * :B\r\n")) == [
        ":palaver 462 ann :You may not reregister"] * 2
    d.encode(Welcome(id=hello.id, version=1, nick="ann", server="p", rooms=(), motd="hi",
                     account=True))
    assert d.reg is None  # no username, password, SASL exchange or metadata kept
    assert (d.account, d.realname) == ("ann", "Ann")  # what is needed after is kept
    assert replies(d.receive_data(b"PASS x\r\nUSER a 0 * :b\r\nAUTHENTICATE PLAIN\r\n"
                                  b"CAP END\r\nCAP LS\r\n")) == [
        ":palaver 462 ann :You may not reregister",
        ":palaver 462 ann :You may not reregister",
        ":palaver 907 ann :You have already authenticated using SASL",
        ":palaver CAP ann LS :" + " ".join(SUPPORTED_CAPS)]
    assert d.phase is Phase.REGISTERED


def test_before_registration() -> None:
    d = dialect()
    assert replies(d.receive_data(b"JOIN #a\r\nFOO\r\nPING :x\r\n")) == [
        ":palaver 451 * :You have not registered",
        ":palaver 421 * FOO :Unknown command",
        ":palaver PONG palaver :x",
    ]


def test_errors_after_registration() -> None:
    d = registered()
    assert replies(d.receive_data(b"USER a 0 * :b\r\nPASS x\r\nJOIN\r\nPRIVMSG #a\r\n")) == [
        ":palaver 462 ann :You may not reregister",
        ":palaver 462 ann :You may not reregister",
        ":palaver 461 ann JOIN :Not enough parameters",
        ":palaver 412 ann :No text to send",
    ]
    assert replies(d.receive_data(b"PRIVMSG #a :" + b"x" * 600 + b"\r\n")) == [
        ":palaver 417 ann :Input line was too long"]


def test_a_framer_is_held_only_while_a_line_is_unfinished_or_skipped() -> None:
    d = registered()
    assert d.framer is None  # idle: no framer of its own
    assert d.receive_data(b"PING :a") == [] and d.framer is not None
    assert replies(d.receive_data(b"b\r\nPING :c\r\n")) == [
        ":palaver PONG palaver :ab", ":palaver PONG palaver :c"]
    assert d.framer is None
    assert replies(d.receive_data(b"PRIVMSG #a :" + b"x" * MAX_INPUT)) == [
        ":palaver 417 ann :Input line was too long"]
    assert d.framer is not None  # the rest of that line is skipped, even in the next read
    assert replies(d.receive_data(b"x" * 10 + b"\r\nPING :d\r\n")) == [
        ":palaver PONG palaver :d"]
    assert d.framer is None


def test_an_endless_line_is_answered_417_then_closed() -> None:
    d = registered()
    out = d.receive_data(b"PRIVMSG #a :")
    for _ in range(MAX_RUNAWAY // 1_000 + 1):
        out.extend(d.receive_data(b"x" * 1_000))
    assert replies(out) == [":palaver 417 ann :Input line was too long"]
    assert out[1:] == [FrameTooLarge(MAX_RUNAWAY)]  # the core reports it and closes
    assert d.receive_data(b"\r\nPING :x\r\n") == []
    assert lines(d.encode(Error(code="frame_too_large", message="too large"))) == [
        "ERROR :Closing link: ann (Input line was too long)"]


# --------------------------------------------------------------------------- commands


def test_commands_become_hub_messages_with_our_ids() -> None:
    d = registered()
    out = d.receive_data(
        b"JOIN #a,#b\r\nPRIVMSG #a,bob :\x02hi\x02 there\r\n"
        b"PRIVMSG #a :\x01ACTION waves\x01\r\nNICK anna\r\nNAMES #a\r\n")
    assert out == [
        Join(id="t.2", room="#a"), Join(id="t.3", room="#b"),
        Say(id="t.4", room="#a", text="hi there"), SendDirect(id="t.5", to="bob", text="hi there"),
        Say(id="t.6", room="#a", text="* ann waves"),
        SetNick(id="t.7", nick="anna"), ListUsers(id="t.8", room="#a"),
    ]


def test_a_nick_to_ones_own_nick_is_a_no_op() -> None:
    d = registered("ann")
    assert d.receive_data(b"NICK ann\r\nNICK :ann\r\n") == []
    assert d.receive_data(b"NICK Ann\r\n") == [SetNick(id="t.2", nick="Ann")]  # a change


def test_hub_replies_become_numerics() -> None:
    d = registered()
    who, names, whois = d.receive_data(b"WHO #a\r\nNAMES #a\r\nWHOIS bob\r\n")
    assert lines(d.encode(Users(id=who.id, room="#a", users=("ann", "bob")))) == [  # type: ignore[union-attr]
        ":palaver 352 ann #a ann palaver palaver ann H :0 ann",
        ":palaver 352 ann #a bob palaver palaver bob H :0 bob",
        ":palaver 315 ann #a :End of /WHO list",
    ]
    assert lines(d.encode(Users(id=names.id, room="#a", users=("ann", "bob")))) == [  # type: ignore[union-attr]
        ":palaver 353 ann = #a :ann bob", ":palaver 366 ann #a :End of /NAMES list"]
    assert lines(d.encode(Users(id=whois.id, users=("ann",)))) == [  # type: ignore[union-attr]
        ":palaver 401 ann bob :No such nick", ":palaver 318 ann bob :End of /WHOIS list"]


def test_whois_who_and_userhost_show_username_realname_and_away() -> None:
    d = registered()
    who, whois, userhost = d.receive_data(
        b"WHO #a\r\nWHOIS bob\r\nUSERHOST bob ann nobody a b c\r\n")
    assert who == ListUsers(id="t.2", room="#a", details=True)
    assert whois == ListUsers(id="t.3", details=True, nick="bob")
    assert userhost == ListUsers(id="t.4", details=True)
    info = (UserInfo(nick="ann"),
            UserInfo(nick="bob", username="bobby", realname="Bob B", away="at lunch"))
    users = Users(users=("ann", "bob"), info=info)
    assert lines(d.encode(msgspec.structs.replace(users, id=who.id, room="#a",  # type: ignore[union-attr]
                                                  operators=("bob",)))) == [
        ":palaver 352 ann #a ann palaver palaver ann H :0 ann",
        ":palaver 352 ann #a bobby palaver palaver bob G@ :0 Bob B",
        ":palaver 315 ann #a :End of /WHO list",
    ]
    assert lines(d.encode(msgspec.structs.replace(users, id=whois.id))) == [  # type: ignore[union-attr]
        ":palaver 311 ann bob bobby palaver * :Bob B",
        ":palaver 312 ann bob palaver :palaver chat server",
        ":palaver 301 ann bob :at lunch",
        ":palaver 318 ann bob :End of /WHOIS list",
    ]
    assert lines(d.encode(msgspec.structs.replace(users, id=userhost.id))) == [  # type: ignore[union-attr]
        ":palaver 302 ann :bob=-bobby@palaver ann=+ann@palaver"]  # five nicks at most


def test_away_and_back() -> None:
    d = registered()
    away, back = d.receive_data(b"AWAY :\x02gone\x02 fishing\r\nAWAY\r\n")
    assert away == SetAway(id="t.2", message="gone fishing")
    assert back == SetAway(id="t.3")
    assert lines(d.encode(Away(id="t.2", nick="ann", message="gone fishing"))) == [
        ":palaver 306 ann :You have been marked as being away"]
    assert lines(d.encode(Away(id="t.3", nick="ann"))) == [
        ":palaver 305 ann :You are no longer marked as being away"]
    assert lines(d.encode(Away(nick="ann", message="x"))) == [  # from another of our sessions
        ":palaver 306 ann :You have been marked as being away"]
    assert lines(d.encode(Away(nick="bob", message="at lunch"))) == [  # a DM's target
        ":palaver 301 ann bob :at lunch"]
    assert "AWAYLEN=200" in replies([d.receive_data(b"VERSION\r\n")[1]])[0]


def test_mode_b_lists_the_bans() -> None:
    d = registered()
    (bans,) = d.receive_data(b"MODE #a b\r\n")
    (plus,) = d.receive_data(b"MODE #a +b\r\n")
    assert bans == ListBans(id="t.2", room="#a") and plus == ListBans(id="t.3", room="#a")
    assert lines(d.encode(BanList(id="t.2", room="#a", nicks=("eve", "mallory")))) == [
        ":palaver 367 ann #a :eve!*@*", ":palaver 367 ann #a :mallory!*@*",
        ":palaver 368 ann #a :End of channel ban list"]
    assert lines(d.encode(Error(id="t.3", code="not_in_room", message="no"))) == [
        ":palaver 442 ann #a :You're not on that channel"]
    assert replies(d.receive_data(b"MODE #a e\r\n")) == [
        ":palaver 349 ann #a :End of channel exception list"]


def test_a_part_reason_goes_to_the_hub_and_back_with_our_part() -> None:
    d = registered()
    (leave,) = d.receive_data(b"PART #a :\x02bye\x02 now\r\n")
    assert leave == Leave(id="t.2", room="#a", reason="bye now")
    assert lines(d.encode(Left(id="t.2", room="#a"))) == [":ann!ann@palaver PART #a :bye now"]
    assert lines(d.encode(Presence(nick="bob", event="leave", room="#a", reason="later"))) == [
        ":bob!bob@palaver PART #a :later"]
    (plain,) = d.receive_data(b"PART #b\r\n")
    assert plain == Leave(id="t.3", room="#b")
    assert lines(d.encode(Left(id="t.3", room="#b"))) == [":ann!ann@palaver PART #b"]


@pytest.mark.parametrize(("command", "code", "numeric"), [
    (b"JOIN #a/b", "invalid_room", "479"),
    (b"PART #a", "not_in_room", "442"),
    (b"PRIVMSG #a :x", "not_in_room", "404"),
    (b"PRIVMSG bob :x", "no_such_user", "401"),
    (b"NICK bob", "nick_taken", "433"),
    (b"NICK b[o]b", "invalid_nick", "432"),
])
def test_hub_errors_become_numerics(command: bytes, code: str, numeric: str) -> None:
    d = registered()
    (request,) = d.receive_data(command + b"\r\n")
    out = lines(d.encode(Error(id=request.id, code=code, message="no")))  # type: ignore[union-attr]
    assert out[0].split()[1] == numeric


def test_a_nick_with_a_unicode_space_is_refused_whole() -> None:
    d = dialect()
    (hello,) = d.receive_data("NICK iv\u0085il\r\nUSER a 0 * :A\r\n".encode())
    assert isinstance(hello, Hello)
    assert hello.nick == "iv\u0085il"  # not "iv": the hub says 432
    out = lines(d.encode(Error(id=hello.id, code="invalid_nick", message="a nick is ...")))
    assert out == [":palaver 432 * iv\ufffdil :a nick is ..."]


@pytest.mark.parametrize(("command", "code", "expected"), [
    (b"NICK a\x07b", "invalid_nick", ":palaver 432 ann a\ufffdb :no"),
    (b"JOIN #a\x02b", "invalid_room", ":palaver 479 ann #a\ufffdb :no"),
    (b"PRIVMSG x\x1b[2J :hi", "no_such_user", ":palaver 401 ann x\ufffd[2J :No such nick/channel"),
    (b"PART #\x03,4x", "invalid_room", ":palaver 403 ann #\ufffd :No such channel"),
])
def test_error_numerics_never_echo_control_characters(
    command: bytes, code: str, expected: str,
) -> None:
    d = registered()
    request = d.receive_data(command + b"\r\n")[0]
    out = d.encode(Error(id=request.id, code=code, message="no"))  # type: ignore[union-attr]
    assert lines(out) == [expected]


def test_local_replies_never_echo_control_characters() -> None:
    d = registered()
    out = replies(d.receive_data(b"MODE #a +\x07\r\nCAP \x01X\r\nPING :\x08x\r\n"))
    assert out == [":palaver 472 ann \ufffd :is unknown mode char to me",
                   ":palaver 410 ann \ufffdX :Invalid CAP command",
                   ":palaver PONG palaver :\ufffdx"]


@DETERMINISTIC
@given(st.text(st.characters(blacklist_characters="\r\n\0 ", blacklist_categories=("Cs",)),
               min_size=1, max_size=40))
def test_a_refused_nick_is_echoed_without_any_control_character(nick: str) -> None:
    d = registered()
    (request,) = d.receive_data(f"NICK {nick}\r\n".encode())
    if not isinstance(request, SetNick):
        return  # a nick with ":" first is a trailing parameter: the same nick, or 431
    out = d.encode(Error(id=request.id, code="invalid_nick", message="no"))
    text = out.decode("utf-8")
    assert text.endswith("\r\n") and text.count("\r\n") == 1
    assert not any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in text[:-2])


def test_errors_for_a_notice_are_not_answered() -> None:
    d = registered()
    (request,) = d.receive_data(b"NOTICE bob :x\r\n")
    assert d.encode(Error(id=request.id, code="no_such_user", message="no")) == b""  # type: ignore[union-attr]


# --------------------------------------------------------------------------- rendering


def message(text: str, room: str | None = "#a", request_id: str | None = None) -> Message:
    return Message(id=request_id, msg_id=7, ts="2026-01-01T00:00:00.000Z", sender="bob",
                   text=text, room=room, to=None if room else "ann")


def test_messages_are_split_to_fit_and_nothing_is_cut() -> None:
    d = registered(caps="server-time message-tags")
    text = "first line\n" + "é" * 700 + " and the end"
    out = lines(d.encode(message(text)))
    assert len(out) >= 4
    pieces = []
    for number, raw in enumerate(out):
        tags, _, rest = raw.partition(" ")
        assert len(rest.encode()) + 2 <= MAX_LINE
        msgid = ";msgid=#a/7" if number == 0 else ""  # the message's id, on its first line
        assert tags == f"@time=2026-01-01T00:00:00.000Z{msgid}"
        pieces.append(parse_line(rest.encode()).params[1])
    assert pieces[0] == "first line"
    assert "".join(pieces[1:]) == text.split("\n")[1]


def test_no_tags_without_caps_and_actions_go_back_to_ctcp() -> None:
    d = registered()
    assert lines(d.encode(message("* bob waves"))) == [
        ":bob!bob@palaver PRIVMSG #a :\x01ACTION waves\x01"]


def test_echo_only_with_echo_message() -> None:
    plain = registered()
    (say,) = plain.receive_data(b"PRIVMSG #a :hi\r\n")
    assert plain.encode(message("hi", request_id=say.id)) == b""  # type: ignore[union-attr]
    echo = registered(caps="echo-message")
    (say,) = echo.receive_data(b"PRIVMSG #a :hi\r\n")
    assert lines(echo.encode(message("hi", request_id=say.id))) == [  # type: ignore[union-attr]
        ":bob!bob@palaver PRIVMSG #a :hi"]


def test_a_notice_goes_to_the_hub_as_a_notice_and_comes_back_as_one() -> None:
    d = registered(caps="echo-message")
    (room,) = d.receive_data(b"NOTICE #a :build passed\r\n")
    (direct,) = d.receive_data(b"NOTICE ann :psst\r\n")
    assert isinstance(room, Say) and room.notice
    assert isinstance(direct, SendDirect) and direct.notice
    for sent, event in ((room, message("build passed")), (direct, message("psst", room=None))):
        notice = msgspec.structs.replace(event, notice=True)
        assert lines(d.encode(notice))[0].split(" ", 2)[1] == "NOTICE"  # someone else's
        echo = msgspec.structs.replace(notice, id=sent.id)
        assert lines(d.encode(echo))[0].split(" ", 2)[1] == "NOTICE"  # our own, echoed
    assert lines(d.encode(message("hi")))[0].split(" ", 2)[1] == "PRIVMSG"


def test_presence_and_goodbye() -> None:
    d = registered()
    assert lines(d.encode(Presence(nick="bob", event="join", room="#a"))) == [
        ":bob!bob@palaver JOIN #a"]
    assert lines(d.encode(Presence(nick="bob", event="quit", reason="gone\r\nPRIVMSG x"))) == [
        ":bob!bob@palaver QUIT :gone\ufffd PRIVMSG x"]
    assert lines(d.encode(Presence(nick="bob", event="nick", new_nick="rob"))) == [
        ":bob!bob@palaver NICK :rob"]
    assert lines(d.encode(Goodbye(reason="ping timeout"))) == [
        "ERROR :Closing link: ann (ping timeout)"]


def test_joined_lists_names_in_lines_that_fit() -> None:
    d = registered()
    members = tuple(f"user{n:04d}" for n in range(300))
    out = lines(d.encode(Joined(room="#a", members=members, topic="")))
    assert out[0] == ":ann!ann@palaver JOIN #a"
    assert out[-1] == ":palaver 366 ann #a :End of /NAMES list"
    names = [n for raw in out[1:-1] for n in parse_line(raw.encode()).params[3].split()]
    assert names == list(members)
    assert all(len(raw.encode()) + 2 <= MAX_LINE for raw in out)


@DETERMINISTIC
@given(st.text(max_size=1200))
def test_no_control_characters_from_text_reach_the_wire(text: str) -> None:
    d = registered(caps="server-time message-tags")
    for raw in d.encode(message(text or "x")).split(b"\r\n")[:-1]:
        assert b"\r" not in raw and b"\n" not in raw and b"\0" not in raw
        assert not any(b < 0x20 and b != 0x09 and b != 0x01 for b in raw)


def test_broadcast_rendering_depends_on_caps_only() -> None:
    a, b = registered("ann", "server-time"), registered("bob", "server-time")
    assert a.encode_key == b.encode_key
    event = message("hello")
    assert a.encode(event) == b.encode(event)
    assert registered("cat").encode_key != a.encode_key


@DETERMINISTIC
@given(st.binary(max_size=2000))
def test_any_bytes_whole_or_one_at_a_time_give_the_same_result(data: bytes) -> None:
    whole = dialect("ann")
    out_whole = whole.receive_data(data) + whole.receive_eof()
    split = dialect("ann")
    out_split: list[Inbound] = []
    for i in range(len(data)):
        out_split.extend(split.receive_data(data[i : i + 1]))
    out_split.extend(split.receive_eof())
    assert out_whole == out_split
