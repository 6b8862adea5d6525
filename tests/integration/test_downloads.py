"""Downloads from the doors that cannot ask for a FILE_KEY themselves, over real sockets on
127.0.0.1: the text door's ``/download ID`` and IRC's ``FILE`` answer a link of one's own (the
file's URL with ``?key=``), ``palaver chat``'s ``/download ID [PATH]`` saves the file, in the line
mode (a real process) and in the TUI (Textual's Pilot), where ``/upload`` works too. A member
gets the exact bytes; a non-member is refused; a deleted message's file is said to be gone.
Also IRC's ``ACCOUNT RESET`` (before registration, wrong token, as a guest)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from palaver.client import Client
from palaver.client.tui.app import ChatApp
from palaver.protocol.messages import (
    Delete,
    Goodbye,
    Join,
    Joined,
    Message,
    Register,
    Upload,
    UploadReady,
)
from palaver.server.account_work import token_digest
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory
from tests.integration.test_irc import RawIrc, registered_raw
from tests.integration.test_tui import FAST, enter, until

TIMEOUT = 20.0
BODY = bytes(range(256)) * 4_000 + b"the end"  # 1,024,007 bytes: progress has tenths to show
LINK = re.compile(r"a link for you alone until \S+ \S+ UTC: (http://\S+\?key=\S+)")


class Files:
    """A server with its web door; JSON clients; an HTTP session."""

    def __init__(self, server: Server, http: aiohttp.ClientSession) -> None:
        self.server = server
        self.http = http
        self.clients: list[Client] = []

    async def client(self, nick: str) -> Client:
        client = await Client.connect("127.0.0.1", self.server.port, nick)
        self.clients.append(client)
        await client.wait_for(Joined)
        return client

    async def upload(self, client: Client, body: bytes, name: str, room: str = "#lobby"
                     ) -> int:
        """The msg_id of the message that carries ``body``."""
        ready = await client.request(Upload(name=name, size=len(body), room=room))
        assert isinstance(ready, UploadReady)
        async with self.http.put(ready.url, data=body) as response:
            assert response.status == 201
            return int((await response.json())["msg_id"])

    async def fetch(self, url: str) -> tuple[int, bytes]:
        async with self.http.get(url) as response:
            return response.status, await response.read()


@pytest.fixture
async def files(start_server: ServerFactory) -> AsyncIterator[Files]:
    server = await start_server(text_sniff_timeout=0.05, server_name="palaver")
    await server.open_web(0)
    async with aiohttp.ClientSession() as http:
        setup = Files(server, http)
        yield setup
        for client in setup.clients:
            await client.close()


async def text_user(port: int, nick: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(nick.encode() + b"\r\n")
    await line_with(reader, b"you joined #lobby")
    return reader, writer


async def line_with(reader: asyncio.StreamReader, part: bytes) -> str:
    async with asyncio.timeout(TIMEOUT):
        while part not in (line := await reader.readline()):
            assert line, f"closed before {part!r}"
    return line.decode().rstrip("\r\n")


# --------------------------------------------------------------------------- the text door


async def test_text_door_download_gives_a_link_of_ones_own(files: Files) -> None:
    alice = await files.client("alice")
    msg_id = await files.upload(alice, BODY, "data.bin")
    await alice.request(Join(room="#secret"))
    secret = await files.upload(alice, b"not for tom", "plan.txt", room="#secret")
    reader, writer = await text_user(files.server.port, "tom")
    writer.write(f"/download {msg_id}\r\n".encode())
    line = await line_with(reader, b"a link for you alone")
    assert line.startswith("* data.bin (1.0 MB, application/octet-stream), ")
    link = LINK.search(line)
    assert link is not None
    assert await files.fetch(link[1]) == (200, BODY)
    writer.write(f"/download #secret/{secret}\r\n".encode())  # not a member of #secret
    assert await line_with(reader, b"/download") == (
        "! /download: there is no room #secret (no_such_room)")
    await alice.request(Delete(room="#lobby", msg_id=msg_id))
    writer.write(f"/download {msg_id}\r\n/download 999\r\n".encode())
    assert await line_with(reader, b"/download") == (
        f"! /download: message {msg_id} of #lobby was deleted (message_deleted)")
    assert await line_with(reader, b"/download") == (
        "! /download: there is no message 999 in #lobby (no_such_message)")
    assert (await files.fetch(link[1]))[0] == 410  # the link itself is dead too
    writer.close()


# --------------------------------------------------------------------------- IRC


async def test_irc_file_notices_a_link_of_ones_own(files: Files) -> None:
    irc_port = await files.server.open_irc(0)
    alice = await files.client("alice")
    ivy = await registered_raw(irc_port, "ivy")
    await ivy.send("CAP REQ :message-tags")
    await ivy.line_with(" ACK ")
    msg_id = await files.upload(alice, BODY, "data.bin")
    shown = await ivy.line_with(" PRIVMSG #lobby :")
    assert shown.startswith(f"@msgid=#lobby/{msg_id}") and f":[file {msg_id}] data.bin" in shown
    await alice.request(Join(room="#secret"))
    secret = await files.upload(alice, b"not for ivy", "plan.txt", room="#secret")
    await ivy.send(f"FILE #lobby #lobby/{msg_id}")
    notice = await ivy.line_with(" NOTICE ivy :FILE ")
    assert notice.startswith(f":palaver NOTICE ivy :FILE #lobby #lobby/{msg_id}: data.bin (1.0 MB")
    link = LINK.search(notice)
    assert link is not None
    assert await files.fetch(link[1]) == (200, BODY)
    await ivy.send(f"FILE #secret {secret}")
    assert await ivy.line_with(" FAIL ") == (
        ":palaver FAIL FILE INVALID_TARGET #secret :there is no room #secret")
    await alice.request(Delete(room="#lobby", msg_id=msg_id))
    await ivy.send(f"FILE #lobby {msg_id}")
    assert await ivy.line_with(" FAIL ") == (
        f":palaver FAIL FILE UNKNOWN_MSGID #lobby {msg_id} "
        f":message {msg_id} of #lobby was deleted")
    ivy.writer.close()


async def test_irc_account_reset_before_and_after_registration(
        start_server: ServerFactory) -> None:
    server = await start_server(server_name="palaver")
    irc_port = await server.open_irc(0)
    owner = await Client.connect("127.0.0.1", server.port, "dave")
    await owner.request(Register(nick="dave", password="dave-password"))
    store = server.store
    assert store is not None
    await store.set_reset_token("dave", token_digest("tok-1"), "2099-01-01T00:00:00.000Z")
    stranger = RawIrc(*await asyncio.open_connection("127.0.0.1", irc_port))
    await stranger.send("ACCOUNT RESET dave wrong-token :a brand new password")
    assert await stranger.line_with(" FAIL ") == (
        ":palaver FAIL ACCOUNT INVALID_TOKEN :that reset token is wrong, used or expired")
    await stranger.send("ACCOUNT DELETE dave-password")
    assert await stranger.line_with(" 451 ") == ":palaver 451 * :You have not registered"
    await stranger.send("ACCOUNT RESET dave tok-1 :a brand new password")
    assert await stranger.line_with(" NOTICE ") == (
        ":palaver NOTICE * :ACCOUNT: the password of dave is reset; its connections are "
        "closed: log in with the new one")
    assert isinstance(await owner.wait_for(Goodbye), Goodbye)  # dave's session is closed
    await stranger.send("PASS :a brand new password", "NICK dave", "USER dave 0 * :Dave")
    assert (await stranger.numeric("001"))[0] == "dave"  # and the new password logs in
    stranger.writer.close()
    # as a registered guest, with a second token (a used one is refused)
    await store.set_reset_token("dave", token_digest("tok-2"), "2099-01-01T00:00:00.000Z")
    guest = await registered_raw(irc_port, "gus")
    await guest.send("ACCOUNT RESET dave tok-1 :yet another password")
    assert " FAIL ACCOUNT INVALID_TOKEN " in await guest.line_with(" FAIL ")
    await guest.send("ACCOUNT RESET dave tok-2 :yet another password")
    assert await guest.line_with(" NOTICE gus :ACCOUNT") == (
        ":palaver NOTICE gus :ACCOUNT: the password of dave is reset; its connections are "
        "closed: log in with the new one")
    await guest.send("PING :still-here")
    assert "still-here" in await guest.line_with("PONG")  # the guest's connection stays
    guest.writer.close()
    await owner.close()


# --------------------------------------------------------------------------- palaver chat


async def run_chat_in(cwd: Path, port: int, script: str, nick: str) -> tuple[int, str, str]:
    """``palaver chat --nick NICK`` in ``cwd``, ``script`` on its stdin; status, out, err."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "palaver.cli", "chat", "--port", str(port), "--nick", nick,
        cwd=cwd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(script.encode()), TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_palaver_chat_downloads_with_progress_never_overwriting(
        files: Files, tmp_path: Path) -> None:
    alice = await files.client("alice")
    msg_id = await files.upload(alice, BODY, "../data.bin")  # the name is cleaned: data.bin
    await alice.request(Join(room="#secret"))
    secret = await files.upload(alice, b"not for bob", "plan.txt", room="#secret")
    gone = await files.upload(alice, b"soon gone", "gone.txt")
    here = tmp_path / "here"  # (tmp_path is the server's data directory)
    here.mkdir()
    await alice.request(Delete(room="#lobby", msg_id=gone))
    (here / "data.bin").write_bytes(b"mine: keep me")
    (here / "into").mkdir()
    script = (f"/download {msg_id}\n/download {msg_id} into\n/download #secret/{secret}\n"
              f"/download {gone}\n/download 999\n")
    code, out, err = await run_chat_in(here, files.server.port, script, "bob")
    assert (code, err) == (0, ""), out
    assert (here / "data.bin").read_bytes() == b"mine: keep me"  # never overwritten
    assert (here / "data-1.bin").read_bytes() == BODY
    assert (here / "into" / "data.bin").read_bytes() == BODY
    assert f"* saved data.bin (1024007 bytes) as {here / 'data-1.bin'}" in out
    progress = re.findall(r"\* downloading data\.bin: (\d+)%", out)
    assert len(progress) >= 6 and progress[-1] == "100", out  # a line per tenth, twice
    assert "! /download: there is no room #secret (no_such_room)" in out
    assert f"! /download: message {gone} of #lobby was deleted (message_deleted)" in out
    assert "! /download: there is no message 999 in #lobby (no_such_message)" in out
    assert sorted(os.listdir(here)) == ["data-1.bin", "data.bin", "into"]


