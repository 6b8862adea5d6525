"""CHATHISTORY in the dialect, in memory: each subcommand as one HISTORY request and what of
the page it keeps; TARGETS as CONVERSATIONS; the answers as batches; refusals as FAIL."""

from __future__ import annotations

import pytest

from palaver.protocol.irc.history import MAX_LIMIT
from palaver.protocol.messages import (
    ConversationInfo,
    Conversations,
    Error,
    History,
    HistoryPage,
    ListConversations,
    Message,
    Ping,
    Pong,
)
from tests.unit.test_irc_labels import lines, registered, sent

CAPS = "batch server-time message-tags labeled-response draft/chathistory"


def msg(n: int, room: str = "#a") -> Message:
    return Message(msg_id=n, ts=f"2026-01-01T00:00:{n:02d}.000Z", sender="bob",
                   text=f"m{n}", room=room)


def asked(line: str) -> History:
    d = registered(CAPS)
    [request] = d.receive_data(line.encode() + b"\r\n")
    assert isinstance(request, History)
    return request


@pytest.mark.parametrize(("line", "bounds"), [
    ("CHATHISTORY LATEST #a * 10", {}),
    ("CHATHISTORY LATEST #a msgid=#a/4 10", {}),  # the newest page, less what is not after 4
    ("CHATHISTORY BEFORE #a msgid=#a/7 10", {"before": 7}),
    ("CHATHISTORY AFTER #a msgid=#A/3 10", {"after": 3}),
    ("CHATHISTORY BEFORE #a timestamp=2026-01-01T00:00:07.000Z 2",
     {"before_ts": "2026-01-01T00:00:07Z"}),
    ("CHATHISTORY AFTER #a timestamp=2026-01-01T00:00:03.250Z 3",
     {"after_ts": "2026-01-01T00:00:03.250000Z"}),
    ("CHATHISTORY AROUND #a msgid=#a/7 3", {"after": 5}),  # 6, 7, 8
    ("CHATHISTORY AROUND #a timestamp=2026-01-01T00:00:07.000Z 3",
     {"before_ts": "2026-01-01T00:00:07.001000Z"}),  # the 3 up to it
    ("CHATHISTORY BETWEEN #a msgid=#a/1 msgid=#a/10 3", {"after": 1}),
    ("CHATHISTORY BETWEEN #a msgid=#a/10 msgid=#a/1 3", {"before": 10}),
])
def test_each_subcommand_is_one_history_request(line: str, bounds: dict[str, object]) -> None:
    request = asked(line)
    for bound in ("before", "after", "before_ts", "after_ts"):
        assert getattr(request, bound) == bounds.get(bound), bound
    assert request.room == "#a" and request.limit == int(line.rsplit(" ", 1)[1])


def test_a_nick_is_a_direct_conversation_and_limits_are_capped() -> None:
    request = asked("CHATHISTORY LATEST Bob * 5000")
    assert (request.room, request.peer, request.limit) == (None, "Bob", MAX_LIMIT)


def answer(line: str, page: list[Message]) -> list[str]:
    d = registered(CAPS)
    request, fence = d.receive_data(b"@label=q " + line.encode() + b"\r\n")
    assert isinstance(request, History) and isinstance(fence, Ping)
    d.encode(HistoryPage(id=request.id, messages=tuple(page), more=False, room="#a"))
    return lines(d.encode(Pong(id=fence.id)))


def texts(out: list[str]) -> list[str]:
    return [line.rsplit(":", 1)[1] for line in out if " PRIVMSG " in line]


def test_the_answer_is_a_labeled_chathistory_batch_of_the_messages_as_sent() -> None:
    out = answer("CHATHISTORY LATEST #a * 10", [msg(1), msg(2)])
    assert out == [
        "@label=q :srv BATCH +L1 chathistory #a",
        "@batch=L1;time=2026-01-01T00:00:01.000Z;msgid=#a/1 :bob!bob@palaver PRIVMSG #a :m1",
        "@batch=L1;time=2026-01-01T00:00:02.000Z;msgid=#a/2 :bob!bob@palaver PRIVMSG #a :m2",
        ":srv BATCH -L1",
    ]
    empty = answer("CHATHISTORY LATEST #a * 10", [])
    assert empty == ["@label=q :srv BATCH +L1 chathistory #a", ":srv BATCH -L1"]


