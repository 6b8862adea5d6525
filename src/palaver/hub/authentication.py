"""AUTH: proving an account's password before HELLO (IRC's SASL), then a HELLO that needs none.

How this works: :class:`Authentication` is a mixin of :class:`~palaver.hub.hub.Hub`. An AUTH
is a HELLO's password check on its own: the core checks the password (throttled as a HELLO's,
:meth:`Hub.needs_login`) and calls :meth:`Hub.login` with the verdict, which lands in
:meth:`Authentication._authenticated`. A right one is noted on the session, with the account's
marks (where it stopped reading its direct conversations); the next HELLO without a password
logs in to that account (:meth:`Authentication._hello_authenticated`, through
:meth:`Hub.login`). Unlike a HELLO with a password, its nick need not be the account's: the
account may wear another nick that is free (not online, not an account, not a lookalike), as
it could by changing nick once logged in.
An AUTH with ``mechanism`` ``certificate`` (IRC's SASL EXTERNAL) is checked by the core in
the store instead: the account the connection's client certificate is bound to
(hub/certificates.py) is the one it proves, with no throttle (nothing is guessed).
An AUTH after HELLO is ``already_registered``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from palaver.hub.effects import Deliver, Effect
from palaver.hub.names import check_nick, fold
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Authenticate, Authenticated, Hello

if TYPE_CHECKING:
    from palaver.hub.effects import SessionId
    from palaver.store.base import StoredMarker


class Authentication:
    """Mixed into the hub: needs its accounts, users and arrival helpers."""

    if TYPE_CHECKING:
        _sessions: dict[SessionId, Session]
        _accounts: dict[str, str]
        _pending_accounts: set[str]
        _online: dict[str, User]
        _online_accounts: dict[str, User]

        def login(self, sid: SessionId, hello: Hello | Authenticate, *, verified: bool,
                  marks: Mapping[str, int], now: float,
                  read_markers: Sequence[StoredMarker] = (), account: str | None = None,
                  ) -> list[Effect]: ...
        def _refuse_lookalike(self, nick: str, folded: str, mine: tuple[str, ...]) -> None: ...
        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...

    def authentication_handlers(self) -> dict[type[Any], Any]:
        return {Authenticate: self._authenticate_again}

    def _authenticated(self, sid: SessionId, msg: Authenticate, *, verified: bool,
                       marks: Mapping[str, int], read_markers: Sequence[StoredMarker],
                       account: str | None = None) -> list[Effect]:
        """The core has checked the AUTH's password (``verified``), or found the account
        (``account``) its connection's client certificate is bound to."""
        session = self._sessions.get(sid)
        if session is None:
            return []
        try:
            if session.user is not None:
                raise PeerError(ErrorCode.ALREADY_REGISTERED, "you already said HELLO")
            if msg.mechanism == "certificate":
                key = self._certificate_account(session, msg, account)
            else:
                key = fold(check_nick(msg.nick))
            if not verified or key not in self._accounts:
                raise PeerError(ErrorCode.AUTH_FAILED, "wrong nick or password")
        except PeerError as error:
            return [self.error_effect(sid, error.with_request_id(msg.id))]
        session.auth = (key, dict(marks), tuple(read_markers))
        return [Deliver(Authenticated(id=msg.id, account=self._accounts[key]), (sid,))]

    @staticmethod
    def _certificate_account(session: Session, msg: Authenticate, account: str | None) -> str:
        """The account an AUTH with a certificate logs in to (``account``: the one the store
        binds the session's certificate to), or why not."""
        if session.certificate is None:
            raise PeerError(ErrorCode.CERTIFICATE_REQUIRED,
                            "this connection presented no client certificate")
        if account is None:
            raise PeerError(ErrorCode.AUTH_FAILED,
                            "this certificate is bound to no account (CERT add binds it)")
        if msg.nick and fold(msg.nick) != account:
            raise PeerError(ErrorCode.AUTH_FAILED, "this certificate is not that account's")
        return account

    def _authenticate_again(self, session: Session, msg: Authenticate,
                            now: float) -> list[Effect]:
        if session.user is None:  # the core routes these to login(); never guess here
            raise PeerError(ErrorCode.AUTH_FAILED, "wrong nick or password")
        raise PeerError(ErrorCode.ALREADY_REGISTERED, "you already said HELLO")

    def _hello_authenticated(self, session: Session, msg: Hello, now: float) -> list[Effect]:
        """A HELLO without a password on a session that passed AUTH: the account logs in, as
        with a HELLO with its password, but wearing the HELLO's nick."""
        assert session.auth is not None
        key, marks, read_markers = session.auth
        effects = self.login(session.sid, msg, verified=True, marks=marks, now=now,
                             read_markers=read_markers, account=key)
        if session.user is not None:
            session.auth = None  # logged in: nothing more to remember
        return effects

    def _wearing(self, key: str, nick: str) -> str:
        """The nick account ``key`` logs in with when its HELLO names ``nick``."""
        folded = fold(nick)
        if folded == key:
            return self._accounts[key]  # its own, as registered (a HELLO with password's too)
        if folded in self._accounts or folded in self._pending_accounts:
            raise PeerError(ErrorCode.NICK_REGISTERED, f"{nick} is another user's account")
        if folded in self._online:
            raise PeerError(ErrorCode.NICK_TAKEN, f"the nick {nick} is taken")
        self._refuse_lookalike(nick, folded, (key,))
        return nick