# --------------------------------------------------------------------------- the TUI


async def test_tui_uploads_and_downloads(files: Files, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    tmp_path = tmp_path / "here"  # (tmp_path is the server's data directory)
    tmp_path.mkdir()
    monkeypatch.chdir(tmp_path)
    alice = await files.client("alice")
    source = tmp_path / "report.pdf"
    source.write_bytes(b"%PDF-1.4\n" + BODY)
    app = ChatApp("127.0.0.1", files.server.port, "bob", backoff=FAST)
    async with app.run_test(size=(110, 30)) as pilot:
        await until(app, lambda: app.model.link == "connected"
                    and "#lobby" in app.model.conversations, pilot)
        app.model.switch("#lobby")
        await enter(app, pilot, f"/upload {source}")
        seen = await _message_from(alice, "bob")
        assert seen.file is not None and seen.file.name == "report.pdf"
        lobby = app.model.conversations["#lobby"]
        await until(app, lambda: any(f"[file {seen.msg_id}] report.pdf" in line
                                     for line in lobby.lines), pilot)
        assert any(line.startswith("* uploading report.pdf: 100%") for line in lobby.lines)
        await enter(app, pilot, f"/download {seen.msg_id} copy.pdf")  # a message it saw
        await until(app, lambda: any(line.startswith("* saved report.pdf")
                                     for line in lobby.lines), pilot)
        assert (tmp_path / "copy.pdf").read_bytes() == source.read_bytes()
        assert hashlib.sha256(source.read_bytes()).hexdigest() == seen.file.sha256
        await alice.request(Join(room="#secret"))
        secret = await files.upload(alice, b"not for bob", "plan.txt", room="#secret")
        await enter(app, pilot, f"/download #secret/{secret}")
        await until(app, lambda: any("/download: there is no room #secret" in line
                                     for line in lobby.lines), pilot)
        assert not (tmp_path / "plan.txt").exists()
        # A message deleted behind the client's back (it remembers it with its file): the
        # server's 410, in one line, and no file.
        assert app.transfers is not None
        remembered = dict(app.transfers._seen)
        await enter(app, pilot, f"/delete {seen.msg_id}")
        await until(app, lambda: any(f"deleted message {seen.msg_id} of #lobby" in line
                                     for line in lobby.lines), pilot)
        app.transfers._seen.update(remembered)
        await enter(app, pilot, f"/download {seen.msg_id} late.pdf")
        await until(app, lambda: any(line.startswith("! /download: report.pdf:")
                                     for line in lobby.lines), pilot)
        assert lobby.lines[-1] == ("! /download: report.pdf: this file's message was deleted "
                                   "(410 no_such_message)")
        assert not (tmp_path / "late.pdf").exists()


async def _message_from(client: Client, sender: str) -> Message:
    async with asyncio.timeout(TIMEOUT):
        while True:
            got: Any = await client.wait_for(Message, timeout=None)
            if got.sender == sender:
                return got  # type: ignore[no-any-return]
