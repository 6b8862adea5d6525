"""``palaver chat`` in step 2: room history on /join, accounts, and a server restart survived."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from palaver.client import Client
from palaver.protocol.messages import History, HistoryPage, Join, Say
from palaver.server.app import Server, running
from tests.integration.test_resilient_client import settings_for
from tests.integration.test_terminal_client import STAMP, TIMEOUT, Chat, run_chat

Connect = Callable[..., Awaitable[Client]]
PASSWORD = "correct horse battery"


@pytest.fixture
async def chats() -> AsyncIterator[list[Chat]]:
    started: list[Chat] = []
    yield started
    for chat in started:
        if chat.process.returncode is None:
            chat.process.kill()
            await chat.process.wait()


def said(out: str, room_prefix: str = "") -> list[str]:
    """The texts of the chat lines in ``out``, in order."""
    return [m.group(2) for line in out.splitlines()
            if (m := re.fullmatch(rf"{STAMP} {re.escape(room_prefix)}<(\w+)> (.*)", line))]


async def test_join_shows_the_last_50_messages_once(server: Server, connect: Connect) -> None:
    alice = await connect("alice")
    await alice.request(Join(room="#dev"))
    for n in range(60):
        await alice.request(Say(room="#dev", text=f"d{n}"))
    code, out, err = await run_chat(server.port, "/join #dev\nhello\n", "--nick", "bob")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    joined = lines.index("* you joined #dev (2 here: alice, bob)")
    assert said("\n".join(lines[joined + 1:])) == [f"d{n}" for n in range(10, 60)] + ["hello"]


async def test_join_of_an_empty_room_and_history_of_a_room_rejoined(server: Server) -> None:
    code, out, _ = await run_chat(
        server.port, "/join #new\nfirst\n/leave\n/join #new\n", "--nick", "bob")
    assert code == 0
    lines = out.splitlines()
    assert lines[-2] == "* you joined #new (1 here: bob)"
    assert said(lines[-1]) == ["first"]  # shown again: the history of the room rejoined
    assert said(out) == ["first", "first"]


async def test_register_then_log_in_with_a_password(server: Server) -> None:
    code, out, err = await run_chat(server.port, f"/register {PASSWORD}\n", "--nick", "bob")
    assert (code, err) == (0, "")
    assert "* bob is now an account: log in with --password" in out.splitlines()
    code, out, err = await run_chat(server.port, "hi\n", "--nick", "bob")
    assert code == 1 and "(nick_registered)" in err
    code, out, err = await run_chat(server.port, "hi\n", "--nick", "bob", "--password", PASSWORD)
    assert (code, err) == (0, "")
    assert said(out) == ["hi"]
    env = {**os.environ, "PALAVER_PASSWORD": "wrong password"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "chat", "--port", str(server.port), "--nick", "bob",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env)
    _, err_bytes = await asyncio.wait_for(process.communicate(b"hi\n"), TIMEOUT)
    assert process.returncode == 1
    assert err_bytes.decode() == "palaver: wrong nick or password (auth_failed)\n"


async def test_register_needs_a_password(server: Server) -> None:
    code, out, _ = await run_chat(server.port, "/register\n/register   \n", "--nick", "bob")
    assert code == 0
    assert out.splitlines()[-2:] == ["! usage: /register password"] * 2


async def test_chat_survives_a_server_restart(tmp_path: Path, chats: list[Chat]) -> None:
    settings = settings_for(tmp_path)
    async with running(settings) as first:
        port = first.port
        bob = await Chat.start(port, "--nick", "bob")
        chats.append(bob)
        await bob.expect(r"\* you joined #lobby .*")
        await bob.type("before the restart")
        await bob.expect(rf"{STAMP} <bob> before the restart")
    await bob.expect(r"\* disconnected: server shutting down")
    await bob.expect(r"\* reconnecting in \d+\.\ds \(attempt 1\)")
    await bob.type("typed while away")  # waits, then goes out once the server is back
    async with running(msgspec.structs.replace(settings, port=port)):
        await bob.expect(r"\* reconnected as bob")
        await bob.expect(rf"{STAMP} <bob> typed while away")
        async with await Client.connect("127.0.0.1", port, "alice") as alice:
            await alice.request(Say(room="#lobby", text="welcome back"))
            await bob.expect(rf"{STAMP} <alice> welcome back")
            page = await alice.request(History(room="#lobby"))
            assert isinstance(page, HistoryPage)
            assert [m.text for m in page.messages] == [
                "before the restart", "typed while away", "welcome back"]
        code, rest, err = await bob.finish()
    assert (code, err) == (0, "")
    out = "\n".join([*bob.seen, rest])
    assert said(out) == ["before the restart", "typed while away", "welcome back"]
    assert "* you joined #lobby" not in "\n".join(bob.seen[bob.seen.index(
        "* reconnected as bob"):])  # the rejoin is not news
