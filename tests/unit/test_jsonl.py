"""The JSON-lines codec: every frame becomes a client message or a PeerError with a stable code."""

from __future__ import annotations

import itertools

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.protocol.errors import ErrorCode, FrameTooLarge, PeerError
from palaver.protocol.jsonl import (
    JsonLinesDecoder,
    decode_client_frame,
    decode_server_frame,
    encode,
)
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
    Error,
    GetFileKey,
    GetMetadata,
    GetStats,
    Goodbye,
    GrantOperator,
    GrantVoice,
    Hello,
    History,
    Invite,
    Join,
    Joined,
    Kick,
    Kill,
    Leave,
    Left,
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
    Message,
    Mute,
    Ping,
    Pong,
    Presence,
    Quit,
    React,
    Register,
    ResetPassword,
    Result,
    RevokeOperator,
    RevokeVoice,
    RoomInfo,
    RoomList,
    RunCommand,
    Say,
    Search,
    SendDirect,
    SendTags,
    SendWallops,
    ServerMessage,
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
    Users,
    Watch,
    Welcome,
)

# Fixed seeds: the suite gives the same verdict on every run.
DETERMINISTIC = settings(derandomize=True, deadline=None)

Item = ClientMessage | PeerError


def decode_all(data: bytes, max_frame: int = 65_536) -> list[Item]:
    decoder = JsonLinesDecoder(max_frame)
    return [*decoder.receive_data(data), *decoder.receive_eof()]


def decode_one(frame: bytes, max_frame: int = 65_536) -> Item:
    items = decode_all(frame + b"\n", max_frame)
    assert len(items) == 1, items
    return items[0]


def error_of(frame: bytes, max_frame: int = 65_536) -> PeerError:
    item = decode_one(frame, max_frame)
    assert isinstance(item, PeerError), item
    return item


# --------------------------------------------------------------------------- good frames


