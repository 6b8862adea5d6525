"""``palaver chat`` as a Textual app, driven headless with Pilot against the real server.

Waiting is on the app: :attr:`ChatApp.updated` is set after every redraw, and :func:`until`
waits (bounded) for a predicate on the app's state to hold; then ``pilot.pause()`` lets Textual
process what is queued before a test reads the widgets.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC
from pathlib import Path
from typing import Any

import msgspec
from textual.pilot import Pilot
from textual.widgets import Input, Static

from palaver.client import Backoff, Client
from palaver.client.tui.app import ChatApp
from palaver.client.tui.login import LoginScreen
from palaver.protocol.messages import (
    GrantOperator,
    Join,
    Message,
    Presence,
    Register,
    Say,
    SendDirect,
    SetTopic,
)
from palaver.server.app import Server, running
from palaver.server.config import Settings

TIMEOUT = 20.0
FAST = Backoff(initial=0.05, maximum=0.2)  # reconnect soon: the tests wait on state, not time
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SIZE = (110, 30)


async def until(app: ChatApp, predicate: Callable[[], bool], pilot: Pilot[Any] | None = None,
                ) -> None:
    """Until ``predicate()`` holds (checked after each redraw), at most TIMEOUT seconds."""
    async with asyncio.timeout(TIMEOUT):
        while not predicate():
            app.updated.clear()
            await app.updated.wait()
    if pilot is not None:
        await pilot.pause()


def ready(app: ChatApp) -> bool:
    lobby = app.model.conversations.get("#lobby")
    return app.model.link == "connected" and lobby is not None and lobby.announced


@asynccontextmanager
async def chat(port: int, nick: str | None = "alice", *, wait: bool = True,
               size: tuple[int, int] = SIZE) -> AsyncIterator[tuple[ChatApp, Pilot[Any]]]:
    app = ChatApp("127.0.0.1", port, nick, backoff=FAST, tz=UTC)
    async with app.run_test(size=size) as pilot:
        if nick is not None and wait:
            await until(app, lambda: ready(app), pilot)
        yield app, pilot


async def enter(app: ChatApp, pilot: Pilot[Any], line: str) -> None:
    app.input_line.value = line
    await pilot.press("enter")


async def message(client: Client, sender: str = "alice") -> Message:
    """The next message from ``sender`` (a client may see its own come back too)."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            got = await client.wait_for(Message, timeout=None)
            if got.sender == sender:
                return got


def lines(app: ChatApp, key: str | None = None) -> list[str]:
    return app.model.conversations[key or app.model.current].lines


def status(app: ChatApp) -> str:
    return str(app.status_bar.render())


def sidebar(app: ChatApp) -> list[str]:
    return [str(app.rooms.get_option_at_index(i).prompt) for i in range(app.rooms.option_count)]


# --------------------------------------------------------------------------- talking


