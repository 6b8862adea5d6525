"""Real IRC clients against the IRC door: Debian's irssi and WeeChat, each run in a detached
tmux session, typed into with ``tmux send-keys`` and read with ``tmux capture-pane``.

The other party is a JSON-lines client (palaver's own :class:`Client`): what the IRC user does
is checked on the server side through the events the JSON user receives, and what the JSON
user does is checked on the IRC client's screen. One script for both programs: registration
(CAP, MOTD), /join, a message each way, /me each way, /topic, a nick change each way, /whois,
/part and /quit.

Every wait polls a condition (a string on the screen, an event received) until a deadline; a
failure prints the screen. Each client gets a temporary home (its configuration, HOME for
tmux), its own tmux server (its own socket, no tmux configuration) and a fixed terminal size.
``make test`` installs irssi, weechat-curses and tmux when it can; without them these tests
skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import psutil  # type: ignore[import-untyped]  # no stubs pinned
import pytest

from palaver.client import Client, ConnectionClosed
from palaver.protocol.messages import (
    Join,
    Joined,
    Message,
    Presence,
    RoomUpdated,
    Say,
    ServerMessage,
    SetNick,
)
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory

WAIT = 20.0  # seconds: the bound on every wait
POLL = 0.05  # seconds between two looks at the screen
WIDTH, HEIGHT = 200, 50  # wide enough that no line of the script wraps
SERVER_NAME = "irc.palaver.test"

TMUX = shutil.which("tmux")
TMUX_CONFIG = "set -g remain-on-exit on\nset -g history-limit 5000\n"


def version_of(binary: str | None, *args: str) -> str:
    if binary is None:
        return ""
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=WAIT,
                          check=False)
    return done.stdout.strip()


@dataclass(frozen=True)
class Program:
    """What differs between the two clients: how to start one, how to switch to its status or
    server window, and how it words what the script looks for on the screen."""

    name: str
    binary: str | None
    package: str
    status_window: str  # the command that shows the server's numerics (MOTD, WHOIS)
    cap_acknowledged: str  # a regular expression
    own_nick_change: str  # a regular expression, {new} filled in
    topic_change: str  # a regular expression, {nick}, {room} and {topic} filled in
    action: str  # a regular expression, {nick} and {text} filled in: /me, not a PRIVMSG
    said: str  # a regular expression, {nick} and {text} filled in
    end_of_whois: str  # a regular expression (may span lines), {nick} filled in

    def command(self, home: Path, port: int, nick: str) -> list[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Irssi(Program):
    def command(self, home: Path, port: int, nick: str) -> list[str]:
        # Without a config, irssi fills in real_name and user_name from the machine's account.
        (home / "config").write_text(
            'settings = {\n  core = {\n'
            f'    real_name = "{nick.title()} Liddell";\n'
            f'    user_name = "{nick}";\n'
            f'    nick = "{nick}";\n'
            '  };\n};\n')
        assert self.binary is not None
        return [self.binary, f"--home={home}", "-c", "127.0.0.1", "-p", str(port), "-n", nick]


@dataclass(frozen=True)
class WeeChat(Program):
    def command(self, home: Path, port: int, nick: str) -> list[str]:
        assert self.binary is not None
        # WeeChat 4 renamed the server option ssl to tls (plain IRC is the default in 3.x).
        plain = "-notls" if int(WEECHAT_VERSION.split(".")[0] or 0) >= 4 else "-nossl"
        commands = [
            # Stay on the server buffer should palaver put us in a channel itself (a /join
            # still switches to the channel): the MOTD is read there.
            "/set irc.look.buffer_switch_autojoin off",
            f"/server add palaver 127.0.0.1/{port} {plain} -nicks={nick} -username={nick}"
            f" -realname={nick.title()}",
            "/connect palaver",
        ]
        return [self.binary, "--dir", str(home), "-r", ";".join(commands)]


IRSSI_BINARY = shutil.which("irssi")
WEECHAT_BINARY = shutil.which("weechat")
WEECHAT_VERSION = version_of(WEECHAT_BINARY, "--version")

PROGRAMS = [
    Irssi(
        name="irssi", binary=IRSSI_BINARY, package="irssi",
        status_window="/window 1",
        cap_acknowledged=r"Capabilities acknowledged: .*server-time",
        own_nick_change=r"You're now known as {new}",
        topic_change=r"{nick} changed the topic of {room} to: {topic}",
        action=r"^\d\d:\d\d\s+\* {nick} {text}",
        said=r"<[ @+]?{nick}> {text}",
        end_of_whois=r"-!- {nick} \[[^]]*@palaver\][\s\S]*End of WHOIS",
    ),
    WeeChat(
        name="weechat", binary=WEECHAT_BINARY, package="weechat-curses",
        status_window="/buffer 1",
        cap_acknowledged=r"client capability, enabled: .*server-time",
        own_nick_change=r"You are now known as {new}",
        topic_change=r'{nick} has changed topic for {room} to "{topic}"',
        action=r"\* \| {nick} {text}",
        said=r"[ @+]{nick} \| {text}",
        end_of_whois=r"\[{nick}\] End of /WHOIS list",
    ),
]


class Terminal:
    """One program in a detached tmux session, on a tmux server of its own."""

    def __init__(self, home: Path, socket: Path) -> None:
        self.home = home
        self.socket = socket
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
                    "LANG": "C.UTF-8", "TERM": "xterm-256color",
                    "XDG_CONFIG_HOME": str(home / ".config"),
                    "XDG_DATA_HOME": str(home / ".local/share"),
                    "XDG_CACHE_HOME": str(home / ".cache"),
                    "XDG_STATE_HOME": str(home / ".local/state")}
        self.started = False
        self.processes: list[psutil.Process] = []  # the tmux server and what runs in it

    async def tmux(self, *args: str) -> str:
        assert TMUX is not None
        process = await asyncio.create_subprocess_exec(
            TMUX, "-S", str(self.socket), *args, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(WAIT):
            out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {err.decode(errors='replace')}")
        return out.decode(errors="replace")

    async def start(self, command: list[str]) -> None:
        config = self.home / "tmux.conf"
        config.write_text(TMUX_CONFIG)
        self.started = True
        # A shell around the program writes down how it ended (see exited()).
        await self.tmux("-f", str(config), "new-session", "-d", "-s", "irc", "-c", str(self.home),
                        "-x", str(WIDTH), "-y", str(HEIGHT), "sh", "-c",
                        '"$@"; echo $? > exit-status.new && mv exit-status.new exit-status',
                        "sh", *command)
        server = int(await self.tmux("display-message", "-p", "-t", "irc", "#{pid}"))
        with contextlib.suppress(psutil.NoSuchProcess):
            self.processes.append(psutil.Process(server))

    async def type(self, line: str) -> None:
        """Type ``line`` (literally, not as key names) and press Enter."""
        await self.tmux("send-keys", "-t", "irc", "-l", "--", line)
        await self.tmux("send-keys", "-t", "irc", "Enter")

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-J", "-t", "irc")

    async def shows(self, pattern: str) -> str:
        """Wait until the screen matches ``pattern`` (a regular expression, multi-line); the
        match. Fails with the screen when the deadline passes first."""
        wanted = re.compile(pattern, re.MULTILINE)
        screen = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            screen = await self.screen()
            if (found := wanted.search(screen)) is not None:
                return found.group(0)
            await asyncio.sleep(POLL)
        pytest.fail(f"not on the screen after {WAIT:g} s: {pattern!r}\n"
                    f"----- screen -----\n{screen}------------------")

    async def exited(self) -> int:
        """Wait until the program has exited; its exit status (written by the shell around
        it: tmux does not always know it, and a full-screen program may clear the screen)."""
        status = self.home / "exit-status"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            if status.exists():
                return int(status.read_text())
            await asyncio.sleep(POLL)
        pytest.fail(f"still running after {WAIT:g} s;\n"
                    f"----- screen -----\n{await self.screen()}------------------")

    async def close(self) -> None:
        """Kill the tmux server and wait until it and every program in it have ended (a
        program that saves its files as it dies must be done before its home is removed)."""
        if not self.started:
            return
        processes = list(self.processes)
        for process in self.processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                processes.extend(process.children(recursive=True))
        with contextlib.suppress(RuntimeError):  # already gone
            await self.tmux("kill-server")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while loop.time() < deadline:
            if not any(alive(process) for process in processes):
                return
            await asyncio.sleep(POLL)
        for process in processes:
            if alive(process):
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()


def alive(process: psutil.Process) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
async def terminal() -> AsyncIterator[Callable[[], Terminal]]:
    """Terminals in temporary homes; every tmux server is killed at the end."""
    if TMUX is None:
        pytest.skip("tmux is missing: `make test` installs it (apt-get install tmux)")
    made: list[Terminal] = []
    with tempfile.TemporaryDirectory(prefix="palaver-irc-") as top:  # short: a socket path
        def open_terminal() -> Terminal:
            home = Path(top) / f"home{len(made)}"
            home.mkdir()
            made.append(Terminal(home, Path(top) / f"tmux{len(made)}.sock"))
            return made[-1]

        try:
            yield open_terminal
        finally:
            for made_terminal in made:
                await made_terminal.close()


@pytest.fixture
async def server(start_server: ServerFactory) -> Server:
    return await start_server(server_name=SERVER_NAME)


async def next_matching(client: Client, what: str, check: Callable[[ServerMessage], bool],
                        ) -> ServerMessage:
    """The next event ``client`` receives that passes ``check``; fails with what came instead."""
    seen: list[ServerMessage] = []
    try:
        async with asyncio.timeout(WAIT):
            while True:
                event = await client.next_event(timeout=None)
                if check(event):
                    return event
                seen.append(event)
    except TimeoutError:
        pytest.fail(f"{client.nick} never received {what} within {WAIT:g} s; it got: {seen}")
    except ConnectionClosed as closed:
        pytest.fail(f"{client.nick} was disconnected ({closed}) before {what}; it got: {seen}")


async def message_from(client: Client, sender: str) -> Message:
    event = await next_matching(client, f"a message from {sender}",
                                lambda e: isinstance(e, Message) and e.sender == sender)
    assert isinstance(event, Message)
    return event


async def presence(client: Client, nick: str, kind: str) -> Presence:
    event = await next_matching(
        client, f"{kind} of {nick}",
        lambda e: isinstance(e, Presence) and e.nick == nick and e.event == kind)
    assert isinstance(event, Presence)
    return event


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.name for p in PROGRAMS])
async def test_a_real_irc_client_and_a_json_client_talk(
    program: Program, server: Server, terminal: Callable[[], Terminal],
) -> None:
    if program.binary is None:
        pytest.skip(f"{program.name} is missing: `make test` installs it "
                    f"(apt-get install {program.package})")
    irc_port = await server.open_irc(0)
    bob = await Client.connect("127.0.0.1", server.port, "bob")
    try:
        alice = terminal()
        await alice.start(program.command(alice.home, irc_port, "alice"))

        # Registration: CAP negotiated, the MOTD shown. An IRC client joins only what it asks
        # for: alice joins #lobby, where the JSON user sees her arrive (and, at the end, quit).
        await alice.shows(program.cap_acknowledged)
        await alice.shows(r"Welcome to the palaver IRC network, alice")
        await alice.shows(r"Welcome to palaver\. Type /help for commands\.")  # the MOTD
        await alice.shows(r"End of /MOTD command")
        await alice.type("/join #lobby")
        assert (await presence(bob, "alice", "join")).room == "#lobby"
        await alice.shows(r"alice\b[^\n]* has joined #lobby")  # extended-join adds (realname)

        # alice makes #dev (so she is its operator), bob comes in.
        await alice.type("/join #dev")
        await alice.shows(r"alice\b[^\n]* has joined #dev")
        joined = await bob.request(Join(room="#dev"))
        assert isinstance(joined, Joined)
        assert set(joined.members) == {"alice", "bob"} and joined.operators == ("alice",)
        await alice.shows(r"bob\b[^\n]* has joined #dev")

        # A message each way.
        await alice.type(f"hello from {program.name}")
        said = await message_from(bob, "alice")
        assert (said.room, said.text, said.notice) == ("#dev", f"hello from {program.name}",
                                                       False)
        await bob.request(Say(room="#dev", text="hello from json"))
        await alice.shows(program.said.format(nick="bob", text="hello from json"))

        # /me each way: an ACTION is '* nick text' for the JSON user, and back again.
        await alice.type("/me waves")
        assert (await message_from(bob, "alice")).text == "* alice waves"
        await bob.request(Say(room="#dev", text="* bob waves back"))
        await alice.shows(program.action.format(nick="bob", text="waves back"))

        # /topic: the JSON user sees the room's new topic, set by alice.
        await alice.type("/topic the dev room")
        updated = await next_matching(bob, "the topic change",
                                      lambda e: isinstance(e, RoomUpdated))
        assert isinstance(updated, RoomUpdated)
        assert (updated.room, updated.change, updated.by, updated.topic) == (
            "#dev", "topic", "alice", "the dev room")
        await alice.shows(program.topic_change.format(nick="alice", room="#dev",
                                                      topic="the dev room"))

        # A nick change each way.
        await alice.type("/nick alicia")
        changed = await presence(bob, "alice", "nick")
        assert changed.new_nick == "alicia"
        await alice.shows(program.own_nick_change.format(new="alicia"))
        await bob.request(SetNick(nick="bobby"))
        await alice.shows(r"bob is now known as bobby")
        # Both see the room under the new nicks.
        await bob.request(Say(room="#dev", text="still here"))
        await alice.shows(program.said.format(nick="bobby", text="still here"))
        await alice.type("me too")
        assert (await message_from(bob, "alicia")).text == "me too"

        # /whois of the JSON user, read where the client puts the server's numerics.
        await alice.type(program.status_window)
        await alice.type("/whois bobby")
        await alice.shows(program.end_of_whois.format(nick="bobby"))

        # /part: the JSON user sees alicia leave #dev, with her reason.
        await alice.type("/part #dev off to lunch")
        left = await presence(bob, "alicia", "leave")
        assert (left.room, left.reason) == ("#dev", "off to lunch")

        # /quit: the JSON user (still in #lobby with her) sees a QUIT with her reason, and the
        # program ends.
        await alice.type("/quit see you later")
        quit_ = await presence(bob, "alicia", "quit")
        assert quit_.reason == "see you later"
        assert await alice.exited() == 0
    finally:
        await bob.close()