def test_each_client_message_decodes() -> None:
    frames = {
        b'{"type":"HELLO","version":1,"nick":"alice","id":"1"}':
            Hello(version=1, nick="alice", id="1"),
        b'{"type":"JOIN","room":"#rust"}': Join(room="#rust"),
        b'{"type":"LEAVE","room":"#rust"}': Leave(room="#rust"),
        b'{"type":"CHAT","room":"#rust","text":"hi"}': Say(room="#rust", text="hi"),
        b'{"type":"DM","to":"bob","text":"psst"}': SendDirect(to="bob", text="psst"),
        b'{"type":"NICK","nick":"alicia"}': SetNick(nick="alicia"),
        b'{"type":"WHO"}': ListUsers(),
        b'{"type":"WHO","room":"#rust"}': ListUsers(room="#rust"),
        b'{"type":"ROOMS"}': ListRooms(),
        b'{"type":"COMMAND","name":"sum","args":[1,2.5,"3"]}':
            RunCommand(name="sum", args=(1, 2.5, "3")),
        b'{"type":"COMMAND","name":"help"}': RunCommand(name="help"),
        b'{"type":"PING"}': Ping(),
        b'{"type":"PONG"}': Pong(),
        b'{"type":"BYE","reason":"night"}': Quit(reason="night"),
        b'{"type":"BYE"}': Quit(),
        b'{"type":"REGISTER","nick":"alice","password":"correct horse"}':
            Register(nick="alice", password="correct horse"),
        b'{"type":"HISTORY","room":"#rust","before":120,"limit":50}':
            History(room="#rust", before=120, limit=50),
        b'{"type":"HISTORY","with":"bob","after":3}': History(peer="bob", after=3),
        b'{"type":"TOPIC","room":"#r","topic":"tea"}': SetTopic(room="#r", topic="tea"),
        b'{"type":"OP","room":"#r","nick":"bob"}': GrantOperator(room="#r", nick="bob"),
        b'{"type":"DEOP","room":"#r","nick":"bob"}': RevokeOperator(room="#r", nick="bob"),
        b'{"type":"KICK","room":"#r","nick":"bob","reason":"spam"}':
            Kick(room="#r", nick="bob", reason="spam"),
        b'{"type":"BAN","room":"#r","nick":"bob"}': Ban(room="#r", nick="bob"),
        b'{"type":"UNBAN","room":"#r","nick":"bob"}': Unban(room="#r", nick="bob"),
        b'{"type":"INVITE","room":"#r","nick":"bob"}': Invite(room="#r", nick="bob"),
        b'{"type":"MODE","room":"#r","invite_only":true}':
            SetRoomMode(room="#r", invite_only=True),
        b'{"type":"BANS","room":"#r"}': ListBans(room="#r"),
        b'{"type":"AWAY","message":"lunch"}': SetAway(message="lunch"),
        b'{"type":"AWAY"}': SetAway(),
        # the v1 extensions of step 8 (docs/protocol.md)
        b'{"type":"AUTH","nick":"alice","password":"correct horse"}':
            Authenticate(nick="alice", password="correct horse"),
        b'{"type":"AUTH","mechanism":"certificate"}': Authenticate(mechanism="certificate"),
        b'{"type":"CERT","action":"remove","fingerprint":"ab:cd"}':
            ManageCertificates(action="remove", fingerprint="ab:cd"),
        b'{"type":"CERT"}': ManageCertificates(),
        b'{"type":"REALNAME","realname":"Alice L."}': SetRealname(realname="Alice L."),
        b'{"type":"VOICE","room":"#r","nick":"bob"}': GrantVoice(room="#r", nick="bob"),
        b'{"type":"DEVOICE","room":"#r","nick":"bob"}': RevokeVoice(room="#r", nick="bob"),
        b'{"type":"ALLOW","room":"#r","nick":"bob"}': Allow(room="#r", nick="bob"),
        b'{"type":"DISALLOW","room":"#r","nick":"bob"}': Disallow(room="#r", nick="bob"),
        b'{"type":"ALLOWED","room":"#r"}': ListAllowed(room="#r"),
        b'{"type":"INVITATIONS"}': ListInvitations(),
        b'{"type":"MUTE","room":"#r","nick":"bob"}': Mute(room="#r", nick="bob"),
        b'{"type":"UNMUTE","room":"#r","nick":"bob"}': Unmute(room="#r", nick="bob"),
        b'{"type":"WATCH","add":["bob"]}': Watch(add=("bob",)),
        b'{"type":"MARK_READ","room":"#r","msg_id":7}': MarkRead(room="#r", msg_id=7),
        b'{"type":"DELETE","room":"#r","msg_id":7,"reason":"oops"}':
            Delete(room="#r", msg_id=7, reason="oops"),
        b'{"type":"EDIT","room":"#r","msg_id":7,"text":"fixed it"}':
            Edit(room="#r", msg_id=7, text="fixed it"),
        b'{"type":"EDITS","with":"bob","msg_id":7}':
            ListEdits(peer="bob", msg_id=7),
        b'{"type":"NOTIFY","room":"#r","level":"mentions"}':
            SetNotifyLevel(room="#r", level="mentions"),
        b'{"type":"REACT","with":"bob","msg_id":7,"reaction":"+1","remove":true}':
            React(peer="bob", msg_id=7, reaction="+1", remove=True),
        b'{"type":"CHAT","room":"#r","text":"me too","reply_to":7}':
            Say(room="#r", text="me too", reply_to=7),
        b'{"type":"OPER","name":"root","password":"hunter22"}':
            BecomeOperator(name="root", password="hunter22"),
        b'{"type":"USER_MODE","invisible":true}': SetUserMode(invisible=True),
        b'{"type":"KILL","nick":"bob"}': Kill(nick="bob"),
        b'{"type":"WALLOPS","text":"restart at 5"}': SendWallops(text="restart at 5"),
        b'{"type":"WHOWAS","nick":"bob"}': ListPastUsers(nick="bob"),
        b'{"type":"STATS"}': GetStats(),
        b'{"type":"TAGMSG","room":"#r","tags":{"+typing":"active"}}':
            SendTags(room="#r", tags={"+typing": "active"}),
        b'{"type":"CONVERSATIONS","after_ts":"2026-01-01T00:00:00.000Z",'
        b'"before_ts":"2026-12-31T00:00:00.000Z"}':
            ListConversations(after_ts="2026-01-01T00:00:00.000Z",
                              before_ts="2026-12-31T00:00:00.000Z"),
        b'{"type":"METADATA_SET","key":"avatar","value":"https://x/a.png"}':
            SetMetadata(key="avatar", value="https://x/a.png"),
        b'{"type":"METADATA_CLEAR","room":"#r"}': ClearMetadata(room="#r"),
        b'{"type":"METADATA_GET","nick":"bob"}': GetMetadata(nick="bob"),
        b'{"type":"METADATA_SYNC","room":"#r"}': SyncMetadata(room="#r"),
        b'{"type":"METADATA_SUB","add":["avatar"]}': SubscribeMetadata(add=("avatar",)),
        b'{"type":"SEARCH","query":"deploy friday","with":"bob","before":"41","limit":5}':
            Search(query="deploy friday", peer="bob", before="41", limit=5),
        b'{"type":"UPLOAD","with":"bob","name":"a.pdf","size":9,"text":"see"}':
            Upload(peer="bob", name="a.pdf", size=9, text="see"),
        b'{"type":"FILE_KEY"}': GetFileKey(),
        b'{"type":"PASSWORD","old":"old password","new":"new password"}':
            ChangePassword(old="old password", new="new password"),
        b'{"type":"RESET_PASSWORD","nick":"alice","token":"tok","new":"new password"}':
            ResetPassword(nick="alice", token="tok", new="new password"),
        b'{"type":"DELETE_ACCOUNT","password":"my pw"}': DeleteAccount(password="my pw"),
    }
    assert {type(m) for m in frames.values()} == set(CLIENT_MESSAGE_TYPES)
    for frame, message in frames.items():
        assert decode_one(frame) == message
        assert decode_client_frame(frame) == message