async def test_typed_message_reaches_another_client(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob, \
            chat(server.port) as (app, pilot):
        await pilot.press(*"hello bob", "enter")  # real key presses into the input line
        got = await message(bob)
        assert (got.sender, got.room, got.text) == ("alice", "#lobby", "hello bob")
        await until(app, lambda: any(line.endswith("<alice> hello bob") for line in lines(app)),
                    pilot)
        assert app.query_one("#input", Input).value == ""
        assert app.log_lines()[-1].endswith("<alice> hello bob")
        assert status(app) == "connected as alice | #lobby"
        await pilot.press("ctrl+c")  # says BYE
        quit_ = await bob.wait_for(Presence, timeout=TIMEOUT)
        while quit_.event != "quit":
            quit_ = await bob.wait_for(Presence, timeout=TIMEOUT)
        assert quit_.nick == "alice"
    assert app.return_code == 0


async def test_messages_from_others_show_literally_and_neutralised(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob, \
            chat(server.port) as (app, pilot):
        await until(app, lambda: "bob" in app.model.members(), pilot)
        await bob.request(Say(room="#lobby", text="[bold]x[/bold] [red]not red[/] :smile:"))
        await bob.request(Say(room="#lobby", text="two\nlines"))
        await until(app, lambda: lines(app)[-1].endswith("lines"), pilot)
        shown = app.log_lines()
        assert "] <bob> [bold]x[/bold] [red]not red[/] :smile:" in shown[-3]
        assert shown[-2].endswith("<bob> two") and shown[-1] == " " * 14 + "lines"
        # A hostile server could send what ours refuses: control characters, bidi overrides.
        app.on_client_event(Message(msg_id=99, ts="2026-01-01T10:00:00Z", sender="mallory",
                                    text="\x1b[2J\x1b]0;owned\x07\u202eevil", room="#lobby"))
        await pilot.pause()
        assert app.log_lines()[-1] == "[10:00] <mallory> ^[[2J^[]0;owned^G<U+202E>evil"
        members = str(app.member_list.render())
        assert members.split("\n") == ["2 here", "alice", "bob"]
        ARTIFACTS.mkdir(exist_ok=True)
        app.save_screenshot("tui-chat.svg", path=str(ARTIFACTS))
        assert "[bold]x[/bold]" in (ARTIFACTS / "tui-chat.svg").read_text().replace(
            "&#160;", " ")


async def test_unread_count_for_a_background_room_clears_on_switch(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob, \
            chat(server.port) as (app, pilot):
        await enter(app, pilot, "/join #dev")
        await until(app, lambda: app.model.current == "#dev", pilot)
        assert app.log_lines()[0] == "* you joined #dev (1 here: alice)"
        await bob.request(Say(room="#lobby", text="one"))
        await bob.request(Say(room="#lobby", text="two"))
        await until(app, lambda: app.model.conversations["#lobby"].unread == 2, pilot)
        assert sidebar(app) == ["palaver", "#lobby (2)", "#dev"]
        assert app.rooms.highlighted == 2
        await pilot.press("ctrl+p")  # the previous conversation: #lobby
        assert app.model.current == "#lobby"
        assert sidebar(app) == ["palaver", "#lobby", "#dev"]
        assert [line[8:] for line in app.log_lines()[-2:]] == ["<bob> one", "<bob> two"]
        await bob.request(Join(room="#dev"))
        await bob.request(Say(room="#dev", text="over here"))
        await until(app, lambda: app.model.conversations["#dev"].unread == 1, pilot)
        assert list(app.model.conversations["#dev"].members.values()) == ["alice", "bob"]
        await pilot.click("#rooms", offset=(2, 2))  # the third line: #dev
        assert app.model.current == "#dev"
        assert app.log_lines()[-1].endswith("<bob> over here")
        assert app.focused is app.input_line  # typing goes on in the input line
        await pilot.press("alt+down")  # round to the console
        assert app.model.current == "*"
        await pilot.press("alt+up")
        assert app.model.current == "#dev"


async def test_join_shows_the_last_messages_once(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob:
        await bob.request(Join(room="#old"))
        for n in range(60):
            await bob.request(Say(room="#old", text=f"m{n}"))
        async with chat(server.port) as (app, pilot):
            await enter(app, pilot, "/join #old")
            await until(app, lambda: app.model.current == "#old"
                        and lines(app)[-1].endswith("m59"), pilot)
            said = [line.split("> ", 1)[1] for line in lines(app) if "<bob>" in line]
            assert said == [f"m{n}" for n in range(10, 60)]


async def test_direct_messages_have_their_conversation(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob, \
            chat(server.port) as (app, pilot):
        await bob.request(SendDirect(to="alice", text="psst"))
        await until(app, lambda: "@bob" in app.model.conversations, pilot)
        assert sidebar(app) == ["palaver", "#lobby", "@bob (1)"]
        await enter(app, pilot, "/msg bob hi back")
        got = await message(bob)
        assert (got.sender, got.to, got.text) == ("alice", "bob", "hi back")
        await until(app, lambda: app.model.current == "@bob", pilot)
        assert [line[8:] for line in app.log_lines()[-2:]] == ["<bob> psst", "<alice> hi back"]
        assert str(app.member_list.render()).split("\n") == ["2 here", "alice", "bob"]
        await enter(app, pilot, "plain text goes to bob")
        got = await message(bob)
        assert (got.to, got.text) == ("bob", "plain text goes to bob")
        await enter(app, pilot, "/msg nobody-here hello")
        await until(app, lambda: lines(app)[-1].startswith("! "), pilot)
        assert lines(app)[-1].endswith("(no_such_user)")
        assert app.model.current == "@bob"  # the error shows where the line was typed


async def test_commands(server: Server) -> None:
    async with chat(server.port) as (app, pilot):
        for line in ("/time", "/sum 1 2 3.5", "/echo [b]hi[/b]"):
            before = len(lines(app))
            await enter(app, pilot, line)
            await until(app, lambda before=before: len(lines(app)) > before, pilot)
        shown = lines(app)
        assert "6.5" in shown
        assert "[b]hi[/b]" in shown
        for line in ("/rooms", "/who"):  # answered in the console, which comes forward
            before = len(lines(app, "*"))
            await enter(app, pilot, line)
            await until(app, lambda before=before: len(lines(app, "*")) > before, pilot)
            assert app.model.current == "*"
            await pilot.press("ctrl+n")  # back to #lobby
        assert "* 1 online: alice" in lines(app, "*")
        assert "  #lobby (1 member)" in lines(app, "*")
        await enter(app, pilot, "/help")
        assert app.model.current == "*"
        assert "  /msg nick text     send a direct message" in lines(app)
        await pilot.press("ctrl+n")
        await enter(app, pilot, "/nick alicia")
        await until(app, lambda: app.model.me == "alicia", pilot)
        assert status(app) == "connected as alicia | #lobby"
        assert app.log_lines()[-1] == "* alice is now known as alicia"
        await enter(app, pilot, "/register sesame-sesame")
        await until(app, lambda: "account" in lines(app)[-1], pilot)
        await enter(app, pilot, "/quit see you")
    assert app.return_code == 0
    assert app.client is not None and app.client.ended


# --------------------------------------------------------------------------- connecting


async def test_login_screen_asks_for_a_nick_and_again_after_a_refusal(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "taken"), \
            chat(server.port, None) as (app, pilot):
        assert isinstance(app.screen, LoginScreen)
        assert app.focused is app.screen.query_one("#login-nick", Input)
        await pilot.press("enter")  # no nick yet
        assert isinstance(app.screen, LoginScreen)
        await pilot.press(*"taken", "enter")
        await until(app, lambda: app.model.link == "disconnected", pilot)
        assert isinstance(app.screen, LoginScreen)
        error = str(app.screen.query_one("#login-error", Static).render())
        assert "(nick_taken)" in error
        nick = app.screen.query_one("#login-nick", Input)
        assert nick.value == "taken"
        nick.value = "carol"
        await pilot.press("enter")
        await until(app, lambda: ready(app), pilot)
        assert not isinstance(app.screen, LoginScreen)
        assert status(app) == "connected as carol | #lobby"


async def test_login_with_a_password(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "dora") as dora:
        await dora.request(Register(nick="dora", password="s3cret-s3cret"))
    async with chat(server.port, None) as (app, pilot):
        await pilot.press(*"dora", "tab", *"s3cret-s3cret", "enter")
        await until(app, lambda: ready(app), pilot)
        assert app.client is not None and app.client.welcome is not None
        assert app.client.welcome.account


async def test_no_server_shows_the_error_on_the_login_screen() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        async with chat(port, "alice", wait=False) as (app, pilot):
            await until(app, lambda: isinstance(app.screen, LoginScreen), pilot)
            error = str(app.screen.query_one("#login-error", Static).render())
            assert error == f"cannot connect to 127.0.0.1:{port}: Connection refused"
            await pilot.press("ctrl+c")
        assert app.return_code == 0


async def test_a_silent_port_is_said_not_to_be_palaver_on_the_login_screen() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(65_536):
                pass
        writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        app = ChatApp("127.0.0.1", port, "alice", backoff=FAST, tz=UTC, handshake_timeout=0.2)
        async with app.run_test(size=SIZE) as pilot:
            await until(app, lambda: isinstance(app.screen, LoginScreen), pilot)
            error = str(app.screen.query_one("#login-error", Static).render())
            assert error == f"127.0.0.1:{port} is not palaver's JSON port: no answer within 0.2 s"
            await pilot.press("ctrl+c")
        assert app.return_code == 0


async def test_reconnect_is_shown_and_nothing_is_shown_twice(tmp_path: Path) -> None:
    settings = Settings(port=0, data_dir=str(tmp_path), argon2_time_cost=1, argon2_memory_kib=8,
                        web_port=0, irc_port=0, shutdown_grace=1.0)
    async with running(settings) as first:
        port = first.port
        app = ChatApp("127.0.0.1", port, "alice", backoff=FAST, tz=UTC)
        async with app.run_test(size=SIZE) as pilot:
            await until(app, lambda: ready(app), pilot)
            async with await Client.connect("127.0.0.1", port, "bob") as bob:
                await bob.request(Say(room="#lobby", text="before"))
            await until(app, lambda: lines(app)[-1].endswith("<bob> before"), pilot)
            await first.stop()
            await until(app, lambda: app.model.link == "reconnecting", pilot)
            assert status(app).startswith("reconnecting in ")
            assert "(attempt " in status(app)
            assert app.status_bar.has_class("offline")
            await enter(app, pilot, "typed while away")  # goes out once the server is back
            pending = "<alice> typed while away (pending)"
            assert any(line.endswith(pending) for line in lines(app))
            assert any(line.endswith(pending) for line in app.log_lines())
            again = msgspec.structs.replace(settings, port=port)
            async with running(again):
                await until(app, lambda: app.model.link == "connected", pilot)
                assert status(app) == "connected as alice | #lobby"
                assert not app.status_bar.has_class("offline")
                async with await Client.connect("127.0.0.1", port, "bob") as bob:
                    await bob.request(Say(room="#lobby", text="after"))
                    await until(app, lambda: lines(app)[-1].endswith("<bob> after"), pilot)
                said = [line[8:] for line in app.log_lines() if line[8:9] == "<"]
                assert said == ["<bob> before", "<alice> typed while away", "<bob> after"]
                assert not any("(pending)" in line for line in app.log_lines())
                assert "* reconnected as alice" in app.log_lines()
                assert app.log_lines().count("* you joined #lobby (1 here: alice)") == 1
                await pilot.press("ctrl+c")
        assert app.return_code == 0


# --------------------------------------------------------------------------- sizes: 60×20, 120×40

NARROW_SIZE = (60, 20)
WIDE_SIZE = (120, 40)


def on_screen(app: ChatApp, selector: str) -> bool:
    """True if the widget is shown and wholly inside the screen."""
    widget = app.screen.query_one(selector)
    region = widget.region
    width, height = app.size
    return (widget.display and region.width > 0 and region.height > 0 and region.x >= 0
            and region.y >= 0 and region.right <= width and region.bottom <= height)


async def test_narrow_screen_collapses_the_panes_f2_toggles_and_the_log_reflows(
    server: Server,
) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob:
        app = ChatApp("127.0.0.1", server.port, "alice", backoff=FAST, tz=UTC)
        async with app.run_test(size=WIDE_SIZE) as pilot:
            await until(app, lambda: ready(app), pilot)
            assert app.rooms.display and app.members_pane.display
            long = " ".join(f"word{n}" for n in range(30))
            await bob.request(Say(room="#lobby", text=long))
            await until(app, lambda: lines(app)[-1].endswith("word29"), pilot)
            wide = app.log_lines()
            await pilot.resize_terminal(*NARROW_SIZE)
            await pilot.pause()
            assert not app.rooms.display and not app.members_pane.display
            assert on_screen(app, "#log") and on_screen(app, "#input")
            assert app.log_view.region.width == NARROW_SIZE[0]
            wrapped = app.log_lines()
            assert len(wrapped) > len(wide)  # the same lines, wrapped anew for 60 columns
            assert all(len(line) <= NARROW_SIZE[0] for line in wrapped)
            tail = " ".join(line.strip() for line in wrapped[-3:])
            assert tail.endswith("word27 word28 word29") and len(wrapped[-1]) < 60
            assert "Panes" in "".join(str(w.render()) for w in app.screen.query("FooterKey"))
            await pilot.press("f2")
            assert app.rooms.display and app.members_pane.display
            await pilot.press("f2")
            assert not app.rooms.display
            await pilot.resize_terminal(*WIDE_SIZE)
            await pilot.pause()
            assert app.rooms.display and app.members_pane.display
            await pilot.press("ctrl+c")


async def test_at_60x20_the_login_box_fits_and_a_wrong_password_focuses_it(
    server: Server,
) -> None:
    async with await Client.connect("127.0.0.1", server.port, "dora") as dora:
        await dora.request(Register(nick="dora", password="s3cret-s3cret"))
    app = ChatApp("127.0.0.1", server.port, None, backoff=FAST, tz=UTC)
    async with app.run_test(size=NARROW_SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, LoginScreen)
        for part in ("#login-box", "#login-title", "#login-nick", "#login-password",
                     "#login-error"):
            assert on_screen(app, part), part
        await pilot.press(*"dora", "tab", *"wrong-password", "enter")
        await until(app, lambda: isinstance(app.screen, LoginScreen)
                    and "auth_failed" in str(app.screen.query_one("#login-error").render()),
                    pilot)
        password = app.screen.query_one("#login-password", Input)
        assert app.focused is password and password.value == ""
        assert app.screen.query_one("#login-nick", Input).value == "dora"
        await pilot.press(*"s3cret-s3cret", "enter")
        await until(app, lambda: ready(app), pilot)
        assert status(app) == "connected as dora | #lobby"


async def test_topic_operator_marks_and_history_at_login_at_120x40(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob") as bob:
        await bob.request(Join(room="#dev"))  # bob made #dev: its operator
        await bob.request(SetTopic(room="#dev", topic="ship [b]it[/b]"))
        for n in range(3):
            await bob.request(Say(room="#dev", text=f"earlier {n}"))
        app = ChatApp("127.0.0.1", server.port, "alice", backoff=FAST, tz=UTC)
        async with app.run_test(size=WIDE_SIZE) as pilot:
            await until(app, lambda: ready(app), pilot)
            await enter(app, pilot, "/join #dev")
            await until(app, lambda: app.model.current == "#dev"
                        and lines(app)[-1].endswith("earlier 2"), pilot)
            assert str(app.topic_bar.render()) == "ship [b]it[/b]"
            assert on_screen(app, "#topic")
            assert str(app.member_list.render()).split("\n") == ["2 here", "@bob", "alice"]
            await bob.request(GrantOperator(room="#dev", nick="alice"))
            await until(app, lambda: "@alice" in app.model.members(), pilot)
            assert str(app.member_list.render()).split("\n") == ["2 here", "@alice", "@bob"]
            await pilot.press("ctrl+p")  # #lobby has no topic: no topic line
            assert app.model.current == "#lobby" and not app.topic_bar.display
            await pilot.press("ctrl+c")
        # Logging in again (an account rejoins its rooms): the current room's last messages.
        await bob.request(Register(nick="bob", password="bob-password-1"))
        await bob.quit()
    app = ChatApp("127.0.0.1", server.port, "bob", "bob-password-1", backoff=FAST, tz=UTC)
    async with app.run_test(size=WIDE_SIZE) as pilot:
        await until(app, lambda: app.model.link == "connected"
                    and any(line.endswith("earlier 2") for line in lines(app, "#dev")), pilot)
        said = [line[8:] for line in lines(app, "#dev") if "<bob>" in line]
        assert said == ["<bob> earlier 0", "<bob> earlier 1", "<bob> earlier 2"]
        assert app.model.conversations["#dev"].unread == 0  # history is not news
        await pilot.press("ctrl+c")


async def test_a_line_over_the_limit_is_refused_in_place_and_never_sent(server: Server) -> None:
    async with chat(server.port) as (app, pilot):
        await enter(app, pilot, "x" * 70_000)
        await until(app, lambda: lines(app)[-1].startswith("! "), pilot)
        assert lines(app)[-1] == ("! a message is at most 4,000 characters (this one has "
                                  "70,000) (invalid_text)")
        await enter(app, pilot, "still connected")
        await until(app, lambda: lines(app)[-1].endswith("<alice> still connected"), pilot)
        assert app.client is not None and app.client.reconnects == 0
        await pilot.press("ctrl+c")


async def test_who_in_a_direct_conversation_answers_in_the_console(server: Server) -> None:
    async with await Client.connect("127.0.0.1", server.port, "bob"), \
            chat(server.port, size=NARROW_SIZE) as (app, pilot):
        await enter(app, pilot, "/msg bob")
        assert app.model.current == "@bob"
        await enter(app, pilot, "/who")
        await until(app, lambda: app.model.current == "*"
                    and lines(app)[-1].startswith("* 2 online"), pilot)
        assert app.model.conversations["@bob"].lines == []
        assert app.log_lines()[-1] == "* 2 online: alice, bob"
        await pilot.press("ctrl+c")


# --------------------------------------------------------------------------- big rooms


async def test_a_big_room_member_list_comes_in_pages_and_batches(
    start_server: Callable[..., Any]
) -> None:
    """A room over ``member_page`` (10) and ``presence_limit`` (3): JOINED brings the first page,
    the app fetches the others in the background (not shown in the log), and MEMBERS_CHANGED
    keeps the list (one line in the room per batch; docs/protocol.md §21)."""
    server = await start_server(presence_limit=3, member_page=10, presence_interval=0.1)
    crowd = [await Client.connect("127.0.0.1", server.port, f"m{n:02d}") for n in range(25)]
    try:
        async with chat(server.port, "zed") as (app, pilot):
            lobby = app.model.conversations["#lobby"]
            await until(app, lambda: len(lobby.members) == 26, pilot)
            assert str(app.member_list.render()).split("\n") == [
                "26 here", *(f"m{n:02d}" for n in range(25)), "zed"]
            assert not any("10 of 26" in line for line in lines(app))  # pages are not shown
            assert app.model.fetches == {}
            await crowd.pop(0).close()
            await crowd.pop(0).close()
            crowd.append(await Client.connect("127.0.0.1", server.port, "aaron"))
            await until(app, lambda: "aaron" in lobby.members.values()
                        and "m01" not in lobby.members, pilot)
            await until(app, lambda: len(lobby.members) == 25, pilot)
            assert str(app.member_list.render()).split("\n")[:3] == ["25 here", "aaron", "m02"]
            assert any(line.startswith("* #lobby: ") and line.endswith("here)")
                       for line in lines(app, "#lobby"))
    finally:
        for client in crowd:
            await client.close()
