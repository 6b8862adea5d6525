"""The plain-text door, sans-I/O: every command and reply line byte-exactly, against the real hub
in memory (tests/unit/text_wire.py); sanitising and split/merged input as properties."""

from __future__ import annotations

import re

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from palaver.hub.commands import JOKES
from palaver.protocol.errors import PeerError
from palaver.protocol.messages import (
    Error,
    Goodbye,
    Hello,
    Join,
    Joined,
    Left,
    Message,
    Ping,
    Pong,
    Presence,
    Register,
    Registered,
    Result,
    RoomInfo,
    RoomList,
    RunCommand,
    Say,
    SendDirect,
    ServerMessage,
    SetNick,
    Users,
    Welcome,
)
from palaver.protocol.text import TextDialect
from palaver.protocol.text_render import TEXT_HELP
from tests.unit.text_wire import TextWire

DETERMINISTIC = settings(derandomize=True, deadline=None, max_examples=300)
TIME = b"2026-11-18 11:06:40 UTC\r\n"
WELCOME_BOB = (b"* connected to palaver/test as bob\r\n"
               b"* Welcome to palaver. Type /help for commands.\r\n")


def lines(*items: str) -> bytes:
    return b"".join(item.encode() + b"\r\n" for item in items)


def chatting(wire: TextWire, nick: str = "bob") -> int:
    sid = wire.text()
    wire.feed(sid, nick.encode() + b"\n")
    return sid


# --------------------------------------------------------------------------- the nickname prompt


def test_greeting() -> None:
    assert TextDialect().greeting() == b"Welcome to palaver. Choose a nickname:\r\n"


def test_nickname_at_the_prompt_then_chat_both_ways() -> None:
    wire = TextWire()
    alice = wire.program("alice")
    bob = wire.text()
    assert wire.feed(bob, b"bob\r\n") == WELCOME_BOB + lines(
        "* you joined #lobby (2 here: alice, bob)")
    assert wire.events(alice) == [Presence(nick="bob", event="join", room="#lobby")]
    assert wire.feed(bob, b"hello alice\n") == lines("[11:06] <bob> hello alice")
    [said] = wire.events(alice)
    assert isinstance(said, Message) and (said.sender, said.room, said.text) == (
        "bob", "#lobby", "hello alice")
    wire.command(alice, Say(room="#lobby", text="hi bob"))
    assert wire.take(bob) == lines("[11:06] <alice> hi bob")


def test_refused_nickname_asks_again() -> None:
    wire = TextWire()
    wire.program("alice")
    bob = wire.text()
    assert wire.feed(bob, b"alice\n") == lines(
        "! the nick alice is taken (nick_taken)", "Choose a nickname:")
    assert wire.feed(bob, b"1x\n") == lines(
        "! a nick is 1-32 ASCII letters, digits, '_' or '-', starting with a letter "
        "(invalid_nick)", "Choose a nickname:")
    assert wire.feed(bob, b"/nick bob\n").startswith(WELCOME_BOB)


def test_before_a_nickname_only_server_commands_work() -> None:
    wire = TextWire()
    bob = wire.text()
    assert wire.feed(bob, b"/join #dev\n") == lines("! choose a nickname first",
                                                    "Choose a nickname:")
    assert wire.feed(bob, b"/register secret99\n") == lines("! choose a nickname first",
                                                            "Choose a nickname:")
    assert wire.feed(bob, b"/time\n") == TIME
    assert wire.feed(bob, b"/sum 1 2\n") == lines("3")
    assert wire.feed(bob, b"\n   \n") == b""
    assert wire.feed(bob, b"/quit\n") == lines("* disconnected: bye")
    assert wire.closed[bob] == "bye"


def test_login_at_the_prompt_sends_hello_with_password() -> None:
    dialect = TextDialect()
    assert dialect.receive_data(b"/login bob my secret\n") == [
        Hello(id="t1", version=1, nick="bob", password="my secret")]
    dialect = TextDialect()
    [usage] = dialect.receive_data(b"/login bob\n")
    assert dialect.encode(_pong(usage)) == lines("! usage: /login nick password",
                                                 "Choose a nickname:")


def _pong(ping: object) -> ServerMessage:
    assert isinstance(ping, Ping)
    return Pong(id=ping.id)


# --------------------------------------------------------------------------- slash commands


