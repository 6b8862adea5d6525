"""The IRC dialect's registration: CAP 302, the door's server password, SASL PLAIN, ISUPPORT."""

from __future__ import annotations

import base64

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.registration import ISUPPORT, isupport
from palaver.protocol.irc.render import SUPPORTED_CAPS
from palaver.protocol.irc.state import Closing, Phase
from palaver.protocol.irc.wire import MAX_LINE
from palaver.protocol.messages import (
    Authenticate,
    Authenticated,
    Error,
    Goodbye,
    Hello,
    Quit,
    Welcome,
)


def dialect(password: str | None = None) -> IrcDialect:
    return IrcDialect(ids=RequestIds("t"), password=password)


def replies(items: list[Inbound]) -> list[str]:
    return [line.decode() for item in items if isinstance(item, bytes)
            for line in item.split(b"\r\n") if line]


def requests(items: list[Inbound]) -> list[object]:
    return [item for item in items if not isinstance(item, bytes)]


def plain(authzid: str, authcid: str, password: str) -> str:
    return base64.b64encode(f"{authzid}\0{authcid}\0{password}".encode()).decode()


# --------------------------------------------------------------------------- CAP


def test_cap_ls_302_gives_values_and_turns_cap_notify_on_for_good() -> None:
    d = dialect()
    [ls] = replies(d.receive_data(b"CAP LS 302\r\n"))
    caps = ls.split(" :", 1)[1].split()
    assert "sasl=PLAIN" in caps and "cap-notify" in caps
    assert d.phase is Phase.CAP and "cap-notify" in d.caps
    assert replies(d.receive_data(b"CAP LIST\r\n")) == [":palaver CAP * LIST :cap-notify"]
    assert replies(d.receive_data(b"CAP REQ :-cap-notify\r\n")) == [
        ":palaver CAP * NAK :-cap-notify"]
    assert d.encode_key == ("irc", frozenset())  # cap-notify changes no line: shared key


def test_cap_ls_without_302_has_no_values_and_one_line() -> None:
    for command in (b"CAP LS\r\n", b"CAP LS 301\r\n"):
        d = dialect()
        [ls] = replies(d.receive_data(command))
        assert ls == ":palaver CAP * LS :" + " ".join(SUPPORTED_CAPS)
        assert "cap-notify" not in d.caps
        assert replies(d.receive_data(b"CAP REQ :-cap-notify\r\n")) == [
            ":palaver CAP * ACK :-cap-notify"]  # it may go: it was never implied


def test_the_cap_version_is_kept_with_the_negotiated_caps_and_shared_with_them() -> None:
    ids = RequestIds("door")  # one door's connections
    spoke_302, asked, same = (IrcDialect(ids=ids) for _ in range(3))
    spoke_302.receive_data(b"CAP LS 302\r\n")
    asked.receive_data(b"CAP LS\r\nCAP REQ :cap-notify\r\n")
    assert spoke_302.caps == asked.caps == frozenset({"cap-notify"})
    assert (spoke_302.cap_version, asked.cap_version) == (302, 0)
    assert spoke_302.encode_key == asked.encode_key  # the version changes no broadcast line
    same.receive_data(b"CAP LS 302\r\n")
    assert same.caps is spoke_302.caps and same.renderer is spoke_302.renderer  # not copies
    assert same.door is spoke_302.door
    spoke_302.receive_data(b"CAP REQ :server-time\r\n")  # a REQ keeps the version spoken
    assert spoke_302.cap_version == 302
    assert replies(spoke_302.receive_data(b"CAP REQ :-cap-notify\r\n")) == [
        ":palaver CAP * NAK :-cap-notify"]
    asked.receive_data(b"CAP LS 302\r\n")  # 302 said later: from then on
    assert asked.cap_version == 302
    assert replies(asked.receive_data(b"CAP REQ :-cap-notify\r\n")) == [
        ":palaver CAP * NAK :-cap-notify"]


def test_a_connection_keeps_its_door_whatever_it_negotiates() -> None:
    ids = RequestIds("t")
    plain = IrcDialect(ids=ids)
    tls = IrcDialect(ids=ids, sasl_mechanisms=("PLAIN", "EXTERNAL"))
    for d in (plain, tls):
        d.receive_data(b"CAP LS 302\r\nCAP REQ :sasl server-time\r\n")
    assert plain.encode_key == tls.encode_key  # the same broadcast bytes for both doors
    assert replies(tls.receive_data(b"AUTHENTICATE EXTERNAL\r\n")) == ["AUTHENTICATE +"]
    assert replies(plain.receive_data(b"AUTHENTICATE EXTERNAL\r\n")) == [
        ":palaver 908 * PLAIN :are available SASL mechanisms",
        ":palaver 904 * :SASL authentication failed"]


