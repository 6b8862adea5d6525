"""GET /metrics on the web port after real traffic on every door."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from palaver.client import Client
from palaver.protocol.messages import Message, Say, SendDirect
from palaver.server.app import Server

StartServer = Callable[..., Awaitable[Server]]
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(server: Server, accept: str | None = None) -> tuple[int, str, str]:
    headers = {"Accept": accept} if accept else {}
    async with aiohttp.ClientSession() as http, http.get(
        f"http://127.0.0.1:{server.web_port}/metrics", headers=headers,
        timeout=aiohttp.ClientTimeout(total=10),
    ) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def parse(text: str) -> Samples:
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def read_until(reader: asyncio.StreamReader, done: Callable[[bytes], bool]) -> bytes:
    seen = b""
    async with asyncio.timeout(10):
        while not done(seen):
            chunk = await reader.read(4096)
            assert chunk, seen
            seen += chunk
    return seen


async def test_metrics_after_traffic_on_every_door(start_server: StartServer) -> None:
    server = await start_server(text_sniff_timeout=0.05)
    await server.open_web(0)
    await server.open_irc(0)
    alice = await Client.connect("127.0.0.1", server.port, "alice")
    bob = await Client.connect("127.0.0.1", server.port, "bob")
    # a person with nc: silent, then greeted as a text client
    text_reader, text_writer = await asyncio.open_connection("127.0.0.1", server.port)
    await read_until(text_reader, lambda seen: len(seen) > 0)
    irc_reader, irc_writer = await asyncio.open_connection("127.0.0.1", server.irc_port)
    irc_writer.write(b"NICK ircy\r\nUSER ircy 0 * :I R C\r\n")
    await read_until(irc_reader, lambda seen: b" 001 " in seen)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{server.web_port}/ws")
        await ws.send_str('{"type":"HELLO","version":1,"nick":"webby"}')
        async with asyncio.timeout(10):
            while "WELCOME" not in (await ws.receive()).data:
                pass
        await alice.request(Say(room="#lobby", text="one"))
        await alice.request(Say(room="#lobby", text="two"))
        await alice.request(SendDirect(to="bob", text="psst"))
        assert (await bob.wait_for(Message)).text == "one"

        status, content_type, body = await scrape(server)
        await ws.close()
    assert status == 200 and content_type.startswith("text/plain; version=")
    found = parse(body)
    for door, count in {"json": 2, "text": 1, "irc": 1, "web": 1}.items():
        assert found[("palaver_connections", (("door", door),))] == count, door
    assert found[("palaver_messages_stored_total", (("kind", "room"),))] == 2
    assert found[("palaver_messages_stored_total", (("kind", "direct"),))] == 1
    # each room message reaches all five members (its sender included), and more besides
    assert found[("palaver_deliveries_total", ())] >= 2 * 5 + 1
    assert found[("palaver_store_commit_seconds_count", ())] >= 1
    assert found[("palaver_store_commit_seconds_sum", ())] > 0
    assert found[("palaver_store_batch_size_sum", ())] == 3
    assert found[("palaver_send_queue_drops_total", (("door", "json"),))] == 0
    assert found[("palaver_build_info", (("version", "0.1.0"),))] == 1
    assert ("process_cpu_seconds_total", ()) in found
    for writer in (text_writer, irc_writer):
        writer.close()
    await alice.close()
    await bob.close()


async def test_openmetrics_when_asked_for(start_server: StartServer) -> None:
    server = await start_server()
    await server.open_web(0)
    status, content_type, body = await scrape(server, "application/openmetrics-text")
    assert status == 200 and content_type.startswith("application/openmetrics-text")
    assert body.endswith("# EOF\n")


@pytest.mark.parametrize(("settings", "status"), [
    ({"metrics_from": ("192.0.2.0/24",)}, 403),  # not for 127.0.0.1
    ({"metrics_from": ()}, 200),  # for everyone
    ({"metrics": False}, 404),
])
async def test_who_gets_metrics(
    start_server: StartServer, settings: dict[str, object], status: int
) -> None:
    server = await start_server(**settings)
    await server.open_web(0)
    got, _, body = await scrape(server)
    assert got == status, body
    if status == 403:
        assert "metrics_from" in body
