"""JSON bombs over real sockets (the JSON lines door and /ws): each is a stable error or harmless
acceptance, the connection goes on, and a witness in the same room keeps chatting.

Each bomb fits the frame limit (64 KiB): a bigger frame is ``frame_too_large`` (test_bad_input).
What makes them cheap is msgspec: one pass over the bytes, a recursion limit (nesting), numbers
out of range refused without building a bignum, unknown fields skipped without being decoded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp

from palaver.client import Client
from palaver.protocol.jsonl import decode_server_frame
from palaver.protocol.messages import Error, Message, ServerMessage
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory
from tests.integration.raw import RawPeer

CHAT = b'"type":"CHAT","room":"#lobby"'
ACCEPTED = "accepted"  # the frame is a fine CHAT: acknowledged with its text
EITHER = "either"  # an error or an acknowledgement; the point is that nothing breaks


def _chat(extra: bytes, text: bytes = b"ok") -> bytes:
    return b"{" + CHAT + b',"text":"' + text + b'",' + extra + b"}"


# (name, frame, expected error code or ACCEPTED / EITHER)
BOMBS: list[tuple[str, bytes, str]] = [
    ("deep arrays", _chat(b'"x":' + b"[" * 25_000 + b"]" * 25_000), "bad_json"),
    ("deep objects", _chat(b'"x":' + b'{"a":' * 9_000 + b"1" + b"}" * 9_000), "bad_json"),
    ("deep top level", b"[" * 30_000 + b"]" * 30_000, "bad_frame"),
    ("huge integer, ignored field", _chat(b'"x":' + b"9" * 60_000), ACCEPTED),
    ("huge integer, known field", b'{"type":"JOIN","room":"#a","id":' + b"9" * 60_000 + b"}",
     "invalid_field"),
    ("huge negative integer", b'{"type":"HELLO","version":-' + b"9" * 50_000 + b',"nick":"n"}',
     "invalid_field"),
    ("huge exponent", _chat(b'"x":1e999999999'), ACCEPTED),
    ("huge exponent, known field", b'{"type":"HELLO","version":1e999999,"nick":"n"}',
     "invalid_field"),
    ("NaN", _chat(b'"x":NaN'), "bad_json"),
    ("Infinity", _chat(b'"x":Infinity'), "bad_json"),
    ("-Infinity", _chat(b'"x":-Infinity'), "bad_json"),
    ("lone high surrogate", b"{" + CHAT + b',"text":"a\\ud800b"}', "bad_json"),
    ("lone low surrogate", b"{" + CHAT + b',"text":"\\udfff"}', "bad_json"),
    ("reversed pair", b"{" + CHAT + b',"text":"\\udc00\\ud800"}', "bad_json"),
    ("giant text", b"{" + CHAT + b',"text":"' + b"x" * 60_000 + b'"}', "invalid_text"),
    ("giant escaped text", b"{" + CHAT + b',"text":"' + b"\\u00e9" * 9_000 + b'"}',
     "invalid_text"),
    ("giant ignored string", _chat(b'"x":"' + b"y" * 60_000 + b'"'), ACCEPTED),
    ("giant key", _chat(b'"' + b"k" * 60_000 + b'":1'), ACCEPTED),
    ("many keys", _chat(b",".join(b'"k%d":1' % i for i in range(5_000))), ACCEPTED),
    ("many nested values", _chat(b'"x":[' + b",".join([b"[[[]]]"] * 8_000) + b"]"), ACCEPTED),
    ("duplicate keys", b"{" + CHAT + b"," + b",".join(
        b'"text":"t%d"' % i for i in range(4_000)) + b"}", ACCEPTED),
    ("duplicate type", b'{"type":"PING","type":"CHAT","room":"#lobby","text":"ok"}', EITHER),
    ("many escapes in a key", _chat(b'"' + b"\\n" * 25_000 + b'":0'), ACCEPTED),
    # found by fuzz/fuzz_jsonl.py: an unknown type, then bytes that are not UTF-8
    ("unknown type then bad UTF-8", b'{"type":"COMMAD","name":"sum\xde\xd7"}', "bad_json"),
]


def _utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _check(name: str, expected: str, reply: ServerMessage, frame: bytes) -> None:
    if expected == ACCEPTED:
        assert isinstance(reply, Message), (name, reply)
        texts = [t for t in (b"ok", *(b"t%d" % i for i in range(4_000))) if t in frame]
        assert reply.text == texts[-1].decode()  # duplicate keys: the last one wins
    elif expected == EITHER:
        assert isinstance(reply, Error | Message), (name, reply)
    else:
        assert isinstance(reply, Error), (name, reply)
        assert reply.code == expected, (name, reply)
        assert "Traceback" not in reply.message


async def _still_chatting(send: Callable[[bytes], Awaitable[None]],
                          next_reply: Callable[[], Awaitable[ServerMessage]],
                          witness: Client, n: int) -> None:
    await send(b'{"type":"CHAT","room":"#lobby","text":"still here %d","id":"s%d"}' % (n, n))
    ack = await next_reply()
    assert isinstance(ack, Message) and ack.text == f"still here {n}"
    seen = await witness.wait_for(Message)
    while isinstance(seen, Message) and seen.text != f"still here {n}":
        seen = await witness.wait_for(Message)
    assert isinstance(seen, Message)


async def _server(start_server: ServerFactory) -> Server:
    # Not the rate limiter's test: two frames per bomb, dozens of bombs in a row.
    return await start_server(rate_burst=1_000, rate_per_second=1_000.0)


async def test_json_bombs_over_json_lines(start_server: ServerFactory) -> None:
    server = await _server(start_server)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    peer = await RawPeer.open(server.port)
    await peer.send(b'{"type":"HELLO","version":1,"nick":"bomber"}\n')
    await peer.frame()  # WELCOME
    await peer.frame()  # JOINED

    async def reply() -> ServerMessage:
        frame = await peer.frame()
        assert frame is not None, "the server closed the connection"
        return frame

    for n, (name, frame, expected) in enumerate(BOMBS):
        assert len(frame) < 65_536, name
        await peer.send(frame + b"\n")
        _check(name, expected, await reply(), frame)
        await _still_chatting(lambda data: peer.send(data + b"\n"), reply, witness, n)
    peer.close()
    await witness.close()


async def test_json_bombs_over_websocket(start_server: ServerFactory) -> None:
    server = await _server(start_server)
    await server.open_web(0)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"http://127.0.0.1:{server.web_port}/ws")

        async def send(data: bytes) -> None:
            await ws.send_str(data.decode())

        async def reply() -> ServerMessage:
            msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            return decode_server_frame(msg.data.encode())

        await send(b'{"type":"HELLO","version":1,"nick":"bomber"}')
        await reply()  # WELCOME
        await reply()  # JOINED
        for n, (name, frame, expected) in enumerate(BOMBS):
            if not _utf8(frame):
                continue  # a text frame is UTF-8 (aiohttp would refuse to send it)
            await send(frame)
            _check(name, expected, await reply(), frame)
            await _still_chatting(send, reply, witness, n)
        async with asyncio.timeout(10):
            await ws.close()
    await witness.close()
