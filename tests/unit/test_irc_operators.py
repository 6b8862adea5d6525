"""The IRC door's operator commands and user modes in memory: OPER, KILL, WALLOPS, MODE nick."""

from __future__ import annotations

from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    BecomeOperator,
    Error,
    Goodbye,
    Kill,
    Presence,
    SendWallops,
    SetUserMode,
    UserMode,
    Wallops,
)
from tests.unit.test_irc_queries import lines, registered, replies


def test_oper_sends_the_login_and_a_right_one_is_381_and_mode_plus_o() -> None:
    d = registered("baz")
    [oper] = d.receive_data(b"OPER operuser operpassword\r\n")
    assert oper == BecomeOperator(id="t.2", name="operuser", password="operpassword")
    assert lines(d.encode(UserMode(id="t.2", nick="baz", operator=True,
                                   changed=("operator",)))) == [
        ":My.Little.Server 381 baz :You are now an IRC operator",
        ":baz!baz@palaver MODE baz :+o",
    ]


def test_a_wrong_oper_is_464_and_the_connection_stays() -> None:
    d = registered("baz")
    [oper] = d.receive_data(b"OPER operuser wrong\r\n")
    assert lines(d.encode(Error(id=oper.id, code=ErrorCode.AUTH_FAILED,  # type: ignore[union-attr]
                                message="wrong operator name or password"))) == [
        ":My.Little.Server 464 baz :Password incorrect"]
    assert d.closing is None
    assert replies(d.receive_data(b"OPER operuser\r\n")) == [
        ":My.Little.Server 461 baz OPER :Not enough parameters"]


def test_kill_and_its_refusals() -> None:
    d = registered("alice")
    [kill] = d.receive_data(b"KILL bob :some arbitrary reason\r\n")
    assert kill == Kill(id="t.2", nick="bob", reason="some arbitrary reason")
    assert lines(d.encode(Error(id="t.2", code=ErrorCode.NOT_OPERATOR, message="no"))) == [
        ":My.Little.Server 481 alice :Permission Denied- You're not an IRC operator"]
    [kill] = d.receive_data(b"KILL nobody\r\n")
    assert kill == Kill(id="t.3", nick="nobody")
    assert lines(d.encode(Error(id="t.3", code=ErrorCode.NO_SUCH_USER, message="no"))) == [
        ":My.Little.Server 401 alice nobody :No such nick/channel"]


def test_a_killed_user_sees_error_and_the_others_a_quit() -> None:
    victim = registered("alice")
    assert lines(victim.encode(Goodbye(reason="killed by ircop: spam"))) == [
        "ERROR :Closing link: alice (killed by ircop: spam)"]
    other = registered("bob")
    assert lines(other.encode(Presence(nick="alice", event="quit",
                                       reason="killed by ircop: spam", by="ircop"))) == [
        ":alice!alice@palaver QUIT :killed by ircop: spam"]


def test_wallops_go_out_and_come_back_the_same_for_everyone() -> None:
    d = registered("nick1")
    [wallops] = d.receive_data(b"WALLOPS :hi everyone\r\n")
    assert wallops == SendWallops(id="t.2", text="hi everyone")
    line = [":nick1!nick1@palaver WALLOPS :hi everyone"]
    assert lines(d.encode(Wallops(id="t.2", sender="nick1", text="hi everyone"))) == line
    assert lines(registered("nick3").encode(Wallops(sender="nick1", text="hi everyone"))) == line
    [refused] = d.receive_data(b"WALLOPS :again\r\n")
    assert lines(d.encode(Error(id=refused.id, code=ErrorCode.NOT_OPERATOR,  # type: ignore[union-attr]
                                message="no"))) == [
        ":My.Little.Server 481 nick1 :Permission Denied- You're not an IRC operator"]
    long = registered("x").encode(Wallops(sender="op", text="word " * 200))
    assert all(len(raw) <= 510 for raw in long.split(b"\r\n"))


def test_user_modes_go_to_the_hub_and_mode_lines_come_from_the_change() -> None:
    d = registered("evan")
    assert d.receive_data(b"MODE evan +i\r\nMODE Evan -w+w-o\r\nMODE evan +o\r\n") == [
        SetUserMode(id="t.2", invisible=True),
        SetUserMode(id="t.3", wallops=True, operator=False),
    ]  # +o alone: only OPER gives it, nothing asked
    assert lines(d.encode(UserMode(id="t.2", nick="evan", invisible=True,
                                   changed=("invisible",)))) == [
        ":evan!evan@palaver MODE evan :+i"]
    assert lines(d.encode(UserMode(nick="evan", wallops=True,
                                   changed=("wallops", "operator")))) == [
        ":evan!evan@palaver MODE evan :+w-o"]
    assert d.encode(UserMode(id="t.3", nick="evan")) == b""  # nothing changed: nothing said
    [ask] = d.receive_data(b"MODE evan\r\n")
    assert ask == SetUserMode(id="t.4")
    assert lines(d.encode(UserMode(id="t.4", nick="evan", invisible=True, wallops=True,
                                   operator=True))) == [":My.Little.Server 221 evan :+iow"]
    assert replies(d.receive_data(b"MODE evan +x\r\n")) == [
        ":My.Little.Server 501 evan :Unknown MODE flag"]
    assert replies(d.receive_data(b"MODE bob +i\r\n")) == [
        ":My.Little.Server 502 evan :Cannot change mode for other users"]