def test_every_slash_command() -> None:
    wire = TextWire()
    alice = wire.program("alice")
    bob = chatting(wire)
    wire.events(alice)
    assert wire.feed(bob, b"/join #dev\nin dev\n") == lines(
        "* you joined #dev (1 here: bob)", "[11:06] <bob> in dev")
    assert wire.feed(bob, b"/who\n/who #dev\n/rooms\n") == lines(
        "* 2 online: alice, bob", "* 1 in #dev: bob", "* 2 rooms:", "  #dev (1 member)",
        "  #lobby (2 members)")
    assert wire.feed(bob, b"/msg alice hi there\n") == lines("[11:06] -> *alice* hi there")
    wire.command(alice, SendDirect(to="bob", text="psst"))
    assert wire.take(bob) == lines("[11:06] *alice* psst")
    wire.command(alice, Say(room="#lobby", text="elsewhere"))
    assert wire.take(bob) == lines("[11:06] #lobby <alice> elsewhere")
    assert wire.feed(bob, b"/nick robert\n") == lines("* bob is now known as robert")
    assert wire.feed(bob, b"/time\n") == TIME
    joke = wire.feed(bob, b"/joke\n")
    assert joke.decode().removesuffix("\r\n") in JOKES
    assert wire.feed(bob, b"/echo  two  spaces\n/sum 1 2 3.5\n") == lines(" two  spaces", "6.5")
    assert wire.feed(bob, b"/help\n") == lines(*TEXT_HELP)
    assert wire.feed(bob, b"/leave\n") == lines("* you left #dev", "* now talking in #lobby")
    assert wire.feed(bob, b"back in the lobby\n//slash\n") == lines(
        "[11:06] <robert> back in the lobby", "[11:06] <robert> /slash")
    assert wire.feed(bob, b"/leave\n") == lines(
        "* you left #lobby", "* you are in no room now; /join #room to talk")
    assert wire.feed(bob, b"anyone?\n") == lines("! you are not in a room; /join #room first")
    assert wire.feed(bob, b"/bogus\n/join\n/join a b\n") == lines(
        "! unknown command /bogus; type /help for the list", "! usage: /join #room",
        "! usage: /join #room")
    assert wire.feed(bob, b"/join #bad!\n") == lines(
        "! a room is '#' followed by 1-49 ASCII letters, digits, '_', '-' or '.' (invalid_room)")
    assert wire.feed(bob, b"/join #lobby\n/quit gone fishing\n") == lines(
        "* you joined #lobby (2 here: alice, robert)", "* disconnected: bye")
    assert wire.events(alice)[-1] == Presence(nick="robert", event="quit", reason="gone fishing")
    assert wire.closed[bob] == "bye"


def test_register_makes_an_account() -> None:
    wire = TextWire()
    bob = chatting(wire)
    [register] = wire.dialect(bob).receive_data(b"/register secret99\n")
    assert register == Register(id="t2", nick="bob", password="secret99")
    dialect = wire.dialect(bob)
    assert dialect.encode(Registered(nick="bob")) == lines(
        "* bob is now an account: next time, log in with /login bob <password>")


def test_others_join_and_quit_lines() -> None:
    wire = TextWire()
    bob = chatting(wire)
    carol = wire.program("carol")
    assert wire.take(bob) == lines("* carol joined #lobby")
    wire.command(carol, SetNick(nick="caz"))
    assert wire.take(bob) == lines("* carol is now known as caz")
    wire.drop(carol, "connection reset")
    assert wire.take(bob) == lines("* caz quit (connection reset)")


# --------------------------------------------------------------------------- the older dialects


def test_user_msg_dir_byte_exact() -> None:
    wire = TextWire()
    alice = wire.program("alice")
    bob = wire.text()
    assert wire.feed(bob, b"USER|bob\nMSG|hello\nDIR\n") == (
        b"USER_OK\r\nMSG_OK\r\nUsers logged in: alice, bob\r\n")
    events = wire.events(alice)
    assert [type(e) for e in events] == [Presence, Message]
    assert isinstance(events[1], Message) and events[1].text == "hello"
    # the classic style: "nickname: message"
    wire.command(alice, Say(room="#lobby", text="hi bob"))
    assert wire.take(bob) == b"alice: hi bob\r\n"
    assert wire.feed(bob, b"/style plain\n") == lines(
        "* style plain: messages look like [12:00] <alice> text")
    wire.command(alice, Say(room="#lobby", text="again"))
    assert wire.take(bob) == b"[11:06] <alice> again\r\n"
    assert wire.feed(bob, b"/style classic\n/style\n/style loud\n") == lines(
        "* style classic: messages look like alice: text", "! usage: /style plain|classic",
        "! usage: /style plain|classic")
    # USER| again changes the nickname
    assert wire.feed(bob, b"USER|robert\n") == b"USER_OK\r\n"
    assert wire.feed(bob, b"DIR\n") == b"Users logged in: alice, robert\r\n"


