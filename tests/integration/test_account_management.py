"""Accounts that can be managed, over real sockets: PASSWORD, RESET_PASSWORD, DELETE_ACCOUNT,
locks, and `palaver admin` against the data directory of a running server."""

from __future__ import annotations

from pathlib import Path

import pytest

from palaver.client import Client, ServerError
from palaver.client.connection import ConnectionClosed
from palaver.protocol.messages import (
    AccountDeleted,
    ChangePassword,
    DeleteAccount,
    Goodbye,
    History,
    HistoryPage,
    Join,
    Message,
    PasswordChanged,
    ResetPassword,
    Say,
)
from palaver.server.account_work import token_digest
from palaver.store.base import DELETED_NICK
from tests.integration.conftest import ServerFactory
from tests.integration.test_accounts import PASSWORD, login, register
from tests.integration.test_operations_cli import clean_env, palaver

NEW = "a brand new password"


async def connect_to(port: int, nick: str | None = None) -> Client:
    return await Client.connect("127.0.0.1", port, nick)


async def bye_of(client: Client) -> str:
    goodbye = await client.wait_for(Goodbye)
    with pytest.raises(ConnectionClosed):
        while True:
            await client.next_event()
    return goodbye.reason


async def refused(port: int, nick: str, password: str) -> str:
    with pytest.raises(ServerError) as caught:
        await login(port, nick, password)
    return caught.value.code


async def test_change_password_then_only_the_new_one_logs_in(
        start_server: ServerFactory) -> None:
    server = await start_server()
    await register(lambda nick: connect_to(server.port, nick), "alice")
    laptop, _ = await login(server.port, "alice", PASSWORD)
    phone, _ = await login(server.port, "alice", PASSWORD)
    with pytest.raises(ServerError) as wrong:
        await laptop.request(ChangePassword(old="not the password", new=NEW))
    assert wrong.value.code == "auth_failed"
    changed = await laptop.request(ChangePassword(old=PASSWORD, new=NEW))
    assert changed == PasswordChanged(id=changed.id, account="alice")
    assert await bye_of(phone) == "password changed"  # the other session is closed
    await laptop.request(Join(room="#dev"))  # this one stays
    assert await refused(server.port, "alice", PASSWORD) == "auth_failed"
    again, welcome = await login(server.port, "alice", NEW)
    assert welcome.account
    for client in (laptop, again):
        await client.close()


async def test_a_reset_token_from_the_cli_is_used_once(start_server: ServerFactory,
                                                       tmp_path: Path) -> None:
    server = await start_server()
    await register(lambda nick: connect_to(server.port, nick), "alice")
    env = clean_env()
    code, token, err = await palaver("admin", "--data-dir", str(tmp_path), "reset-password",
                                     "alice", env=env)
    assert code == 0, err
    token = token.strip()
    stored = await server.store.get_account("alice")  # type: ignore[union-attr]
    assert stored is not None and token_digest(token) not in stored.password_hash
    online, _ = await login(server.port, "alice", PASSWORD)
    stranger = await Client.connect("127.0.0.1", server.port)  # no HELLO: before login
    with pytest.raises(ServerError) as bad:
        await stranger.request(ResetPassword(nick="alice", token="wrong" + token, new=NEW))
    assert bad.value.code == "invalid_token"
    done = await stranger.request(ResetPassword(nick="alice", token=token, new=NEW))
    assert isinstance(done, PasswordChanged) and done.account == "alice"
    assert await bye_of(online) == "password changed"
    with pytest.raises(ServerError) as used:
        await stranger.request(ResetPassword(nick="alice", token=token, new="yet another one"))
    assert used.value.code == "invalid_token"  # single use
    client, _ = await login(server.port, "alice", NEW)
    for c in (client, stranger):
        await c.close()


async def test_an_expired_reset_token_is_refused(start_server: ServerFactory) -> None:
    clock = [1_800_000_000.0]
    server = await start_server()
    assert server.core is not None
    server.core._wall_clock = lambda: clock[0]  # the core reads the time of the reset here
    await register(lambda nick: connect_to(server.port, nick), "alice")
    store = server.store
    assert store is not None
    await store.set_reset_token("alice", token_digest("tok"), "2027-01-15T08:00:00.000Z")
    clock[0] = 1_800_000_000.0 + 3_600  # 2027-01-15T09:00:00Z: an hour too late
    stranger = await Client.connect("127.0.0.1", server.port)
    with pytest.raises(ServerError) as late:
        await stranger.request(ResetPassword(nick="alice", token="tok", new=NEW))
    assert late.value.code == "invalid_token"
    await stranger.close()


