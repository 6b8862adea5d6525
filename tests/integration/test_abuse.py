"""Abuse on the real server (docs/limits.md): a flooder, a non-reader, a 1 MiB unterminated
line, 100 junk connections, too many connections from one address, a password guesser — each
handled while a normal client in the same room keeps chatting and receives everything.

No sleeps and no timing thresholds: every wait is on an event (a frame, the end of a stream)
and bounded; the limits are set per test so that what is waited for comes soon.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable

import aiohttp
import pytest

from palaver.client import Client
from palaver.protocol.messages import Error, Goodbye, Message, Presence, Register, Say
from palaver.server.app import Server
from palaver.server.passwords import Passwords
from palaver.transports.stream import StreamConnection
from tests.integration.raw import RawPeer

StartServer = Callable[..., Awaitable[Server]]
HELLO = b'{"type":"HELLO","version":1,"nick":"%s"}\n'
LOGIN = b'{"type":"HELLO","version":1,"nick":"%s","password":"%s","id":"h%d"}\n'
PASSWORD = "correct horse battery"
WAIT = 15.0


async def raw_from(port: int, source: str = "127.0.0.1") -> RawPeer:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawPeer(reader, writer)


def say(text: str, request_id: str | None = None) -> bytes:
    extra = f',"id":"{request_id}"' if request_id else ""
    return f'{{"type":"CHAT","room":"#lobby","text":"{text}"{extra}}}\n'.encode()


async def chat_goes_on(talker: Client, witness: Client, count: int, tag: str) -> None:
    """``talker`` says ``count`` things; each is acknowledged and ``witness`` hears them all,
    in order (other traffic, e.g. a flooder's, may come in between)."""
    for n in range(count):
        reply = await talker.request(Say(room="#lobby", text=f"{tag} {n}"))
        assert isinstance(reply, Message)
    heard: list[str] = []
    async with asyncio.timeout(WAIT):
        while len(heard) < count:
            event = await witness.next_event()
            if isinstance(event, Message) and event.sender == talker.nick:
                heard.append(event.text)
    assert heard == [f"{tag} {n}" for n in range(count)]


def connection_of(server: Server, nick: str) -> StreamConnection:
    core = server.core
    assert core is not None
    for conn in core._connections.values():
        if core.hub.nick_of(conn.sid) == nick:
            assert isinstance(conn, StreamConnection)
            return conn
    raise AssertionError(f"{nick} is not connected")


# ---------------------------------------------------------------------------- the flooder


async def test_flooder_is_paused_and_told_while_the_room_chats_on(
        start_server: StartServer) -> None:
    # Slow refill: the flooder stays paused for the whole test once its burst is spent.
    server = await start_server(rate_burst=10, rate_per_second=0.2)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    flooder = await raw_from(server.port)
    await flooder.send(HELLO % b"flooder")
    await flooder.send(b"".join(say(f"flood {n}", f"f{n}") for n in range(50)))
    refusal = None
    async with asyncio.timeout(WAIT):
        while refusal is None:
            frame = await flooder.frame()
            assert frame is not None
            if isinstance(frame, Error):
                refusal = frame
    assert refusal.code == "rate_limited"
    assert refusal.retry_after_ms is not None and refusal.retry_after_ms > 0
    conn = connection_of(server, "flooder")
    assert not conn.transport.is_reading()  # TCP backpressure, not buffering

    # The flooder keeps pushing: the server reads none of it, so the kernel's buffers fill and
    # the socket stops taking bytes, while what the server holds stays within one read.
    sock = socket.fromfd(flooder.writer.get_extra_info("socket").fileno(), socket.AF_INET,
                         socket.SOCK_STREAM)  # a duplicate: it shares the non-blocking file
    line = say("x" * 1_000)
    block = line * 64
    pushed = 0
    with pytest.raises(BlockingIOError):
        for _ in range(64 * 1_048_576 // len(block)):  # give up after 64 MB: not paused
            pushed += sock.send(block)
    sock.close()
    assert len(conn._backlog) <= 512 * 1_024
    await chat_goes_on(talker, witness, 8, "calm")
    assert not conn.transport.is_reading()
    flooder.close()
    await talker.close()
    await witness.close()


async def test_frames_over_the_limit_wait_their_turn_and_none_is_lost(
        start_server: StartServer) -> None:
    server = await start_server(rate_burst=5, rate_per_second=50.0)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    flooder = await raw_from(server.port)
    await flooder.send(HELLO % b"flooder")
    await flooder.send(b"".join(say(f"flood {n}", f"f{n}") for n in range(40)))
    acks: list[str | None] = []
    limited: list[Error] = []
    async with asyncio.timeout(WAIT):
        while len(acks) < 40:
            frame = await flooder.frame()
            assert frame is not None
            if isinstance(frame, Message) and frame.sender == "flooder":
                acks.append(frame.id)
            elif isinstance(frame, Error):
                limited.append(frame)
    assert acks == [f"f{n}" for n in range(40)]
    assert limited and all(e.code == "rate_limited" and e.retry_after_ms for e in limited)
    heard: list[str] = []
    async with asyncio.timeout(WAIT):
        while len(heard) < 40:
            event = await witness.next_event()
            if isinstance(event, Message):
                heard.append(event.text)
    assert heard == [f"flood {n}" for n in range(40)]
    flooder.close()
    await witness.close()


async def test_bad_frames_count_too(start_server: StartServer) -> None:
    server = await start_server(rate_burst=3, rate_per_second=0.2)
    peer = await raw_from(server.port)
    await peer.send(HELLO % b"junky")
    await peer.send(b"not json\n" * 10)
    codes: list[str] = []
    async with asyncio.timeout(WAIT):
        while "rate_limited" not in codes:
            frame = await peer.frame()
            assert frame is not None
            if isinstance(frame, Error):
                codes.append(frame.code)
    assert codes == ["bad_json"] * 2 + ["rate_limited"]  # HELLO took the first token
    peer.close()


# ---------------------------------------------------------------------------- the non-reader


async def test_non_reader_is_cut_off_within_bounded_data_and_the_room_hears_everything(
        start_server: StartServer) -> None:
    limit = 65_536
    server = await start_server(send_queue_limit=limit, send_queue_ceiling=2 * limit)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4_096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(HELLO % b"stuck")  # and never reads a byte
    await witness.wait_for(Presence)
    text = "y" * 3_900
    sent = 0
    cut = None
    for n in range(1_000):  # ~4 MB: the queue limit plus every buffer between, many times over
        reply = await talker.request(Say(room="#lobby", text=f"{n} {text}"))
        assert isinstance(reply, Message)
        sent += len(text)
        for event in talker.pending_events():
            if isinstance(event, Presence) and event.event == "quit":
                cut = event
        if cut is not None:
            break
    sock.close()
    assert cut == Presence(nick="stuck", event="quit", reason="send queue exceeded")
    heard = 0
    async with asyncio.timeout(WAIT):
        while heard < n + 1:
            event = await witness.next_event()
            if isinstance(event, Message):
                assert event.text.startswith(f"{heard} ")
                heard += 1
    await chat_goes_on(talker, witness, 3, "after")
    await talker.close()
    await witness.close()


# ---------------------------------------------------------------------------- 1 MiB, no newline


async def test_one_mebibyte_unterminated_line(start_server: StartServer) -> None:
    server = await start_server()
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    big = await raw_from(server.port)
    await big.send(HELLO % b"big")
    assert (await big.frame()) is not None  # WELCOME
    with pytest.raises(ConnectionResetError):
        await big.send(b'{"type":"CHAT","room":"#lobby","text":"' + b"z" * 1_048_576)
        raise ConnectionResetError  # the server may also read it all before closing
    frames = await big.frames_until_closed()
    errors = [f for f in frames if isinstance(f, Error)]
    assert [e.code for e in errors] == ["frame_too_large"]
    await chat_goes_on(talker, witness, 3, "fine")
    quits = [e for e in witness.pending_events() + talker.pending_events()
             if isinstance(e, Presence) and e.event == "quit" and e.nick == "big"]
    assert quits and quits[0].reason == "frame too large"
    big.close()
    await talker.close()
    await witness.close()


async def test_too_much_before_hello_is_cut_off(start_server: StartServer) -> None:
    server = await start_server(prelogin_bytes=8_192)
    peer = await raw_from(server.port)
    with pytest.raises(ConnectionResetError):
        await peer.send(b'{"type":"HELLO","version":1,"nick":"' + b"q" * 1_048_576)
        raise ConnectionResetError
    frames = await peer.frames_until_closed()
    assert frames[-1:] == [Goodbye(reason="too much data before HELLO")]
    peer.close()


async def test_junk_frames_before_hello_close_the_connection_early(
        start_server: StartServer) -> None:
    server = await start_server(prelogin_bad_frames=3)
    peer = await raw_from(server.port)
    await peer.send(b'{"nonsense": 1}\n{"type":"NOPE"}\n{]\n{"type":"HELLO"}\n')
    frames = await peer.frames_until_closed()
    assert [f.code for f in frames if isinstance(f, Error)] == \
        ["bad_frame", "unknown_type", "bad_json"]
    assert frames[-1] == Goodbye(reason="too many bad frames before HELLO")
    peer.close()


# ---------------------------------------------------------------------------- 100 junk connections


def random_junk(size: int) -> bytes:
    """Random bytes with newlines, none of them ASCII otherwise: a random line that happened to
    be a valid nickname would register a (strange, but legitimate) text-door user."""
    data = bytes(b | 0x80 for b in os.urandom(size))
    return b"\n".join(data[i:i + 100] for i in range(0, size, 100))


async def test_hundred_junk_connections_while_a_chat_goes_on(start_server: StartServer) -> None:
    server = await start_server(hello_timeout=1.0, rate_burst=10, rate_per_second=4.0)
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    junk: list[RawPeer] = []
    for n in range(100):
        peer = await raw_from(server.port)
        junk.append(peer)
        if n % 4 == 0:
            await peer.send(random_junk(4_096))  # random bytes (most often: the text door)
        elif n % 4 == 1:
            await peer.send(b"{" + os.urandom(2_000) + b"\n" + b"{junk}\n" * 10)  # JSON junk
        elif n % 4 == 2:
            await peer.send(b"\x00\xff" * 10_000)  # binary, no newline at all
        # n % 4 == 3: silent
    await chat_goes_on(talker, witness, 20, "chat")

    async def drained(peer: RawPeer) -> None:
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    if not await peer.reader.read(65_536):
                        return
                except ConnectionResetError:
                    return

    await asyncio.gather(*(drained(p) for p in junk))  # every one of them was closed
    for peer in junk:
        peer.close()
    await chat_goes_on(talker, witness, 3, "after")
    core = server.core
    assert core is not None and core.connection_count == 2
    await talker.close()
    await witness.close()


# ---------------------------------------------------------------------------- per-address limits


async def test_connections_per_address_at_once_and_new(start_server: StartServer) -> None:
    server = await start_server(exempt_loopback=False, max_connections_per_ip=3,
                                max_new_connections_per_ip=5)
    await server.open_irc(0)
    web_port = await server.open_web(0)
    assert server.irc_port is not None
    talker = await Client.connect("127.0.0.1", server.port, "talker")  # 1 open, 1 new
    witness = await Client.connect("127.0.0.1", server.port, "witness")  # 2, 2
    third = await raw_from(server.port)  # 3, 3
    await third.send(HELLO % b"third")
    assert (await third.frame()) is not None
    refused = await raw_from(server.port)
    frames = await refused.frames_until_closed()
    assert [type(f) for f in frames] == [Error, Goodbye]
    assert isinstance(frames[0], Error) and frames[0].code == "too_many_connections"
    assert "at most 3 at once" in frames[0].message
    refused.close()
    # The same on the IRC door: an ERROR line, then the end.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.irc_port)
    async with asyncio.timeout(WAIT):
        lines = (await reader.read()).decode().splitlines()
    assert lines[-1].startswith("ERROR :Closing link") and "at most 3 at once" in lines[-1]
    writer.close()
    # And on the web door: HTTP 429 with the reason.
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused_ws:
            await http.ws_connect(f"http://127.0.0.1:{web_port}/ws")
    assert refused_ws.value.status == 429
    # Another address is not affected.
    other = await raw_from(server.port, "127.0.0.2")
    await other.send(HELLO % b"other")
    assert (await other.frame()) is not None
    other.close()

    async def leaves(peer: RawPeer, nick: str) -> None:
        peer.close()
        async with asyncio.timeout(WAIT):
            while True:
                event = await witness.next_event()
                if isinstance(event, Presence) and event.event == "quit" and event.nick == nick:
                    return

    # One leaves: one more may come; twice (the 4th and 5th new within the window)...
    await leaves(third, "third")
    for nick in (b"fourth", b"fifth"):
        peer = await raw_from(server.port)
        await peer.send(HELLO % nick)
        assert (await peer.frame()) is not None
        await leaves(peer, nick.decode())
    # ...but not a 6th new one in the window, though there is room for it at once.
    sixth = await raw_from(server.port)
    frames = await sixth.frames_until_closed()
    assert isinstance(frames[0], Error) and frames[0].code == "too_many_connections"
    assert "too many new connections" in frames[0].message
    sixth.close()
    await chat_goes_on(talker, witness, 2, "still")
    await talker.close()
    await witness.close()


# ---------------------------------------------------------------------------- password guessing


async def test_guesser_is_throttled_while_the_owner_logs_in(start_server: StartServer) -> None:
    server = await start_server()
    owner = await Client.connect("127.0.0.1", server.port, "owner")
    await owner.request(Register(nick="owner", password=PASSWORD))
    await owner.close()
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    guesser = await raw_from(server.port, "127.0.0.2")
    codes: list[tuple[str, int | None]] = []
    for n in range(5):
        await guesser.send(LOGIN % (b"owner", b"guess%d" % n, n))
        frame = await guesser.frame()
        assert isinstance(frame, Error) and frame.id == f"h{n}"
        codes.append((frame.code, frame.retry_after_ms))
    assert [c for c, _ in codes] == ["auth_failed"] * 3 + ["auth_throttled"] * 2
    assert all(ms is not None and 0 < ms <= 60_000 for _, ms in codes[3:])
    # Even the right password is not checked from there now...
    await guesser.send(LOGIN % (b"owner", PASSWORD.encode(), 9))
    frame = await guesser.frame()
    assert isinstance(frame, Error) and frame.code == "auth_throttled"
    # ...but the owner, at its own address, logs in.
    owner = await raw_from(server.port, "127.0.0.1")
    await owner.send(LOGIN % (b"owner", PASSWORD.encode(), 1))
    welcome = await owner.frame()
    assert welcome is not None and type(welcome).__name__ == "Welcome"
    await owner.send(say("it is me", "m1"))
    guesser.close()
    async with asyncio.timeout(WAIT):
        while True:
            event = await witness.next_event()
            if isinstance(event, Message) and event.sender == "owner":
                assert event.text == "it is me"
                break
    owner.close()
    await witness.close()


class CountingPasswords:
    """A twin of :class:`~palaver.server.passwords.Passwords` that counts the passwords it is
    asked to check and holds each wrong one until ``release`` is set (so every guess is under
    way at once); the right one is checked at once."""

    def __init__(self, real: Passwords) -> None:
        self._real = real
        self.checked = 0
        self.progress = asyncio.Event()
        self.release = asyncio.Event()

    async def hash(self, password: str) -> str:
        return await self._real.hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self.checked += 1
        self.progress.set()
        if password != PASSWORD:
            await self.release.wait()
        return await self._real.verify(password_hash, password)

    def close(self) -> None:
        self._real.close()


async def test_parallel_guesses_from_one_address_get_only_the_allowance_checked(
        start_server: StartServer) -> None:
    server = await start_server(login_failures=3)
    core = server.core
    assert core is not None
    owner = await Client.connect("127.0.0.1", server.port, "owner")
    await owner.request(Register(nick="owner", password=PASSWORD))
    await owner.close()
    twin = core.passwords = CountingPasswords(core.passwords)  # type: ignore[assignment]
    guessers = [await raw_from(server.port, "127.0.0.2") for _ in range(50)]
    for n, peer in enumerate(guessers):  # all sent before any check can finish
        peer.writer.write(LOGIN % (b"owner", b"guess%d" % n, n))
    answers: dict[int, Error] = {}

    async def answer(n: int, peer: RawPeer) -> None:
        frame = await peer.frame(WAIT)
        assert isinstance(frame, Error) and frame.id == f"h{n}", frame
        answers[n] = frame
        twin.progress.set()

    readers = [asyncio.create_task(answer(n, peer)) for n, peer in enumerate(guessers)]
    async with asyncio.timeout(WAIT):  # every guess is being checked or has been refused
        while twin.checked + len(answers) < len(guessers):
            twin.progress.clear()
            await twin.progress.wait()
    assert twin.checked == 3
    assert sorted({a.code for a in answers.values()}) == ["auth_throttled"]
    assert len(answers) == 47 and all(a.retry_after_ms for a in answers.values())
    # The owner, at its own address, is not stuck behind the guesses being checked.
    owner_peer = await raw_from(server.port, "127.0.0.1")
    await owner_peer.send(LOGIN % (b"owner", PASSWORD.encode(), 99))
    welcome = await owner_peer.frame(WAIT)
    assert welcome is not None and type(welcome).__name__ == "Welcome"
    twin.release.set()
    await asyncio.wait_for(asyncio.gather(*readers), WAIT)
    assert sorted(a.code for a in answers.values()).count("auth_failed") == 3
    assert twin.checked == 4  # three guesses and the owner
    late = await raw_from(server.port, "127.0.0.2")  # the three failures stay counted
    await late.send(LOGIN % (b"owner", b"late", 100))
    frame = await late.frame(WAIT)
    assert isinstance(frame, Error) and frame.code == "auth_throttled"
    for peer in [*guessers, owner_peer, late]:
        peer.close()


async def test_a_storm_of_logins_is_bounded(start_server: StartServer) -> None:
    server = await start_server(max_pending_logins=2)
    core = server.core
    assert core is not None
    gate = asyncio.Event()
    both_waiting = asyncio.Event()
    waiting = 0
    real_verify = core.passwords.verify

    async def slow_verify(password_hash: str | None, password: str) -> bool:
        nonlocal waiting
        waiting += 1
        if waiting == 2:
            both_waiting.set()
        await gate.wait()  # the pool is busy: checks queue up
        return await real_verify(password_hash, password)

    core.passwords.verify = slow_verify  # type: ignore[method-assign]
    talker = await Client.connect("127.0.0.1", server.port, "talker")
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    peers = [await raw_from(server.port, f"127.0.0.{n + 2}") for n in range(5)]
    for n, peer in enumerate(peers[:2]):
        await peer.send(LOGIN % (b"someone", b"pw", n))
    await asyncio.wait_for(both_waiting.wait(), WAIT)
    for n, peer in enumerate(peers[2:], 2):
        await peer.send(LOGIN % (b"someone", b"pw", n))
        frame = await peer.frame()
        assert isinstance(frame, Error) and frame.code == "auth_throttled"
        assert frame.retry_after_ms
    await chat_goes_on(talker, witness, 3, "meanwhile")  # the loop is not stalled
    gate.set()
    for peer in peers[:2]:
        frame = await peer.frame()
        assert isinstance(frame, Error) and frame.code == "auth_failed"
        peer.close()
    for peer in peers[2:]:
        peer.close()
    await talker.close()
    await witness.close()


# ---------------------------------------------------------------------------- the other doors


async def test_irc_flooder_is_delayed_then_noticed_and_nothing_is_lost(
        start_server: StartServer) -> None:
    server = await start_server(rate_burst=5, rate_per_second=40.0, irc_flood_notice_after=3)
    port = await server.open_irc(0)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"NICK ircy\r\nUSER ircy 0 * :Ircy\r\nJOIN #lobby\r\n")
    await writer.drain()
    async with asyncio.timeout(WAIT):
        while b" 001 " not in await reader.readline():
            pass
    await witness.wait_for(Presence)  # ircy joined the lobby
    writer.write(b"".join(b"PRIVMSG #lobby :line %d\r\n" % n for n in range(60)))
    await writer.drain()
    async with asyncio.timeout(WAIT):
        while True:
            line = await reader.readline()
            assert line, "closed"
            if b"NOTICE" in line and b"rate_limited" in line:
                break
    heard: list[str] = []
    async with asyncio.timeout(WAIT):
        while len(heard) < 60:
            event = await witness.next_event()
            if isinstance(event, Message) and event.sender == "ircy":
                heard.append(event.text)
    assert heard == [f"line {n}" for n in range(60)]
    writer.close()
    await witness.close()


async def test_websocket_flooder_is_told_and_nothing_is_lost(start_server: StartServer) -> None:
    server = await start_server(rate_burst=5, rate_per_second=50.0)
    web_port = await server.open_web(0)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{web_port}/ws")
        await ws.send_str('{"type":"HELLO","version":1,"nick":"webby"}')
        for n in range(30):
            await ws.send_str(f'{{"type":"CHAT","room":"#lobby","text":"w {n}","id":"w{n}"}}')
        acks: list[str] = []
        limited: list[dict[str, object]] = []
        async with asyncio.timeout(WAIT):
            while len(acks) < 30:
                frame = await ws.receive_json()
                if frame["type"] == "MESSAGE" and frame.get("from") == "webby":
                    acks.append(str(frame["id"]))
                elif frame["type"] == "ERROR":
                    limited.append(frame)
        assert acks == [f"w{n}" for n in range(30)]
        assert limited and all(f["code"] == "rate_limited" and f["retry_after_ms"]
                               for f in limited)
        heard: list[str] = []
        async with asyncio.timeout(WAIT):
            while len(heard) < 30:
                event = await witness.next_event()
                if isinstance(event, Message) and event.sender == "webby":
                    heard.append(event.text)
        assert heard == [f"w {n}" for n in range(30)]
        await ws.close()
    await witness.close()