def test_unknown_fields_are_ignored() -> None:
    assert decode_one(b'{"type":"PING","future":{"x":[1,2]},"id":"p"}') == Ping(id="p")


def test_null_is_the_same_as_an_absent_optional_field() -> None:
    assert decode_one(b'{"type":"WHO","room":null,"id":null}') == ListUsers()


def test_field_order_and_whitespace_do_not_matter() -> None:
    frame = b' { "nick" : "a" ,\t"version" : 1 , "type" : "HELLO" } '
    assert decode_one(frame) == Hello(version=1, nick="a")


def test_an_id_of_64_characters_is_accepted() -> None:
    assert decode_one(b'{"type":"PING","id":"' + b"i" * 64 + b'"}') == Ping(id="i" * 64)


def test_ids_are_counted_in_characters_not_bytes() -> None:
    request_id = "é" * 64  # 128 bytes of UTF-8
    assert decode_one(encode(Ping(id=request_id)).rstrip()) == Ping(id=request_id)


def test_blank_and_whitespace_lines_are_ignored() -> None:
    data = b'\n\r\n   \n\t\n{"type":"PING"}\n \r\n'
    assert decode_all(data) == [Ping()]


def test_crlf_frames() -> None:
    assert decode_all(b'{"type":"PING"}\r\n{"type":"PONG"}\r\n') == [Ping(), Pong()]


def test_the_unterminated_last_line_is_decoded_at_eof() -> None:
    decoder = JsonLinesDecoder()
    assert decoder.receive_data(b'{"type":"PING"}\n{"type":"BYE"}') == [Ping()]
    assert decoder.buffered == len(b'{"type":"BYE"}')
    assert decoder.receive_eof() == [Quit()]


def test_a_bad_frame_does_not_stop_the_next_ones() -> None:
    items = decode_all(b'{"type":"PING"}\nnonsense\n{"type":"PONG"}\n')
    assert items[0] == Ping()
    assert isinstance(items[1], PeerError) and items[1].code is ErrorCode.BAD_JSON
    assert items[2] == Pong()


def test_control_characters_in_strings_pass_decoding() -> None:
    # Escaped controls are valid JSON; the hub refuses them (invalid_text), not the decoder.
    say = decode_one(b'{"type":"CHAT","room":"#a","text":"a\\u0000b\\u001bc\\u007fd\\u0085"}')
    assert say == Say(room="#a", text="a\x00b\x1bc\x7fd\x85")
    # A raw C1 control (U+0085 as UTF-8) is not a JSON control character.
    assert decode_one(b'{"type":"CHAT","room":"#a","text":"x\xc2\x85"}') == Say(
        room="#a", text="x\x85"
    )


