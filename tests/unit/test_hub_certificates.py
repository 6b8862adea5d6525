"""CERT (hub/certificates.py) and AUTH with a client certificate (hub/authentication.py), in
memory: the hub checks the request; the store's part is played here as the core plays it."""

from __future__ import annotations

from palaver.hub.certificates import normalize_fingerprint
from palaver.hub.effects import ChangeCertificates
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    Authenticate,
    Authenticated,
    CertificateList,
    Error,
    Hello,
    ManageCertificates,
    Welcome,
)
from tests.unit.hub_harness import Harness

FP = "ab" * 32
OTHER = "cd" * 32


def _account(h: Harness, nick: str = "ann", *, certificate: str | None = FP) -> int:
    h.hub._accounts[nick.lower()] = nick
    sid = h.open()
    h.hub._sessions[sid].certificate = certificate
    h.login_account(Hello(version=1, nick=nick, password="secret123", autojoin=False), sid=sid)
    h.take(sid)
    return sid


def _ask(h: Harness, sid: int, msg: ManageCertificates) -> ChangeCertificates | Error:
    effects = h.send(sid, msg)
    asks = [e for e in effects if isinstance(e, ChangeCertificates)]
    if asks:
        return asks[0]
    [error] = h.take(sid)
    assert isinstance(error, Error)
    return error


def test_fingerprints_are_normalized() -> None:
    assert normalize_fingerprint(":".join(["AB"] * 32)) == FP
    assert normalize_fingerprint(FP.upper()) == FP
    for bad in ("", "ab" * 31, "zz" * 32, "ab" * 33):
        assert normalize_fingerprint(bad) is None


def test_add_without_a_fingerprint_binds_this_connection_s_certificate() -> None:
    h = Harness()
    sid = _account(h, "Ann")
    ask = _ask(h, sid, ManageCertificates(id="c", action="add"))
    assert ask == ChangeCertificates(sid, "c", "ann", "Ann", "add", FP)
    h.apply(h.hub.certificates_changed(ask, [FP], done=True))
    assert h.take(sid) == [CertificateList(id="c", account="Ann", fingerprints=(FP,), added=FP,
                                           current=FP)]


def test_add_and_remove_a_named_fingerprint_and_list() -> None:
    h = Harness()
    sid = _account(h, certificate=None)
    ask = _ask(h, sid, ManageCertificates(action="add", fingerprint=OTHER.upper()))
    assert isinstance(ask, ChangeCertificates) and ask.fingerprint == OTHER
    ask = _ask(h, sid, ManageCertificates(action="remove", fingerprint=OTHER))
    assert isinstance(ask, ChangeCertificates) and (ask.action, ask.fingerprint) == (
        "remove", OTHER)
    ask = _ask(h, sid, ManageCertificates(id="l", fingerprint=OTHER))
    assert isinstance(ask, ChangeCertificates) and (ask.action, ask.fingerprint) == (
        "list", None)
    h.apply(h.hub.certificates_changed(ask, [], done=True))
    assert h.take(sid) == [CertificateList(id="l", account="ann")]


def test_refusals() -> None:
    h = Harness()
    guest = h.login("gus")
    h.hub._sessions[guest].certificate = FP
    h.take(guest)
    refusal = _ask(h, guest, ManageCertificates(action="add"))
    assert isinstance(refusal, Error) and refusal.code == ErrorCode.NOT_AN_ACCOUNT
    sid = _account(h, certificate=None)
    for msg, code in ((ManageCertificates(action="add"), ErrorCode.CERTIFICATE_REQUIRED),
                      (ManageCertificates(action="remove"), ErrorCode.INVALID_FINGERPRINT),
                      (ManageCertificates(action="add", fingerprint="xyz"),
                       ErrorCode.INVALID_FINGERPRINT)):
        refusal = _ask(h, sid, msg)
        assert isinstance(refusal, Error) and refusal.code == code, msg
    for action, code in (("add", ErrorCode.CERTIFICATE_TAKEN),
                         ("remove", ErrorCode.NO_SUCH_CERTIFICATE)):
        ask = ChangeCertificates(sid, "x", "ann", "ann", action, FP)  # type: ignore[arg-type]
        h.apply(h.hub.certificates_changed(ask, [], done=False))
        [refusal] = h.take(sid)
        assert isinstance(refusal, Error) and (refusal.code, refusal.id) == (code, "x")


def _certificate_auth(h: Harness, *, certificate: str | None, account: str | None,
                      nick: str = "") -> tuple[int, list[object]]:
    """An AUTH with the certificate, as the core finishes it (``account``: the store's)."""
    sid = h.open()
    h.hub._sessions[sid].certificate = certificate
    auth = Authenticate(id="a", nick=nick, mechanism="certificate")
    assert h.hub.needs_login(sid, auth)
    h.apply(h.hub.login(sid, auth, verified=account is not None, marks={},
                        now=h.clock.now, account=account))
    return sid, list(h.take(sid))


def test_a_bound_certificate_logs_in_to_its_account_wearing_any_free_nick() -> None:
    h = Harness()
    h.hub._accounts["ann"] = "Ann"
    sid, answer = _certificate_auth(h, certificate=FP, account="ann")
    assert answer == [Authenticated(id="a", account="Ann")]
    h.send(sid, Hello(id="h", version=1, nick="annie", autojoin=False))
    [welcome] = h.take(sid)
    assert isinstance(welcome, Welcome) and (welcome.nick, welcome.account) == ("annie", True)
    assert h.hub._online["annie"].key == "ann"


def test_a_certificate_auth_refused() -> None:
    h = Harness()
    h.hub._accounts.update({"ann": "ann", "bob": "bob"})
    for certificate, account, nick, code in (
        (None, None, "", ErrorCode.CERTIFICATE_REQUIRED),  # no certificate at all
        (FP, None, "", ErrorCode.AUTH_FAILED),  # bound to nobody
        (FP, "ann", "bob", ErrorCode.AUTH_FAILED),  # it names another account
    ):
        sid, [refusal] = _certificate_auth(h, certificate=certificate, account=account,
                                           nick=nick)
        assert isinstance(refusal, Error) and (refusal.code, refusal.id) == (code, "a")
        assert h.hub._sessions[sid].auth is None
