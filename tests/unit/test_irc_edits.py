"""The IRC dialect's edits: EDITED as a NOTICE from the sender (``+draft/reply`` with
message-tags), palaver's own EDIT and EDITS commands, refusals as NOTICEs with the code."""

from __future__ import annotations

from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import Edit, Edited, EditList, ListEdits, MessageVersion
from tests.unit.test_irc_watch_markers_redact import (
    answer,
    error_to,
    lines,
    registered,
    requests,
    send,
)

AT = "2026-11-18T11:09:02.004Z"


def test_an_edit_in_a_channel_reads_well_without_tags() -> None:
    d = registered("ann")
    event = Edited(msg_id=41, text="the build is green", edited_at=AT, by="bob", room="#dev",
                   sender="bob")
    assert lines(d.encode(event)) == [
        ":bob!bob@palaver NOTICE #dev :* edited: the build is green"]


def test_with_message_tags_it_points_at_the_message_edited() -> None:
    d = registered("ann", caps="message-tags server-time")
    event = Edited(msg_id=41, text="line one\nline two", edited_at=AT, by="bob", room="#dev",
                   sender="bob")
    assert lines(d.encode(event)) == [
        f"@time={AT};+draft/reply=#dev/41 :bob!bob@palaver NOTICE #dev :* edited: line one",
        f"@time={AT} :bob!bob@palaver NOTICE #dev :line two"]


def test_a_direct_message_edit_comes_from_its_other_end() -> None:
    d = registered("ann", caps="message-tags")
    theirs = Edited(msg_id=7, text="at 3", edited_at=AT, by="bob", sender="bob", to="ann")
    assert lines(d.encode(theirs)) == [
        "@+draft/reply=dm/ann,bob/7 :bob!bob@palaver NOTICE ann :* edited: at 3"]
    mine = Edited(msg_id=8, text="ok", edited_at=AT, by="ann", sender="ann", to="bob")
    assert lines(d.encode(mine)) == [
        "@+draft/reply=dm/ann,bob/8 :ann!ann@palaver NOTICE bob :* edited: ok"]


def test_control_characters_never_reach_the_wire() -> None:
    d = registered("ann")
    event = Edited(msg_id=1, text="a\x01b\rc", edited_at=AT, by="bob", room="#dev", sender="bob")
    [line] = lines(d.encode(event))
    assert "\x01" not in line and "\r" not in line


def test_edit_and_edits_commands() -> None:
    d = registered("ann")
    [edit] = requests(send(d, "EDIT #dev #dev/41 :the build is green"))
    assert isinstance(edit, Edit)
    assert (edit.room, edit.msg_id, edit.text) == ("#dev", 41, "the build is green")
    [direct] = requests(send(d, "EDIT bob dm/ann,bob/7 :see you at 3"))
    assert isinstance(direct, Edit) and (direct.peer, direct.msg_id) == ("bob", 7)
    [other] = requests(send(d, "EDIT #dev #ops/41 :wrong channel"))
    assert isinstance(other, Edit) and other.msg_id == 0  # names nothing here: no_such_message
    assert answer(d, "EDIT #dev #dev/41 :new", Edited, msg_id=41, text="new", edited_at=AT,
                  by="ann", room="#dev", sender="ann") == [
        ":ann!ann@palaver NOTICE #dev :* edited: new"]
    [listing] = requests(send(d, "EDITS #dev #dev/41"))
    assert isinstance(listing, ListEdits) and (listing.room, listing.msg_id) == ("#dev", 41)


def test_the_versions_are_server_notices() -> None:
    d = registered("ann")
    versions = (MessageVersion(text="teh", ts="2026-11-18T11:06:40.123Z"),
                MessageVersion(text="the", ts=AT))
    got = answer(d, "EDITS #dev #dev/41", EditList, msg_id=41, room="#dev", sender="bob",
                 versions=versions)
    assert [line.split(" :", 1)[1] for line in got] == [
        "EDITS #dev/41: 2 texts of bob's message, oldest first",
        "[2026-11-18 11:06] teh", "[2026-11-18 11:09] the", "End of EDITS #dev/41"]


def test_refusals_are_notices_with_their_code() -> None:
    d = registered("ann")
    [line] = error_to(d, "EDIT #dev #dev/41 :mine now", ErrorCode.NOT_SENDER,
                      "only its sender may edit a message")
    assert line.endswith("NOTICE ann :not_sender: only its sender may edit a message")
    [line] = error_to(d, "EDIT #dev #dev/41 :late", ErrorCode.EDIT_WINDOW_CLOSED, "too late")
    assert "edit_window_closed" in line
    assert any(" 461 " in x for x in lines(b"".join(
        i for i in send(d, "EDIT #dev #dev/41") if isinstance(i, bytes))))
