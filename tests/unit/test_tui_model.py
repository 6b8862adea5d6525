"""The chat screen's view model: conversations, unread counts, members, typed lines, link status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from palaver.client.events import Acknowledged, Disconnected, Reconnected, Reconnecting
from palaver.client.tui.model import CONSOLE, JOIN_HISTORY, MEMBER_PAGES, ChatModel, Outgoing
from palaver.protocol.messages import (
    Error,
    Gap,
    Join,
    Joined,
    Leave,
    Left,
    ListUsers,
    MembersChanged,
    Message,
    Presence,
    Quit,
    Result,
    RoomInfo,
    RoomList,
    RoomUpdated,
    Say,
    SendDirect,
    SetNick,
    Users,
    Welcome,
)

TS = "2026-11-20T12:05:59Z"


def welcome(nick: str = "alice", rooms: tuple[str, ...] = ("#lobby",)) -> Welcome:
    return Welcome(version=1, nick=nick, server="palaver/test", rooms=rooms, motd="hello there")


def said(msg_id: int, sender: str, text: str, room: str | None = "#lobby",
         to: str | None = None, request_id: str | None = None) -> Message:
    return Message(msg_id=msg_id, ts=TS, sender=sender, text=text, room=room, to=to,
                   id=request_id)


def connected(*rooms: str) -> ChatModel:
    model = ChatModel("alice", tz=UTC)
    model.apply(welcome(rooms=rooms or ("#lobby",)))
    for room in rooms or ("#lobby",):
        model.apply(Joined(room=room, members=("alice", "bob"), topic=""))
    return model


def test_welcome_opens_the_rooms_and_the_console_keeps_the_greeting() -> None:
    model = ChatModel("alice", tz=UTC)
    assert model.status() == "connecting | palaver"
    model.apply(welcome(rooms=("#lobby",)))
    model.apply(Joined(room="#lobby", members=("alice", "bob"), topic="talk"))
    assert [e.title for e in model.sidebar()] == ["palaver", "#lobby"]
    assert model.current == "#lobby"
    assert model.status() == "connected as alice | #lobby"
    assert model.conversations[CONSOLE].lines == [
        "* connected to palaver/test as alice", "* hello there"]
    assert model.conversation.lines == ["* you joined #lobby (2 here: alice, bob)",
                                        "* topic: talk"]
    assert model.members() == ["alice", "bob"]


def test_messages_in_a_background_room_count_as_unread_until_it_is_shown() -> None:
    model = connected("#lobby", "#dev")
    assert model.current == "#lobby"
    model.apply(said(1, "bob", "one", room="#dev"))
    model.apply(said(2, "bob", "two", room="#dev"))
    model.apply(said(3, "alice", "mine", room="#dev"))  # my own (another client): not unread
    model.apply(said(4, "bob", "here", room="#lobby"))  # the current room: not unread
    assert {e.key: e.unread for e in model.sidebar()} == {"*": 0, "#lobby": 0, "#dev": 2}
    version = model.sidebar_version
    assert model.switch("#dev")
    assert model.sidebar_version > version
    assert {e.key: (e.unread, e.current) for e in model.sidebar()}["#dev"] == (0, True)
    assert model.conversation.lines[-3:] == [
        "[12:05] <bob> one", "[12:05] <bob> two", "[12:05] <alice> mine"]  # no room prefix
    assert not model.switch("#nowhere")


def test_step_goes_round_the_sidebar() -> None:
    model = connected("#lobby", "#dev")
    model.open_direct("Bob")
    assert [e.key for e in model.sidebar()] == ["*", "#lobby", "#dev", "@bob"]
    assert model.current == "@bob"
    model.step(1)
    assert model.current == CONSOLE
    model.step(-1)
    model.step(-1)
    assert model.current == "#dev"


def test_a_direct_message_opens_its_conversation() -> None:
    model = connected()
    model.apply(said(1, "Bob", "psst\nsecond line", room=None, to="alice"))
    entry = {e.key: e for e in model.sidebar()}["@bob"]
    assert (entry.title, entry.unread, entry.current) == ("@Bob", 1, False)
    model.switch("@bob")
    assert model.conversation.lines == ["[12:05] <Bob> psst", " " * 14 + "second line"]
    assert model.members() == ["alice", "Bob"]
    assert model.interpret("and back") == Outgoing(SendDirect(to="Bob", text="and back"))
    assert model.interpret("//slash") == Outgoing(SendDirect(to="Bob", text="/slash"))


def test_msg_opens_and_its_echo_switches_to_the_conversation() -> None:
    model = connected()
    assert model.interpret("/msg carol hi there") == Outgoing(SendDirect(to="carol",
                                                                         text="hi there"))
    assert model.current == "#lobby"
    model.apply(said(1, "alice", "hi there", room=None, to="carol", request_id="r1"),
                origin="#lobby")
    assert model.current == "@carol"
    assert model.conversation.lines == ["[12:05] <alice> hi there"]
    assert model.interpret("/msg dave") is None  # no text: just opens it
    assert model.current == "@dave"
    assert model.interpret("/leave") is None  # in a DM: closes it
    assert "@dave" not in model.conversations
    assert model.current == "#lobby"


def test_typed_lines_in_a_room() -> None:
    model = connected()
    assert model.interpret("hello [bold]") == Outgoing(Say(room="#lobby", text="hello [bold]"))
    assert model.interpret("/join dev") == Outgoing(Join(room="#dev"), JOIN_HISTORY)
    assert model.interpret("/who") == Outgoing(ListUsers())
    assert model.interpret("/nick al") == Outgoing(SetNick(nick="al"))
    assert model.interpret("/leave") == Outgoing(Leave(room="#lobby"))
    assert model.interpret("/quit bye now") == Outgoing(Quit(reason="bye now"))
    assert model.interpret("   ") is None
    assert model.interpret("/frobnicate") is None
    assert model.conversation.lines[-1] == "! unknown command /frobnicate; type /help for the list"
    assert model.interpret("/help") is None
    assert "  /join #room        join a room and talk there" in model.conversation.lines
    model.switch(CONSOLE)
    assert model.interpret("hi") is None
    assert model.conversation.lines[-1] == "! you are not in a room; /join #room first"


def test_replies_go_where_their_request_was_typed() -> None:
    model = connected("#lobby", "#dev")
    model.apply(Result(name="time", result="12:00", id="r1"), origin="#dev")
    model.apply(Error(code="no_such_user", message="no user zed", id="r2"), origin="#dev")
    assert model.conversations["#dev"].lines[-2:] == ["12:00", "! no user zed (no_such_user)"]
    model.apply(Users(users=("alice", "bob", "carol"), room="#dev", id="r3"), origin="#lobby")
    assert list(model.conversations["#dev"].members.values()) == ["alice", "bob", "carol"]
    model.apply(Gap(after=1, before=5, room="#dev"))
    assert model.conversations["#dev"].lines[-1] == "* messages 2-4 of #dev were not fetched"


def test_presence_keeps_the_member_lists() -> None:
    model = connected("#lobby", "#dev")
    model.apply(Presence(nick="carol", event="join", room="#lobby"))
    assert model.members() == ["alice", "bob", "carol"]
    model.apply(Presence(nick="bob", event="leave", room="#lobby"))
    assert model.members() == ["alice", "carol"]
    assert model.conversation.lines[-2:] == ["* carol joined #lobby", "* bob left #lobby"]
    model.apply(said(1, "bob", "dm", room=None, to="alice"))
    model.apply(Presence(nick="bob", event="nick", new_nick="robert"))
    assert "@bob" not in model.conversations
    assert model.conversations["@robert"].lines[-1] == "* bob is now known as robert"
    assert list(model.conversations["#dev"].members.values()) == ["alice", "robert"]
    model.apply(Presence(nick="robert", event="quit", reason="gone"))
    assert list(model.conversations["#dev"].members.values()) == ["alice"]
    assert model.conversations["#dev"].lines[-1] == "* robert quit (gone)"
    model.apply(Presence(nick="alice", event="nick", new_nick="alicia"))
    assert model.me == "alicia"
    assert model.members() == ["alicia", "carol"]
    assert model.status() == "connected as alicia | #lobby | 1 unread"  # the DM from bob
    model.apply(Presence(nick="zed", event="join", room="#elsewhere"))  # not ours: ignored
    assert "#elsewhere" not in model.conversations


def test_link_events_show_in_the_status_bar_and_a_rejoin_is_not_news() -> None:
    model = connected()
    lines = len(model.conversation.lines)
    model.apply(Disconnected("server shutting down"))
    assert model.status() == "disconnected: server shutting down | #lobby"
    model.apply(Reconnecting(attempt=2, delay=1.25, reason="refused"))
    assert model.status() == "reconnecting in 1.2s (attempt 2) | #lobby"
    model.apply(Reconnected(welcome()))
    model.apply(Joined(room="#lobby", members=("alice",), topic=""))  # the rejoin
    assert model.status() == "connected as alice | #lobby"
    assert model.members() == ["alice"]
    assert model.conversation.lines[lines:] == [
        "* disconnected: server shutting down", "* reconnecting in 1.2s (attempt 2)",
        "* reconnected as alice"]
    model.apply(Acknowledged(said(1, "alice", "x")))
    model.apply(Disconnected("refused", final=True))
    assert model.conversation.lines[-1] == "* gave up: refused"


def test_joining_and_leaving() -> None:
    model = connected()
    model.apply(Joined(room="#Dev", members=("alice",), topic="", id="r1"), origin="#lobby")
    assert model.current == "#dev"
    assert model.conversation.title == "#Dev"
    model.apply(Left(room="#Dev", id="r2"), origin="#dev")
    assert "#dev" not in model.conversations
    assert model.current == "#lobby"
    assert model.conversation.lines[-1] == "* you left #Dev"
    model.apply(Left(room="#lobby"))
    assert model.current == CONSOLE
    assert model.members() == []


def test_user_text_is_shown_literally_and_control_characters_are_neutralised() -> None:
    model = connected()
    model.apply(said(1, "bob", "[bold]x[/bold] \x1b[2J\u202eevil\x07"))
    assert model.conversation.lines[-1] == "[12:05] <bob> [bold]x[/bold] ^[[2J<U+202E>evil^G"
    model.apply(said(2, "ev\x1bil", "dm", room=None, to="alice"))
    assert {e.key: e.title for e in model.sidebar()}["@ev\x1bil"] == "@ev^[il"


def test_old_lines_are_dropped_but_counted() -> None:
    model = connected()
    for n in range(6_000):
        model.info(f"line {n}")
    conversation = model.conversation
    assert conversation.total == 6_001
    assert len(conversation.lines) <= 5_500
    assert conversation.lines[-1] == "line 5999"


events = st.one_of(
    st.builds(lambda n, room, who: said(n, who, "x", room=room),
              st.integers(1, 99), st.sampled_from(["#lobby", "#dev", "#ops"]),
              st.sampled_from(["alice", "bob"])),
    st.builds(lambda who: said(1, who, "x", room=None, to="alice"),
              st.sampled_from(["bob", "carol"])),
    st.builds(lambda room: Joined(room=room, members=("alice",), topic="", id="r"),
              st.sampled_from(["#dev", "#ops"])),
    st.builds(lambda room: Left(room=room), st.sampled_from(["#lobby", "#dev", "#ops"])),
    st.sampled_from(["switch", "next", "prev", "/leave", "/msg zed"]),
)


@given(st.lists(events, max_size=40))
def test_any_sequence_keeps_the_model_consistent(steps: list[object]) -> None:
    model = connected()
    for item in steps:
        if item == "switch":
            model.switch(model.order()[-1].key)
        elif item == "next":
            model.step(1)
        elif item == "prev":
            model.step(-1)
        elif isinstance(item, str):
            model.interpret(item)
        else:
            assert isinstance(item, Message | Joined | Left)
            model.apply(item, origin="#lobby" if isinstance(item, Joined) else None)
        assert model.current in model.conversations
        assert model.conversation.unread == 0
        assert all(c.unread >= 0 for c in model.conversations.values())
        assert model.sidebar()[0].key == CONSOLE
        assert sum(e.current for e in model.sidebar()) == 1



# --------------------------------------------------------------------------- system view, rooms


def test_who_rooms_and_help_answer_in_the_console_not_in_a_direct_conversation() -> None:
    model = connected()
    model.open_direct("bob")
    model.apply(Users(users=("alice", "bob"), id="w1"), origin="@bob")
    assert model.current == CONSOLE
    assert model.conversations[CONSOLE].lines[-1] == "* 2 online: alice, bob"
    model.switch("@bob")
    model.apply(RoomList(rooms=(RoomInfo(room="#lobby", members=2),), id="w2"), origin="@bob")
    assert model.current == CONSOLE
    assert model.conversations[CONSOLE].lines[-2:] == ["* 1 room:", "  #lobby (2 members)"]
    model.switch("@bob")
    assert model.interpret("/help") is None
    assert model.current == CONSOLE and "Commands:" in model.conversation.lines
    assert model.conversations["@bob"].lines == []  # nothing of it in the DM
    model.apply(Users(users=("bob",), room="#lobby"))  # not ours (no origin): nowhere special
    assert model.current == CONSOLE


def test_topic_and_operators_from_joined_room_updated_and_renames() -> None:
    model = ChatModel("alice", tz=UTC)
    model.apply(welcome(rooms=("#dev",)))
    model.apply(Joined(room="#dev", members=("alice", "bob", "zed"), topic="ship it",
                       operators=("zed",)))
    assert model.topic() == "ship it"
    assert model.members() == ["@zed", "alice", "bob"]
    model.apply(RoomUpdated(room="#dev", change="op", by="zed", nick="bob", topic="ship it",
                            operators=("zed", "bob")))
    assert model.members() == ["@bob", "@zed", "alice"]
    assert model.conversation.lines[-1] == "* zed made bob an operator of #dev"
    model.apply(RoomUpdated(room="#dev", change="topic", by="bob", topic="\x1b[2Jnew",
                            operators=("zed", "bob")))
    assert model.topic() == "^[[2Jnew"  # made safe
    model.apply(Presence(nick="bob", event="nick", new_nick="rob"))
    assert model.members() == ["@rob", "@zed", "alice"]
    model.apply(Presence(nick="zed", event="kick", room="#dev", by="rob"))
    assert model.members() == ["@rob", "alice"]
    model.open_direct("rob")
    assert model.topic() == "" and model.members() == ["alice", "rob"]


def test_a_topic_change_shows_in_its_room_not_in_the_current_one() -> None:
    model = connected("#lobby", "#dev")
    model.switch("#lobby")
    model.apply(RoomUpdated(room="#dev", change="topic", by="bob", topic="news"))
    assert model.conversations["#dev"].lines[-1] == "* bob set the topic of #dev: news"
    assert model.conversations["#dev"].topic == "news"
    assert "news" not in " ".join(model.conversations["#lobby"].lines)


def test_a_rooms_history_at_joining_is_no_unread_news() -> None:
    model = ChatModel("alice", tz=UTC)
    model.apply(welcome(rooms=("#lobby", "#dev")))
    model.apply(Joined(room="#lobby", members=("alice",), topic="", last_id=3))
    model.apply(Joined(room="#dev", members=("alice",), topic="", last_id=7))
    assert model.current == "#lobby"
    for n in range(5, 8):  # #dev's last messages, fetched at login
        model.apply(said(n, "bob", f"old {n}", room="#dev"))
    assert model.conversations["#dev"].unread == 0
    model.apply(said(8, "bob", "new", room="#dev"))
    assert model.conversations["#dev"].unread == 1
    assert model.status() == "connected as alice | #lobby | 1 unread"  # the sidebar may be hidden


def test_a_line_typed_offline_is_pending_until_acknowledged_or_refused() -> None:
    model = connected()
    model.mark_pending("p1", "#lobby", Say(room="#lobby", text="typed\naway", id="p1"))
    model.mark_pending("p2", "#lobby", Say(room="#lobby", text="refused", id="p2"))
    lobby = model.conversations["#lobby"]
    assert lobby.lines[-3:] == ["[--:--] <alice> typed", "                away (pending)",
                                "[--:--] <alice> refused (pending)"]
    before = lobby.rewrites
    model.apply(said(9, "alice", "typed\naway", request_id="p1"), origin="#lobby")
    assert lobby.lines[-3:] == ["[--:--] <alice> refused (pending)",
                                "[12:05] <alice> typed", "                away"]
    assert lobby.rewrites == before + 1 and lobby.total == len(lobby.lines)
    model.apply(Error(code="invalid_text", message="no", id="p2"), origin="#lobby")
    assert "(pending)" not in " ".join(lobby.lines)
    assert lobby.lines[-1] == "! no (invalid_text)"
    assert model.pending == {}
    model.mark_pending("p3", "#lobby", Say(room="#lobby", text="once", id="p3"))
    model.apply(Acknowledged(said(10, "alice", "once", request_id="p3")))  # seen in a replay
    assert "(pending)" not in " ".join(lobby.lines)


def test_replies_and_reactions_in_a_room_and_a_direct_conversation() -> None:
    from palaver.protocol.messages import Quote, React, Reacted

    model = connected("#lobby", "#dev")
    model.apply(said(1, "bob", "shipped it", room="#dev"))
    assert model.interpret("/reply 1 nice") == Outgoing(Say(room="#lobby", text="nice",
                                                            reply_to=1))
    assert model.interpret("/react #dev/1 +1") == Outgoing(
        React(room="#dev", msg_id=1, reaction="+1"))
    model.apply(Reacted(msg_id=1, by="bob", reaction="+1", room="#dev", sender="bob",
                        quote=Quote(msg_id=1, sender="bob", text="shipped it")))
    assert model.conversations["#dev"].lines[-1] == "* bob reacted +1 to #1 (bob: shipped it)"
    model.open_direct("Bob")
    assert model.interpret("/reply 3 yes") == Outgoing(SendDirect(to="Bob", text="yes",
                                                                  reply_to=3))
    assert model.interpret("/unreact 3 +1") == Outgoing(
        React(peer="Bob", msg_id=3, reaction="+1", remove=True))
    model.switch("#lobby")
    model.apply(Reacted(msg_id=3, by="bob", reaction="ok", sender="alice", to="bob"))
    assert model.conversations["@bob"].lines[-1] == "* bob reacted ok to #3 of a direct message"


# --------------------------------------------------------------------------- big rooms


def big_room(model: ChatModel) -> None:
    """#lobby, 12 members; the server gave the first page of 5 (docs/protocol.md §21)."""
    model.apply(Joined(room="#lobby", members=("alice", "Amy", "bob", "carol", "dave"),
                       topic="", operators=("carol",), members_total=12, members_next="dave"))


