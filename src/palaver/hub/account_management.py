"""Accounts that can be managed: PASSWORD, RESET_PASSWORD, DELETE_ACCOUNT, and closing an
account's sessions (a lock, a password changed elsewhere).

How this works: :class:`AccountManagement` is a mixin of :class:`~palaver.hub.hub.Hub`, like
:class:`~palaver.hub.accounts.Accounts`. Each command is checked here and becomes a
:class:`~palaver.hub.effects.ManageAccount`: the core checks the password (or the reset token)
off the loop, throttled as a login of that account, stores a new password's hash, and calls
:meth:`AccountManagement.account_checked` with the verdict.

- A password changed (PASSWORD, or RESET_PASSWORD with a good token): PASSWORD_CHANGED to the
  asker, and every *other* session of the account is closed (BYE ``password changed``): whoever
  knew the old password is out. The session that changed it stays.
- An account deleted (:meth:`AccountManagement._account_deleting`): the hub forgets it at once —
  its sessions end (room-mates see it quit, ``account deleted``), its rooms' rules no longer name
  it (operator, voice, invitation), its metadata and remembered rooms go, and its direct
  conversations move to a new key made of a *tombstone* identity (``~deleted-…``: no account
  can have it), so that whoever registers the nick later never reads them. The nick is held
  (``_pending_accounts``) until the store has done the same (:class:`EraseAccount`, in its
  place in the queue: every message sent before it is stored first); then ACCOUNT_DELETED and
  BYE go to the asker (:meth:`AccountManagement.account_erased`) and the nick is free.
- :meth:`AccountManagement.close_account`: the core's poll of locked accounts
  (``lock_check_interval``) ends a locked account's sessions with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from palaver.hub.accounts import MAX_PASSWORD, MIN_PASSWORD
from palaver.hub.effects import (
    Close,
    Deliver,
    Effect,
    EraseAccount,
    ManageAccount,
    SaveRoom,
    SessionId,
)
from palaver.hub.names import check_nick, fold
from palaver.hub.rules import RoomRules
from palaver.hub.state import Session, User
from palaver.protocol.errors import ErrorCode, PeerError
from palaver.protocol.messages import (
    AccountDeleted,
    ChangePassword,
    DeleteAccount,
    PasswordChanged,
    ResetPassword,
)
from palaver.store.base import (
    DELETED_NICK,
    AccountErasure,
    StoredMarker,
    StoredMessage,
    dm_conversation,
)

if TYPE_CHECKING:
    from collections import OrderedDict

    from palaver.hub.hub import HubConfig
    from palaver.hub.lookalikes import LookalikeIndex

MAX_TOKEN = 200  # a reset token is 43 characters; anything far longer is no token of ours


def check_password(password: str) -> str:
    """REGISTER's rule, for every new password."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise PeerError(ErrorCode.INVALID_PASSWORD,
                        f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    return password


