"""/download and IRC's FILE, sans-I/O: what they ask the hub (HISTORY and FILE_KEY) and the one
answer they make of the two replies, in either order; the parsing of ``/download``; where
palaver chat saves a file (protocol/file_text.py, protocol/text.py, protocol/irc/files.py,
client/commands.py, client/download.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from palaver.client.commands import DownloadFile, LocalError, parse_line
from palaver.client.download import create_new, target_for
from palaver.protocol.dialect import Inbound
from palaver.protocol.errors import ErrorCode
from palaver.protocol.irc import IrcDialect
from palaver.protocol.irc.dialect import RequestIds
from palaver.protocol.messages import (
    Error,
    FileKey,
    FileRef,
    GetFileKey,
    Hello,
    History,
    HistoryPage,
    Join,
    Message,
    Welcome,
)
from palaver.protocol.text import TextDialect

REF = FileRef(name="cat.png", size=48_213, type="image/png", sha256="0" * 64,
              url="http://h:8080/files/abc/cat.png")
KEY = FileKey(key="1800000000.YWxpY2U.0123abcd", expires="2027-01-15T08:00:00.000Z")
LINK = ("cat.png (48.2 kB, image/png), a link for you alone until 2027-01-15 08:00 UTC: "
        "http://h:8080/files/abc/cat.png?key=1800000000.YWxpY2U.0123abcd")


def message(msg_id: int, text: str = "cat.png", **fields: object) -> Message:
    return Message(msg_id=msg_id, ts="2027-01-15T07:00:00.000Z", sender="alice",
                   text=text, room="#dev", **fields)  # type: ignore[arg-type]


def page(answering: History, *messages: Message) -> HistoryPage:
    return HistoryPage(id=answering.id, messages=messages, more=False, room="#dev")


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(("line", "expected"), [
    ("/download 41", DownloadFile(room="#dev", peer=None, msg_id=41)),
    ("/download #ops/7 ~/Downloads/x y.png", DownloadFile(room="#ops", peer=None, msg_id=7,
                                                          path="~/Downloads/x y.png")),
    ("/download @bob/3", DownloadFile(room=None, peer="bob", msg_id=3)),
])
def test_download_parses_a_message_and_a_path(line: str, expected: DownloadFile) -> None:
    assert parse_line(line, "#dev") == expected


@pytest.mark.parametrize("line", ["/download", "/download x41", "/download #dev/"])
def test_download_without_a_message_is_a_usage_line(line: str) -> None:
    assert parse_line(line, "#dev") == LocalError(
        "usage: /download ID [PATH] (ID: 41, #room/41 or @nick/41)")


# --------------------------------------------------------------------------- the text door


def text_chatting() -> TextDialect:
    dialect = TextDialect()
    [hello] = dialect.receive_data(b"bob\n")
    assert isinstance(hello, Hello)
    dialect.encode(Welcome(id=hello.id, version=1, nick="bob", server="p", rooms=("#lobby",),
                           motd=""))
    [join] = dialect.receive_data(b"/join #dev\n")  # #dev is the current room at once
    assert isinstance(join, Join)
    return dialect


def history_and_key(items: list[Inbound]) -> tuple[History, GetFileKey]:
    history, key = items
    assert isinstance(history, History) and isinstance(key, GetFileKey)
    return history, key


def test_text_door_download_asks_history_and_a_key_and_answers_once() -> None:
    dialect = text_chatting()
    history, key = history_and_key(dialect.receive_data(b"/download 41\n"))
    assert (history.room, history.peer, history.after, history.limit) == ("#dev", None, 40, 1)
    assert dialect.encode(page(history, message(41, file=REF))) == b""
    assert dialect.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)) == (
        f"* {LINK}\r\n".encode())
    # the other order, and a direct conversation
    history, key = history_and_key(dialect.receive_data(b"/download @alice/2 ignored.png\n"))
    assert (history.room, history.peer, history.after) == (None, "alice", 1)
    assert dialect.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)) == b""
    dm = Message(msg_id=2, ts="2027-01-15T07:00:00.000Z", sender="alice", text="x", to="bob",
                 file=REF)
    answer = dialect.encode(HistoryPage(id=history.id, messages=(dm,), more=False,
                                        peer="alice"))
    assert answer == f"* {LINK}\r\n".encode()


@pytest.mark.parametrize(("found", "line"), [
    ((), "! /download: there is no message 41 in #dev (no_such_message)"),
    ((message(42, file=REF),), "! /download: there is no message 41 in #dev (no_such_message)"),
    ((message(41, text="", deleted=True),), "! /download: message 41 of #dev was deleted "
                                            "(message_deleted)"),
    ((message(41, text="hi"),), "! /download: message 41 of #dev carries no file "
                                "(no_such_message)"),
])
def test_text_door_download_of_nothing_says_why(found: tuple[Message, ...], line: str) -> None:
    dialect = text_chatting()
    history, key = history_and_key(dialect.receive_data(b"/download 41\n"))
    assert dialect.encode(HistoryPage(id=history.id, messages=found, more=False)) == b""
    assert dialect.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)) == (
        line.encode() + b"\r\n")


def test_text_door_download_refused_by_the_hub_is_one_line() -> None:
    dialect = text_chatting()
    history, key = history_and_key(dialect.receive_data(b"/download #secret/1\n"))
    assert dialect.encode(Error(id=history.id, code=ErrorCode.NO_SUCH_ROOM,
                                message="there is no room #secret")) == b""
    assert dialect.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)) == (
        b"! /download: there is no room #secret (no_such_room)\r\n")


# --------------------------------------------------------------------------- IRC


def irc_registered() -> IrcDialect:
    d = IrcDialect(ids=RequestIds("t"))
    [hello] = [i for i in d.receive_data(b"NICK bob\r\nUSER b 0 * :B\r\n")
               if not isinstance(i, bytes)]
    assert isinstance(hello, Hello)
    d.encode(Welcome(id=hello.id, version=1, nick="bob", server="p", rooms=(), motd=""))
    d.nick_of = lambda: "bob"
    return d


@pytest.mark.parametrize("msgid", ["#dev/41", "41", "#DEV/41.2"])
def test_irc_file_answers_a_notice_with_the_personal_link(msgid: str) -> None:
    d = irc_registered()
    history, key = history_and_key(d.receive_data(f"FILE #dev {msgid}\r\n".encode()))
    assert (history.room, history.after, history.limit) == ("#dev", 40, 1)
    assert d.encode(page(history, message(41, file=REF))) == b""
    assert d.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)).decode() == (
        f":palaver NOTICE bob :FILE #dev {msgid}: {LINK}\r\n")


def test_irc_file_refusals_are_fail_file() -> None:
    d = irc_registered()
    assert d.receive_data(b"FILE #dev #other/3\r\n") == [
        b":palaver FAIL FILE UNKNOWN_MSGID #dev #other/3 :there is no message #other/3 in #dev"
        b"\r\n"]
    history, key = history_and_key(d.receive_data(b"FILE #secret 1\r\n"))
    assert d.encode(Error(id=history.id, code=ErrorCode.NO_SUCH_ROOM,
                          message="there is no room #secret")) == b""
    assert d.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)) == (
        b":palaver FAIL FILE INVALID_TARGET #secret :there is no room #secret\r\n")
    history, key = history_and_key(d.receive_data(b"FILE alice dm/alice,bob/2\r\n"))
    assert (history.peer, history.after) == ("alice", 1)
    assert d.encode(FileKey(id=key.id, key=KEY.key, expires=KEY.expires)) == b""
    gone = Message(msg_id=2, ts="2027-01-15T07:00:00.000Z", sender="alice", text="", to="bob",
                   deleted=True)
    assert d.encode(HistoryPage(id=history.id, messages=(gone,), more=False)) == (
        b":palaver FAIL FILE UNKNOWN_MSGID alice dm/alice,bob/2 "
        b":message 2 of alice was deleted\r\n")
    [needmore] = d.receive_data(b"FILE #dev\r\n")
    assert isinstance(needmore, bytes) and b" 461 bob FILE " in needmore


# --------------------------------------------------------------------------- where files go


def test_a_file_is_saved_under_its_clean_name_and_never_over_another(tmp_path: Path) -> None:
    assert target_for(None, "../../etc/pass\u202ewd", tmp_path) == tmp_path / "passwd"
    assert target_for(None, "...", tmp_path) == tmp_path / "file"
    assert target_for(str(tmp_path), "a.txt") == tmp_path / "a.txt"  # a directory given
    assert target_for(str(tmp_path / "b.bin"), "a.txt") == tmp_path / "b.bin"
    (tmp_path / "a.txt").write_text("mine")
    made = []
    for _ in range(3):
        path, fd = create_new(tmp_path / "a.txt")
        made.append(path.name)
        os.close(fd)
    assert made == ["a-1.txt", "a-2.txt", "a-3.txt"]
    assert (tmp_path / "a.txt").read_text() == "mine"
