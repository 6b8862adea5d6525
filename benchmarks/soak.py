"""Soak: mixed clients chatting through fault proxies while the server is killed -9 and restarted.

    .venv/bin/python -m benchmarks.soak --minutes 5

How this works: ``palaver serve`` runs as a subprocess on a temporary data dir, on fixed free
ports (JSON lines/text, web, IRC) so a restart comes back where the proxies point. Every client
goes through a :class:`~tests.integration.faultproxy.FaultProxy` that resets random connections
every few seconds; every ``--kill-every`` seconds (jittered) the server gets SIGKILL and is
started again on the same data dir. The clients:

- JSON senders (:class:`ResilientClient`): CHATs with unique texts, a few in flight, resent
  with the same ids after each reconnect; the acknowledgements are recorded.
- WebSocket senders (aiohttp through the web proxy): the same, with a small resend loop here.
- IRC and plain-text senders: PRIVMSG / plain lines, reconnecting; neither door has request ids,
  so what was in flight at a cut may be lost, never stored twice.
- JSON receivers (:class:`ResilientClient`, resuming with ``since`` and filling gaps).

At the end (no more cuts or kills) every sender settles, then the audit: each acknowledged
message is stored exactly once, with the acknowledged id and text; no text is stored twice; and
each receiver saw the room's stored messages in order, each once, none missing. Prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from palaver.client import Backoff, Client, ResilientClient
from palaver.protocol.messages import History, HistoryPage, Message
from tests.integration.faultproxy import FaultProxy

ROOM = "#lobby"
FAST = Backoff(initial=0.05, maximum=1.0)
WINDOW = 4  # CHATs in flight per sender
CONFIG = """\
argon2_time_cost = 1
argon2_memory_kib = 8
shutdown_grace = 1.0
rate_burst = 100000
rate_per_second = 100000.0
"""
READY = re.compile(rb"listening: irc ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServeProcess:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {"json": free_port(), "web": free_port(), "irc": free_port()}
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def start(self) -> None:
        config = self.data_dir / "soak.toml"
        config.write_text(CONFIG)
        self.starts += 1
        for _ in range(50):  # the ports may still be held for a moment after a kill
            with (self.data_dir / f"stderr-{self.starts}.log").open("wb") as stderr:
                self.process = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "palaver.cli", "serve",
                    "--port", str(self.ports["json"]), "--web-port", str(self.ports["web"]),
                    "--irc-port", str(self.ports["irc"]), "--data-dir", str(self.data_dir),
                    "--config", str(config), stdout=asyncio.subprocess.PIPE, stderr=stderr)
            assert self.process.stdout is not None
            async with asyncio.timeout(30):
                while line := await self.process.stdout.readline():
                    if READY.search(line):
                        return
            await self.process.wait()
            await asyncio.sleep(0.2)  # (a bounded retry, not a synchronisation)
        raise RuntimeError("the server would not start: see " + str(self.data_dir))

    async def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 15)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class Tally:
    acked: dict[str, Message] = field(default_factory=dict)  # text -> acknowledging MESSAGE
    sent_unacked: Counter[str] = field(default_factory=Counter)  # door -> lines sent, no ack
    per_door: Counter[str] = field(default_factory=Counter)  # acknowledged per door
    reconnects: Counter[str] = field(default_factory=Counter)


async def json_sender(name: str, port: int, tally: Tally, stop: asyncio.Event) -> None:
    client = await ResilientClient.connect("127.0.0.1", port, name, backoff=FAST)
    in_flight: set[asyncio.Future[Message]] = set()
    n = 0
    try:
        while not stop.is_set():
            while len(in_flight) < WINDOW and not stop.is_set():
                n += 1
                in_flight.add(await client.send_chat(ROOM, f"{name}-{n}"))
            done, in_flight = await asyncio.wait(in_flight, timeout=1,
                                                 return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                ack = future.result()
                tally.acked[ack.text] = ack
                tally.per_door["json"] += 1
        for future in in_flight:  # settle what is still out: resent until acknowledged
            ack = await asyncio.wait_for(future, 120)
            tally.acked[ack.text] = ack
            tally.per_door["json"] += 1
    finally:
        tally.reconnects["json"] += client.reconnects
        await client.close()


async def ws_sender(name: str, port: int, tally: Tally, stop: asyncio.Event) -> None:
    """A WebSocket client that resends its unanswered CHATs (same ids) after each reconnect."""
    pending: dict[str, str] = {}  # id -> text, in the order sent
    token: str | None = None
    n = 0
    encoder = msgspec.json.Encoder()
    async with aiohttp.ClientSession() as http:
        while not stop.is_set() or pending:
            try:
                async with http.ws_connect(f"http://127.0.0.1:{port}/ws",
                                           timeout=aiohttp.ClientWSTimeout(ws_close=10)) as ws:
                    hello: dict[str, Any] = {"type": "HELLO", "version": 1, "nick": name}
                    if token:
                        hello["token"] = token
                    await ws.send_str(encoder.encode(hello).decode())
                    welcome = msgspec.json.decode((await ws.receive(timeout=10)).data)
                    if welcome.get("type") != "WELCOME":
                        raise ConnectionError(str(welcome))
                    token = welcome.get("token") or token
                    for rid, text in list(pending.items()):
                        await ws.send_str(encoder.encode(
                            {"type": "CHAT", "room": ROOM, "text": text, "id": rid}).decode())
                    while not stop.is_set() or pending:
                        while len(pending) < WINDOW and not stop.is_set():
                            n += 1
                            rid, text = f"w{n}", f"{name}-{n}"
                            pending[rid] = text
                            await ws.send_str(encoder.encode(
                                {"type": "CHAT", "room": ROOM, "text": text, "id": rid}).decode())
                        msg = await ws.receive(timeout=30)
                        if msg.type is not aiohttp.WSMsgType.TEXT:
                            raise ConnectionError(str(msg.type))
                        frame = msgspec.json.decode(msg.data)
                        if frame.get("type") == "MESSAGE" and frame.get("id") in pending:
                            del pending[frame["id"]]
                            tally.acked[frame["text"]] = msgspec.convert(
                                frame, Message, from_attributes=False)
                            tally.per_door["ws"] += 1
            except (aiohttp.ClientError, ConnectionError, OSError, TimeoutError, ValueError):
                tally.reconnects["ws"] += 1
                await asyncio.sleep(random.uniform(0.05, 0.5))  # (backoff)


async def line_sender(door: str, name: str, port: int, tally: Tally, stop: asyncio.Event) -> None:
    """IRC or plain text: no request ids, so nothing is resent (at most once, not exactly)."""
    n = 0
    while not stop.is_set():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
            if door == "irc":
                writer.write(f"NICK {name}\r\nUSER {name} 0 * :{name}\r\nJOIN {ROOM}\r\n".encode())
            else:
                writer.write(f"{name}\n".encode())
            drain = asyncio.create_task(_drain(reader))
            while not stop.is_set() and not drain.done():
                n += 1
                text = f"{name}-{n}"
                writer.write((f"PRIVMSG {ROOM} :{text}\r\n" if door == "irc" else
                              f"{text}\n").encode())
                await writer.drain()
                tally.sent_unacked[door] += 1
                await asyncio.sleep(0.02)  # (pacing, a few lines per second)
            drain.cancel()
            writer.transport.abort()
        except (ConnectionError, OSError, TimeoutError):
            pass
        tally.reconnects[door] += 1
        await asyncio.sleep(random.uniform(0.05, 0.5))  # (backoff)


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(65_536):
        pass


async def receiver(name: str, port: int, seen: list[int], stop: asyncio.Event) -> int:
    client = await ResilientClient.connect("127.0.0.1", port, name, backoff=FAST)
    try:
        async for event in client.events():
            if isinstance(event, Message) and event.room == ROOM:
                seen.append(event.msg_id)
    finally:
        reconnects = client.reconnects
    return reconnects


async def stored(port: int) -> list[Message]:
    async with await Client.connect("127.0.0.1", port, "auditor") as reader:
        after, out = 0, list[Message]()
        while True:
            page = await reader.request(History(room=ROOM, after=after, limit=200))
            assert isinstance(page, HistoryPage)
            out.extend(page.messages)
            if not page.more or not page.messages:
                return out
            after = page.messages[-1].msg_id


async def soak(minutes: float, kill_every: float, cut_every: float, seed: int) -> int:
    rng = random.Random(seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="palaver-soak-") as tmp:
        serve = ServeProcess(Path(tmp))
        await serve.start()
        proxies = {door: await FaultProxy.start(port) for door, port in serve.ports.items()}
        tally, stop = Tally(), asyncio.Event()
        seen: dict[str, list[int]] = {f"rcv{i}": [] for i in range(3)}
        receivers = {name: asyncio.create_task(receiver(name, proxies["json"].port, ids, stop))
                     for name, ids in seen.items()}
        senders = [
            *(json_sender(f"json{i}", proxies["json"].port, tally, stop) for i in range(4)),
            *(ws_sender(f"web{i}", proxies["web"].port, tally, stop) for i in range(2)),
            line_sender("irc", "irc0", proxies["irc"].port, tally, stop),
            line_sender("text", "text0", proxies["json"].port, tally, stop),
        ]
        tasks = [asyncio.create_task(s) for s in senders]
        kills = 0
        deadline = started + minutes * 60
        next_kill = time.monotonic() + kill_every * rng.uniform(0.5, 1.5)
        while time.monotonic() < deadline:
            await asyncio.sleep(cut_every * rng.uniform(0.5, 1.5))  # (chaos pacing)
            rng.choice(list(proxies.values())).cut()
            if time.monotonic() >= next_kill:
                await serve.kill9()
                kills += 1
                await serve.start()
                next_kill = time.monotonic() + kill_every * rng.uniform(0.5, 1.5)
            print(f"  {time.monotonic() - started:6.0f}s acked={len(tally.acked)} kills={kills}"
                  f" cuts={sum(p.cuts for p in proxies.values())}", flush=True)
        chaos_seconds = time.monotonic() - started
        stop.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 300)
        failures = [r for r in results if isinstance(r, BaseException)]
        history = await stored(serve.ports["json"])
        # Receivers: every stored message up to the last, in order, each once.
        last = history[-1].msg_id if history else 0
        async with asyncio.timeout(120):
            while any((ids[-1] if ids else 0) < last for ids in seen.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.1)  # a bounded poll of the receivers. lists
        for task in receivers.values():
            task.cancel()
        await asyncio.gather(*receivers.values(), return_exceptions=True)
        cuts = sum(p.cuts for p in proxies.values())
        for proxy in proxies.values():
            await proxy.close()
        await serve.stop()

    problems: list[str] = [f"sender failed: {f!r}" for f in failures]
    texts = Counter(m.text for m in history)
    problems += [f"{t!r} stored {c} times" for t, c in texts.items() if c > 1]
    by_text = {m.text: m for m in history}
    for text, ack in tally.acked.items():
        got = by_text.get(text)
        if got is None or got.msg_id != ack.msg_id:
            problems.append(f"acknowledged {text!r} (#{ack.msg_id}) stored as {got}")
    ids = [m.msg_id for m in history]
    for name, got_ids in seen.items():
        first = got_ids[0] if got_ids else 0
        expected = [i for i in ids if i >= first]
        if got_ids != expected:
            missing = sorted(set(expected) - set(got_ids))[:5]
            problems.append(f"{name}: saw {len(got_ids)} (in order: {got_ids == sorted(got_ids)})"
                            f" of {len(expected)}; missing e.g. {missing}")
    print(f"\nsoak: {chaos_seconds / 60:.1f} min of chaos, {kills} kill -9 + restart, "
          f"{cuts} connection resets")
    print(f"  acknowledged (exactly once): json {tally.per_door['json']}, "
          f"websocket {tally.per_door['ws']}")
    print(f"  sent without ids (at most once): irc {tally.sent_unacked['irc']}, "
          f"text {tally.sent_unacked['text']}; stored in all {len(history)}")
    print(f"  stored msgs/s over the run: {len(history) / chaos_seconds:.0f}")
    print(f"  reconnects: {dict(tally.reconnects)}; receivers each saw "
          f"{[len(v) for v in seen.values()]}")
    if problems:
        print(f"\nFAILED: {len(problems)} problems")
        for problem in problems[:20]:
            print("  " + problem)
        return 1
    print("  OK: every acknowledged message stored exactly once; no text stored twice; "
          "every receiver saw every message, in order")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds (jittered)")
    parser.add_argument("--cut-every", type=float, default=2.0, help="seconds (jittered)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(asyncio.run(soak(args.minutes, args.kill_every, args.cut_every, args.seed)))


if __name__ == "__main__":
    main()
