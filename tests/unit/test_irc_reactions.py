"""IRC's +draft/reply and +draft/react on palaver's replies and reactions
(protocol/irc/reactions.py): what the dialect asks of the hub, and how it shows what comes."""

from __future__ import annotations

from palaver.protocol.messages import Message, Quote, React, Reacted, Say, SendDirect, SendTags
from tests.unit.test_irc_labels import lines
from tests.unit.test_irc_messages import registered

QUOTE = Quote(msg_id=41, sender="alice", text="who broke the build?")


def reply(quote: Quote = QUOTE) -> Message:
    return Message(msg_id=42, ts="2026-01-01T00:00:00.000Z", sender="bob", text="me, sorry",
                   room="#a", reply_to=41, quote=quote)


def test_a_privmsg_with_a_reply_tag_to_our_message_is_a_reply() -> None:
    d = registered("message-tags")
    [say] = d.receive_data(b"@+draft/reply=#a/41;+typing=done PRIVMSG #a :me too\r\n")
    assert isinstance(say, Say) and say.reply_to == 41 and say.tags == {"+typing": "done"}
    [dm] = d.receive_data(b"@+draft/reply=dm/ann,bob/7 PRIVMSG bob :yes\r\n")
    assert isinstance(dm, SendDirect) and dm.reply_to == 7 and dm.tags is None


def test_a_reply_tag_to_another_conversation_is_only_relayed() -> None:
    d = registered("message-tags")
    [say] = d.receive_data(b"@+draft/reply=#b/41 PRIVMSG #a :hm\r\n")
    assert isinstance(say, Say) and say.reply_to is None
    assert say.tags == {"+draft/reply": "#b/41"}
    [status] = d.receive_data(b"@+draft/reply=#a/41 PRIVMSG @#a :ops only\r\n")
    assert isinstance(status, Say) and status.reply_to is None and status.only == "operators"


def test_a_reply_reaches_tagged_clients_with_its_tag() -> None:
    [line] = lines(registered("message-tags").encode(reply()))
    assert line.startswith("@") and "+draft/reply=#a/41" in line.split(" ")[0]
    assert line.endswith("PRIVMSG #a :me, sorry")


def test_a_reply_reaches_others_as_it_was_written() -> None:
    """Without message-tags, no quote line: the recipient sees exactly the message sent
    (irctest's message_tags testRecipientCapability)."""
    assert lines(registered().encode(reply())) == [":bob!bob@palaver PRIVMSG #a :me, sorry"]
    gone = reply(quote=Quote(msg_id=41, sender="alice", deleted=True))
    assert lines(registered().encode(gone)) == [":bob!bob@palaver PRIVMSG #a :me, sorry"]


def test_a_tagmsg_reaction_is_a_react() -> None:
    d = registered("message-tags")
    [react] = d.receive_data(b"@+draft/react=\xf0\x9f\x91\x8d;+draft/reply=#a/41 TAGMSG #a\r\n")
    assert isinstance(react, React)
    assert (react.room, react.msg_id, react.reaction, react.remove) == ("#a", 41, "👍", False)
    [gone] = d.receive_data(b"@+draft/unreact=ok;+draft/reply=dm/ann,bob/3 TAGMSG bob\r\n")
    assert isinstance(gone, React) and (gone.peer, gone.msg_id, gone.remove) == ("bob", 3, True)


def test_a_reaction_to_what_is_not_ours_is_relayed_and_other_tags_too() -> None:
    d = registered("message-tags")
    [relayed] = d.receive_data(b"@+draft/react=x;+draft/reply=r9 TAGMSG #a\r\n")
    assert isinstance(relayed, SendTags) and relayed.tags == {"+draft/react": "x",
                                                             "+draft/reply": "r9"}
    react, rest = d.receive_data(b"@+draft/react=x;+draft/reply=#a/2;+typing=active TAGMSG #a\r\n")
    assert isinstance(react, React) and isinstance(rest, SendTags)
    assert rest.tags == {"+typing": "active"}


def test_reacted_is_a_tagmsg_for_tagged_clients() -> None:
    event = Reacted(msg_id=41, by="bob", reaction="👍", room="#a", sender="alice", quote=QUOTE)
    [line] = lines(registered("message-tags").encode(event))
    tags, rest = line.split(" ", 1)
    assert set(tags[1:].split(";")) == {"+draft/react=👍", "+draft/reply=#a/41"}
    assert rest == ":bob!bob@palaver TAGMSG #a"
    removed = Reacted(msg_id=3, by="bob", reaction="ok", remove=True, sender="ann", to="bob")
    [line] = lines(registered("message-tags").encode(removed))
    assert "+draft/unreact=ok" in line and "+draft/reply=dm/ann,bob/3" in line
    assert line.endswith(":bob!bob@palaver TAGMSG ann")


def test_reacted_is_a_server_notice_for_the_others() -> None:
    event = Reacted(msg_id=41, by="bob", reaction="👍", room="#a", sender="alice", quote=QUOTE)
    assert lines(registered().encode(event)) == [
        ":srv NOTICE #a :* bob reacted 👍 to alice: who broke the build?"]
    direct = Reacted(msg_id=3, by="bob", reaction="ok", remove=True, sender="ann", to="bob",
                     quote=Quote(msg_id=3, sender="ann", text="lunch?"))
    assert lines(registered().encode(direct)) == [
        ":srv NOTICE ann :* bob took back ok from ann: lunch?"]


def test_one_s_own_reaction_is_echoed_only_with_echo_message() -> None:
    d = registered("message-tags")
    [react] = d.receive_data(b"@+draft/react=x;+draft/reply=#a/1 TAGMSG #a\r\n")
    answer = Reacted(id=react.id, msg_id=1, by="ann", reaction="x", room="#a", sender="bob")
    assert lines(d.encode(answer)) == []
    e = registered("message-tags echo-message")
    [react] = e.receive_data(b"@+draft/react=x;+draft/reply=#a/1 TAGMSG #a\r\n")
    answer = Reacted(id=react.id, msg_id=1, by="ann", reaction="x", room="#a", sender="bob")
    [line] = lines(e.encode(answer))
    assert line.endswith("TAGMSG #a") and "+draft/react=x" in line