def test_escaped_newlines_and_tabs_in_text() -> None:
    say = decode_one(b'{"type":"CHAT","room":"#a","text":"line 1\\nline 2\\tend"}')
    assert say == Say(room="#a", text="line 1\nline 2\tend")


def test_every_integer_field_has_a_range() -> None:
    """Out of its range, an integer is the peer's mistake (invalid_field), never a value that
    reaches the store (SQLite holds signed 64-bit integers)."""
    for frame, field in [
        (b'{"type":"HELLO","version":' + str(10**4299).encode() + b',"nick":"a"}', "version"),
        (b'{"type":"HELLO","version":-1,"nick":"a"}', "version"),
        (b'{"type":"HELLO","version":1,"nick":"a","since":{"#a":9223372036854775808}}', "since"),
        (b'{"type":"HELLO","version":1,"nick":"a","since":{"#a":-1}}', "since"),
        (b'{"type":"HISTORY","room":"#a","before":' + str(10**30).encode() + b"}", "before"),
        (b'{"type":"HISTORY","room":"#a","after":-1}', "after"),
        (b'{"type":"HISTORY","room":"#a","limit":201}', "limit"),
    ]:
        error = error_of(frame)
        assert (error.code, error.field) == (ErrorCode.INVALID_FIELD, field), frame
    top = decode_one(b'{"type":"HISTORY","room":"#a","before":9223372036854775807}')
    assert top == History(room="#a", before=2**63 - 1)


def test_huge_integers_decode_up_to_4300_digits() -> None:
    big = 10**4299  # 4300 digits: Python's default int/str conversion limit
    args = decode_one(b'{"type":"COMMAND","name":"sum","args":[' + str(big).encode() + b"]}")
    assert args == RunCommand(name="sum", args=(big,))


def test_more_than_4300_digits_is_an_invalid_field() -> None:
    error = error_of(b'{"type":"COMMAND","name":"sum","args":[1' + b"0" * 4300 + b"]}")
    assert error.code is ErrorCode.INVALID_FIELD
    assert error.field == "args"


def test_a_float_out_of_range_is_an_invalid_field() -> None:
    error = error_of(b'{"type":"COMMAND","name":"sum","args":[1e400]}')
    assert error.code is ErrorCode.INVALID_FIELD
    assert error.field == "args"


# --------------------------------------------------------------------------- bad_json


@pytest.mark.parametrize(
    "frame",
    [
        b"nonsense",
        b"{",
        b'{"type":"PING"',
        b'{"type":"PING"} trailing',
        b'{"type":"PING"}{"type":"PING"}',
        b"{'type':'PING'}",
        b'{"type":"PING",}',
        b'{"type":"COMMAND","name":"sum","args":[NaN]}',
        b'{"type":"COMMAND","name":"sum","args":[Infinity]}',
        b'{"type":"COMMAND","name":"sum","args":[-Infinity]}',
        b'{"type":"CHAT","room":"#a","text":"\\ud800"}',  # lone surrogate, escaped
        b'{"type":"CHAT","room":"#a","text":"\\udc00x"}',
        b'{"type":"CHAT","room":"#a","text":"raw\x01control"}',
        b'{"type":"CHAT","room":"#a","text":"raw\ttab"}',
        b'\xef\xbb\xbf{"type":"PING"}',  # a byte-order mark is not JSON whitespace
        b'\x0c{"type":"PING"}',
    ],
)
def test_bad_json(frame: bytes) -> None:
    error = error_of(frame)
    assert error.code is ErrorCode.BAD_JSON
    assert error.message == "frame is not valid JSON"
    assert error.request_id is None


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type":"CHAT","room":"#a","text":"\xff"}',
        b'{"type":"CHAT","room":"#a","text":"\xc3"}',  # truncated sequence
        b'{"type":"CHAT","room":"#a","text":"\xed\xa0\x80"}',  # a surrogate, UTF-8 encoded
        b'{"type":"CHAT","room":"#a","text":"\xc0\xaf"}',  # overlong
        b'{"type":"PING","id":"\xfe"}',
    ],
)
def test_invalid_utf8_is_bad_json(frame: bytes) -> None:
    error = error_of(frame)
    assert error.code is ErrorCode.BAD_JSON
    assert "UTF-8" in error.message


