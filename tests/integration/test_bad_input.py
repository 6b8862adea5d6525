"""Bad input over real sockets: a clear error with a stable code, and nothing else breaks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import cast

import msgspec
import pytest

from palaver.client import Client
from palaver.protocol.messages import Error, Goodbye, Joined, Message, Presence, Say, Welcome
from palaver.server.app import Server
from palaver.transports.main_port import MainPortConnection
from tests.integration.raw import RawPeer

Connect = Callable[..., Awaitable[Client]]

HELLO = b'{"type":"HELLO","version":1,"nick":"mallory"}\n'

# Each case: frame bytes (sent after HELLO) -> (code, request id echoed, field named)
CASES: list[tuple[bytes, str, str | None, str | None]] = [
    (b"{bad json", "bad_json", None, None),
    (b'{"type":"CHAT","room":"#lobby","text":"\xff\xfe"}', "bad_json", None, None),
    (b'{"type":"CHAT","room":"#lobby","text":"\\ud800"}', "bad_json", None, None),
    (b"[" * 30_000 + b"]" * 30_000, "bad_frame", None, None),
    (b'{"type":"CHAT","x":' + b"[" * 30_000 + b"]" * 30_000 + b"}", "bad_json", None, None),
    (b'{"type":"CHAT","text":NaN}', "bad_json", None, None),
    (b"[1,2,3]", "bad_frame", None, None),
    (b'"just a string"', "bad_frame", None, None),
    (b'{"id":"x1","room":"#lobby"}', "bad_frame", "x1", None),
    (b'{"type":42}', "bad_frame", None, None),
    (b'{"type":"SHOUT","id":"x2"}', "unknown_type", "x2", None),
    (b'{"type":"JOIN","id":"x3"}', "invalid_field", "x3", "room"),
    (b'{"type":"JOIN","room":7,"id":"x4"}', "invalid_field", "x4", "room"),
    (b'{"type":"COMMAND","name":"sum","args":[true],"id":"x5"}', "invalid_field", "x5", "args"),
    (b'{"type":"JOIN","room":"#a","id":"' + b"i" * 65 + b'"}', "invalid_field", None, "id"),
    (b'{"type":"CHAT","room":"#lobby","text":99999999999999999999999,"id":"x6"}',
     "invalid_field", "x6", "text"),
    (b'{"type":"HELLO","version":' + b"9" * 5_000 + b',"nick":"n","id":"x0"}',
     "invalid_field", None, "version"),
    (b'{"type":"HELLO","version":1,"nick":"again","id":"x7"}', "already_registered", "x7", None),
    (b'{"type":"JOIN","room":"dev","id":"x8"}', "invalid_room", "x8", None),
    (b'{"type":"CHAT","room":"#lobby","text":"","id":"x9"}', "invalid_text", "x9", None),
    (b'{"type":"CHAT","room":"#lobby","text":"\\u001b[2J","id":"y1"}', "invalid_text", "y1", None),
    (b'{"type":"CHAT","room":"#lobby","text":"\\u0085","id":"y2"}', "invalid_text", "y2", None),
    (b'{"type":"CHAT","room":"#nope","text":"hi","id":"y3"}', "not_in_room", "y3", None),
    (b'{"type":"DM","to":"ghost","text":"hi","id":"y4"}', "no_such_user", "y4", None),
    (b'{"type":"NICK","nick":"1x","id":"y5"}', "invalid_nick", "y5", None),
    (b'{"type":"COMMAND","name":"rm","id":"y6"}', "unknown_command", "y6", None),
    (b'{"type":"COMMAND","name":"sum","args":["x"],"id":"y7"}', "invalid_args", "y7", None),
    (b'{"type":"WHO","room":"#none","id":"y8"}', "no_such_room", "y8", None),
]


@pytest.mark.parametrize(("frame", "code", "request_id", "field"), CASES,
                         ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
async def test_bad_frame_gets_error_and_connection_goes_on(
    server: Server, connect: Connect, frame: bytes, code: str, request_id: str | None,
    field: str | None,
) -> None:
    witness = await connect("witness")
    peer = await RawPeer.open(server.port)
    await peer.send(HELLO)
    await peer.frame()  # WELCOME
    await peer.frame()  # JOINED
    await peer.send(frame + b"\n")
    error = await peer.frame()
    assert isinstance(error, Error), error
    assert (error.code, error.id) == (code, request_id)
    assert error.message and "Traceback" not in error.message
    if field is not None:
        assert error.field == field and field in error.message
    # the connection goes on, and the room still works for everyone
    await peer.send(b'{"type":"CHAT","room":"#lobby","text":"still here","id":"ok"}\n')
    ack = await peer.frame()
    assert isinstance(ack, Message) and ack.id == "ok"
    seen = await witness.wait_for(Message)
    assert isinstance(seen, Message) and seen.text == "still here"
    peer.close()


@pytest.mark.parametrize("frame", [
    b'{"type":"JOIN","room":"#dev","id":"h1"}',
    b'{"type":"CHAT","room":"#lobby","text":"hi","id":"h1"}',
    b'{"type":"WHO","id":"h1"}',
])
async def test_handshake_required(server: Server, frame: bytes) -> None:
    peer = await RawPeer.open(server.port)
    await peer.send(frame + b"\n")
    error = await peer.frame()
    assert isinstance(error, Error) and (error.code, error.id) == ("handshake_required", "h1")
    peer.close()


@pytest.mark.parametrize(("hello", "code"), [
    (b'{"type":"HELLO","version":2,"nick":"zed"}', "unsupported_version"),
    (b'{"type":"HELLO","version":1,"nick":"z z"}', "invalid_nick"),
    (b'{"type":"HELLO","version":1,"nick":"WITNESS"}', "nick_taken"),
    (b'{"type":"HELLO","version":1}', "invalid_field"),
])
async def test_handshake_refusals_allow_a_retry(
    server: Server, connect: Connect, hello: bytes, code: str
) -> None:
    await connect("witness")
    peer = await RawPeer.open(server.port)
    await peer.send(hello + b"\n")
    error = await peer.frame()
    assert isinstance(error, Error) and error.code == code
    await peer.send(b'{"type":"HELLO","version":1,"nick":"zed"}\n')
    welcome = await peer.frame()
    assert welcome is not None and type(welcome).__name__ == "Welcome"
    peer.close()


async def test_frames_split_byte_by_byte_equal_frames_merged(server: Server) -> None:
    script = (
        b'{"type":"HELLO","version":1,"nick":"split"}\r\n'
        b'{"type":"JOIN","room":"#s","id":"1"}\n'
        b"\n"
        b"{oops\n"
        b'{"type":"CHAT","room":"#s","text":"caf\xc3\xa9 \xe2\x82\xac","id":"2"}\n'
        b'{"type":"BYE","id":"3"}\n'
    )

    async def run(chunks: list[bytes]) -> list[object]:
        peer = await RawPeer.open(server.port)
        for chunk in chunks:
            await peer.send(chunk)
        frames = await peer.frames_until_closed()
        peer.close()
        return [_without_ts(f) for f in frames]

    merged = await run([script])
    split = await run([script[i:i + 1] for i in range(len(script))])
    assert merged == split
    assert [type(f).__name__ for f in merged] == [
        "Welcome", "Joined", "Joined", "Error", "Message", "Goodbye"]
    message = merged[4]
    assert isinstance(message, Message) and message.text == "café €"


def _without_ts(frame: object) -> object:
    """Time, the room's counter, operators and the guest token differ between runs; nothing
    else may."""
    if isinstance(frame, Welcome):
        return msgspec.structs.replace(frame, token=None)
    if isinstance(frame, Joined):  # the first run's guest made #s: its operator, not ours;
        # an empty room is forgotten, so #lobby is made again (a new creation time)
        return msgspec.structs.replace(frame, last_id=0, operators=(), created_at=None)
    if isinstance(frame, Message):
        return Message(msg_id=0, ts="", sender=frame.sender, text=frame.text,
                       room=frame.room, to=frame.to, id=frame.id)
    return frame


async def test_oversized_frame_closes_only_that_connection(
    start_server: Callable[..., Awaitable[Server]],
) -> None:
    server = await start_server(max_frame=2_048)
    witness = await Client.connect("127.0.0.1", server.port, "witness")
    peer = await RawPeer.open(server.port)
    await peer.send(HELLO)
    await peer.frame()
    await peer.frame()
    # a good frame, then an endless one, in one write: the good one counts, then the cut
    await peer.send(b'{"type":"CHAT","room":"#lobby","text":"before","id":"a"}\n'
                    + b'{"type":"CHAT","text":"' + b"x" * 10_000)
    ack = await peer.frame()
    assert isinstance(ack, Message) and ack.text == "before"
    error = await peer.frame()
    assert isinstance(error, Error) and error.code == "frame_too_large"
    # the server stops reading: whatever else we send, the stream just ends
    with _suppress_reset():
        await peer.send(b"y" * 100_000)
    assert await peer.frames_until_closed() == []
    quit_event = None
    while not isinstance(quit_event, Presence) or quit_event.event != "quit":
        quit_event = await witness.next_event()
    assert quit_event.nick == "mallory"
    assert isinstance(await witness.request(Say(room="#lobby", text="fine")), Message)
    await witness.close()


async def test_invalid_utf8_and_controls_in_names(server: Server) -> None:
    peer = await RawPeer.open(server.port)
    await peer.send(b'{"type":"HELLO","version":1,"nick":"\xc0\xaf"}\n'
                    b'{"type":"HELLO","version":1,"nick":"a\\u0000b"}\n'
                    b'{"type":"HELLO","version":1,"nick":"\\u0435van"}\n')
    codes = [getattr(await peer.frame(), "code", None) for _ in range(3)]
    assert codes == ["bad_json", "invalid_nick", "invalid_nick"]
    peer.close()


async def test_bye_before_hello(server: Server) -> None:
    peer = await RawPeer.open(server.port)
    await peer.send(b'{"type":"BYE","id":"b"}\n')
    assert await peer.frames_until_closed() == [Goodbye(id="b", reason="bye")]
    peer.close()


class _suppress_reset:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], ConnectionError)  # type: ignore[arg-type]


async def test_junk_connections_do_not_disturb_a_chat(server: Server, connect: Connect) -> None:
    alice, bob = await connect("alice"), await connect("bob")
    junk = [await RawPeer.open(server.port) for _ in range(30)]
    for n, peer in enumerate(junk):
        await peer.send(bytes(range(256)) * 4 + b"\n" + b"\x00" * n)
    for peer in junk[::2]:
        peer.writer.transport.abort()
    await alice.request(Say(room="#lobby", text="through the noise"))
    seen = await bob.wait_for(Message)
    assert isinstance(seen, Message) and seen.text == "through the noise"
    for peer in junk[1::2]:
        peer.close()
    await asyncio.sleep(0)


async def test_last_line_without_newline_is_answered_before_close(server: Server) -> None:
    peer = await RawPeer.open(server.port)
    await peer.send(b'{"type":"HELLO","version":1,"nick":"eof","id":"last"}')
    peer.writer.write_eof()
    frames = await peer.frames_until_closed()
    assert [type(f).__name__ for f in frames] == ["Welcome", "Joined"]
    assert frames[0].id == "last"
    peer.close()


async def test_json_connections_share_their_doors_dialect_between_lines(server: Server) -> None:
    """An idle JSON connection keeps no dialect of its own (transports/main_port.py): one whose
    read ends inside a line takes one for it, and gives it back when the line is done; the
    lines of others in between are not mixed up with it. The reads are handed to the real
    connections directly, so where a read ends is what the test says."""
    ann, bob = await RawPeer.open(server.port), await RawPeer.open(server.port)
    for peer, nick in ((ann, b"ann"), (bob, b"bob")):
        await peer.send(b'{"type":"HELLO","version":1,"nick":"%s"}\n' % nick)
        assert isinstance(await peer.frame(), Welcome)
    assert server.core is not None
    conns = {conn.sid: conn for conn in server.core._connections.values()}
    half, other = (cast(MainPortConnection, conns[sid]) for sid in sorted(conns))
    shared = half._door.json
    assert half.dialect is shared and other.dialect is shared

    half.data_received(b'{"type":"CHAT","room":"#lobby","te')  # a read ends inside a line
    assert half.dialect is not shared and shared.idle and other.dialect is shared
    other.data_received(b'{"type":"CHAT","room":"#lobby","text":"from bob"}\n')
    half.data_received(b'xt":"from ann"}\n')
    assert half.dialect is shared and other.dialect is shared

    async def texts(peer: RawPeer) -> set[str]:
        seen: set[str] = set()
        while len(seen) < 2:  # (each sees both: its own is echoed)
            frame = await peer.frame()
            assert frame is not None
            if isinstance(frame, Message):
                seen.add(f"{frame.sender}: {frame.text}")
        return seen

    for peer in (ann, bob):
        assert await texts(peer) == {"bob: from bob", "ann: from ann"}
        peer.close()
