"""IRCv3 labeled-response and batch in the IRC dialect, in memory: every reply to a labeled
command — the dialect's own and the hub's — is held until all of it is known, then labeled."""

from __future__ import annotations

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.batches import add_tag, single_batch, split_lines, wrap
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.messages import (
    Error,
    Goodbye,
    Hello,
    Join,
    Joined,
    Message,
    Ping,
    Pong,
    Quit,
    Say,
    SendDirect,
    Welcome,
)

CAPS = "batch labeled-response echo-message message-tags"


def registered(caps: str = CAPS, nick: str = "ann") -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"), nick_of=lambda: nick, server="srv")
    d.receive_data(f"CAP REQ :{caps}\r\nCAP END\r\n".encode())
    hello = d.receive_data(f"NICK {nick}\r\nUSER {nick} 0 * :A\r\n".encode())[-1]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick=nick, server="p", rooms=(), motd="hi"))
    return d


def lines(data: bytes) -> list[str]:
    return [line.decode() for line in data.split(b"\r\n") if line]


def sent(items: list[Inbound]) -> list[str]:
    return [line for item in items if isinstance(item, bytes) for line in lines(item)]


def said(text: str, request_id: str | None, to: str | None = None) -> Message:
    return Message(id=request_id, msg_id=3, ts="T", sender="ann", text=text,
                   room=None if to else "#a", to=to)


def test_a_labeled_command_answered_at_once_carries_the_label() -> None:
    d = registered()
    assert sent(d.receive_data(b"@label=1 PING x\r\n")) == ["@label=1 :srv PONG srv :x"]
    assert sent(d.receive_data(b"@label=2 NOSUCH\r\n")) == [
        "@label=2 :srv 421 ann NOSUCH :Unknown command"]
    assert sent(d.receive_data(b"@label=3 NO_SUCH\r\n"))[0].startswith("@label=3 :srv 421 ann")


def test_no_answer_is_an_ack() -> None:
    d = registered()
    assert sent(d.receive_data(b"@label=x PONG x\r\n")) == ["@label=x :srv ACK"]


def test_labels_need_the_capability_and_a_short_label() -> None:
    d = registered("batch echo-message")
    assert sent(d.receive_data(b"@label=1 PING x\r\n")) == [":srv PONG srv :x"]
    d = registered()
    long = "y" * 65
    assert sent(d.receive_data(f"@label={long} PING x\r\n".encode())) == [":srv PONG srv :x"]


def test_the_hubs_answers_wait_for_the_fence_and_go_in_one_batch() -> None:
    d = registered()
    out = d.receive_data(b"@label=L PRIVMSG #a,bob :hi\r\n")
    say, dm, fence = out
    assert isinstance(say, Say) and isinstance(dm, SendDirect) and isinstance(fence, Ping)
    assert d.encode(said("hi", say.id)) == b""  # held
    assert d.encode(said("hi", dm.id, to="bob")) == b""
    assert d.encode(Message(msg_id=9, ts="T", sender="bob", text="meanwhile", room="#a")) != b""
    assert lines(d.encode(Pong(id=fence.id))) == [
        "@label=L :srv BATCH +L1 labeled-response",
        "@batch=L1;msgid=#a/3 :ann!ann@palaver PRIVMSG #a :hi",
        "@batch=L1;msgid=dm/ann,bob/3 :ann!ann@palaver PRIVMSG bob :hi",
        ":srv BATCH -L1",
    ]
    assert d.encode(said("later", say.id)) != b""  # the answer is over: nothing held now


def test_one_answer_from_the_hub_is_labeled_and_none_is_an_ack() -> None:
    d = registered()
    say, fence = d.receive_data(b"@label=L PRIVMSG #a :hi\r\n")
    d.encode(said("hi", say.id))
    assert lines(d.encode(Pong(id=fence.id))) == [
        "@label=L;msgid=#a/3 :ann!ann@palaver PRIVMSG #a :hi"]
    plain = registered("batch labeled-response")  # no echo-message: the echo is nothing
    say, fence = plain.receive_data(b"@label=M PRIVMSG #a :hi\r\n")
    assert plain.encode(said("hi", say.id)) == b""
    assert lines(plain.encode(Pong(id=fence.id))) == ["@label=M :srv ACK"]


def test_errors_from_the_hub_are_labeled_numerics() -> None:
    d = registered()
    say, fence = d.receive_data(b"@label=E PRIVMSG #nowhere :hi\r\n")
    d.encode(Error(id=say.id, code="not_in_room", message="you are not in #nowhere"))
    [line] = lines(d.encode(Pong(id=fence.id)))
    assert line.startswith("@label=E :srv 404 ann #nowhere")


