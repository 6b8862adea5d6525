"""`palaver serve --workers N` as real processes: N nodes on one port (SO_REUSEPORT), one
PostgreSQL, one Redis; refused, with the reason, without them."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from pathlib import Path

from palaver.client import Client
from palaver.protocol.messages import Message, Say
from tests.redis_server import RedisServer

LISTENING = re.compile(rb"json-lines tcp://127\.0\.0\.1:(\d+)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(*flags: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "serve", *flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_workers_without_postgresql_are_refused(tmp_path: Path) -> None:
    process = await serve("--workers", "2", "--port", str(free_port()), "--data-dir",
                          str(tmp_path))
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"need a PostgreSQL store" in stderr and b"SQLite" in stderr


async def test_two_workers_share_a_port_and_their_rooms(tmp_path: Path, pg_url: str,
                                                        redis_server: RedisServer) -> None:
    port = free_port()
    process = await serve("--workers", "2", "--port", str(port), "--web-port", "0",
                          "--irc-port", "0", "--data-dir", str(tmp_path), "--store", pg_url,
                          "--bus", redis_server.url, "--node-id", "w")
    try:
        assert process.stdout is not None
        ports = []
        for _ in range(2):  # each worker says where it listens: the same port
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            match = LISTENING.search(line)
            assert match, line
            ports.append(int(match.group(1)))
        assert ports == [port, port]
        # The kernel spreads connections over the workers by their addresses: with 16 clients
        # all on one worker has a chance of 2^-15; the logs below show both were used.
        clients = [await Client.connect("127.0.0.1", port, f"user{n}") for n in range(16)]
        for n, client in enumerate(clients):
            said = await client.request(Say(id=f"m{n}", room="#lobby", text=f"from {n}"))
            assert isinstance(said, Message)
        for client in clients:
            texts = set()
            while len(texts) < len(clients):
                texts.add((await client.wait_for(Message)).text)
            assert texts == {f"from {n}" for n in range(len(clients))}
        for client in clients:
            await client.quit()
        logs = {name: (tmp_path / "logs" / f"palaver-{name}.log").read_text()
                for name in ("w-1", "w-2")}
        assert all("joined from" in text for text in logs.values()), logs
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
