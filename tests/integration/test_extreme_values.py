"""Every client message type, fed extreme values, against the real server and a real SQLite file.

The invariant: whatever a peer sends, it gets its answer or a documented error about its own
mistake — never ``internal_error`` (our bugs) or ``unavailable`` (the store failed), and the
server logs no error. Each example starts a server in a fresh data directory, logs in, posts a
few messages (so history has rows), sends the generated frames and a PING barrier, and reads
every answer.

Values come from a small table of edges — integers past 64 bits, negative ids, huge and control
character strings, wrong types — drawn by hypothesis for every field of every message type, plus
the frames' own shape (unknown fields, missing ones)."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from palaver.protocol.messages import CLIENT_MESSAGE_TYPES
from palaver.server.app import running
from palaver.server.config import Settings

FORBIDDEN = {"internal_error", "unavailable"}
WAIT = 20.0

INTEGERS = st.sampled_from([
    0, 1, -1, 2, 199, 200, 201, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**64, -(2**64),
    10**30, -(10**30), 10**400,
])
TEXTS = st.one_of(
    st.sampled_from(["", " ", "#a", "@bob", "bob", "alice", "#lobby", "\x00", "\u202e", "\ud800x",
                     "a\r\nb", "#" + "x" * 300, "x" * 5_000, "help", "sum", "time", "echo"]),
    st.text(max_size=20),
)
VALUES: st.SearchStrategy[Any] = st.one_of(
    INTEGERS, TEXTS, st.none(), st.booleans(), st.sampled_from([1.5, -0.0, 1e308]),
    st.lists(st.one_of(INTEGERS, TEXTS), max_size=3),
    st.dictionaries(TEXTS, INTEGERS, max_size=3),
)
TYPES = {str(t.__struct_config__.tag): t for t in CLIENT_MESSAGE_TYPES}
# Strings that mean something to the server, by field name: existing rooms and users, commands.
NAMES = {
    "room": ["#a", "#lobby", "#new"], "nick": ["alice", "bob", "carol"], "to": ["alice", "bob"],
    "with": ["alice", "bob"], "name": ["sum", "echo", "help", "time", "joke"],
    "password": ["secret-words"], "text": ["hello"], "topic": ["news"],
}


def typed(name: str, kind: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    """Values of the field's own type, at and past its edges."""
    if isinstance(kind, msgspec.inspect.Metadata):
        return typed(name, kind.type)
    if isinstance(kind, msgspec.inspect.IntType):
        return INTEGERS
    if isinstance(kind, msgspec.inspect.StrType):
        return st.one_of(st.sampled_from(NAMES.get(name, ["x"])), TEXTS)
    if isinstance(kind, msgspec.inspect.BoolType):
        return st.booleans()
    if isinstance(kind, msgspec.inspect.FloatType):
        return st.sampled_from([0.5, -1.5, 1e308])
    if isinstance(kind, msgspec.inspect.DictType):
        keys = st.one_of(st.sampled_from(["#a", "@bob", "#lobby", "@alice"]), TEXTS)
        return st.dictionaries(keys, typed(name, kind.value_type), max_size=3)
    if isinstance(kind, msgspec.inspect.VarTupleType):
        return st.lists(typed(name, kind.item_type), max_size=3)
    if isinstance(kind, msgspec.inspect.UnionType):
        return st.one_of(*(typed(name, t) for t in kind.types
                           if not isinstance(t, msgspec.inspect.NoneType)))
    return VALUES


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    tag = draw(st.sampled_from(sorted(TYPES)))
    info = msgspec.inspect.type_info(TYPES[tag])
    assert isinstance(info, msgspec.inspect.StructType)
    body: dict[str, Any] = {"type": tag}
    for field in info.fields:
        if not field.required and draw(st.booleans()):
            continue
        wrong = draw(st.integers(0, 9)) == 0  # now and then a value of another type
        body[field.encode_name] = draw(VALUES if wrong else typed(field.encode_name, field.type))
    if tag == "BYE":  # would end the example early; keep it for the last frame only
        body = {"type": "PING"}
    return json.dumps(body).encode().replace(b"1e+308", b"1e400")  # also a float beyond double


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def exchange(data_dir: str, batch: list[bytes]) -> list[dict[str, Any]]:
    """Send ``batch`` after a login and a few messages; every frame received until the PONG."""
    config = Settings(port=0, data_dir=data_dir, web_port=0, irc_port=0, argon2_time_cost=1,
                      argon2_memory_kib=8, rate_burst=1_000_000, rate_per_second=1_000_000.0)
    async with running(config) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        setup = [{"type": "HELLO", "version": 1, "nick": "alice"},
                 {"type": "JOIN", "room": "#a"},
                 *({"type": "CHAT", "room": "#a", "text": f"m{n}", "id": f"m{n}"}
                   for n in range(3))]
        writer.write(b"".join(json.dumps(f).encode() + b"\n" for f in setup))
        received: list[dict[str, Any]] = []
        async with asyncio.timeout(WAIT):  # logged in (no pre-login byte cap from here on)
            while (frame := json.loads(await reader.readline())).get("id") != "m2":
                received.append(frame)
        writer.write(b"".join(frame + b"\n" for frame in batch))
        # The first barrier: everything handled in order is answered. The second, after the
        # work that answers on its own time (HISTORY, REGISTER) is done: that too.
        for barrier in ("handled", "settled"):
            if barrier == "settled":
                await server.core.settled()
            writer.write(b'{"type":"PING","id":"%s"}\n' % barrier.encode())
            async with asyncio.timeout(WAIT):
                while True:
                    line = await reader.readline()
                    assert line, f"closed before the {barrier} barrier: {received[-3:]}"
                    frame = json.loads(line)
                    received.append(frame)
                    if frame.get("type") == "PONG" and frame.get("id") == barrier:
                        break
        writer.close()
        return received


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(frames(), min_size=1, max_size=25))
def test_no_input_is_our_bug_or_a_storage_failure(batch: list[bytes]) -> None:
    assert_only_peer_mistakes(batch, batch)