def test_what_passes_the_other_bound_is_dropped() -> None:
    newest = [msg(n) for n in range(1, 11)]
    assert texts(answer("CHATHISTORY LATEST #a msgid=#a/4 20", newest)) == [
        f"m{n}" for n in range(5, 11)]
    assert texts(answer("CHATHISTORY LATEST #a timestamp=2026-01-01T00:00:04.000Z 20",
                        newest)) == [f"m{n}" for n in range(5, 11)]
    after_1 = [msg(n) for n in range(2, 5)]  # the page after 1, limit 3
    assert texts(answer("CHATHISTORY BETWEEN #a msgid=#a/1 msgid=#a/3 3", after_1)) == [
        "m2"]
    before_10 = [msg(n) for n in range(7, 10)]
    assert texts(answer("CHATHISTORY BETWEEN #a msgid=#a/10 msgid=#a/7 3", before_10)) == [
        "m8", "m9"]
    deleted = Message(msg_id=3, ts="2026-01-01T00:00:03.000Z", sender="bob", text="",
                      room="#a", deleted=True)
    assert texts(answer("CHATHISTORY LATEST #a * 10", [msg(2), deleted])) == ["m2"]


@pytest.mark.parametrize(("line", "code"), [
    ("CHATHISTORY SIDEWAYS #a * 10", "INVALID_PARAMS"),
    ("CHATHISTORY LATEST #a", "NEED_MORE_PARAMS"),
    ("CHATHISTORY LATEST #a * 0", "INVALID_PARAMS"),
    ("CHATHISTORY BEFORE #a * 10", "INVALID_PARAMS"),
    ("CHATHISTORY BEFORE #a msgid=#b/4 10", "INVALID_PARAMS"),  # another channel's
    ("CHATHISTORY AFTER #a timestamp=yesterday 10", "INVALID_PARAMS"),
    ("CHATHISTORY TARGETS timestamp=2026-01-01T00:00:00Z * 10", "INVALID_PARAMS"),
])
def test_bad_requests_are_fail_chathistory(line: str, code: str) -> None:
    d = registered(CAPS)
    [fail] = sent(d.receive_data(line.encode() + b"\r\n"))
    assert fail.split()[1:4] == ["FAIL", "CHATHISTORY", code]


def test_a_target_that_is_not_yours_is_invalid_target() -> None:
    d = registered(CAPS)
    [request] = d.receive_data(b"CHATHISTORY LATEST #secret * 10\r\n")
    out = lines(d.encode(Error(id=request.id, code="no_such_room", message="there is no room")))
    assert out == [":srv FAIL CHATHISTORY INVALID_TARGET LATEST #secret :there is no room"]


def test_targets_are_conversations_in_a_targets_batch() -> None:
    d = registered(CAPS)
    [request] = d.receive_data(b"CHATHISTORY TARGETS timestamp=2026-01-02T00:00:00Z "
                               b"timestamp=2026-01-01T00:00:00.000Z 5\r\n")
    assert request == ListConversations(id=request.id, after_ts="2026-01-01T00:00:00Z",
                                        before_ts="2026-01-02T00:00:00Z", limit=5)
    out = lines(d.encode(Conversations(id=request.id, conversations=(
        ConversationInfo(room="#a", last_ts="2026-01-01T01:00:00.000Z"),
        ConversationInfo(peer="bob", last_ts="2026-01-01T02:00:00.000Z")))))
    assert out == [
        ":srv BATCH +L1 draft/chathistory-targets",
        "@batch=L1 :srv CHATHISTORY TARGETS #a 2026-01-01T01:00:00.000Z",
        "@batch=L1 :srv CHATHISTORY TARGETS bob 2026-01-01T02:00:00.000Z",
        ":srv BATCH -L1",
    ]
