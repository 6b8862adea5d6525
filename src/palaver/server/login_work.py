"""Logins and other password checks, for the core: the I/O behind them, off the loop.

- :func:`start_login` takes a HELLO or AUTH that logs in (``Hub.needs_login``). A password is
  throttled first (docs/limits.md: per account and address, and a bound on the checks queued,
  ``max_pending_logins``), counted as a failure before its check starts, then checked in a task
  (server/passwords.py; on a node of a cluster the other nodes' wrong passwords count too:
  server/shared_throttle.py); a client certificate (AUTH ``certificate``, hub/certificates.py)
  is looked up in the store instead. Either way the connection is paused (``conn.pause()``)
  until ``Hub.login`` has its verdict, so nothing it sent after the HELLO is handled before
  the user exists. A locked account is refused; a login's ``note_seen`` is written in the
  background, so nothing comes between the hub's login and its effects.
- :func:`check_operator` carries out a :class:`CheckOperator` (OPER), throttled like a login
  of the name ``oper:<name>``; its connection waits for the verdict.
- :func:`create_account` carries out a :class:`CreateAccount` (REGISTER): the password hashed
  off the loop, the account stored, the hub told.

The core keeps the count of password checks queued or running (``pending_logins``) and when
each was counted (``login_started``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from palaver.hub.effects import CheckOperator, CreateAccount, Effect
from palaver.hub.messaging import format_ts
from palaver.hub.names import fold
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import Authenticate, ClientMessage, Hello
from palaver.server.ratelimit import retry_after_ms
from palaver.store.base import Account

if TYPE_CHECKING:
    from palaver.server.core import Connection, ServerCore

log = logging.getLogger("palaver.server")


def start_login(core: ServerCore, conn: Connection, message: ClientMessage) -> None:
    """``message`` logs ``conn`` in (``Hub.needs_login``): check its password or certificate in
    the background; ``conn`` waits for the verdict (unless it is throttled: told at once)."""
    assert isinstance(message, Hello | Authenticate)
    if type(message) is Authenticate and message.mechanism == "certificate":
        conn.pause()  # no password: nothing to throttle (hub/certificates.py)
        core.spawn(_certificate_login(core, conn, message))
        return
    throttled = _login_throttled(core, conn, message)
    if throttled is not None:
        core.pipeline.submit([core.hub.error_effect(conn.sid, throttled)])
        return
    core.pending_logins += 1
    conn.pause()  # what follows the HELLO waits for the password check
    core.spawn(_login(core, conn, message))


def _login_throttled(core: ServerCore, conn: Connection, hello: Hello | Authenticate
                     ) -> PeerError | None:
    """``auth_throttled`` if this password may not be checked now (docs/limits.md).

    Otherwise the attempt is counted now, as a failure, before its check starts: parallel
    guesses on many connections see each other (:func:`_check_login` un-counts it if the
    password was right)."""
    account, address, now = fold(hello.nick), core.address_of(conn), core.monotonic()
    wait = core.logins.wait(account, address, now)
    if not wait and core.pending_logins >= core.limits.max_pending_logins:
        wait = 1.0  # the queue of password checks is full
    if not wait:
        core.logins.begin(account, address, now)
        core.login_started[conn.sid] = now
        return None
    return throttled(core, wait, "login attempts", hello.id)


def throttled(core: ServerCore, wait: float, what: str, request_id: str | None) -> PeerError:
    """``auth_throttled``: too many ``what``, try again in ``wait`` seconds (counted)."""
    core.metrics.login_throttled()
    ms = retry_after_ms(wait)
    return PeerError(ErrorCode.AUTH_THROTTLED, f"too many {what}: try again in "
                     f"{ms / 1000:.1f} s", request_id, retry_after_ms=ms)


async def _login(core: ServerCore, conn: Connection, hello: Hello | Authenticate) -> None:
    assert hello.password is not None
    started = core.login_started.pop(conn.sid, None)
    try:
        await _check_login(core, conn, hello, started)
    finally:
        core.pending_logins -= 1


async def _check_login(core: ServerCore, conn: Connection, hello: Hello | Authenticate,
                       started: float | None) -> None:
    """Check the password of ``hello``, whose attempt was counted at ``started``."""
    assert hello.password is not None
    account_key, address = fold(hello.nick), core.address_of(conn)
    shared = core.shared_throttle
    try:
        wait = await shared.wait(account_key, address) if shared is not None else 0.0
        if wait:  # the other nodes' wrong passwords count too (server/shared_throttle.py)
            if started is not None:
                core.logins.withdraw(account_key, address, started)
            core.pipeline.submit([core.hub.error_effect(
                conn.sid, throttled(core, wait, "login attempts", hello.id))])
            conn.resume()
            return
        account = await core.store.get_account(account_key)
        verified = await core.passwords.verify(
            account.password_hash if account else None, hello.password)
        if verified:
            core.logins.succeeded(account_key, address, started)
            assert account is not None
            core.hub.learn_account(account.key, account.nick)  # made on another node?
            if shared is not None:
                await shared.succeeded(account_key, address)
        else:
            if started is None:  # not counted when it started
                core.logins.failed(account_key, address, core.monotonic())
            if shared is not None:
                await shared.failed(account_key, address)
        started = None  # the attempt is settled
        effects: list[Effect]
        if account is not None and verified and account.locked:
            effects = [core.hub.error_effect(conn.sid, PeerError(
                ErrorCode.ACCOUNT_LOCKED, "this account is locked: ask the server's "
                "operator", hello.id))]
        else:
            marks = await core.store.load_marks(account.key) if account and verified else {}
            markers = (await core.store.read_markers(account.key) if account and verified
                       else [])
            effects = core.hub.login(conn.sid, hello, verified=verified, marks=marks,
                                     now=core.wall_clock(), read_markers=markers)
            if account is not None and verified:  # in the background: nothing may come
                # between the hub's login and its effects (a message to the new member)
                core.spawn(core.store.note_seen(account.key,
                                                 format_ts(core.wall_clock())))
    except Exception:
        log.exception("login of %s failed", hello.nick)
        if started is not None:  # the check could not run: that was no guess
            core.logins.withdraw(account_key, address, started)
        error = PeerError(ErrorCode.UNAVAILABLE, "cannot log in right now; try again",
                          hello.id)
        effects = [core.hub.error_effect(conn.sid, error)]
    core.pipeline.submit(effects)
    conn.resume()


async def _certificate_login(core: ServerCore, conn: Connection, auth: Authenticate) -> None:
    """An AUTH with the connection's client certificate: the account it is bound to."""
    try:
        fingerprint = core.hub.certificate_of(conn.sid)
        key = (await core.store.certificate_account(fingerprint)
               if fingerprint is not None else None)
        account = await core.store.get_account(key) if key is not None else None
        effects: list[Effect]
        if account is not None and account.locked:  # as for a password (above)
            effects = [core.hub.error_effect(conn.sid, PeerError(
                ErrorCode.ACCOUNT_LOCKED, "this account is locked: ask the server's "
                "operator", auth.id))]
        else:
            key = account.key if account is not None else None
            marks = await core.store.load_marks(key) if key is not None else {}
            markers = await core.store.read_markers(key) if key is not None else []
            effects = core.hub.login(conn.sid, auth, verified=key is not None, marks=marks,
                                     now=core.wall_clock(), read_markers=markers,
                                     account=key)
            if key is not None:  # in the background, as for a password (above)
                core.spawn(core.store.note_seen(key, format_ts(core.wall_clock())))
    except Exception:
        log.exception("login with a certificate on connection %d failed", conn.sid)
        effects = [core.hub.error_effect(conn.sid, PeerError(
            ErrorCode.UNAVAILABLE, "cannot log in right now; try again", auth.id))]
    core.pipeline.submit(effects)
    conn.resume()