def test_user_msg_dir_errors() -> None:
    wire = TextWire()
    wire.program("alice")
    bob = wire.text()
    assert wire.feed(bob, b"MSG|too soon\nDIR\n") == (
        b"ERROR not logged in\r\nERROR not logged in\r\n")
    assert wire.feed(bob, b"USER|alice\n") == b"ERROR name taken\r\n"
    assert wire.feed(bob, b"USER|ALICE\n") == b"ERROR name taken\r\n"
    assert wire.feed(bob, b"USER|1x\n") == b"ERROR invalid name\r\n"
    assert wire.feed(bob, b"USER|\n") == b"ERROR invalid name\r\n"
    assert wire.feed(bob, b"USER|bob\n") == b"USER_OK\r\n"
    assert wire.feed(bob, b"MSG|\n") == b"ERROR a message cannot be empty\r\n"
    assert wire.feed(bob, b"MSG|a|b\n") == b"MSG_OK\r\n"
    assert wire.feed(bob, b"USER|alice\n") == b"ERROR name taken\r\n"


def test_command_dialect_before_and_after_a_nickname() -> None:
    wire = TextWire()
    bob = wire.text()
    script = b"get_time\necho some text\ncalculate_sum 1 2 3.5\n"
    expected = TIME + b"some text\r\n6.5\r\n"
    assert wire.feed(bob, script) == expected
    wire.feed(bob, b"bob\n")
    assert wire.feed(bob, script) == expected
    assert wire.feed(bob, b"echo\ncalculate_sum\ncalculate_sum 1 x\nget_time now\n") == (
        b"\r\n0\r\nERROR not a number: 'x'\r\nERROR get_time takes no arguments\r\n")
    # only the first word exactly as written: these are chat
    assert wire.feed(bob, b" echo hi\nEcho hi\n") == lines("[11:06] <bob>  echo hi",
                                                          "[11:06] <bob> Echo hi")


# --------------------------------------------------------------------------- limits and input


def test_over_long_line_gets_an_error_and_closes() -> None:
    wire = TextWire(max_frame=1_024)
    bob = chatting(wire)
    assert wire.feed(bob, b"x" * 2_000) == lines(
        "! line exceeds the limit of 1024 bytes (frame_too_large)")
    assert wire.closed[bob] == "frame too large"


def test_not_utf8_and_control_characters_get_clear_errors() -> None:
    wire = TextWire()
    bob = chatting(wire)
    assert wire.feed(bob, b"caf\xe9\n") == lines("! a line must be UTF-8 text")
    assert wire.feed(bob, b"\x1b[2Jboo\n") == lines(
        "! a message cannot contain control characters (except \\n, \\t) or bidi overrides"
        " (invalid_text)")
    assert wire.feed(bob, b"still here\r\n") == lines("[11:06] <bob> still here")


def test_last_unterminated_line_counts_at_eof() -> None:
    wire = TextWire()
    bob = wire.text()
    assert wire.feed(bob, b"echo bye", eof=True) == b"bye\r\n"


def test_join_then_chat_in_one_read_goes_to_the_new_room() -> None:
    wire = TextWire()
    alice = wire.program("alice")
    wire.command(alice, Join(room="#dev"))
    wire.events(alice)
    bob = wire.text()
    out = wire.feed(bob, b"bob\n/join #dev\nhi dev\n/join #bad!\nstill dev\n")
    assert out.endswith(lines("[11:06] <bob> hi dev",
                              "! a room is '#' followed by 1-49 ASCII letters, digits, '_', '-' "
                              "or '.' (invalid_room)",
                              "[11:06] <bob> still dev"))
    texts = [e.text for e in wire.events(alice) if isinstance(e, Message)]
    assert texts == ["hi dev", "still dev"]


def test_text_clients_render_for_themselves() -> None:
    one, two = TextDialect(), TextDialect()
    assert one.encode_key != two.encode_key
    assert one.encode_key == one.encode_key


# --------------------------------------------------------------------------- properties

UNSAFE_OUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
NASTY = st.lists(st.sampled_from(
    ["a", " ", "\t", "\n", "\r", "\x1b", "[2J", "\x00", "\x07", "\x7f", "\x85", "\x9b", "\u202e",
     "\u2066", "\u2069", "\ud800", "é", "😀", "\u200f"]), max_size=20).map("".join)


