"""The hub's account management (hub/account_management.py): PASSWORD, RESET_PASSWORD,
DELETE_ACCOUNT and closing an account's sessions — with a memory store and the core's part
played here: the verdict on a password or token, and the store's deletion."""

from __future__ import annotations

from typing import Any

from palaver.hub.effects import Close, Effect, EraseAccount, FetchHistory, ManageAccount
from palaver.hub.hub import HubConfig, StoredState
from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import (
    AccountDeleted,
    ChangePassword,
    DeleteAccount,
    Error,
    GrantOperator,
    Hello,
    History,
    Join,
    PasswordChanged,
    Presence,
    ResetPassword,
    SendDirect,
    ServerMessage,
)
from palaver.store.base import DELETED_NICK, Account, dm_conversation
from tests.unit.store_harness import StoreHarness, accounts, done


class Core(StoreHarness):
    """The store harness, with the core's verdicts on account management: ``verdict``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verdict = True
        self.asked: list[ManageAccount] = []

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, ManageAccount):
                self.effects.append(effect)
                self.asked.append(effect)
                self.apply(self.hub.account_checked(effect, verified=self.verdict,
                                                    now=self.clock.now))
            elif isinstance(effect, EraseAccount):
                self.effects.append(effect)
                done(self.store.delete_account(effect.erasure))
                self.apply(self.hub.account_erased(effect, failed=False))
            else:
                super().apply([effect])


def harness(*names: str, **config: Any) -> Core:
    h = Core(config=HubConfig(**config), stored=StoredState(accounts=accounts(*names)))
    for name in names:
        done(h.store.create_account(Account(key=name.lower(), nick=name, password_hash="h")))
    return h


def error_code(events: list[ServerMessage]) -> str:
    [event] = events
    assert isinstance(event, Error), event
    return event.code


def test_a_guest_has_no_password_to_change() -> None:
    h = harness()
    guest = h.login("guest")
    h.clear()
    h.send(guest, ChangePassword(id="p", old="whatever1", new="whatever2"))
    assert error_code(h.take(guest)) == ErrorCode.NOT_AN_ACCOUNT
    h.send(guest, DeleteAccount(id="d", password="whatever1"))
    assert error_code(h.take(guest)) == ErrorCode.NOT_AN_ACCOUNT


def test_a_new_password_follows_register_s_rules() -> None:
    h = harness("alice")
    alice = h.account("alice")
    h.clear()
    h.send(alice, ChangePassword(id="p", old="correct horse", new="short"))
    assert error_code(h.take(alice)) == ErrorCode.INVALID_PASSWORD
    assert h.asked == []


def test_changing_the_password_closes_the_account_s_other_sessions() -> None:
    h = harness("alice", "bob")
    phone, laptop = h.account("alice"), h.account("alice")
    bob = h.account("bob")
    for sid in (phone, bob):
        h.send(sid, Join(room="#dev"))
    h.clear()
    h.send(laptop, ChangePassword(id="p", old="correct horse", new="battery staple"))
    [asked] = h.asked
    assert (asked.action, asked.key, asked.secret, asked.new) == (
        "password", "alice", "correct horse", "battery staple")
    assert h.take(laptop) == [PasswordChanged(id="p", account="alice")]
    assert h.closed == {phone: "password changed"}
    assert laptop not in h.closed
    assert h.take(bob) == []  # alice is still online, on the laptop: nobody saw her go


def test_a_wrong_old_password_is_auth_failed() -> None:
    h = harness("alice")
    alice, other = h.account("alice"), h.account("alice")
    h.clear()
    h.verdict = False
    h.send(alice, ChangePassword(id="p", old="not it at all", new="battery staple"))
    assert error_code(h.take(alice)) == ErrorCode.AUTH_FAILED
    assert h.closed == {}
    assert h.take(other) == []


def test_a_reset_token_is_used_before_hello_and_closes_every_session() -> None:
    h = harness("alice")
    alice = h.account("alice")
    stranger = h.open()
    h.send(stranger, ResetPassword(id="r", nick="Alice", token="tok", new="battery staple"))
    [asked] = h.asked
    assert (asked.action, asked.key, asked.secret, asked.new) == (
        "reset", "alice", "tok", "battery staple")
    assert h.take(stranger) == [PasswordChanged(id="r", account="alice")]
    assert h.closed == {alice: "password changed"}


def test_a_bad_reset_token_is_invalid_token() -> None:
    h = harness("alice")
    stranger = h.open()
    h.verdict = False
    h.send(stranger, ResetPassword(id="r", nick="alice", token="tok", new="battery staple"))
    assert error_code(h.take(stranger)) == ErrorCode.INVALID_TOKEN
    h.send(stranger, ResetPassword(id="r", nick="alice", token="", new="battery staple"))
    assert error_code(h.take(stranger)) == ErrorCode.INVALID_TOKEN
    h.send(stranger, ResetPassword(id="r", nick="no way!", token="t", new="battery staple"))
    assert error_code(h.take(stranger)) == ErrorCode.INVALID_NICK
    assert len(h.asked) == 1  # the bad ones never reach the core


def test_an_account_resets_nothing_it_changes_its_password() -> None:
    h = harness("alice")
    alice = h.account("alice")
    h.clear()
    h.send(alice, ResetPassword(id="r", nick="alice", token="tok", new="battery staple"))
    assert error_code(h.take(alice)) == ErrorCode.ALREADY_REGISTERED


def test_deleting_an_account_ends_its_sessions_and_frees_its_nick() -> None:
    h = harness("alice", "bob")
    alice, other = h.account("alice"), h.account("alice")
    bob = h.account("bob")
    h.send(alice, Join(room="#dev"))  # alice made #dev: its operator
    h.send(bob, Join(room="#dev"))
    h.send(alice, GrantOperator(room="#dev", nick="bob"))
    h.clear()
    h.send(alice, DeleteAccount(id="d", password="correct horse"))
    assert h.take(alice) == [AccountDeleted(id="d", account="alice", messages="kept")]
    assert h.closed == {other: "account deleted", alice: "account deleted"}
    assert h.take(bob) == [Presence(nick="alice", event="quit", reason="account deleted")]
    assert done(h.store.get_account("alice")) is None
    # The nick is free: a guest may wear it, and it may be registered anew.
    guest = h.open()
    h.send(guest, Hello(version=1, nick="alice"))
    assert h.hub.nick_of(guest) == "alice"
    # Its operator status is gone from #dev's rules (a later account of the nick is no one).
    rules = h.hub._rules["#dev"]
    assert "alice" not in rules.operators and "bob" in rules.operators


def test_a_deleted_account_s_messages_may_be_erased() -> None:
    h = harness("alice", "bob", deleted_account_messages="erase")
    alice, bob = h.account("alice"), h.account("bob")
    h.send(alice, SendDirect(to="bob", text="a secret"))
    h.clear()
    h.send(alice, DeleteAccount(id="d", password="correct horse"))
    assert h.take(alice) == [AccountDeleted(id="d", account="alice", messages="erased")]
    [erase] = [e for e in h.effects if isinstance(e, EraseAccount)]
    assert erase.erasure.erase
    [(old, new)] = erase.erasure.renames
    assert old == dm_conversation("alice", "bob") and ",~deleted-" in new
    [kept] = done(h.store.page(new)).messages
    assert (kept.sender, kept.text, kept.deleted) == (DELETED_NICK, "", True)
    assert bob not in h.closed


def test_a_new_account_of_the_nick_never_reads_the_old_one_s_direct_messages() -> None:
    h = harness("alice", "bob")
    alice, bob = h.account("alice"), h.account("bob")
    h.send(bob, SendDirect(to="alice", text="for the old alice"))
    h.send(alice, DeleteAccount(id="d", password="correct horse"))
    h.clear()
    done(h.store.create_account(Account(key="alice", nick="alice", password_hash="h")))
    h.hub.account_created(h.open(), "alice", created=True, request_id=None)  # registered anew
    again = h.account("alice")
    h.clear()
    [fetch] = h.send(again, History(id="h", peer="bob"))
    assert isinstance(fetch, FetchHistory) and fetch.conversation == "@alice,bob"
    assert done(h.store.page(fetch.conversation)).messages == ()  # moved away: not hers


def test_close_account_ends_every_session_of_a_locked_account() -> None:
    h = harness("alice")
    alice, other = h.account("alice"), h.account("alice")
    assert h.hub.online_accounts() == {"alice"}
    effects = h.hub.close_account("alice", "account locked", h.clock.now)
    assert [e for e in effects if isinstance(e, Close)] == [
        Close(alice, "account locked"), Close(other, "account locked")]
    assert h.hub.online_accounts() == frozenset()
    assert h.hub.close_account("nobody", "account locked", h.clock.now) == []


def test_the_commands_of_the_terminal_client_and_text_door() -> None:
    from palaver.client.commands import LocalError, Send, parse_line

    assert parse_line("/password old-one new-one", None) == Send(
        ChangePassword(old="old-one", new="new-one"))
    assert parse_line("/resetpassword alice tok new-one", None) == Send(
        ResetPassword(nick="alice", token="tok", new="new-one"))
    assert parse_line("/deleteaccount my-password", None) == Send(
        DeleteAccount(password="my-password"))
    assert isinstance(parse_line("/password only-one", None), LocalError)