async def check_operator(core: ServerCore, effect: CheckOperator) -> None:
    """An OPER's password, checked off the loop and throttled like a login's (the name,
    marked ``oper:``, in place of the account): its connection waits for the verdict."""
    conn = core.connection(effect.session)
    name, address = f"oper:{effect.name}", core.address_of(conn)
    now = core.monotonic()
    wait = core.logins.begin(name, address, now)  # counted as a failure until right
    effects: list[Effect]
    try:
        if wait:
            effects = [core.hub.error_effect(effect.session, throttled(
                core, wait, "operator logins", effect.request_id))]
        else:
            verified = await core.passwords.verify(effect.password_hash, effect.password)
            if verified:
                core.logins.succeeded(name, address, now)
            effects = core.hub.operator_checked(effect.session, effect.name,
                                                verified=verified,
                                                request_id=effect.request_id)
    except Exception:
        log.exception("checking the operator password of %s failed", effect.name)
        if not wait:
            core.logins.withdraw(name, address, now)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "cannot check operator passwords right now",
            effect.request_id))]
    core.pipeline.submit(effects)
    if conn is not None:
        conn.resume()


async def create_account(core: ServerCore, effect: CreateAccount) -> None:
    failed = False
    try:
        password_hash = await core.passwords.hash(effect.password)
        created = await core.store.create_account(
            Account(key=effect.key, nick=effect.nick, password_hash=password_hash,
                    created_at=format_ts(core.wall_clock())))
    except Exception:
        log.exception("could not create the account %s", effect.key)
        created, failed = False, True
    core.pipeline.submit(core.hub.account_created(
        effect.session, effect.key, created=created, request_id=effect.request_id,
        failed=failed))