def test_a_long_cap_ls_302_is_split_with_a_star_on_every_line_but_the_last() -> None:
    d = IrcDialect(ids=RequestIds("t"), server="s" * 400)  # a long prefix leaves little room:
    # the list needs several lines
    lines = replies(d.receive_data(b"CAP LS 302\r\n"))
    assert len(lines) > 1
    assert all(" CAP * LS * :" in line for line in lines[:-1])
    assert " CAP * LS :" in lines[-1]
    assert all(len(line.encode()) <= MAX_LINE - 2 for line in lines)
    listed = [cap for line in lines for cap in line.split(" :", 1)[1].split()]
    assert [cap.split("=")[0] for cap in listed] == list(SUPPORTED_CAPS)


def test_cap_req_is_taken_or_refused_whole_and_echoes_what_was_asked() -> None:
    d = dialect()
    assert replies(d.receive_data(b"CAP REQ :foo qux bar baz qux quux\r\n")) == [
        ":palaver CAP * NAK :foo qux bar baz qux quux"]
    assert replies(d.receive_data(b"CAP REQ :sasl cap-notify\r\n")) == [
        ":palaver CAP * ACK :sasl cap-notify"]
    assert replies(d.receive_data(b"CAP REQ :-sasl frob\r\n")) == [
        ":palaver CAP * NAK :-sasl frob"]
    assert d.caps == frozenset({"sasl", "cap-notify"})
    assert replies(d.receive_data(b"CAP FROB\r\n")) == [
        ":palaver 410 * FROB :Invalid CAP command"]


# --------------------------------------------------------------------------- server password


def test_the_door_s_password_must_come_with_pass_or_the_connection_is_refused() -> None:
    d = dialect(password="letmein")
    out = d.receive_data(b"NICK ann\r\nUSER ann 0 * :Ann\r\nJOIN #x\r\nNICK bob\r\n")
    assert replies(out) == [":palaver 464 * :Password incorrect"]
    [quit_] = requests(out)
    assert isinstance(quit_, Quit)
    assert d.closing == Closing("Password incorrect")  # nothing more is read: no JOIN, no NICK
    assert d.encode(Goodbye(id=quit_.id, reason="bye")) == (
        b"ERROR :Closing link: * (Password incorrect)\r\n")
    wrong = dialect(password="letmein")
    out = wrong.receive_data(b"PASS letmeout\r\nNICK ann\r\nUSER ann 0 * :Ann\r\n")
    assert replies(out) == [":palaver 464 * :Password incorrect"]


def test_the_right_door_password_registers_and_is_no_account_password() -> None:
    d = dialect(password="let me in")
    out = d.receive_data(b"PASS let me in\r\nNICK ann\r\nUSER ann 0 * :Ann\r\n")
    [hello] = requests(out)
    assert isinstance(hello, Hello) and hello.password is None and hello.nick == "ann"


# --------------------------------------------------------------------------- SASL


def sasl_ready() -> IrcDialect:
    d = dialect()
    d.receive_data(b"CAP LS 302\r\nCAP REQ :sasl\r\n")
    assert replies(d.receive_data(b"AUTHENTICATE PLAIN\r\n")) == ["AUTHENTICATE +"]
    return d


def test_sasl_plain_checks_the_account_and_the_hello_after_it_carries_no_password() -> None:
    d = sasl_ready()
    out = d.receive_data(f"AUTHENTICATE {plain('', 'jilles', 'sesame')}\r\n".encode())
    [auth] = requests(out)
    assert isinstance(auth, Authenticate) and (auth.nick, auth.password) == ("jilles", "sesame")
    assert d.encode(Authenticated(id=auth.id, account="jilles")).decode().split("\r\n")[:2] == [
        ":palaver 900 * *!*@palaver jilles :You are now logged in as jilles",
        ":palaver 903 * :SASL authentication successful"]
    out = d.receive_data(b"PASS ignored1\r\nNICK bar\r\nUSER f * * :Realname\r\nCAP END\r\n")
    [hello] = requests(out)
    assert isinstance(hello, Hello) and (hello.nick, hello.password) == ("bar", None)
    d.encode(Welcome(id=hello.id, version=1, nick="bar", server="p", rooms=(), motd="",
                     account=True))
    assert replies(d.receive_data(b"AUTHENTICATE PLAIN\r\n")) == [
        ":palaver 907 bar :You have already authenticated using SASL"]