class AccountManagement:
    """Mixed into the hub: needs its accounts, sessions, rooms' rules and conversations."""

    if TYPE_CHECKING:
        config: HubConfig
        _new_token: Callable[[], str]
        _sessions: dict[SessionId, Session]
        _online_accounts: dict[str, User]
        _accounts: dict[str, str]
        _pending_accounts: set[str]
        _lookalikes: LookalikeIndex
        _known_nicks: dict[str, str]
        _account_rooms: dict[str, dict[str, str]]
        _dm_index: dict[str, set[str]]
        _last_id: dict[str, int]
        _committed: dict[str, int]
        _recent: OrderedDict[tuple[str, str], StoredMessage]
        _rules: dict[str, RoomRules]
        _markers: dict[str, dict[str, StoredMarker]]
        _metadata: dict[str, dict[str, str]]

        @staticmethod
        def error_effect(sid: SessionId, error: PeerError) -> Deliver: ...
        @staticmethod
        def _user(session: Session) -> User: ...
        def close_session(self, sid: SessionId, reason: str, now: float | None = None
                          ) -> list[Effect]: ...
        def _levels_moved(self, identity: str, old: str, new: str) -> None: ...

    def account_management_handlers(self) -> dict[type[Any], Any]:
        return {ChangePassword: self._change_password, ResetPassword: self._reset_password,
                DeleteAccount: self._delete_account}

    # ------------------------------------------------------------------ the commands

    def _change_password(self, session: Session, msg: ChangePassword, now: float
                         ) -> list[Effect]:
        user = self._account_user(session)
        check_password(msg.new)
        return [ManageAccount(session.sid, msg.id, "password", user.key, msg.old, msg.new)]

    def _reset_password(self, session: Session, msg: ResetPassword, now: float
                        ) -> list[Effect]:
        if session.user is not None and session.user.account:
            raise PeerError(ErrorCode.ALREADY_REGISTERED,
                            "you are logged in: change your password with PASSWORD")
        key = fold(check_nick(msg.nick))
        check_password(msg.new)
        if not msg.token or len(msg.token) > MAX_TOKEN:
            raise PeerError(ErrorCode.INVALID_TOKEN, "that reset token is wrong, used or expired")
        return [ManageAccount(session.sid, msg.id, "reset", key, msg.token, msg.new)]

    def _delete_account(self, session: Session, msg: DeleteAccount, now: float
                        ) -> list[Effect]:
        user = self._account_user(session)
        return [ManageAccount(session.sid, msg.id, "delete", user.key, msg.password)]

    def _account_user(self, session: Session) -> User:
        user = self._user(session)
        if not user.account:
            raise PeerError(ErrorCode.NOT_AN_ACCOUNT, "you are a guest: there is no account")
        return user

    # ------------------------------------------------------------------ the core's answers

    def account_checked(self, effect: ManageAccount, *, verified: bool, now: float
                        ) -> list[Effect]:
        """The core has checked ``effect``'s password or token (``verified``) and, when right,
        stored the new password."""
        here = effect.session in self._sessions
        if not verified:
            error = (PeerError(ErrorCode.INVALID_TOKEN, "that reset token is wrong, used or "
                               "expired", effect.request_id) if effect.action == "reset" else
                     PeerError(ErrorCode.AUTH_FAILED, "wrong password", effect.request_id))
            return [self.error_effect(effect.session, error)] if here else []
        if effect.action == "delete":
            if effect.key not in self._accounts:  # deleted meanwhile (another session)
                return [self.error_effect(effect.session, PeerError(
                    ErrorCode.NOT_AN_ACCOUNT, "the account is gone", effect.request_id))]
            return self._account_deleting(effect, now)
        account = self._accounts.get(effect.key, effect.key)
        effects: list[Effect] = []
        if here:
            effects.append(Deliver(PasswordChanged(id=effect.request_id, account=account),
                                   (effect.session,)))
        effects.extend(self.close_account(effect.key, "password changed", now,
                                          keep=effect.session))
        return effects

    def close_account(self, key: str, reason: str, now: float,
                      keep: SessionId | None = None) -> list[Effect]:
        """End every session of the account ``key`` (but ``keep``) with a BYE giving
        ``reason``; its room-mates see it quit."""
        user = self._online_accounts.get(key)
        if user is None:
            return []
        effects: list[Effect] = []
        for sid in list(user.sessions):
            if sid != keep:
                effects.extend(self.close_session(sid, reason, now))
                effects.append(Close(sid, reason))
        return effects

    def online_accounts(self) -> frozenset[str]:
        """The keys of the accounts online now."""
        return frozenset(self._online_accounts)

    def _account_deleting(self, effect: ManageAccount, now: float) -> list[Effect]:
        key = effect.key
        nick = self._accounts.pop(key)
        self._pending_accounts.add(key)  # nobody registers it until the store is done
        effects = self.close_account(key, "account deleted", now, keep=effect.session)
        effects.extend(self.close_session(effect.session, "account deleted", now))
        self._lookalikes.discard(key)  # (close_session let go of the nick it wore)
        tombstone = f"~deleted-{self._new_token()}"
        renames = tuple(self._move_conversations(key, tombstone))
        self._known_nicks.pop(key, None)
        self._known_nicks[tombstone] = DELETED_NICK
        self._account_rooms.pop(key, None)
        self._metadata.pop(key, None)
        self._markers.pop(key, None)
        for request in [r for r in self._recent if r[0] == key]:
            del self._recent[request]  # its request ids are no one's now
        effects.extend(self._forget_in_rules(key, self._rules.values()))
        erasure = AccountErasure(key=key, tombstone=tombstone, renames=renames,
                                 erase=self.config.deleted_account_messages == "erase")
        effects.append(EraseAccount(effect.session, effect.request_id, nick, erasure))
        return effects

    def _move_conversations(self, key: str, tombstone: str) -> Iterable[tuple[str, str]]:
        """Each direct conversation of ``key`` gets a new key, ``tombstone`` in its place."""
        for old in sorted(self._dm_index.pop(key, ())):
            ends = old[1:].split(",")
            new = dm_conversation(*(tombstone if end == key else end for end in ends))
            for end in ends:
                if end != key and end in self._dm_index:
                    self._dm_index[end].discard(old)
                    self._dm_index[end].add(new)
                markers = self._markers.get(end)
                if markers is not None and old in markers:
                    markers[new] = msgspec.structs.replace(markers.pop(old), conversation=new)
                self._levels_moved(end, old, new)  # hub/notify.py
            for ids in (self._last_id, self._committed):
                if old in ids:
                    ids[new] = ids.pop(old)
            yield old, new

    @staticmethod
    def _forget_in_rules(key: str, all_rules: Iterable[RoomRules]) -> list[Effect]:
        """A deleted account is no room's operator, voice or invitee: a later account with
        its nick must not inherit them."""
        effects: list[Effect] = []
        for rules in all_rules:
            if key in rules.operators or key in rules.voiced or key in rules.invited:
                rules.operators.discard(key)
                rules.voiced.discard(key)
                rules.invited.discard(key)
                effects.append(SaveRoom(rules.settings()))
        return effects

    def account_erased(self, effect: EraseAccount, *, failed: bool) -> list[Effect]:
        """The store has forgotten the account (or ``failed`` to: the hub has already; the
        store still has it after a restart, and the asker is told ``unavailable``)."""
        self._pending_accounts.discard(effect.erasure.key)
        if failed:
            reply = self.error_effect(effect.session, PeerError(
                ErrorCode.UNAVAILABLE, "the account could not be deleted completely; ask the "
                "server's operator", effect.request_id))
        else:
            reply = Deliver(AccountDeleted(
                id=effect.request_id, account=effect.account,
                messages="erased" if effect.erasure.erase else "kept"), (effect.session,))
        return [reply, Close(effect.session, "account deleted", nick=effect.account)]
