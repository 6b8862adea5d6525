"""IRC messages in the dialect, in memory: client-only tags and TAGMSG, one IRC line is one
line (cut to fit, never split), draft/multiline batches both ways, STATUSMSG, UTF8ONLY."""

from __future__ import annotations

import pytest

from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.irc.multiline import MAX_BYTES, MAX_LINES, joined
from palaver.protocol.irc.render import logical_lines
from palaver.protocol.irc.wire import MAX_LINE, parse_line
from palaver.protocol.messages import (
    Hello,
    Message,
    Ping,
    Pong,
    Say,
    SendDirect,
    SendTags,
    StatusMessage,
    Tagged,
    Welcome,
)
from tests.unit.test_irc_labels import lines, sent

MULTI = "batch draft/multiline message-tags server-time echo-message labeled-response"


def registered(caps: str = "", nick: str = "ann") -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick, server="srv")
    if caps:
        d.receive_data(f"CAP REQ :{caps}\r\nCAP END\r\n".encode())
    hello = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :A\r\n".encode())[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    return d


def from_bob(text: str, **fields: object) -> Message:
    return Message(msg_id=5, ts="2026-01-01T00:00:00.000Z", sender="bob", text=text,
                   room="#a", **fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- client tags


def test_client_tags_go_to_the_hub_and_server_tags_do_not() -> None:
    d = registered("message-tags")
    [say] = d.receive_data(b"@+draft/reply=r7;fizz=buzz;+bad\\sname=1 PRIVMSG #a :hi\r\n")
    assert isinstance(say, Say) and say.tags == {"+draft/reply": "r7"}  # not ours: relayed
    assert say.reply_to is None
    [dm] = d.receive_data(b"@+typing=active PRIVMSG bob :hi\r\n")
    assert isinstance(dm, SendDirect) and dm.tags == {"+typing": "active"}
    [say] = d.receive_data(b"@+x=a\\nb PRIVMSG #a :hi\r\n")  # a control character: dropped
    assert isinstance(say, Say) and say.tags is None


def test_client_tags_reach_only_clients_with_message_tags() -> None:
    event = from_bob("hi", tags={"+draft/react": "l😃l", "+typing": ""})
    with_tags = lines(registered("message-tags").encode(event))
    assert with_tags == ["@msgid=#a/5;+draft/react=l😃l;+typing :bob!bob@palaver PRIVMSG #a :hi"]
    assert lines(registered("server-time").encode(event)) == [
        "@time=2026-01-01T00:00:00.000Z :bob!bob@palaver PRIVMSG #a :hi"]
    assert lines(registered().encode(event)) == [":bob!bob@palaver PRIVMSG #a :hi"]


def test_tagmsg_goes_to_the_hub_and_comes_back_to_message_tags_clients_only() -> None:
    d = registered("message-tags echo-message")
    [tags] = d.receive_data(b"@+typing=active;label=x TAGMSG #a\r\n")
    assert tags == SendTags(id=tags.id, room="#a", tags={"+typing": "active"})
    [to_op] = d.receive_data(b"@+typing=paused TAGMSG @#a\r\n")
    assert isinstance(to_op, SendTags) and (to_op.room, to_op.only) == ("#a", "operators")
    assert d.receive_data(b"@fizz=buzz TAGMSG #a\r\n") == []  # no client tag: nothing
    event = Tagged(ref="r7", ts="T", sender="bob", tags={"+buzz": "fizz;buzz"}, room="#a")
    assert lines(d.encode(event)) == [r"@msgid=r7;+buzz=fizz\:buzz :bob!bob@palaver TAGMSG #a"]
    assert registered("server-time echo-message").encode(event) == b""
    echo = Tagged(id=tags.id, ref="r8", ts="T", sender="ann", tags={"+typing": "active"},
                  room="#a")
    assert lines(d.encode(echo)) == ["@msgid=r8;+typing=active :ann!ann@palaver TAGMSG #a"]
    assert registered("message-tags").encode(echo) == b""  # not ours: no pending id, shown


def test_client_tag_data_over_4096_bytes_is_417() -> None:
    d = registered("message-tags")
    at_limit = b"@foo=bar;+baz=" + b"a" * 4081 + b" TAGMSG #a\r\n"
    assert at_limit.index(b"TAGMSG") == 4096
    [tags] = d.receive_data(at_limit)
    assert isinstance(tags, SendTags) and tags.tags == {"+baz": "a" * 4081}
    over = b"@foo=bar;+baz=" + b"a" * 4082 + b" TAGMSG #a\r\n"
    assert [line.split()[1] for line in sent(d.receive_data(over))] == ["417"]


# --------------------------------------------------------------------------- one line


def test_a_long_irc_line_is_cut_to_fit_one_relayed_line_never_split() -> None:
    d = registered()
    [say] = d.receive_data(b"PRIVMSG #a :" + b"b" * 497 + b"\r\n")
    assert isinstance(say, Say) and say.text == "b" * (MAX_LINE - 2 - len(
        ":ann!ann@palaver PRIVMSG #a :"))
    relayed = lines(registered("message-tags", nick="cid").encode(
        Message(msg_id=1, ts="T", sender="ann", text=say.text, room="#a")))
    assert len(relayed) == 1 and len(relayed[0].partition(" ")[2].encode()) == MAX_LINE - 2
    [action] = d.receive_data(b"PRIVMSG #a :\x01ACTION " + "é".encode() * 240 + b"\x01\r\n")
    assert isinstance(action, Say)
    [line] = lines(registered(nick="cid").encode(
        Message(msg_id=2, ts="T", sender="ann", text=action.text, room="#a")))
    assert line.endswith("\x01") and len(line.encode()) <= MAX_LINE - 2


def test_a_long_text_from_palaver_is_split_with_the_msgid_on_its_first_line() -> None:
    out = lines(registered("message-tags").encode(from_bob("x" * 900 + "\n\nend")))
    assert len(out) == 3  # two pieces of the first line, no blank line, "end"
    assert out[0].startswith("@msgid=#a/5 ") and not out[1].startswith("@")
    assert out[2] == ":bob!bob@palaver PRIVMSG #a :end"


# --------------------------------------------------------------------------- multiline


def test_several_lines_go_to_multiline_clients_as_one_batch() -> None:
    text = "\n#how is everyone?"
    out = lines(registered(MULTI).encode(from_bob(text, breaks=(9,))))
    assert out == [
        "@time=2026-01-01T00:00:00.000Z;msgid=#a/5 :bob!bob@palaver BATCH +mla5 "
        "draft/multiline #a",
        "@batch=mla5 :bob!bob@palaver PRIVMSG #a :",
        "@batch=mla5 :bob!bob@palaver PRIVMSG #a :#how is ",
        "@batch=mla5;draft/multiline-concat :bob!bob@palaver PRIVMSG #a :everyone?",
        ":bob!bob@palaver BATCH -mla5",
    ]
    fallback = lines(registered("server-time message-tags").encode(from_bob(text, breaks=(9,))))
    assert [parse_line(line.encode()).params[1] for line in fallback] == ["#how is ",
                                                                           "everyone?"]
    assert "msgid=#a/5" in fallback[0] and "msgid" not in fallback[1]


def test_a_long_line_goes_to_multiline_clients_in_concatenated_pieces() -> None:
    out = lines(registered(MULTI).encode(from_bob("y" * 1000)))
    assert out[0].endswith("BATCH +mla5 draft/multiline #a") and len(out) == 5
    assert "concat" not in out[1]
    assert all("draft/multiline-concat" in line for line in out[2:4])
    assert "".join(parse_line(line.partition(" ")[2].encode()).params[1]
                   for line in out[1:-1]) == "y" * 1000
    single = lines(registered(MULTI).encode(from_bob("short")))
    assert len(single) == 1 and "PRIVMSG #a :short" in single[0]  # no batch for one line


def test_logical_lines_and_joined_are_inverse() -> None:
    batch = [("", False), ("#how is ", False), ("everyone?", True), ("x", False)]
    text, breaks = joined(batch)
    assert (text, breaks) == ("\n#how is everyone?\nx", (9,))
    assert logical_lines(text, breaks) == batch


def test_a_client_batch_becomes_one_message() -> None:
    d = registered(MULTI)
    assert d.receive_data(b"@label=xyz;+client-only-tag BATCH +123 draft/multiline #a\r\n"
                          b"@batch=123 PRIVMSG #a hello\r\n"
                          b"@batch=123 PRIVMSG #a :#how is \r\n"
                          b"@batch=123;draft/multiline-concat PRIVMSG #a :everyone?\r\n") == []
    say, fence = d.receive_data(b"BATCH -123\r\n")
    assert isinstance(say, Say) and isinstance(fence, Ping)  # labeled: the echo is held
    assert (say.text, say.breaks, say.tags) == ("hello\n#how is everyone?", (14,),
                                                {"+client-only-tag": ""})
    d.encode(Message(id=say.id, msg_id=6, ts="T", sender="ann", text=say.text, room="#a",
                     breaks=say.breaks))
    echo = lines(d.encode(Pong(id=fence.id)))
    assert echo[0].startswith("@label=xyz;time=T;msgid=#a/6 :ann!ann@palaver BATCH +mla6 ")
    assert len(echo) == 5


@pytest.mark.parametrize(("batch", "code"), [
    ([b"@batch=1 PRIVMSG #a :hi", b"@batch=1;draft/multiline-concat PRIVMSG #a :"],
     "MULTILINE_INVALID"),
    ([b"@batch=1 PRIVMSG #b :hi"], "MULTILINE_INVALID"),
    ([b"@batch=1 PRIVMSG #a :hi", b"@batch=1 NOTICE #a :hi"], "MULTILINE_INVALID"),
    ([b"@batch=2 PRIVMSG #a :hi"], "MULTILINE_INVALID"),
    ([b"@batch=1 PRIVMSG #a hi"] * (MAX_LINES + 1), "MULTILINE_MAX_LINES"),
    ([b"@batch=1 PRIVMSG #a :" + b"x" * 400] * (MAX_BYTES // 400 + 1), "MULTILINE_MAX_BYTES"),
])
def test_a_bad_client_batch_is_refused_with_fail(batch: list[bytes], code: str) -> None:
    d = registered(MULTI)
    out = d.receive_data(b"BATCH +1 draft/multiline #a\r\n" + b"\r\n".join(batch) + b"\r\n"
                         + b"BATCH -1\r\n")
    [fail] = sent(out)
    assert fail.split()[1:4] == ["FAIL", "BATCH", code]
    assert not [item for item in out if not isinstance(item, bytes)]


def test_batches_need_the_capability() -> None:
    d = registered("batch message-tags")
    [fail] = sent(d.receive_data(b"BATCH +1 draft/multiline #a\r\n"))
    assert fail.split()[1:4] == ["FAIL", "BATCH", "UNKNOWN_TYPE"]


# --------------------------------------------------------------------------- STATUSMSG


def test_statusmsg_goes_to_the_operators_and_comes_back_with_its_prefix() -> None:
    d = registered()
    [say] = d.receive_data(b"PRIVMSG @#a :for ops\r\n")
    assert isinstance(say, Say) and (say.room, say.only, say.text) == ("#a", "operators",
                                                                       "for ops")
    [voiced] = d.receive_data(b"NOTICE +#a :and voices\r\n")
    assert isinstance(voiced, Say) and voiced.only == "voiced" and voiced.notice
    event = StatusMessage(ref="r1", ts="T", sender="bob", text="for ops", room="#a")
    assert lines(d.encode(event)) == [":bob!bob@palaver PRIVMSG @#a :for ops"]
    assert lines(registered("message-tags").encode(event)) == [
        "@msgid=r1 :bob!bob@palaver PRIVMSG @#a :for ops"]


# --------------------------------------------------------------------------- UTF8ONLY


def test_a_line_that_is_not_utf8_is_refused_with_fail() -> None:
    d = registered("labeled-response")
    assert sent(d.receive_data(b"PRIVMSG bob :hi\xaa\r\n")) == [
        ":srv FAIL PRIVMSG INVALID_UTF8 :Message rejected, it was not valid UTF-8"]
    assert sent(d.receive_data(b"@label=x PRIVMSG #a :hi\xaa\r\n"))[0].startswith(
        "@label=x :srv FAIL PRIVMSG INVALID_UTF8 ")
    assert d.receive_data(b"NOTICE bob :hi\xaa\r\n") == []  # never a reply to a NOTICE
    fresh = IrcDialect(ids=RequestIds("u"), server="srv")
    assert sent(fresh.receive_data(b"USER \xe8rc\xe9 * * :r\r\n"))[0].startswith(
        ":srv FAIL USER INVALID_UTF8 ")


def test_a_batch_is_answered_once_with_the_label_of_its_start_or_else_its_end() -> None:
    d = registered(MULTI)
    d.receive_data(b"@label=a BATCH +1 draft/multiline #a\r\n@batch=1 PRIVMSG #a :x\r\n")
    say, fence = d.receive_data(b"@label=b BATCH -1\r\n")  # one answer: the start's label
    assert isinstance(say, Say) and isinstance(fence, Ping)
    d.encode(Message(id=say.id, msg_id=9, ts="T", sender="ann", text="x", room="#a"))
    [echo] = lines(d.encode(Pong(id=fence.id)))
    assert echo.startswith("@label=a;") and " PRIVMSG #a :x" in echo
    d.receive_data(b"BATCH +2 draft/multiline #a\r\n@batch=2 PRIVMSG #a :y\r\n")
    say, fence = d.receive_data(b"@label=c BATCH -2\r\n")
    d.encode(Message(id=say.id, msg_id=10, ts="T", sender="ann", text="y", room="#a"))
    assert lines(d.encode(Pong(id=fence.id)))[0].startswith("@label=c;")
    d.receive_data(b"BATCH +3 draft/multiline #a\r\n@batch=3 PRIVMSG #b :z\r\n")  # refused
    assert sent(d.receive_data(b"@label=d BATCH -3\r\n")) == ["@label=d :srv ACK"]


def test_a_big_rooms_batch_of_joins_and_leaves_is_join_and_part_lines() -> None:
    from palaver.protocol.messages import MembersChanged

    batch = MembersChanged(room="#big", joined=("dave", "erin"), left=("bob",), count=300)
    assert registered().encode(batch) == (
        b":dave!dave@palaver JOIN #big\r\n:erin!erin@palaver JOIN #big\r\n"
        b":bob!bob@palaver PART #big\r\n")
    extended = registered("extended-join").encode(batch)
    assert extended.startswith(b":dave!dave@palaver JOIN #big * :dave\r\n")
    assert extended.endswith(b":bob!bob@palaver PART #big\r\n")