def ids() -> Callable[[], str]:
    counter = iter(range(1, 1000))
    return lambda: f"p{next(counter)}"


def test_a_big_room_fetches_its_member_pages_one_at_a_time_and_shows_none() -> None:
    model = ChatModel("alice", tz=UTC)
    model.apply(welcome())
    big_room(model)
    assert model.member_heading() == "5 of 12 here"
    assert model.members() == ["@carol", "alice", "Amy", "bob", "dave"]
    next_id = ids()
    [first] = model.member_requests(next_id)
    assert first == ListUsers(room="#lobby", after="dave", id="p1")
    assert model.member_requests(next_id) == []  # one in flight per room
    shown = model.conversations["#lobby"].total
    model.apply(Users(users=("erin", "frank", "Gus", "hal", "ivy"), room="#lobby",
                      operators=("Gus",), total=12, next="ivy", id="p1"))
    assert model.conversations["#lobby"].total == shown  # merged, not shown
    assert model.member_heading() == "10 of 12 here"
    [second] = model.member_requests(next_id)
    assert second.after == "ivy"
    # Meanwhile a batch: jo came and erin went (pages and batches agree, whatever the order).
    model.apply(MembersChanged(room="#lobby", joined=("jo",), left=("erin",), count=12))
    assert model.conversations["#lobby"].lines[-1] == "* #lobby: jo joined; erin left (12 here)"
    assert model.conversations["#lobby"].unread == 0
    model.apply(Users(users=("jo", "kim", "lee"), room="#lobby", total=12, id=second.id))
    assert model.member_requests(next_id) == []  # the last page: no next
    assert model.member_heading() == "12 here"
    assert model.members()[:2] == ["@carol", "@Gus"]
    assert "erin" not in model.members() and "kim" in model.members()
    assert model.fetches == {}