def test_a_refused_sasl_is_904_and_registration_goes_on_as_a_guest() -> None:
    d = sasl_ready()
    out = d.receive_data(f"AUTHENTICATE {plain('jilles', 'jilles', 'wrong')}\r\n".encode())
    [auth] = requests(out)
    assert isinstance(auth, Authenticate)
    refusal = Error(id=auth.id, code=ErrorCode.AUTH_FAILED, message="wrong nick or password")
    assert d.encode(refusal) == b":palaver 904 * :SASL authentication failed\r\n"
    assert d.closing is None  # unlike a wrong PASS, the client may go on
    [hello] = requests(d.receive_data(b"NICK ann\r\nUSER a 0 * :A\r\nCAP END\r\n"))
    assert isinstance(hello, Hello) and hello.password is None


def test_sasl_refusals_that_need_no_hub() -> None:
    d = dialect()
    assert replies(d.receive_data(b"AUTHENTICATE PLAIN\r\n")) == [
        ":palaver 904 * :SASL authentication failed"]  # sasl was not requested
    d = sasl_ready()
    assert replies(d.receive_data(b"AUTHENTICATE *\r\n")) == [
        ":palaver 906 * :SASL authentication aborted"]
    assert replies(d.receive_data(b"AUTHENTICATE EXTERNAL\r\n")) == [
        ":palaver 908 * PLAIN :are available SASL mechanisms",
        ":palaver 904 * :SASL authentication failed"]
    d = sasl_ready()
    assert replies(d.receive_data(b"AUTHENTICATE " + b"A" * 401 + b"\r\n")) == [
        ":palaver 905 * :SASL message too long"]
    for blob in (b"!!notbase64", base64.b64encode(b"only\0two"),
                 plain("someone-else", "jilles", "sesame").encode()):
        d = sasl_ready()
        assert replies(d.receive_data(b"AUTHENTICATE " + blob + b"\r\n")) == [
            ":palaver 904 * :SASL authentication failed"]


def test_sasl_data_comes_in_chunks_of_400_and_a_plus_ends_an_exact_multiple() -> None:
    password = "p" * 600
    blob = plain("", "jilles", password)
    chunks = [blob[i:i + 400] for i in range(0, len(blob), 400)]
    d = sasl_ready()
    for chunk in chunks[:-1]:
        assert d.receive_data(f"AUTHENTICATE {chunk}\r\n".encode()) == []
    last = d.receive_data(f"AUTHENTICATE {chunks[-1]}\r\n".encode())
    if len(chunks[-1]) == 400:
        assert last == []
        last = d.receive_data(b"AUTHENTICATE +\r\n")
    [auth] = requests(last)
    assert isinstance(auth, Authenticate) and auth.password == password
    exact = plain("", "jilles", "q" * 292)  # 300 bytes of PLAIN: 400 of base64
    assert len(exact) == 400
    d = sasl_ready()
    assert d.receive_data(f"AUTHENTICATE {exact}\r\n".encode()) == []
    [auth] = requests(d.receive_data(b"AUTHENTICATE +\r\n"))
    assert isinstance(auth, Authenticate) and auth.password == "q" * 292


def test_cap_end_during_a_sasl_exchange_aborts_it_and_registers() -> None:
    d = sasl_ready()
    out = d.receive_data(b"NICK ann\r\nUSER a 0 * :A\r\nCAP END\r\n")
    assert replies(out) == [":palaver 906 * :SASL authentication aborted"]
    [hello] = requests(out)
    assert isinstance(hello, Hello)


# --------------------------------------------------------------------------- ISUPPORT


def test_isupport_is_split_into_lines_of_at_most_13_tokens_within_512_bytes() -> None:
    d = dialect()
    lines = isupport(d, "ann").decode().split("\r\n")[:-1]
    tokens = [token for line in lines for token in line.split(" :")[0].split(" ")[3:]]
    assert tokens == list(ISUPPORT)
    assert all(len(line.split(" :")[0].split(" ")[3:]) <= 13 for line in lines)
    assert all(len(line.encode()) <= MAX_LINE - 2 for line in lines)


def test_chghost_is_accepted_and_changes_no_line() -> None:
    """A host never changes on palaver, so ``chghost`` is granted and no line differs for it:
    its connections share a broadcast's bytes with those that did not ask for it."""
    d = dialect()
    assert replies(d.receive_data(b"CAP REQ :chghost\r\n")) == [":palaver CAP * ACK :chghost"]
    assert "chghost" in d.caps and d.encode_key == ("irc", frozenset())