def test_a_labeled_join_is_a_batch_of_its_lines() -> None:
    d = registered()
    join, fence = d.receive_data(b"@label=J JOIN #xyz\r\n")
    assert isinstance(join, Join)
    d.encode(Joined(id=join.id, room="#xyz", members=("ann",), topic="", operators=("ann",)))
    out = lines(d.encode(Pong(id=fence.id)))
    assert out[0] == "@label=J :srv BATCH +L1 labeled-response"
    assert out[-1] == ":srv BATCH -L1"
    assert all(line.startswith("@batch=L1 ") for line in out[1:-1]) and len(out) >= 4


def test_several_answers_without_batch_go_unlabeled() -> None:
    d = registered("labeled-response echo-message")
    join, fence = d.receive_data(b"@label=J JOIN #xyz\r\n")
    d.encode(Joined(id=join.id, room="#xyz", members=("ann",), topic=""))
    out = lines(d.encode(Pong(id=fence.id)))
    assert len(out) >= 3 and not any("label" in line or "BATCH" in line for line in out)


def test_bytes_made_at_once_keep_their_place_among_the_hubs_answers() -> None:
    d = registered()
    out = d.receive_data(b"@label=K JOIN 0,#b\r\n")  # "0" is refused at once, #b asks the hub
    assert not any(isinstance(item, bytes) for item in out)  # held with the answer
    join, fence = out
    d.encode(Joined(id=join.id, room="#b", members=("ann",), topic=""))
    answer = lines(d.encode(Pong(id=fence.id)))
    assert " 403 ann 0 " in answer[1] and " JOIN #b" in answer[2]


def test_a_message_to_oneself_is_a_delivery_and_the_labeled_echo() -> None:
    d = registered()
    dm, fence = d.receive_data(b"@label=S PRIVMSG ann :me\r\n")
    delivery = lines(d.encode(said("me", dm.id, to="ann")))
    assert delivery == ["@msgid=dm/ann,ann/3 :ann!ann@palaver PRIVMSG ann :me"]  # aside
    assert lines(d.encode(Pong(id=fence.id))) == [
        "@label=S;msgid=dm/ann,ann/3 :ann!ann@palaver PRIVMSG ann :me"]
    quiet = registered("batch labeled-response")  # no echo-message: the delivery only
    [dm] = quiet.receive_data(b"PRIVMSG ann :me\r\n")
    assert isinstance(dm, SendDirect)
    assert lines(quiet.encode(said("me", dm.id, to="ann"))) == [
        ":ann!ann@palaver PRIVMSG ann :me"]


def test_a_message_to_oneself_unlabeled_is_the_delivery_then_the_echo() -> None:
    without_labels, with_labels = registered(), registered()
    assert sent(with_labels.receive_data(b"@label=P PING x\r\n"))  # it has Labels now
    for d in (without_labels, with_labels):
        [dm] = d.receive_data(b"PRIVMSG ann :me\r\n")
        assert lines(d.encode(said("me", dm.id, to="ann"))) == [
            "@msgid=dm/ann,ann/3 :ann!ann@palaver PRIVMSG ann :me"] * 2
    assert with_labels.labels.aside is None  # nothing put aside is kept


def test_goodbye_is_never_held() -> None:
    d = registered()
    quit_, _ = d.receive_data(b"@label=Q QUIT :bye\r\n")
    assert isinstance(quit_, Quit)
    assert b"ERROR" in d.encode(Goodbye(id=quit_.id, reason="bye"))


def test_batch_helpers_on_finished_lines() -> None:
    assert add_tag(b":s X", "label", "a b") == b"@label=a\\sb :s X"
    assert add_tag(b"@t=1 :s X", "batch", "r") == b"@batch=r;t=1 :s X"
    inner = wrap([b":s PRIVMSG #a :x"], "m1", "draft/multiline", "#a", source="s")
    outer = wrap([*split_lines(inner), b":s PONG s"], "L1", "labeled-response", source="s")
    assert lines(outer) == [
        ":s BATCH +L1 labeled-response",
        "@batch=L1 :s BATCH +m1 draft/multiline #a",
        "@batch=m1 :s PRIVMSG #a :x",  # inside the inner batch: its own tag only
        "@batch=L1 :s BATCH -m1",
        "@batch=L1 :s PONG s",
        ":s BATCH -L1",
    ]
    assert single_batch(split_lines(inner)) and not single_batch(split_lines(outer)[:-1])
