"""The generated JSON Schema: committed copy up to date, and it describes the frames we really send.

``jsonschema`` is not a dependency. When it is installed, the frames are also checked with it;
otherwise :func:`validate` below, a small validator for exactly the keywords the schema uses,
does the job (and fails loudly on any keyword it does not know).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import msgspec
import pytest

from palaver.hub import Deliver, Hub
from palaver.hub.effects import Persist
from palaver.protocol import schema as schema_module
from palaver.protocol.errors import ErrorCode
from palaver.protocol.jsonl import encode
from palaver.protocol.messages import (
    CLIENT_MESSAGE_TYPES,
    SERVER_MESSAGE_TYPES,
    Allow,
    Authenticate,
    Ban,
    BecomeOperator,
    ChangePassword,
    ClearMetadata,
    ClientMessage,
    Delete,
    DeleteAccount,
    Disallow,
    Edit,
    GetFileKey,
    GetMetadata,
    GetStats,
    GrantOperator,
    GrantVoice,
    Hello,
    History,
    Invite,
    Join,
    Kick,
    Kill,
    Leave,
    ListAllowed,
    ListBans,
    ListConversations,
    ListEdits,
    ListInvitations,
    ListPastUsers,
    ListRooms,
    ListUsers,
    ManageCertificates,
    MarkRead,
    Mute,
    Ping,
    Pong,
    Quit,
    React,
    Register,
    ResetPassword,
    RevokeOperator,
    RevokeVoice,
    RunCommand,
    Say,
    Search,
    SendDirect,
    SendTags,
    SendWallops,
    SetAway,
    SetMetadata,
    SetNick,
    SetNotifyLevel,
    SetRealname,
    SetRoomMode,
    SetTopic,
    SetUserMode,
    SubscribeMetadata,
    SyncMetadata,
    Unban,
    Unmute,
    Upload,
    Watch,
    Wire,
)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "protocol.schema.json"
REGENERATE = "python -m palaver.protocol.schema --write"

JsonObject = dict[str, Any]


def test_committed_schema_is_up_to_date() -> None:
    assert schema_module.SCHEMA_FILE == SCHEMA_FILE
    assert SCHEMA_FILE.exists(), f"{SCHEMA_FILE} is missing; run `{REGENERATE}`"
    committed = SCHEMA_FILE.read_text(encoding="utf-8")
    assert committed == schema_module.render(), (
        f"docs/protocol.schema.json is out of date with protocol/messages.py; run `{REGENERATE}` "
        "and commit the result"
    )


def test_rendering_is_stable_and_newline_terminated() -> None:
    text = schema_module.render()
    assert text == schema_module.render()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert json.loads(text) == schema_module.protocol_schema()


def test_main_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert schema_module.main([]) == 0
    assert capsys.readouterr().out == schema_module.render()
    target = tmp_path / "schema.json"
    assert schema_module.main(["--write", str(target)]) == 0
    assert target.read_bytes() == schema_module.render().encode()


# --------------------------------------------------------------------------- shape


def _tag(cls: type[Wire]) -> str:
    return str(cls.__struct_config__.tag)


@pytest.fixture(scope="module")
def schema() -> JsonObject:
    return schema_module.protocol_schema()


def test_document_header(schema: JsonObject) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "palaver protocol v1"
    assert schema["anyOf"] == [{"$ref": "#/$defs/ClientMessage"},
                               {"$ref": "#/$defs/ServerMessage"}]


@pytest.mark.parametrize(
    ("union", "types"),
    [("ClientMessage", CLIENT_MESSAGE_TYPES), ("ServerMessage", SERVER_MESSAGE_TYPES)],
)
def test_unions_are_tagged_one_ofs(
    schema: JsonObject, union: str, types: tuple[type[Wire], ...]
) -> None:
    definition = schema["$defs"][union]
    refs = [branch["$ref"] for branch in definition["oneOf"]]
    assert refs == [f"#/$defs/{cls.__name__}" for cls in types]
    assert definition["discriminator"] == {
        "propertyName": "type",
        "mapping": {_tag(cls): f"#/$defs/{cls.__name__}" for cls in types},
    }
    for cls in types:
        message = schema["$defs"][cls.__name__]
        assert message["properties"]["type"] == {"enum": [_tag(cls)]}
        assert "type" in message["required"]
        assert "additionalProperties" not in message  # unknown fields are ignored


def test_error_codes_are_listed(schema: JsonObject) -> None:
    assert schema["$defs"]["ErrorCode"]["enum"] == [code.value for code in ErrorCode]


def test_request_id_is_limited_to_64_characters(schema: JsonObject) -> None:
    id_schema = schema["$defs"]["Hello"]["properties"]["id"]
    assert {"description": "Client-chosen request id.", "type": "string", "maxLength": 64} in (
        id_schema["anyOf"]
    )


# --------------------------------------------------------------------------- a small validator

_ANNOTATIONS = {"title", "description", "default", "discriminator", "$schema", "$defs"}
_TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(value: Any, node: JsonObject, root: JsonObject) -> list[str]:
    """Errors of ``value`` against ``node`` (a JSON Schema subset); empty when it is valid."""
    errors: list[str] = []
    for keyword, argument in node.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            assert argument.startswith("#/$defs/"), argument
            errors += validate(value, root["$defs"][argument.removeprefix("#/$defs/")], root)
        elif keyword == "type":
            if not _TYPES[argument](value):
                errors.append(f"{value!r} is not of type {argument}")
        elif keyword == "enum":
            if not any(value == option and type(value) is type(option) for option in argument):
                errors.append(f"{value!r} is not one of {argument}")
        elif keyword == "anyOf":
            if all(validate(value, branch, root) for branch in argument):
                errors.append(f"{value!r} matches no branch of anyOf")
        elif keyword == "oneOf":
            matches = sum(not validate(value, branch, root) for branch in argument)
            if matches != 1:
                errors.append(f"{value!r} matches {matches} branches of oneOf")
        elif keyword == "properties":
            if isinstance(value, dict):
                for name, sub in argument.items():
                    if name in value:
                        errors += [f"{name}: {e}" for e in validate(value[name], sub, root)]
        elif keyword == "required":
            if isinstance(value, dict):
                errors += [f"missing {name}" for name in argument if name not in value]
        elif keyword == "items" and isinstance(argument, bool):  # after prefixItems
            if isinstance(value, list) and not argument \
                    and len(value) > len(node.get("prefixItems", ())):
                errors.append(f"{value!r} has more entries than its prefixItems")
        elif keyword == "items":
            if isinstance(value, list):
                for item in value:
                    errors += validate(item, argument, root)
        elif keyword == "maxLength":
            if isinstance(value, str) and len(value) > argument:
                errors.append(f"{value!r} is longer than {argument}")
        elif keyword == "additionalProperties":
            if isinstance(value, dict):
                named = node.get("properties", {})
                for name, item in value.items():
                    if name not in named:
                        errors += [f"{name}: {e}" for e in validate(item, argument, root)]
        elif keyword == "prefixItems":
            if isinstance(value, list):
                for item, sub in zip(value, argument, strict=False):
                    errors += validate(item, sub, root)
        elif keyword == "minItems":
            if isinstance(value, list) and len(value) < argument:
                errors.append(f"{value!r} has fewer than {argument} entries")
        elif keyword in ("maxProperties", "maxItems"):
            if isinstance(value, dict | list) and len(value) > argument:
                errors.append(f"{value!r} has more than {argument} entries")
        elif keyword == "minimum":
            if isinstance(value, int | float) and value < argument:
                errors.append(f"{value!r} is less than {argument}")
        elif keyword == "maximum":
            if isinstance(value, int | float) and value > argument:
                errors.append(f"{value!r} is more than {argument}")
        else:
            raise AssertionError(f"the test validator does not know the keyword {keyword!r}")
    return errors


def _conversation() -> tuple[list[bytes], list[bytes]]:
    """Real frames: what two clients send and what the hub answers, encoded for the wire."""
    hub = Hub(rng=random.Random(3))
    sent: list[bytes] = []
    received: list[bytes] = []
    script: list[tuple[int, ClientMessage]] = [
        (1, Ping(id="p0")),
        (1, ListRooms(id="early")),  # handshake_required
        (1, Hello(version=1, nick="alice", id="h1")),
        (1, Authenticate(nick="alice", password="correct horse", id="au1")),  # registered
        (1, ManageCertificates(action="add", id="ce1")),  # not_an_account (a guest)
        (1, Watch(add=("bob", "carol"), id="wa1")),  # WATCHING; ONLINE, OFFLINE for bob
        (2, Hello(version=1, nick="Alice")),  # nick_taken
        (2, Hello(version=2, nick="bob")),  # unsupported_version
        (2, Hello(version=1, nick="bob", id="h2")),
        (1, Join(room="#rust", id="j1")),
        (2, Join(room="#rust")),
        (1, Say(room="#rust", text="hello\nworld", id="c1")),
        (2, Say(room="#rust", text="hi")),
        (2, Say(room="#rust", text="+1", tags={"+draft/reply": "#rust/1"})),
        (2, SendTags(room="#rust", tags={"+typing": "active"}, id="tg1")),  # TAGMSG
        (1, Say(room="#rust", text="ops, look", only="operators", id="c3")),  # STATUS_MESSAGE
        (2, Say(room="#nowhere", text="hi", id="c2")),  # not_in_room
        (1, SendDirect(to="bob", text="psst", id="d1")),
        (1, SendDirect(to="carol", text="psst", id="d2")),  # no_such_user
        (2, SetNick(nick="bobby", id="n1")),
        (2, SetAway(message="tea break", id="a1")),  # and alice's USER_UPDATED
        (2, SetRealname(realname="Bob Bobbs", id="rn1")),
        (1, SendDirect(to="bobby", text="there?", id="d3")),  # and bobby's AWAY
        (1, ListUsers(id="w1")),
        (1, ListUsers(id="w4", details=True)),
        (1, ListUsers(room="#rust", id="w2")),
        (1, ListUsers(room="#gone", id="w3")),  # no_such_room
        (1, ListRooms(id="r1")),
        (1, RunCommand(name="sum", args=(1, 2.5, "3"), id="s1")),
        (1, RunCommand(name="sum", args=("x",), id="s2")),  # invalid_args
        (1, RunCommand(name="help", id="s3")),
        (1, RunCommand(name="nope", id="s4")),  # unknown_command
        (1, Pong()),
        (1, SetTopic(room="#rust", topic="tea and borrow checking", id="t1")),
        (1, GrantOperator(room="#rust", nick="bobby", id="o1")),
        (1, RevokeOperator(room="#rust", nick="bobby", id="o2")),
        (1, GrantVoice(room="#rust", nick="bobby", id="v1")),
        (1, RevokeVoice(room="#rust", nick="bobby", id="v2")),
        (1, Allow(room="#rust", nick="carol", id="al1")),
        (1, ListAllowed(room="#rust", id="al2")),
        (1, Disallow(room="#rust", nick="carol", id="al3")),
        (2, ListInvitations(id="inv1")),
        (1, Mute(room="#rust", nick="bobby", id="mu1")),
        (1, Unmute(room="#rust", nick="bobby", id="mu2")),
        (1, SetRoomMode(room="#rust", moderated=True, limit=5, key="tea", id="m2")),
        (1, SetRoomMode(room="#rust", moderated=False, limit=0, key="", id="m3")),
        (1, SetRoomMode(room="#rust", invite_only=True, id="m1")),
        (1, Kick(room="#rust", nick="bobby", reason="a break", id="k1")),
        (1, Invite(room="#rust", nick="bobby", id="i1")),
        (1, Ban(room="#rust", nick="mallory", id="b1")),
        (1, ListBans(room="#rust", id="b3")),
        (1, Unban(room="#rust", nick="mallory", id="b2")),
        (2, Join(room="#rust", key="tea", id="j2")),
        (2, Leave(room="#rust", id="l1")),
        (1, Register(nick="alice", password="correct horse", id="g1")),
        (1, History(room="#rust", limit=10, id="y1")),
        (1, History(room="#rust", before_ts="2026-11-18T11:06:40.123Z", id="y2")),
        (1, ListConversations(after_ts="2026-11-18T00:00:00Z",
                              before_ts="2026-11-19T00:00:00+01:00", limit=5, id="cv1")),
        (1, MarkRead(room="#rust", id="mr1")),  # a question: READ_MARKER
        (1, MarkRead(room="#rust", msg_id=1, id="mr2")),
        (1, SetNotifyLevel(room="#rust", id="nl1")),  # a question: NOTIFY_LEVEL
        (1, SetNotifyLevel(room="#rust", level="mentions", id="nl2")),  # the core stores it
        (1, React(room="#rust", msg_id=1, reaction="👍", id="re1")),  # the store answers
        (1, Delete(room="#rust", msg_id=1, id="del1")),
        (1, Edit(room="#rust", msg_id=1, text="hello, world", id="ed1")),  # the core asks
        (1, ListEdits(room="#rust", msg_id=1, id="ed2")),  # the core asks
        (1, Upload(room="#rust", name="../cat.png", size=48_213, id="up1")),  # UPLOAD_READY
        (1, GetFileKey(id="fk1")),  # FILE_KEY
        (1, Search(query="hello wor", room="#rust", limit=5, id="se1")),  # the core asks
        (2, ChangePassword(old="hunter22", new="correct horse", id="pw1")),  # not_an_account
        (2, DeleteAccount(password="hunter22", id="da1")),  # not_an_account
        (2, ResetPassword(nick="bob", token="t" * 32, new="correct horse", id="rp1")),
        (1, BecomeOperator(name="root", password="hunter22", id="op1")),  # the core checks
        (2, SetUserMode(invisible=True, wallops=True, id="um1")),  # USER_MODE
        (2, Kill(nick="alice", reason="bye", id="kl1")),  # not_operator
        (2, SendWallops(text="hi", id="wo1")),  # not_operator
        (1, ListUsers(nick="bobby", details=True, id="w5")),
        (1, ListPastUsers(nick="bob", count=1, id="ww1")),  # PAST_USERS: bob is bobby now
        (1, GetStats(id="st1")),  # SERVER_STATS
        (2, SubscribeMetadata(add=("avatar",), id="ms1")),  # METADATA_SUBS
        (1, SetMetadata(key="avatar", value="https://example.com/a.png", id="md1")),  # METADATA
        (1, GetMetadata(keys=("avatar", "status"), id="md2")),
        (2, SyncMetadata(nick="alice", id="md3")),
        (1, ClearMetadata(id="md4")),
        (2, Quit(reason="bedtime", id="q1")),
    ]
    for sid in (1, 2):
        hub.open_session(sid)
    for sid, message in script:
        sent.append(encode(message))
        for effect in hub.handle(sid, message, 1_795_000_000.25):
            deliveries = effect.then if isinstance(effect, Persist) else (effect,)
            received.extend(encode(d.event) for d in deliveries if isinstance(d, Deliver))
    for effect in hub.close_session(1, "connection closed"):
        if isinstance(effect, Deliver):
            received.append(encode(effect.event))
    return sent, received


SENT, RECEIVED = _conversation()
EXTRA_SERVER_FRAMES = [
    b'{"type":"MEMBERS_CHANGED","room":"#lobby","joined":["dave"],"left":["bob"],"count":300}',
    b'{"type":"CONVERSATIONS","conversations":[{"last_ts":"2026-11-18T11:06:40.123Z",'
    b'"room":"#rust"},{"last_ts":"2026-11-18T12:00:00.000Z","with":"bob"}],"id":"cv1"}',
    b'{"type":"AUTHENTICATED","account":"alice","id":"au2"}',  # an AUTH before HELLO (core)
    b'{"type":"CERTIFICATES","account":"alice","fingerprints":["' + b"ab" * 32 + b'"],'
    b'"added":"' + b"ab" * 32 + b'","current":"' + b"ab" * 32 + b'","id":"ce2"}',  # the core's
    b'{"type":"WALLOPS","from":"root","text":"restarting at 10:00"}',
    b'{"type":"DELETED","msg_id":1,"by":"alice","room":"#rust","from":"alice","id":"del1"}',
    b'{"type":"EDITED","msg_id":1,"text":"hello, world","edited_at":"2026-11-18T11:09:02.004Z",'
    b'"by":"alice","room":"#rust","from":"alice","id":"ed1"}',
    b'{"type":"EDIT_LIST","msg_id":1,"versions":[{"text":"hello","ts":"2026-11-18T11:06:40.250Z"},'
    b'{"text":"hello, world","ts":"2026-11-18T11:09:02.004Z"}],"room":"#rust","from":"alice",'
    b'"id":"ed2"}',
    b'{"type":"REACTED","msg_id":1,"by":"alice","reaction":"\xf0\x9f\x91\x8d","room":"#rust",'
    b'"from":"alice","quote":{"msg_id":1,"from":"alice","text":"hello"},"id":"re1"}',
    b'{"type":"HISTORY_PAGE","messages":[{"type":"MESSAGE","msg_id":2,'
    b'"ts":"2026-11-18T11:06:41.250Z","from":"bobby","text":"hi!","room":"#rust",'
    b'"reply_to":1,"quote":{"msg_id":1,"from":"alice","text":"hello"},'
    b'"reactions":{"ok":["alice","bobby"]}}],"more":false,"room":"#rust","id":"y3"}',
    b'{"type":"SEARCH_RESULTS","query":"hello wor","hits":[{"msg_id":1,"from":"alice",'
    b'"ts":"2026-11-18T11:06:40.250Z","text":"hello\\nworld","room":"#rust",'
    b'"marks":[[0,5],[6,9]]}],"next":"c1","id":"se1"}',  # the core's answer
    b'{"type":"PASSWORD_CHANGED","account":"alice","id":"pw2"}',
    b'{"type":"ACCOUNT_DELETED","account":"alice","messages":"kept","id":"da2"}',
    b'{"type":"BYE","reason":"server shutting down"}',
    b'{"type":"BYE","reason":"bye","id":"q1"}',
    b'{"type":"PING"}',
    b'{"type":"REGISTERED","nick":"alice","id":"g1"}',
    b'{"type":"HISTORY_PAGE","messages":[{"type":"MESSAGE","msg_id":1,'
    b'"ts":"2026-11-18T11:06:40.250Z","from":"alice","text":"hello","room":"#rust"}],'
    b'"more":false,"room":"#rust","id":"y1"}',
    b'{"type":"GAP","after":41,"before":1042,"room":"#lobby"}',
    b'{"type":"MESSAGE","msg_id":2,"ts":"2026-11-18T11:06:41.000Z","from":"alice",'
    b'"text":"cat.png","room":"#rust","file":{"name":"cat.png","size":5,"type":"image/png",'
    b'"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",'
    b'"url":"http://127.0.0.1:8080/files/abc/cat.png"}}',
    b'{"type":"ERROR","code":"invalid_field","message":"invalid field \'version\'",'
    b'"field":"version","id":"h"}',
]


def test_the_conversation_covers_every_message_type() -> None:
    sent = {json.loads(frame)["type"] for frame in SENT}
    received = {json.loads(frame)["type"] for frame in RECEIVED + EXTRA_SERVER_FRAMES}
    assert sent == {_tag(cls) for cls in CLIENT_MESSAGE_TYPES}
    assert received == {_tag(cls) for cls in SERVER_MESSAGE_TYPES}


@pytest.mark.parametrize("frame", SENT)
def test_client_frames_validate(schema: JsonObject, frame: bytes) -> None:
    value = msgspec.json.decode(frame)
    assert validate(value, schema["$defs"]["ClientMessage"], schema) == []
    assert validate(value, schema, schema) == []


@pytest.mark.parametrize("frame", RECEIVED + EXTRA_SERVER_FRAMES)
def test_server_frames_validate(schema: JsonObject, frame: bytes) -> None:
    value = msgspec.json.decode(frame)
    assert validate(value, schema["$defs"]["ServerMessage"], schema) == []
    assert validate(value, schema, schema) == []


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type":"HELLO","nick":"a"}',  # missing version
        b'{"type":"HELLO","version":"1","nick":"a"}',
        b'{"type":"HELLO","version":true,"nick":"a"}',
        b'{"type":"CHAT","room":"#a"}',
        b'{"type":"NOTIFY","room":"#a","level":"loud"}',
        b'{"type":"COMMAND","name":"sum","args":[[1]]}',
        b'{"type":"PING","id":"' + b"x" * 65 + b'"}',
        b'{"type":"WELCOME","version":1,"nick":"a","server":"s","rooms":[]}',  # a server type
        b'{"type":"NOPE"}',
        b'{"room":"#a"}',
        b"[]",
    ],
)
def test_invalid_client_frames_do_not_validate(schema: JsonObject, frame: bytes) -> None:
    assert validate(msgspec.json.decode(frame), schema["$defs"]["ClientMessage"], schema)


def test_unknown_fields_validate(schema: JsonObject) -> None:
    value = {"type": "PING", "id": "x", "added_in_v1_1": [1, 2, 3]}
    assert validate(value, schema["$defs"]["ClientMessage"], schema) == []


def test_frames_validate_with_jsonschema_when_installed(schema: JsonObject) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    client = validator_class({**schema, "$ref": "#/$defs/ClientMessage"})
    server = validator_class({**schema, "$ref": "#/$defs/ServerMessage"})
    for frame in SENT:
        client.validate(msgspec.json.decode(frame))
    for frame in RECEIVED + EXTRA_SERVER_FRAMES:
        server.validate(msgspec.json.decode(frame))
    assert not client.is_valid({"type": "HELLO", "nick": "a"})