def assert_only_peer_mistakes(batch: list[bytes], label: object) -> None:
    """Run ``batch`` on a fresh server: no forbidden error code answered, no error logged."""
    errors = ErrorLog()
    logger = logging.getLogger("palaver")
    logger.addHandler(errors)
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            received = asyncio.run(exchange(data_dir, batch))
    finally:
        logger.removeHandler(errors)
    codes = {f.get("code") for f in received if f.get("type") == "ERROR"}
    assert not codes & FORBIDDEN, (label, codes)
    assert not errors.records, (label, [r.getMessage() for r in errors.records])


EDGES: list[Any] = [0, -1, 201, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -(10**30),
                    10**400, 1.5, 1e308, "", "x" * 5_000, "\x00\x1b", None, True, [], {}, [10**30],
                    {"#a": 10**30}, {"#a": -1}, {"@bob": 2**64}]


def base_frame(tag: str) -> dict[str, Any]:
    """A frame of type ``tag`` with its required fields set to ordinary values."""
    info = msgspec.inspect.type_info(TYPES[tag])
    assert isinstance(info, msgspec.inspect.StructType)
    body: dict[str, Any] = {"type": tag}
    for field in info.fields:
        if field.required:
            kind = field.type
            body[field.encode_name] = (
                1 if isinstance(kind, msgspec.inspect.IntType)
                else NAMES.get(field.encode_name, ["x"])[0])
    if tag == "HISTORY":
        body["room"] = "#a"
    return body


def test_every_field_of_every_type_at_its_edges() -> None:
    """Each field of each message type, in turn, set to each edge value (the other fields
    ordinary): one server per message type, so earlier frames cannot hide later ones."""
    for tag in sorted(TYPES):
        if tag == "BYE":
            continue
        batch = []
        info = msgspec.inspect.type_info(TYPES[tag])
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            for value in EDGES:
                frame = {**base_frame(tag), field.encode_name: value}
                batch.append(json.dumps(frame).encode().replace(b"1e+308", b"1e400"))
        assert_only_peer_mistakes(batch, tag)
