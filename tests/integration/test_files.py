"""File sharing over real sockets: UPLOAD over JSON lines, the body over HTTP on the web port,
the MESSAGE that carries it, downloads with a FILE_KEY (docs/protocol.md, "Files")."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from palaver.client import Client, ServerError
from palaver.protocol.messages import (
    Delete,
    FileKey,
    GetFileKey,
    History,
    HistoryPage,
    Join,
    Joined,
    Message,
    Presence,
    Upload,
    UploadReady,
)
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)


class Setup:
    def __init__(self, server: Server, clients: list[Client], http: aiohttp.ClientSession):
        self.server = server
        self._clients = clients
        self.http = http

    async def client(self, nick: str) -> Client:
        client = await Client.connect("127.0.0.1", self.server.port, nick)
        self._clients.append(client)
        await client.wait_for(Joined)
        return client

    @property
    def blob_dir(self) -> Path:
        assert self.server.blobs is not None
        return self.server.blobs.root

    def blobs(self) -> list[str]:
        return sorted(p.name for p in self.blob_dir.iterdir() if p.is_file())


@pytest.fixture
async def files(start_server: ServerFactory) -> AsyncIterator[Callable[..., Awaitable[Setup]]]:
    clients: list[Client] = []
    http = aiohttp.ClientSession()

    async def make(**overrides: Any) -> Setup:
        server = await start_server(**overrides)
        await server.open_web(0)
        return Setup(server, clients, http)

    yield make
    await http.close()
    for client in clients:
        await client.close()


async def upload(client: Client, http: aiohttp.ClientSession, body: bytes, name: str = "a.png",
                 **where: Any) -> tuple[int, dict[str, Any]]:
    where = where or {"room": "#lobby"}
    ready = await client.request(Upload(name=name, size=len(body), **where))
    assert isinstance(ready, UploadReady), ready
    async with http.put(ready.url, data=body) as response:
        return response.status, await response.json()


async def key_of(client: Client) -> str:
    answer = await client.request(GetFileKey())
    assert isinstance(answer, FileKey)
    return answer.key


async def test_a_member_uploads_and_another_downloads(files: Callable[..., Awaitable[Setup]]
                                                      ) -> None:
    s = await files()
    alice, bob = await s.client("alice"), await s.client("bob")
    status, answer = await upload(alice, s.http, PNG, name="cat.png")
    assert status == 201, answer
    seen = await bob.wait_for(Message)
    assert seen.file is not None and seen.msg_id == answer["msg_id"]
    assert (seen.file.name, seen.file.size, seen.file.type) == ("cat.png", len(PNG), "image/png")
    assert seen.file.sha256 == hashlib.sha256(PNG).hexdigest() == answer["file"]["sha256"]
    assert seen.text == "cat.png" and seen.sender == "alice"
    async with s.http.get(seen.file.url, params={"key": await key_of(bob)}) as response:
        assert response.status == 200
        assert await response.read() == PNG
        assert response.headers["Content-Type"] == "image/png"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Content-Disposition"].startswith("inline;")
        assert "sandbox" in response.headers["Content-Security-Policy"]
    page = await bob.request(History(room="#lobby"))  # history carries the file too
    assert isinstance(page, HistoryPage) and page.messages[-1].file == seen.file


async def test_downloads_need_a_key_of_a_member(files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files()
    alice, carol = await s.client("alice"), await s.client("carol")
    await alice.request(Join(room="#secret"))
    status, answer = await upload(alice, s.http, b"just text\n", name="notes.txt",
                                  room="#secret")
    assert status == 201
    url = answer["file"]["url"]
    async with s.http.get(url) as response:
        assert response.status == 401
    async with s.http.get(url, params={"key": "1.x.y"}) as response:
        assert response.status == 401
    forged = (await key_of(carol)).rsplit(".", 1)[0] + "." + "0" * 32
    async with s.http.get(url, params={"key": forged}) as response:
        assert response.status == 401
    async with s.http.get(url, params={"key": await key_of(carol)}) as response:
        assert response.status == 403  # carol is not in #secret
        assert (await response.json())["code"] == "not_in_room"
    async with s.http.get(url, params={"key": await key_of(alice)}) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Content-Disposition"].startswith("attachment;")


async def test_direct_files_reach_only_the_two_ends(files: Callable[..., Awaitable[Setup]]
                                                   ) -> None:
    s = await files()
    alice, bob, carol = await s.client("alice"), await s.client("bob"), await s.client("carol")
    status, _ = await upload(alice, s.http, b"%PDF-1.4 hello", name="doc.pdf", peer="bob")
    assert status == 201
    seen = await bob.wait_for(Message)
    assert seen.to == "bob" and seen.file is not None and seen.file.type == "application/pdf"
    async with s.http.get(seen.file.url, params={"key": await key_of(bob)}) as response:
        assert response.status == 200
    async with s.http.get(seen.file.url, params={"key": await key_of(carol)}) as response:
        assert response.status == 403


async def test_oversize_is_refused_before_the_body_is_read(
        files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files(upload_max_bytes=1_000)
    alice = await s.client("alice")
    with pytest.raises(ServerError) as refused:
        await alice.request(Upload(name="big.bin", size=1_001, room="#lobby"))
    assert refused.value.error.code == "file_too_large"
    ready = await alice.request(Upload(name="small.bin", size=10, room="#lobby"))
    assert isinstance(ready, UploadReady) and ready.max_bytes == 1_000
    # Headers announcing a gigabyte, and no body at all: the answer comes at once.
    port = s.server.web_port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = ready.url.split(f":{port}", 1)[1]
    writer.write(f"PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 "Content-Length: 1000000000\r\n\r\n".encode())
    status_line = await reader.readline()
    assert b" 413 " in status_line
    rest = await reader.read()  # and the server closes the connection (no body is drained)
    assert b"file_too_large" in rest
    writer.close()
    assert s.blobs() == []


async def test_a_body_longer_than_announced_is_cut(files: Callable[..., Awaitable[Setup]]
                                                  ) -> None:
    s = await files()
    alice = await s.client("alice")
    ready = await alice.request(Upload(name="x.bin", size=100, room="#lobby"))
    assert isinstance(ready, UploadReady)

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to judge by
        for _ in range(50):
            yield bytes(64)

    async with s.http.put(ready.url, data=chunks()) as response:
        assert response.status == 413
    assert s.blobs() == [] and list((s.blob_dir / "tmp").iterdir()) == []
    async with s.http.put(ready.url, data=bytes(100)) as response:
        assert response.status == 404  # the token was used up
        assert (await response.json())["code"] == "invalid_token"


async def test_names_are_sanitised(files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files()
    alice = await s.client("alice")
    for given, kept in [("../../etc/passwd", "passwd"), ("..\\..\\boot.ini", "boot.ini"),
                        ("evil\u202egnp.exe", "evilgnp.exe"), ("a\x00b\r\nc.txt", "abc.txt"),
                        ("...", "file"), ("x" * 300 + ".txt", "x" * 116 + ".txt")]:
        status, answer = await upload(alice, s.http, b"hi", name=given)
        assert status == 201 and answer["file"]["name"] == kept, (given, answer)
    assert [p.name for p in s.blob_dir.parent.iterdir()] .count("passwd") == 0
    assert s.blobs() == [hashlib.sha256(b"hi").hexdigest()]  # and the same bytes: one blob
    async with s.http.get(answer["file"]["url"], params={"key": await key_of(alice)}) as resp:
        assert resp.headers["Content-Disposition"] == (
            f'attachment; filename="{kept}"; filename*=UTF-8\'\'{kept}')


async def test_a_zip_bomb_is_stored_and_served_as_it_is(files: Callable[..., Awaitable[Setup]]
                                                       ) -> None:
    s = await files()
    alice = await s.client("alice")
    bomb = gzip.compress(bytes(50_000_000), compresslevel=9)  # 50 MB of zeros in ~50 kB
    assert len(bomb) < 100_000
    status, answer = await upload(alice, s.http, bomb, name="bomb.gz")
    assert status == 201 and answer["file"]["type"] == "application/octet-stream"
    assert (s.blob_dir / answer["file"]["sha256"]).stat().st_size == len(bomb)
    async with s.http.get(answer["file"]["url"], params={"key": await key_of(alice)},
                          auto_decompress=False) as response:
        assert "Content-Encoding" not in response.headers
        assert await response.read() == bomb


async def test_the_same_content_twice_is_one_blob(files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files()
    alice = await s.client("alice")
    first = await upload(alice, s.http, PNG, name="one.png")
    second = await upload(alice, s.http, PNG, name="two.png")
    assert first[0] == second[0] == 201
    assert first[1]["file"]["url"] != second[1]["file"]["url"]
    assert s.blobs() == [hashlib.sha256(PNG).hexdigest()]


async def test_a_deleted_message_s_file_is_gone_and_its_blob_collected(
        files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files()
    alice = await s.client("alice")
    _, kept = await upload(alice, s.http, PNG, name="kept.png")
    _, gone = await upload(alice, s.http, b"secret", name="gone.txt")
    _, shared = await upload(alice, s.http, PNG, name="again.png")  # same blob as kept.png
    await alice.request(Delete(room="#lobby", msg_id=gone["msg_id"]))
    await alice.request(Delete(room="#lobby", msg_id=shared["msg_id"]))
    key = await key_of(alice)
    for deleted in (gone, shared):
        async with s.http.get(deleted["file"]["url"], params={"key": key}) as response:
            assert response.status == 410
    page = await alice.request(History(room="#lobby"))
    assert isinstance(page, HistoryPage)
    assert [m.file is not None for m in page.messages] == [True, False, False]
    store, blobs = s.server.store, s.server.blobs
    assert store is not None and blobs is not None
    assert blobs.collect(await store.file_hashes(), grace=0.0) == 1
    assert s.blobs() == [kept["file"]["sha256"]]
    async with s.http.get(kept["file"]["url"], params={"key": key}) as response:
        assert response.status == 200


async def test_unused_blobs_are_collected_at_start(start_server: ServerFactory,
                                                   tmp_path: Path) -> None:
    stray = tmp_path / "blobs" / ("ab" * 32)
    stray.parent.mkdir()
    stray.write_bytes(b"orphan")
    (tmp_path / "blobs" / "README").write_text("not ours")
    server = await start_server()
    assert server.blobs is not None
    assert not stray.exists() and (tmp_path / "blobs" / "README").exists()


async def test_the_quota_is_kept(files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files(upload_quota_bytes=150)
    alice = await s.client("alice")
    assert (await upload(alice, s.http, bytes(100), name="one.bin"))[0] == 201
    status, answer = await upload(alice, s.http, b"y" * 100, name="two.bin")
    assert (status, answer["code"]) == (413, "quota_exceeded")


async def test_only_members_and_a_real_session_may_upload(files: Callable[..., Awaitable[Setup]]
                                                          ) -> None:
    s = await files()
    alice, bob = await s.client("alice"), await s.client("bob")
    with pytest.raises(ServerError) as refused:
        await alice.request(Upload(name="a", size=1, room="#elsewhere"))
    assert refused.value.error.code in ("not_in_room", "no_such_room")
    with pytest.raises(ServerError) as refused:
        await alice.request(Upload(name="a", size=1))
    assert refused.value.error.code == "invalid_field"
    async with s.http.put(f"http://127.0.0.1:{s.server.web_port}/upload/nonsense",
                          data=b"x") as response:
        assert response.status == 404
    ready = await alice.request(Upload(name="a.txt", size=1, room="#lobby"))
    assert isinstance(ready, UploadReady)
    await alice.close()
    while (await bob.wait_for(Presence)).nick != "alice":  # alice's session has ended
        pass
    async with s.http.put(ready.url, data=b"x") as response:
        assert response.status == 404


async def test_text_and_irc_show_a_line_with_name_size_and_url(
        files: Callable[..., Awaitable[Setup]]) -> None:
    s = await files(text_sniff_timeout=0.05)
    alice = await s.client("alice")
    text_peer = await asyncio.open_connection("127.0.0.1", s.server.port)
    text_peer[1].write(b"tom\r\n")
    while b"you joined #lobby" not in await text_peer[0].readline():
        pass
    irc_port = await s.server.open_irc(0)
    irc_reader, irc_writer = await asyncio.open_connection("127.0.0.1", irc_port)
    irc_writer.write(b"NICK ivy\r\nUSER ivy 0 * :Ivy\r\nJOIN #lobby\r\n")
    while b" 366 " not in await irc_reader.readline():
        pass
    ready = await alice.request(Upload(name="cat.png", size=len(PNG), room="#lobby",
                                       text="look at this"))
    assert isinstance(ready, UploadReady)
    async with s.http.put(ready.url, data=PNG) as response:
        answer = await response.json()
    url = answer["file"]["url"]
    file_line = f"[file {answer['msg_id']}] cat.png ({len(PNG)} B, image/png) {url}"
    while b"<alice>" not in (line := await text_peer[0].readline()):
        pass
    assert line.endswith(b"<alice> look at this\r\n")
    assert (await text_peer[0].readline()).strip() == file_line.encode()
    privmsgs = []
    while len(privmsgs) < 2:
        got = await irc_reader.readline()
        if b" PRIVMSG #lobby :" in got:
            privmsgs.append(got.split(b" :", 1)[1])
    assert privmsgs == [b"look at this\r\n", file_line.encode() + b"\r\n"]
    text_peer[1].close()
    irc_writer.close()


async def test_palaver_chat_uploads_with_progress(files: Callable[..., Awaitable[Setup]],
                                                  tmp_path: Path) -> None:
    from tests.integration.test_terminal_client import run_chat

    s = await files()
    alice = await s.client("alice")
    path = tmp_path / "report.pdf"
    path.write_bytes(b"%PDF-1.4\n" + bytes(1_000_000))
    code, out, err = await run_chat(
        s.server.port, f"/upload {path}\n/upload {tmp_path / 'missing.txt'}\n", "--nick", "bob")
    assert (code, err) == (0, ""), out
    assert "* uploading report.pdf (1000009 bytes)" in out
    progress = re.findall(r"\* uploading report\.pdf: (\d+)%", out)
    assert len(progress) >= 3 and progress[-1] == "100", out  # a line per tenth passed
    assert re.search(r"<bob> \[file \d+\] report\.pdf \(1\.0 MB, application/pdf\) "
                     r"http://127\.0\.0\.1:\d+/files/\S+/report\.pdf", out), out
    assert "! /upload: No such file or directory:" in out
    seen = await alice.wait_for(Message)
    assert seen.sender == "bob" and seen.file is not None
    assert (seen.file.name, seen.file.type, seen.file.size) == (
        "report.pdf", "application/pdf", 1_000_009)


async def test_the_text_door_says_where_uploads_are_made(start_server: ServerFactory) -> None:
    server = await start_server(text_sniff_timeout=0.05)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"tom\r\n/upload /etc/passwd\r\n")
    while b"/upload" not in (line := await reader.readline()):
        assert line
    assert line.startswith(b"! /upload: send files with palaver chat or the web client")
    writer.close()