def events(text: st.SearchStrategy[str]) -> st.SearchStrategy[ServerMessage]:
    return st.one_of(
        st.builds(Message, msg_id=st.just(1), ts=st.just("2026-11-18T11:06:40.000Z"),
                  sender=text, text=text, room=st.sampled_from(["#lobby", "#dev", None]),
                  to=st.sampled_from([None, "bob", "alice"])),
        st.builds(Presence, nick=text, event=st.sampled_from(["join", "leave", "quit", "nick"]),
                  room=text, reason=text, new_nick=text),
        st.builds(Result, name=text, result=text),
        st.builds(Error, code=text, message=text),
        st.builds(Users, users=st.lists(text, max_size=3).map(tuple), room=text),
        st.builds(Joined, room=text, members=st.lists(text, max_size=3).map(tuple), topic=text),
        st.builds(Left, room=text),
        st.builds(Welcome, version=st.just(1), nick=text, server=text, rooms=st.just(("#lobby",)),
                  motd=text),
        st.builds(Goodbye, reason=text),
        st.builds(RoomList, rooms=st.lists(st.builds(RoomInfo, room=text, members=st.just(2),
                                                     topic=text), max_size=2).map(tuple)),
    )


def assert_safe(data: bytes) -> None:
    text = data.decode("utf-8")
    assert not UNSAFE_OUT.search(text), text
    assert "\r" not in text.replace("\r\n", ""), text
    assert "\n" not in text.replace("\r\n", ""), text
    assert all(not 0xD800 <= ord(c) <= 0xDFFF for c in text)


@DETERMINISTIC
@given(prefix=st.sampled_from([b"", b"bob\n", b"USER|bob\n", b"bob\n/style classic\n"]),
       script=st.lists(st.sampled_from([
           b"USER|x\n", b"MSG|m\n", b"DIR\n", b"get_time\n", b"echo e\n", b"calculate_sum 1\n",
           b"/who\n", b"/time\n", b"hello\n", b"/help\n", b"/style plain\n", b"/bogus\n",
           b"/join #d\n", b"/leave\n", b"/nick y\n", b"/msg a b\n"]), max_size=6),
       replies=st.lists(events(NASTY), min_size=1, max_size=6))
def test_rendered_output_is_never_unsafe(
    prefix: bytes, script: list[bytes], replies: list[ServerMessage]
) -> None:
    """Whatever the state and whichever request an event answers, the bytes are safe lines."""
    dialect = TextDialect()
    sent = dialect.receive_data(prefix + b"".join(script))
    assert_safe(dialect.greeting())
    ids = [m.id for m in sent if not isinstance(m, PeerError | bytes)]
    for index, event in enumerate(replies):
        if ids and index % 2 == 0:  # half the events answer one of our requests
            event = msgspec.structs.replace(event, id=ids[index % len(ids)])
        assert_safe(dialect.encode(event))


@DETERMINISTIC
@given(st.binary(max_size=300), st.sampled_from([b"", b"bob\n", b"USER|bob\n"]))
def test_any_bytes_whole_or_one_at_a_time(data: bytes, prefix: bytes) -> None:
    def run(chunks: list[bytes]) -> list[object]:
        dialect = TextDialect(max_frame=128)
        out: list[object] = []
        for chunk in chunks:
            out.extend(dialect.receive_data(chunk))
        out.extend(dialect.receive_eof())
        assert all(isinstance(item, PeerError | bytes) or hasattr(item, "id") for item in out)
        return out

    whole = run([prefix + data])
    assert whole == run([bytes([b]) for b in prefix + data])
    assert whole == run([prefix, data])


@DETERMINISTIC
@given(st.lists(st.text(max_size=30), max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_lines_parse_the_same_with_either_line_end(texts: list[str], end: str) -> None:
    script = "".join(t.replace("\r", "").replace("\n", "") + end for t in texts)
    one, two = TextDialect(), TextDialect()
    assert one.receive_data(script.encode()) == two.receive_data(
        script.replace(end, "\n").encode())


def test_requests_carry_fresh_ids_and_hub_commands() -> None:
    dialect = TextDialect()
    out = dialect.receive_data(b"bob\nhi\n/who\n/help\nget_time\n")
    assert out[0] == Hello(id="t1", version=1, nick="bob")
    assert out[1] == Say(id="t2", room="#lobby", text="hi")
    assert out[3] == Ping(id="t4")  # /help: its lines are shown on the PONG
    assert out[4] == RunCommand(id="t5", name="time")