def test_members_changed_is_applied_as_in_and_out() -> None:
    model = connected("#lobby", "#dev")
    model.apply(MembersChanged(room="#lobby", joined=("carol", "alice", "dave"), left=("bob",),
                               count=3))
    assert model.members() == ["alice", "carol", "dave"]
    assert model.member_heading() == "3 here"
    model.apply(MembersChanged(room="#dev", joined=("zed",), count=3))  # not current
    assert list(model.conversations["#dev"].members.values()) == ["alice", "bob", "zed"]
    assert model.conversations["#dev"].lines[-1] == "* #dev: zed joined (3 here)"
    model.apply(MembersChanged(room="#elsewhere", joined=("x",), count=9))  # not ours: ignored
    assert "#elsewhere" not in model.conversations
    # A kick and a nick change still come one by one, and keep the count.
    model.apply(MembersChanged(room="#lobby", joined=("erin",), count=4))
    model.apply(Presence(nick="erin", event="kick", room="#lobby", by="carol"))
    assert model.member_heading() == "3 here"
    model.apply(Presence(nick="dave", event="nick", new_nick="david"))
    assert model.members() == ["alice", "carol", "david"]


def test_member_pages_stop_at_an_error_a_new_joined_or_the_bound() -> None:
    model = ChatModel("alice", tz=UTC)
    model.apply(welcome())
    big_room(model)
    next_id = ids()
    [request] = model.member_requests(next_id)
    model.apply(Error(code="no_such_room", message="no such room", id=request.id))
    assert model.member_requests(next_id) == []
    assert model.conversations["#lobby"].lines[-1] != "! no such room (no_such_room)"
    # A reconnect's JOINED starts again; the old chain's late answer is merged, not followed.
    big_room(model)
    [old] = model.member_requests(next_id)
    big_room(model)
    [new] = model.member_requests(next_id)
    model.apply(Users(users=("erin",), room="#lobby", total=12, next="erin", id=old.id))
    assert model.member_requests(next_id) == []
    assert "erin" in model.members()
    # A page whose next does not move forward ends it.
    model.apply(Users(users=("abe",), room="#lobby", total=12, next="abe", id=new.id))
    assert model.member_requests(next_id) == []
    # At most MEMBER_PAGES pages after one JOINED.
    big_room(model)
    for n in range(MEMBER_PAGES):
        [page] = model.member_requests(next_id)
        nick = f"n{n:03d}"
        model.apply(Users(users=(nick,), room="#lobby", total=99, next=nick, id=page.id))
    assert model.member_requests(next_id) == []


def test_typed_who_pages_go_to_the_console_and_more_goes_on() -> None:
    model = ChatModel("alice", tz=UTC)
    model.apply(welcome())
    big_room(model)
    assert model.interpret("/who more") is None  # nothing listed yet
    assert model.conversation.lines[-1].startswith("! no further page of #lobby's members")
    assert model.interpret("/who") == Outgoing(ListUsers())
    assert model.interpret("/who #lobby") == Outgoing(ListUsers(room="#lobby"))
    model.apply(Users(users=("alice", "Amy"), room="#lobby", total=12, next="Amy", id="w1"),
                origin="#lobby")
    assert model.current == CONSOLE
    assert model.conversation.lines[-1] == (
        "* 2 of 12 in #lobby: alice, Amy (/who #lobby more: the next page)")
    assert model.interpret("/who #lobby more") == Outgoing(ListUsers(room="#lobby", after="Amy"))