def test_deep_nesting_of_arrays_is_refused_cleanly() -> None:
    depth = 100_000
    # Over the default limit it never reaches the JSON decoder.
    assert isinstance(error_of(b"[" * depth), FrameTooLarge)
    # Under a larger limit the decoder refuses it without blowing the stack.
    for frame in (b"[" * depth, b"[" * depth + b"]" * depth):
        error = error_of(frame, max_frame=1 << 20)
        assert error.code in (ErrorCode.BAD_FRAME, ErrorCode.BAD_JSON)


def test_deep_nesting_inside_an_object_is_bad_json() -> None:
    depth = 100_000
    frame = b'{"type":"PING","id":"p","x":' + b"[" * depth + b"]" * depth + b"}"
    error = error_of(frame, max_frame=1 << 20)
    assert error.code is ErrorCode.BAD_JSON
    assert error.message == "frame is nested too deeply"
    nested_objects = b'{"a":' * depth + b"1" + b"}" * depth
    assert error_of(nested_objects, max_frame=1 << 20).code is ErrorCode.BAD_JSON


# --------------------------------------------------------------------------- bad_frame


@pytest.mark.parametrize(
    "frame", [b"[1]", b"[]", b'"PING"', b"1", b"-2.5", b"true", b"false", b"null"]
)
def test_a_frame_that_is_not_an_object(frame: bytes) -> None:
    error = error_of(frame)
    assert error.code is ErrorCode.BAD_FRAME
    assert error.message == "a frame must be a JSON object"


@pytest.mark.parametrize(
    "frame",
    [
        b"{}",
        b'{"id":"r1"}',
        b'{"type":1,"id":"r1"}',
        b'{"type":null,"id":"r1"}',
        b'{"type":["PING"],"id":"r1"}',
    ],
)
def test_a_frame_without_a_string_type(frame: bytes) -> None:
    error = error_of(frame)
    assert error.code is ErrorCode.BAD_FRAME
    assert error.request_id == ("r1" if b"r1" in frame else None)


# --------------------------------------------------------------------------- unknown_type


@pytest.mark.parametrize("kind", ["NOPE", "ping", "Hello", "", "WELCOME", "MESSAGE", "ERROR"])
def test_unknown_types_echo_the_request_id(kind: str) -> None:
    error = error_of(msgspec.json.encode({"type": kind, "id": "r7"}))
    assert error.code is ErrorCode.UNKNOWN_TYPE
    assert error.request_id == "r7"
    assert repr(kind) in error.message


# --------------------------------------------------------------------------- invalid_field


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (b'{"type":"HELLO","nick":"a","id":"r1"}', "version"),
        (b'{"type":"HELLO","version":"1","nick":"a","id":"r1"}', "version"),
        (b'{"type":"HELLO","version":1.0,"nick":"a","id":"r1"}', "version"),
        (b'{"type":"HELLO","version":true,"nick":"a","id":"r1"}', "version"),
        (b'{"type":"HELLO","version":1,"id":"r1"}', "nick"),
        (b'{"type":"HELLO","version":1,"nick":7,"id":"r1"}', "nick"),
        (b'{"type":"JOIN","id":"r1"}', "room"),
        (b'{"type":"CHAT","room":"#a","text":null,"id":"r1"}', "text"),
        (b'{"type":"DM","to":["bob"],"text":"x","id":"r1"}', "to"),
        (b'{"type":"WHO","room":5,"id":"r1"}', "room"),
        (b'{"type":"COMMAND","name":"sum","args":"1 2","id":"r1"}', "args"),
        (b'{"type":"COMMAND","name":"sum","args":[[1]],"id":"r1"}', "args"),
        (b'{"type":"COMMAND","name":"sum","args":[true],"id":"r1"}', "args"),
        (b'{"type":"COMMAND","name":"sum","args":[null],"id":"r1"}', "args"),
        (b'{"type":"BYE","reason":{},"id":"r1"}', "reason"),
    ],
)
def test_invalid_fields_name_the_field_and_echo_the_id(frame: bytes, field: str) -> None:
    error = error_of(frame)
    assert error.code is ErrorCode.INVALID_FIELD
    assert error.field == field
    assert error.request_id == "r1"
    assert repr(field) in error.message


