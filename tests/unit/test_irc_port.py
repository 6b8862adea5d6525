"""The IRC door's server name (the server_name setting, or the machine's host name) and its
connections: what they hold, and the close a refused login asks for."""

from __future__ import annotations

import asyncio
import socket
import sys

import pytest

from palaver.hub import Hub
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.messages import Error, Goodbye, Hello
from palaver.server.config import ConfigError, Settings, load_settings
from palaver.server.core import Connection, ServerCore
from palaver.server.liveness import Timeouts
from palaver.server.passwords import Passwords
from palaver.store.memory import MemoryStore
from palaver.transports.irc_port import IrcConnection, host_name
from palaver.transports.stream import StreamConnection


def test_server_name_is_a_setting_checked_like_a_host_name() -> None:
    assert Settings().server_name is None
    assert load_settings(environ={"PALAVER_SERVER_NAME": "irc.example.org"}).server_name == (
        "irc.example.org")
    for bad in ("irc example", ":irc", "irc\r\nPRIVMSG", "irc\n", "-irc", "x" * 64):
        with pytest.raises(ConfigError, match="server_name"):
            load_settings(environ={"PALAVER_SERVER_NAME": bad})


def test_the_default_server_name_is_the_host_name() -> None:
    name = socket.gethostname()
    assert host_name() in (name, "palaver")
    assert host_name() == name or not name.replace("-", "").replace(".", "").isalnum()


def core() -> ServerCore:
    return ServerCore(Hub(), MemoryStore(), Passwords(time_cost=1, memory_kib=8),
                      timeouts=Timeouts(), send_queue_limit=65_536)


async def test_an_irc_connection_is_no_bigger_than_any_stream_connection() -> None:
    server = core()
    conn = IrcConnection(server)
    assert isinstance(conn.dialect, IrcDialect) and conn.dialect.nick_of is conn
    assert sys.getsizeof(conn) == sys.getsizeof(StreamConnection(server, conn.dialect))


async def test_a_refused_login_asks_the_core_for_the_close_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, asked = core(), []
    both_run = asyncio.get_running_loop().create_future()

    def cut_off(conn: Connection, reason: str) -> None:
        asked.append((conn, reason))
        if not both_run.done():
            both_run.set_result(None)  # a second call, if any, was queued before our wakeup

    monkeypatch.setattr(server, "cut_off", cut_off)
    conn = IrcConnection(server, "irc.test")
    [hello] = conn.dialect.receive_data(b"PASS wrong\r\nNICK ann\r\nUSER ann 0 * :A\r\n")
    assert isinstance(hello, Hello)
    refusal = Error(id=hello.id, code=ErrorCode.AUTH_FAILED, message="wrong nick or password")
    assert conn.encode(refusal) == b":irc.test 464 * :Password incorrect\r\n"
    assert conn.encode(Goodbye(reason="Password incorrect")) == (
        b"ERROR :Closing link: * (Password incorrect)\r\n")
    await both_run
    assert asked == [(conn, "Password incorrect")]