async def test_delete_account_keeps_messages_as_from_deleted_user(
        start_server: ServerFactory) -> None:
    server = await start_server()
    await register(lambda nick: connect_to(server.port, nick), "alice")
    alice, _ = await login(server.port, "alice", PASSWORD)
    other, _ = await login(server.port, "alice", PASSWORD)
    bob = await connect_to(server.port, "bob")
    await alice.request(Join(room="#dev"))
    await bob.request(Join(room="#dev"))
    await alice.request(Say(room="#dev", text="I was here"))
    with pytest.raises(ServerError) as wrong:
        await alice.request(DeleteAccount(password="not the password"))
    assert wrong.value.code == "auth_failed"
    deleted = await alice.request(DeleteAccount(password=PASSWORD))
    assert isinstance(deleted, AccountDeleted) and deleted.messages == "kept"
    assert await bye_of(alice) == "account deleted"
    assert await bye_of(other) == "account deleted"
    page = await bob.request(History(room="#dev"))
    assert isinstance(page, HistoryPage)
    [kept] = [m for m in page.messages if m.text == "I was here"]
    assert kept.sender == DELETED_NICK
    assert await refused(server.port, "alice", PASSWORD) == "auth_failed"
    newcomer = await connect_to(server.port, "alice")  # the nick is free
    for client in (bob, newcomer):
        await client.close()


async def test_delete_account_may_erase_its_messages(start_server: ServerFactory) -> None:
    server = await start_server(deleted_account_messages="erase")
    await register(lambda nick: connect_to(server.port, nick), "alice")
    alice, _ = await login(server.port, "alice", PASSWORD)
    await alice.request(Join(room="#dev"))
    said = await alice.request(Say(room="#dev", text="forget me"))
    assert isinstance(said, Message)
    deleted = await alice.request(DeleteAccount(password=PASSWORD))
    assert isinstance(deleted, AccountDeleted) and deleted.messages == "erased"
    await alice.close()
    page = await server.store.page("#dev")  # type: ignore[union-attr]
    assert [(m.sender, m.text, m.deleted) for m in page.messages] == [(DELETED_NICK, "", True)]


async def test_a_locked_account_is_refused_and_its_sessions_end(
        start_server: ServerFactory, tmp_path: Path) -> None:
    server = await start_server(lock_check_interval=0)  # the poll is run by hand below
    await register(lambda nick: connect_to(server.port, nick), "alice")
    online, _ = await login(server.port, "alice", PASSWORD)
    code, out, err = await palaver("admin", "--data-dir", str(tmp_path), "lock", "alice",
                                   env=clean_env())
    assert code == 0, err
    assert await refused(server.port, "alice", PASSWORD) == "account_locked"
    from palaver.server.account_work import close_locked

    assert server.core is not None
    await close_locked(server.core)  # what the poll does every lock_check_interval
    assert await bye_of(online) == "account locked"
    code, out, _ = await palaver("admin", "--data-dir", str(tmp_path), "accounts",
                                 env=clean_env())
    assert code == 0
    [header, row] = out.splitlines()
    assert header.split() == ["NICK", "CREATED", "LAST", "SEEN", "LOCKED"]
    assert row.split()[0] == "alice" and row.split()[-1] == "locked"
    assert row.split()[1].startswith("20") and row.split()[2].startswith("20")
    code, _, _ = await palaver("admin", "--data-dir", str(tmp_path), "unlock", "alice",
                               env=clean_env())
    assert code == 0
    client, _ = await login(server.port, "alice", PASSWORD)
    await client.close()


async def test_admin_names_a_missing_account_and_lists_rooms(
        start_server: ServerFactory, tmp_path: Path) -> None:
    server = await start_server()
    await register(lambda nick: connect_to(server.port, nick), "alice", "#dev")
    env = clean_env()
    code, _, err = await palaver("admin", "--data-dir", str(tmp_path), "lock", "nobody", env=env)
    assert code == 1 and "no account nobody" in err
    code, out, _ = await palaver("admin", "--data-dir", str(tmp_path), "rooms", env=env)
    assert code == 0 and out.splitlines()[0].split()[0] == "ROOM"
    code, _, err = await palaver("admin", "--data-dir", str(tmp_path / "none"), "accounts",
                                 env=env)
    assert code == 2 and "no database" in err


async def test_admin_works_on_a_postgresql_store(
        start_server: ServerFactory, tmp_path: Path, pg_url: str) -> None:
    """The same commands on the database of the ``store`` setting (a cluster's)."""
    server = await start_server(store=pg_url)
    await register(lambda nick: connect_to(server.port, nick), "alice", "#dev")
    env = clean_env(PALAVER_STORE=pg_url)
    code, out, err = await palaver("admin", "--data-dir", str(tmp_path / "elsewhere"), "lock",
                                   "alice", env=env)
    assert code == 0, err
    assert await refused(server.port, "alice", PASSWORD) == "account_locked"
    code, out, _ = await palaver("admin", "accounts", env=env)
    assert code == 0 and out.splitlines()[1].split()[-1] == "locked"
    code, out, _ = await palaver("admin", "rooms", env=env)
    assert code == 0 and "#dev" in out
