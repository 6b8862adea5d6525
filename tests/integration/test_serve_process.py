"""`palaver serve` as a real process: startup line, logs, Ctrl+C / SIGTERM, bad config."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from palaver.client import Client
from palaver.protocol.messages import Goodbye, Say

LISTENING = re.compile(rb"json-lines tcp://127\.0\.0\.1:(\d+)")


class ServeProcess:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port


async def _start(data_dir: Path, *extra: str) -> ServeProcess:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", "--port", "0", "--web-port", "0",
        "--irc-port", "0",
        "--data-dir", str(data_dir), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 30)
    match = LISTENING.search(line)
    assert match, line
    return ServeProcess(process, int(match.group(1)))


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[ServeProcess]:
    server = await _start(tmp_path)
    yield server
    if server.process.returncode is None:
        server.process.kill()
        await server.process.wait()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_signal_stops_cleanly_with_bye(tmp_path: Path, sig: signal.Signals) -> None:
    server = await _start(tmp_path)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    await alice.request(Say(room="#lobby", text="secret words"))
    server.process.send_signal(sig)
    assert await alice.wait_for(Goodbye) == Goodbye(reason="server shutting down")
    assert await asyncio.wait_for(server.process.wait(), 30) == 0
    await alice.close()
    log = (tmp_path / "logs" / "palaver.log").read_text()
    assert "alice joined" in log and "shutting down" in log and "stopped" in log
    assert "secret words" not in log  # chat text is not logged by default
    assert server.process.stderr is not None
    assert b"Traceback" not in await server.process.stderr.read()


async def test_log_messages_logs_chat_text(tmp_path: Path) -> None:
    server = await _start(tmp_path, "--log-messages")
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    await alice.request(Say(room="#lobby", text="for the record"))
    await alice.quit()
    server.process.send_signal(signal.SIGINT)
    assert await asyncio.wait_for(server.process.wait(), 30) == 0
    assert "for the record" in (tmp_path / "logs" / "palaver.log").read_text()


async def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "palaver.toml"
    config.write_text('port = "eighty"\nmystery = 1\n')
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", "--config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert err.startswith(b"palaver: invalid setting") and b"Traceback" not in err


async def test_config_file_is_used(tmp_path: Path) -> None:
    config = tmp_path / "palaver.toml"
    config.write_text('motd = "hello from the config"\n')
    server = await _start(tmp_path, "--config", str(config))
    client = await Client.connect("127.0.0.1", server.port, "reader")
    assert client.welcome is not None and client.welcome.motd == "hello from the config"
    await client.close()
    server.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.process.wait(), 30) == 0


async def test_port_in_use_is_a_clear_error(serve: ServeProcess, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", "--port", str(serve.port), "--web-port", "0",
        "--irc-port", "0",
        "--data-dir", str(tmp_path / "second"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 1
    assert b"cannot listen on 127.0.0.1" in err and b"Traceback" not in err


async def test_a_bye_is_logged_as_leaving(tmp_path: Path) -> None:
    server = await _start(tmp_path)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    await alice.quit()
    server.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.process.wait(), 30) == 0
    assert "alice left (quit)" in (tmp_path / "logs" / "palaver.log").read_text()


async def test_a_database_from_a_newer_palaver_is_a_clear_error(tmp_path: Path) -> None:
    import sqlite3

    server = await _start(tmp_path)
    server.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(server.process.wait(), 30) == 0
    with sqlite3.connect(tmp_path / "palaver.db") as db:
        db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", "--port", "0", "--web-port", "0",
        "--irc-port", "0", "--data-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"newer palaver" in err and b"Traceback" not in err
