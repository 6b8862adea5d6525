"""The real server on the PostgreSQL store (``store = "postgresql://..."``): what is said before
a restart is history after it, over real sockets, with nothing written to the data dir's SQLite.

The database is the test server of tests/pg_server.py (skipped when PostgreSQL is not there).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from palaver.client import Client
from palaver.protocol.messages import (
    PROTOCOL_VERSION,
    Hello,
    History,
    HistoryPage,
    Message,
    Register,
    Registered,
    Say,
    Search,
    SearchResults,
    SendDirect,
    Welcome,
)
from palaver.server.app import DATABASE_FILE, open_store, running
from palaver.server.config import Settings, load_settings
from palaver.store.postgres import PostgresStore

PASSWORD = "correct horse battery"


def settings(tmp_path: Path, url: str) -> Settings:
    return Settings(port=0, web_port=0, irc_port=0, data_dir=str(tmp_path), store=url,
                    argon2_time_cost=1, argon2_memory_kib=8, shutdown_grace=1.0)


async def history(client: Client, **where: str) -> list[tuple[int, str, str]]:
    page = await client.request(History(**where, limit=50))  # type: ignore[arg-type]
    assert isinstance(page, HistoryPage) and not page.more
    return [(m.msg_id, m.sender, m.text) for m in page.messages]


async def test_history_survives_a_restart_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    config = settings(tmp_path, pg_url)
    assert isinstance(open_store(config), PostgresStore)
    async with running(config) as server:
        alice = await Client.connect("127.0.0.1", server.port, "alice")
        registered = await alice.request(Register(nick="alice", password=PASSWORD))
        assert isinstance(registered, Registered)
        bob = await Client.connect("127.0.0.1", server.port, "bob")
        said = await alice.request(Say(id=uuid.uuid4().hex, room="#lobby", text="hello, world"))
        assert isinstance(said, Message) and said.msg_id == 1
        direct = await bob.request(SendDirect(id=uuid.uuid4().hex, to="alice", text="psst"))
        assert isinstance(direct, Message)
        await alice.quit()
        await bob.quit()
    assert not (tmp_path / DATABASE_FILE).exists()  # it all went to PostgreSQL

    async with running(config) as server:
        alice = await Client.connect("127.0.0.1", server.port)
        welcome = await alice.request(Hello(version=PROTOCOL_VERSION, nick="alice",
                                            password=PASSWORD))
        assert isinstance(welcome, Welcome) and welcome.account
        assert await history(alice, room="#lobby") == [(1, "alice", "hello, world")]
        found = await alice.request(Search(query="WORLD"))
        assert isinstance(found, SearchResults)
        assert [(hit.msg_id, hit.text) for hit in found.hits] == [(1, "hello, world")]
        again = await alice.request(Say(id=uuid.uuid4().hex, room="#lobby", text="again"))
        assert isinstance(again, Message) and again.msg_id == 2  # ids go on from the store
        await alice.quit()


def test_the_store_setting_takes_a_postgresql_url(tmp_path: Path) -> None:
    url = "postgresql://palaver@db.example:5432/palaver"
    assert load_settings(None, environ={"PALAVER_STORE": url}).store == url
    toml = tmp_path / "palaver.toml"
    toml.write_text(f'store = "{url}"\n')
    assert load_settings(toml, environ={}).store == url
    assert load_settings(toml, environ={}, store="memory").store == "memory"  # the flag wins
    from palaver.cli import _build_parser, _flag_settings

    flags = _flag_settings(_build_parser().parse_args(["serve", "--store", url]))
    assert load_settings(None, environ={}, **flags).store == url
    from palaver.server.config import ConfigError

    try:
        load_settings(None, environ={"PALAVER_STORE": "mysql://x"})
    except ConfigError as exc:
        assert "store" in str(exc) and "postgresql://" in str(exc)
    else:
        raise AssertionError("mysql:// was taken")