@pytest.mark.parametrize(
    "frame",
    [
        b'{"type":"PING","id":"' + b"x" * 65 + b'"}',
        b'{"type":"PING","id":5}',
        b'{"type":"PING","id":["r1"]}',
    ],
)
def test_a_bad_id_is_an_invalid_field_without_an_id(frame: bytes) -> None:
    error = error_of(frame)
    assert error.code is ErrorCode.INVALID_FIELD
    assert error.field == "id"
    assert error.request_id is None


# --------------------------------------------------------------------------- frame_too_large


def test_frame_too_large_ends_the_stream() -> None:
    decoder = JsonLinesDecoder(max_frame=1_024)
    data = b'{"type":"PING"}\n' + b"x" * 2_000 + b'\n{"type":"PONG"}\n'
    items = decoder.receive_data(data)
    assert items[0] == Ping()
    assert isinstance(items[1], FrameTooLarge)
    assert items[1].code is ErrorCode.FRAME_TOO_LARGE
    assert items[1].request_id is None
    assert len(items) == 2
    assert decoder.receive_data(b'{"type":"PING"}\n') == []
    assert decoder.receive_eof() == []


def test_a_frame_of_exactly_the_limit_is_decoded() -> None:
    limit = 1_024
    head = b'{"type":"PING","pad":"'
    frame = head + b"p" * (limit - 1 - len(head) - 2) + b'"}'
    assert len(frame) + 1 == limit
    assert decode_all(frame + b"\n", limit) == [Ping()]
    longer = frame[:-2] + b'p"}'
    assert isinstance(decode_all(longer + b"\n", limit)[0], FrameTooLarge)


# --------------------------------------------------------------------------- decode one frame


def test_decode_client_frame_raises_peer_errors() -> None:
    with pytest.raises(PeerError) as info:
        decode_client_frame(b'{"type":"WELCOME","id":"w"}')
    assert info.value.code is ErrorCode.UNKNOWN_TYPE
    assert info.value.request_id == "w"


def test_decode_server_frame_knows_server_types_only() -> None:
    assert decode_server_frame(b'{"type":"BYE","reason":"bye"}') == Goodbye(reason="bye")
    with pytest.raises(PeerError) as info:
        decode_server_frame(b'{"type":"HELLO","version":1,"nick":"a"}')
    assert info.value.code is ErrorCode.UNKNOWN_TYPE
    with pytest.raises(PeerError) as info:
        decode_server_frame(b'{"type":"BYE"}')  # the server's BYE must say why
    assert info.value.code is ErrorCode.INVALID_FIELD
    assert info.value.field == "reason"


# --------------------------------------------------------------------------- encoding


def test_encode_is_one_compact_line_without_defaults() -> None:
    assert encode(Ping()) == b'{"type":"PING"}\n'
    assert encode(Pong(id="7")) == b'{"type":"PONG","id":"7"}\n'
    assert encode(Joined(room="#a", members=("x",), topic="")) == (
        b'{"type":"JOINED","room":"#a","members":["x"],"topic":""}\n'  # required: always there
    )


def test_message_sender_is_called_from_on_the_wire() -> None:
    event = Message(msg_id=3, ts="2026-01-02T03:04:05.006Z", sender="alice", room="#a",
                    text="hi")
    assert encode(event) == (
        b'{"type":"MESSAGE","msg_id":3,"ts":"2026-01-02T03:04:05.006Z","from":"alice",'
        b'"text":"hi","room":"#a"}\n'
    )


def test_encoded_text_escapes_newlines_so_a_frame_stays_one_line() -> None:
    data = encode(Say(room="#a", text="one\ntwo\r\nthree\u2028"))
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    assert decode_client_frame(data[:-1]) == Say(room="#a", text="one\ntwo\r\nthree\u2028")


