"""Fixtures that run the real server on 127.0.0.1, port 0, with a temporary data dir."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from palaver.client import Client
from palaver.server.app import Server, running
from palaver.server.config import Settings

ServerFactory = Callable[..., Awaitable[Server]]


@pytest.fixture
async def start_server(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    """Start a server with settings overrides; every server started is stopped at the end."""
    stack: list[Any] = []

    async def start(**overrides: Any) -> Server:
        # Cheap Argon2 parameters: the tests check logic, not hashing cost.
        # The web door is off unless a test opens it (server.open_web(0) binds any free port).
        # The rate limit is lifted too: many tests send bursts; tests of the limits
        # (test_abuse.py) pass their own.
        overrides = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "web_port": 0,
                     "irc_port": 0,  # IRC too: server.open_irc(0)
                     "rate_burst": 1_000_000, "rate_per_second": 1_000_000.0, **overrides}
        settings = Settings(port=0, data_dir=str(tmp_path), **overrides)
        context = running(settings)
        server = await context.__aenter__()
        stack.append(context)
        return server

    yield start
    for context in reversed(stack):
        await context.__aexit__(None, None, None)


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server()


@pytest.fixture
async def connect(server: Server) -> AsyncIterator[Callable[..., Awaitable[Client]]]:
    """Connect clients (with a nick: registered) to the default server; closed at the end."""
    clients: list[Client] = []

    async def open_client(nick: str | None = None) -> Client:
        client = await Client.connect("127.0.0.1", server.port, nick)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()
