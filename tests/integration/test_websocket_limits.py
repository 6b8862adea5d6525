"""The WebSocket door keeps the limits of the TCP doors before registration (docs/limits.md):
the same byte cap and the same count of refused frames, decided by the same policy object
(transports/policy.py). The rate limit over WebSocket is in test_abuse.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import aiohttp

from palaver.server.app import Server

StartServer = Callable[..., Awaitable[Server]]
WAIT = 10.0


async def frames_until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    async with asyncio.timeout(WAIT):
        while True:
            msg = await ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
                return out
            out.append(json.loads(msg.data))


async def test_too_much_before_hello_is_cut_off(start_server: StartServer) -> None:
    server = await start_server(prelogin_bytes=1_024)
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        ping = '{"type":"PING","id":"p%d","pad":"' + "x" * 280 + '"}'
        for n in range(5):  # 300 bytes each: the fourth passes 1,024
            await ws.send_str(ping % n)
        frames = await frames_until_closed(ws)
    assert [f.get("id") for f in frames if f["type"] == "PONG"] == ["p0", "p1", "p2"]
    assert frames[-1] == {"type": "BYE", "reason": "too much data before HELLO"}


async def test_junk_frames_before_hello_close_the_connection_early(
        start_server: StartServer) -> None:
    server = await start_server(prelogin_bad_frames=3)
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        for frame in ['{"nonsense": 1}', '{"type":"NOPE"}', "{]", '{"type":"HELLO"}']:
            await ws.send_str(frame)
        frames = await frames_until_closed(ws)
    assert [f["code"] for f in frames if f["type"] == "ERROR"] == \
        ["bad_frame", "unknown_type", "bad_json"]
    assert frames[-1] == {"type": "BYE", "reason": "too many bad frames before HELLO"}


async def test_after_hello_neither_cap_applies(start_server: StartServer) -> None:
    server = await start_server(prelogin_bytes=1_024, prelogin_bad_frames=2)
    port = await server.open_web(0)
    async with aiohttp.ClientSession() as http, \
            http.ws_connect(f"http://127.0.0.1:{port}/ws") as ws:
        await ws.send_str('{"type":"HELLO","version":1,"nick":"late"}')
        for _ in range(4):
            await ws.send_str("not json")
        await ws.send_str('{"type":"PING","id":"last","pad":"' + "x" * 2_000 + '"}')
        codes: list[str] = []
        async with asyncio.timeout(WAIT):
            while True:
                frame = await ws.receive_json()
                if frame["type"] == "ERROR":
                    codes.append(frame["code"])
                if frame["type"] == "PONG":
                    break
    assert codes == ["bad_json"] * 4