# --------------------------------------------------------------------------- properties

ids = st.none() | st.text(max_size=64)
names = st.text(max_size=40)
numbers = st.integers(min_value=-(10**40), max_value=10**40) | st.floats(
    allow_nan=False, allow_infinity=False
)

client_messages: st.SearchStrategy[ClientMessage] = st.one_of(
    st.builds(Hello, id=ids, version=st.integers(min_value=0, max_value=65_535),
              nick=names),
    st.builds(Join, id=ids, room=names),
    st.builds(Leave, id=ids, room=names),
    st.builds(Say, id=ids, room=names, text=st.text()),
    st.builds(SendDirect, id=ids, to=names, text=st.text()),
    st.builds(SetNick, id=ids, nick=names),
    st.builds(ListUsers, id=ids, room=st.none() | names),
    st.builds(ListRooms, id=ids),
    st.builds(RunCommand, id=ids, name=names,
              args=st.lists(names | numbers, max_size=5).map(tuple)),
    st.builds(Ping, id=ids),
    st.builds(Pong, id=ids),
    st.builds(Quit, id=ids, reason=st.none() | names),
)

nick_tuples = st.lists(names, max_size=4).map(tuple)
server_messages: st.SearchStrategy[ServerMessage] = st.one_of(
    st.builds(Welcome, id=ids, version=st.integers(0, 9), nick=names, server=names,
              rooms=nick_tuples, motd=st.text()),
    st.builds(Joined, id=ids, room=names, members=nick_tuples, topic=names),
    st.builds(Left, id=ids, room=names),
    st.builds(Presence, id=ids, nick=names,
              event=st.sampled_from(["join", "leave", "quit", "nick"]),
              room=st.none() | names, reason=st.none() | names, new_nick=st.none() | names),
    st.builds(Message, id=ids, msg_id=st.integers(1, 2**53), ts=names, sender=names,
              text=st.text(), room=st.none() | names, to=st.none() | names),
    st.builds(Users, id=ids, users=nick_tuples, room=st.none() | names),
    st.builds(RoomList, id=ids, rooms=st.lists(
        st.builds(RoomInfo, room=names, members=st.integers(0, 10**6), topic=names),
        max_size=3).map(tuple)),
    st.builds(Result, id=ids, name=names, result=st.text()),
    st.builds(Ping, id=ids),
    st.builds(Pong, id=ids),
    st.builds(Goodbye, id=ids, reason=names),
    st.builds(Error, id=ids, code=st.sampled_from([c.value for c in ErrorCode]), message=names,
              field=st.none() | names),
)


@DETERMINISTIC
@given(message=client_messages)
def test_client_messages_round_trip(message: ClientMessage) -> None:
    data = encode(message)
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert decode_client_frame(data[:-1]) == message
    assert decode_all(data) == [message]


@DETERMINISTIC
@given(message=server_messages)
def test_server_messages_round_trip(message: ServerMessage) -> None:
    data = encode(message)
    assert data.count(b"\n") == 1
    decoded = decode_server_frame(data[:-1])
    assert decoded == message
    assert isinstance(decoded, SERVER_MESSAGE_TYPES)


@DETERMINISTIC
@given(messages=st.lists(client_messages, max_size=8), crlf=st.booleans())
def test_streams_of_messages_round_trip_byte_by_byte(
    messages: list[ClientMessage], crlf: bool
) -> None:
    data = b"".join(encode(m) for m in messages)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    decoder = JsonLinesDecoder()
    items: list[Item] = []
    for i in range(len(data)):
        items.extend(decoder.receive_data(data[i : i + 1]))
    items.extend(decoder.receive_eof())
    assert items == messages


def _decode_in_chunks(chunks: list[bytes], max_frame: int) -> list[Item]:
    decoder = JsonLinesDecoder(max_frame)
    items: list[Item] = []
    for chunk in chunks:
        items.extend(decoder.receive_data(chunk))
    items.extend(decoder.receive_eof())
    return items


