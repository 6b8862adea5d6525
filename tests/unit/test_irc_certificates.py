"""IRC SASL EXTERNAL (irc/sasl.py) and CERT (irc/certificates.py), in memory."""

from __future__ import annotations

import base64

from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.messages import (
    Authenticate,
    Authenticated,
    CertificateList,
    Error,
    Hello,
    ManageCertificates,
    Welcome,
)

FP = "ab" * 32
OTHER = "cd" * 32


def dialect(*, external: bool = True) -> IrcDialect:
    return IrcDialect(ids=RequestIds("t"), sasl_mechanisms=("PLAIN", "EXTERNAL") if external
                      else ("PLAIN",))


def replies(items: list[Inbound]) -> list[str]:
    return [line.decode() for item in items if isinstance(item, bytes)
            for line in item.split(b"\r\n") if line]


def requests(items: list[Inbound]) -> list[object]:
    return [item for item in items if not isinstance(item, bytes)]


def lines(data: bytes) -> list[str]:
    return [line for line in data.decode().split("\r\n") if line]


def test_cap_ls_offers_external_only_where_the_door_does() -> None:
    [ls] = replies(dialect().receive_data(b"CAP LS 302\r\n"))
    assert "sasl=PLAIN,EXTERNAL" in ls.split(" :", 1)[1].split()
    [ls] = replies(dialect(external=False).receive_data(b"CAP LS 302\r\n"))
    assert "sasl=PLAIN" in ls.split(" :", 1)[1].split()


def test_external_is_an_auth_with_the_certificate_and_logs_in() -> None:
    d = dialect()
    d.receive_data(b"CAP LS 302\r\nCAP REQ :sasl\r\n")
    assert replies(d.receive_data(b"AUTHENTICATE EXTERNAL\r\n")) == ["AUTHENTICATE +"]
    [auth] = requests(d.receive_data(b"AUTHENTICATE +\r\n"))
    assert isinstance(auth, Authenticate)
    assert (auth.mechanism, auth.nick, auth.password) == ("certificate", "", "")
    assert lines(d.encode(Authenticated(id=auth.id, account="jilles")))[:2] == [
        ":palaver 900 * *!*@palaver jilles :You are now logged in as jilles",
        ":palaver 903 * :SASL authentication successful"]
    [hello] = requests(d.receive_data(b"NICK jil\r\nUSER j 0 * :J\r\nCAP END\r\n"))
    assert isinstance(hello, Hello) and (hello.nick, hello.password) == ("jil", None)


def test_external_with_an_authorization_identity_names_the_account() -> None:
    d = dialect()
    d.receive_data(b"CAP REQ :sasl\r\nAUTHENTICATE EXTERNAL\r\n")
    authzid = base64.b64encode(b"jilles").decode()
    [auth] = requests(d.receive_data(f"AUTHENTICATE {authzid}\r\n".encode()))
    assert isinstance(auth, Authenticate) and auth.nick == "jilles"
    d = dialect()
    d.receive_data(b"CAP REQ :sasl\r\nAUTHENTICATE EXTERNAL\r\n")
    assert replies(d.receive_data(b"AUTHENTICATE !!!\r\n")) == [
        ":palaver 904 * :SASL authentication failed"]


def test_external_refused_by_the_hub_is_904_and_registration_goes_on() -> None:
    for code in (ErrorCode.CERTIFICATE_REQUIRED, ErrorCode.AUTH_FAILED):
        d = dialect()
        d.receive_data(b"CAP REQ :sasl\r\nAUTHENTICATE EXTERNAL\r\n")
        [auth] = requests(d.receive_data(b"AUTHENTICATE +\r\n"))
        assert isinstance(auth, Authenticate)
        refusal = Error(id=auth.id, code=code, message="no")
        assert d.encode(refusal) == b":palaver 904 * :SASL authentication failed\r\n"
        assert d.closing is None
        [hello] = requests(d.receive_data(b"NICK ann\r\nUSER a 0 * :A\r\nCAP END\r\n"))
        assert isinstance(hello, Hello)


def test_external_is_not_offered_without_client_ca() -> None:
    d = dialect(external=False)
    d.receive_data(b"CAP REQ :sasl\r\n")
    assert replies(d.receive_data(b"AUTHENTICATE EXTERNAL\r\n")) == [
        ":palaver 908 * PLAIN :are available SASL mechanisms",
        ":palaver 904 * :SASL authentication failed"]


def registered() -> IrcDialect:
    d = dialect()
    [hello] = requests(d.receive_data(b"NICK ann\r\nUSER a 0 * :A\r\n"))
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick="ann", server="p", rooms=(), motd="",
                     account=True))
    d.nick_of = lambda: "ann"
    return d


def test_cert_subcommands_become_cert_requests() -> None:
    d = registered()
    for line, action, fingerprint in ((b"CERT\r\n", "list", None),
                                      (b"CERT list\r\n", "list", None),
                                      (b"CERT ADD\r\n", "add", None),
                                      (f"CERT ADD {FP}\r\n".encode(), "add", FP),
                                      (f"CERT DEL {FP}\r\n".encode(), "remove", FP),
                                      (f"CERT REMOVE {FP}\r\n".encode(), "remove", FP)):
        [req] = requests(d.receive_data(line))
        assert isinstance(req, ManageCertificates), line
        assert (req.action, req.fingerprint) == (action, fingerprint), line
    assert replies(d.receive_data(b"CERT FROB\r\n")) == [
        ":palaver FAIL CERT UNKNOWN_SUBCOMMAND FROB "
        ":CERT takes LIST, ADD [fingerprint] or DEL <fingerprint>"]


def test_the_answer_is_notices_and_refusals_are_fail_cert() -> None:
    d = registered()
    [req] = requests(d.receive_data(b"CERT ADD\r\n"))
    assert isinstance(req, ManageCertificates)
    answer = CertificateList(id=req.id, account="Ann", fingerprints=(OTHER, FP), added=FP,
                             current=FP)
    assert lines(d.encode(answer)) == [
        f":palaver NOTICE ann :CERT: added {FP}; it logs in to Ann with SASL EXTERNAL",
        ":palaver NOTICE ann :CERT: Ann has 2 certificates:",
        f":palaver NOTICE ann :CERT: {OTHER}",
        f":palaver NOTICE ann :CERT: {FP} (this connection's)"]
    [req] = requests(d.receive_data(b"CERT\r\n"))
    assert isinstance(req, ManageCertificates)
    assert lines(d.encode(CertificateList(id=req.id, account="Ann", current=FP))) == [
        ":palaver NOTICE ann :CERT: Ann has 0 certificates",
        f":palaver NOTICE ann :CERT: this connection's certificate is {FP} (not bound: "
        "CERT ADD binds it)"]
    [req] = requests(d.receive_data(f"CERT ADD {FP}\r\n".encode()))
    assert isinstance(req, ManageCertificates)
    refusal = Error(id=req.id, code=ErrorCode.CERTIFICATE_TAKEN,
                    message="that certificate is bound to another account")
    assert lines(d.encode(refusal)) == [
        ":palaver FAIL CERT CERTIFICATE_TAKEN :that certificate is bound to another account"]
