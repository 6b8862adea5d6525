"""The I/O behind accounts that can be managed (hub/account_management.py), for the core.

- :func:`manage_account` carries out a :class:`ManageAccount`: throttled as a login of the
  account (the login throttle, docs/limits.md), it checks the password off the loop (or, for a
  reset, hashes the new password and lets the store use the token up, atomically), stores a new
  password's hash and gives the verdict to the hub.
- :func:`erase_account` carries out an :class:`EraseAccount` in its place in the queue.
- :func:`close_locked` is the poll behind ``lock_check_interval``: ``palaver admin lock`` writes
  to the database, possibly from another process, so the server looks now and then for locked
  accounts that are online and ends their sessions (a login is refused at once, whatever the
  poll: the core reads the account when it checks the password).
- Reset tokens: :func:`new_reset_token` makes one (32 random bytes, URL-safe), and only its
  SHA-256 (:func:`token_digest`) is stored — a token has too much entropy to need a slow hash.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import TYPE_CHECKING

from palaver.hub.effects import Effect, EraseAccount, ManageAccount
from palaver.hub.messaging import format_ts
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.server.login_work import throttled

if TYPE_CHECKING:
    from palaver.server.core import ServerCore

log = logging.getLogger("palaver.server")


def new_reset_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def manage_account(core: ServerCore, effect: ManageAccount) -> None:
    conn = core.connection(effect.session)
    address = core.address_of(conn)
    started = core.monotonic()
    wait = core.logins.begin(effect.key, address, started)  # a failure until proved right
    effects: list[Effect]
    try:
        if wait:
            effects = [core.hub.error_effect(effect.session, throttled(
                core, wait, "attempts", effect.request_id))]
        else:
            verified = await _check(core, effect)
            if verified:
                core.logins.succeeded(effect.key, address, started)
            effects = core.hub.account_checked(effect, verified=verified, now=core.wall_clock())
    except Exception:
        log.exception("could not %s the account %s", effect.action, effect.key)
        if not wait:
            core.logins.withdraw(effect.key, address, started)
        effects = [core.hub.error_effect(effect.session, PeerError(
            ErrorCode.UNAVAILABLE, "cannot manage accounts right now; try again",
            effect.request_id))]
    core.pipeline.submit(effects)


async def _check(core: ServerCore, effect: ManageAccount) -> bool:
    store, passwords = core.store, core.passwords
    if effect.action == "reset":
        assert effect.new is not None
        new_hash = await passwords.hash(effect.new)
        return await store.reset_password(effect.key, token_digest(effect.secret),
                                          format_ts(core.wall_clock()), new_hash)
    account = await store.get_account(effect.key)
    verified = await passwords.verify(account.password_hash if account else None, effect.secret)
    if not verified or effect.action == "delete":
        return verified
    assert effect.new is not None
    return await store.set_password(effect.key, await passwords.hash(effect.new))


async def erase_account(core: ServerCore, effect: EraseAccount) -> list[Effect]:
    try:
        await core.store.delete_account(effect.erasure)
        failed = False
        log.info("account %s deleted", effect.account,
                 extra={"event": "account_deleted", "account": effect.erasure.key})
    except Exception:
        log.exception("could not delete the account %s", effect.erasure.key)
        failed = True
    return core.hub.account_erased(effect, failed=failed)


async def close_locked(core: ServerCore) -> None:
    online = core.hub.online_accounts()
    if not online:
        return
    locked = await core.store.locked_accounts() & online
    effects: list[Effect] = []
    for key in sorted(locked):
        log.info("closing the sessions of %s: the account is locked", key,
                 extra={"event": "account_locked", "account": key})
        effects.extend(core.hub.close_account(key, "account locked", core.wall_clock()))
    if effects:
        core.pipeline.submit(effects)