def _check_items(items: list[Item]) -> None:
    for item in items:
        assert isinstance(item, (*CLIENT_MESSAGE_TYPES, PeerError)), item
        if isinstance(item, PeerError):
            assert isinstance(item.code, ErrorCode)
            assert item.request_id is None or len(item.request_id) <= 64
    overflows = [i for i, item in enumerate(items) if isinstance(item, FrameTooLarge)]
    assert overflows in ([], [len(items) - 1]), "frame_too_large is always the last item"


json_fragments = st.sampled_from([
    b"{", b"}", b"[", b"]", b'"', b":", b",", b"\n", b"\r\n", b" ", b"\\", b"\\u", b"d800",
    b'"type"', b'"id"', b'"r1"', b'"PING"', b'"HELLO"', b'"CHAT"', b'"COMMAND"', b'"args"',
    b'"version"', b'"nick"', b'"room"', b'"text"', b"1", b"1e400", b"-0", b"null", b"true",
    b"NaN", b"\xff", b"\xc3\xa9", b"\xed\xa0\x80", b'{"type":"PING"}\n',
    b'{"type":"HELLO","version":1,"nick":"a","id":"x"}\n',
])
hostile_bytes = st.binary(max_size=400) | st.lists(json_fragments, max_size=60).map(b"".join)


@settings(parent=DETERMINISTIC, max_examples=300)
@given(data=hostile_bytes, max_frame=st.sampled_from([8, 32, 128, 65_536]))
def test_any_bytes_give_messages_or_peer_errors_whole_or_byte_by_byte(
    data: bytes, max_frame: int
) -> None:
    whole = _decode_in_chunks([data], max_frame)
    _check_items(whole)
    byte_by_byte = _decode_in_chunks([data[i : i + 1] for i in range(len(data))], max_frame)
    _check_items(byte_by_byte)
    # The framer cuts off at the same place however the bytes arrive, so even the
    # frame_too_large cutoff lands at the same item.
    assert byte_by_byte == whole


@DETERMINISTIC
@given(data=hostile_bytes, cuts=st.lists(st.integers(0, 400), max_size=6))
def test_any_chunking_gives_the_same_items(data: bytes, cuts: list[int]) -> None:
    bounds = sorted({0, len(data), *(min(c, len(data)) for c in cuts)})
    chunks = [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert _decode_in_chunks(chunks, 64) == _decode_in_chunks([data], 64)


@DETERMINISTIC
@given(frame=hostile_bytes.map(lambda b: b.replace(b"\n", b"")))
def test_decode_client_frame_raises_only_peer_errors(frame: bytes) -> None:
    try:
        message = decode_client_frame(frame)
    except PeerError as error:
        assert isinstance(error.code, ErrorCode)
    else:
        assert isinstance(message, CLIENT_MESSAGE_TYPES)


def test_a_framer_is_held_only_while_a_line_is_unfinished_or_after_a_failure() -> None:
    decoder = JsonLinesDecoder(max_frame=64)
    assert decoder.receive_data(b'{"type":"PING"}\n') == [Ping()]
    assert decoder._framer is None  # idle: no framer of its own
    assert decoder.receive_data(b'{"type":') == [] and decoder.buffered == len(b'{"type":')
    assert decoder.receive_data(b'"PONG"}\n{"type"') == [Pong()]  # ends inside the next
    assert decoder.receive_data(b':"PING"}\n') == [Ping()] and decoder._framer is None
    items = decoder.receive_data(b"x" * 64 + b"\n")
    assert len(items) == 1 and isinstance(items[0], FrameTooLarge)
    assert decoder.receive_data(b'{"type":"PING"}\n') == []  # failed: nothing more, for good
    assert decoder.receive_eof() == []


def test_split_off_hands_what_is_held_to_a_decoder_of_its_own() -> None:
    shared = JsonLinesDecoder(max_frame=64)
    assert shared.receive_data(b'{"type":') == [] and not shared.idle
    own = shared.split_off()
    assert shared.idle and shared.buffered == 0  # it forgets the line...
    assert shared.receive_data(b'{"type":"PING"}\n') == [Ping()]  # ...and serves others
    assert own.receive_data(b'"PONG"}\n') == [Pong()] and own.idle  # the line goes on there
