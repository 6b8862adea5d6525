"""IRC ACCOUNT (irc/account.py): PASSWORD, DELETE_ACCOUNT and RESET_PASSWORD from IRC, in
memory."""

from __future__ import annotations

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.messages import (
    AccountDeleted,
    ChangePassword,
    DeleteAccount,
    Error,
    Goodbye,
    Hello,
    PasswordChanged,
    ResetPassword,
    Welcome,
)


def replies(items: list[Inbound]) -> list[str]:
    return [line.decode() for item in items if isinstance(item, bytes)
            for line in item.split(b"\r\n") if line]


def requests(items: list[Inbound]) -> list[object]:
    return [item for item in items if not isinstance(item, bytes)]


def lines(data: bytes) -> list[str]:
    return [line for line in data.decode().split("\r\n") if line]


def registered() -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"))
    [hello] = requests(d.receive_data(b"NICK ann\r\nUSER a 0 * :A\r\n"))
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick="ann", server="p", rooms=(), motd="",
                     account=True))
    d.nick_of = lambda: "ann"
    return d


def test_account_password_and_delete_become_hub_requests() -> None:
    d = registered()
    [req] = requests(d.receive_data(b"ACCOUNT PASSWORD hunter22 :correct horse\r\n"))
    assert isinstance(req, ChangePassword)
    assert (req.old, req.new) == ("hunter22", "correct horse")
    [req] = requests(d.receive_data(b"account password old new-one\r\n"))
    assert isinstance(req, ChangePassword) and (req.old, req.new) == ("old", "new-one")
    [req] = requests(d.receive_data(b"ACCOUNT DELETE :my pass word\r\n"))
    assert isinstance(req, DeleteAccount) and req.password == "my pass word"


def test_bad_subcommands_and_parameters_are_fail_account() -> None:
    d = registered()
    usage = (":ACCOUNT takes PASSWORD <old> <new>, DELETE <password> or "
             "RESET <nick> <token> <new>")
    assert replies(d.receive_data(b"ACCOUNT FROB x\r\n")) == [
        f":palaver FAIL ACCOUNT UNKNOWN_SUBCOMMAND FROB {usage}"]
    assert replies(d.receive_data(b"ACCOUNT PASSWORD old\r\n")) == [
        f":palaver FAIL ACCOUNT NEED_MORE_PARAMS PASSWORD {usage}"]
    assert replies(d.receive_data(b"ACCOUNT DELETE\r\n")) == [
        f":palaver FAIL ACCOUNT NEED_MORE_PARAMS DELETE {usage}"]
    assert replies(d.receive_data(b"ACCOUNT PASSWORD a b c\r\n")) == [
        ":palaver FAIL ACCOUNT INVALID_PARAMS PASSWORD "
        ":a password with spaces goes last, after a colon"]
    [needmore] = replies(d.receive_data(b"ACCOUNT\r\n"))
    assert needmore.startswith(":palaver 461 ann ACCOUNT ")


def test_account_needs_registration_but_for_reset() -> None:
    d = IrcDialect(ids=RequestIds("t"))
    assert replies(d.receive_data(b"ACCOUNT DELETE pw\r\n")) == [
        ":palaver 451 * :You have not registered"]
    assert replies(d.receive_data(b"ACCOUNT PASSWORD a b\r\n")) == [
        ":palaver 451 * :You have not registered"]
    [req] = requests(d.receive_data(b"ACCOUNT RESET ann q8Zr :a brand new one\r\n"))
    assert isinstance(req, ResetPassword)
    assert (req.nick, req.token, req.new) == ("ann", "q8Zr", "a brand new one")
    assert lines(d.encode(PasswordChanged(id=req.id, account="Ann"))) == [
        ":palaver NOTICE * :ACCOUNT: the password of Ann is reset; its connections are closed: "
        "log in with the new one"]
    [req] = requests(d.receive_data(b"ACCOUNT RESET ann wrong :a brand new one\r\n"))
    assert lines(d.encode(Error(id=req.id, code=ErrorCode.INVALID_TOKEN,
                                message="that reset token is wrong, used or expired"))) == [
        ":palaver FAIL ACCOUNT INVALID_TOKEN :that reset token is wrong, used or expired"]
    assert replies(d.receive_data(b"ACCOUNT RESET ann tok\r\n"))[0].startswith(
        ":palaver FAIL ACCOUNT NEED_MORE_PARAMS RESET :")
    assert replies(d.receive_data(b"ACCOUNT RESET ann tok new words\r\n")) == [
        ":palaver FAIL ACCOUNT INVALID_PARAMS RESET "
        ":a password with spaces goes last, after a colon"]
    [req] = requests(d.receive_data(b"NICK bo\r\nUSER b 0 * :B\r\n"))
    assert isinstance(req, Hello)  # registration goes on after a RESET


def test_reset_when_registered_and_its_refusals() -> None:
    d = registered()
    [req] = requests(d.receive_data(b"ACCOUNT RESET zed tok :a brand new one\r\n"))
    assert isinstance(req, ResetPassword)
    assert lines(d.encode(Error(id=req.id, code=ErrorCode.ALREADY_REGISTERED,
                                message="you are logged in"))) == [
        ":palaver FAIL ACCOUNT ALREADY_REGISTERED :you are logged in"]


def test_answers_are_notices_and_the_deleted_account_is_closed() -> None:
    d = registered()
    [req] = requests(d.receive_data(b"ACCOUNT PASSWORD hunter22 hunter33\r\n"))
    assert isinstance(req, ChangePassword)
    assert lines(d.encode(PasswordChanged(id=req.id, account="Ann"))) == [
        ":palaver NOTICE ann :ACCOUNT: the password of Ann is changed; "
        "its other connections are closed"]
    [req] = requests(d.receive_data(b"ACCOUNT DELETE hunter33\r\n"))
    assert isinstance(req, DeleteAccount)
    assert lines(d.encode(AccountDeleted(id=req.id, account="Ann", messages="erased"))) == [
        ":palaver NOTICE ann :ACCOUNT: Ann is deleted (its messages erased); the nick is free"]
    assert lines(d.encode(Goodbye(reason="account deleted"))) == [
        "ERROR :Closing link: ann (account deleted)"]


def test_refusals_are_fail_account_with_the_hubs_reason() -> None:
    for code, text in ((ErrorCode.AUTH_FAILED, "wrong password"),
                       (ErrorCode.NOT_AN_ACCOUNT, "you are a guest: there is no account"),
                       (ErrorCode.INVALID_PASSWORD, "a password is 8 to 200 characters"),
                       (ErrorCode.ACCOUNT_LOCKED, "locked"),
                       (ErrorCode.AUTH_THROTTLED, "too many tries")):
        d = registered()
        [req] = requests(d.receive_data(b"ACCOUNT PASSWORD old new\r\n"))
        assert isinstance(req, ChangePassword)
        assert lines(d.encode(Error(id=req.id, code=code, message=text))) == [
            f":palaver FAIL ACCOUNT {code.value.upper()} :{text}"]
