"""Files in the web client, in Debian's chromium (files.js): a page attaches an image, the upload
shows its progress, the MESSAGE with the file shows an inline preview (loaded with the page's
FILE_KEY) on both pages, and a JSON client gets the file's reference. Screenshots: the test's
tmp dir (web-files-1280.png) and test-artifacts/web-files-1280.png."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from palaver.protocol.messages import Message
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, Connect, log, login, screenshot

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]


def png(width: int, height: int) -> bytes:
    """A real PNG: a red-to-blue gradient."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"".join(bytes((255 - x * 255 // width, 60, x * 255 // width))
                                       for x in range(width)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


async def test_an_image_is_uploaded_and_previewed(
    server: Server, connect: Connect, open_page: OpenPage, tmp_path: Path,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    alice, bob = await open_page(DESKTOP), await open_page(DESKTOP)
    await login(alice, port, "alice")
    await login(bob, port, "bob")
    image = tmp_path / "sunset.png"
    image.write_bytes(png(120, 80))

    await expect(alice.locator("#attach")).to_be_visible()
    await alice.set_input_files("#file-picker", str(image))
    while (seen := await carol.wait_for(Message)).file is None:
        pass
    assert seen.sender == "alice" and seen.file is not None
    assert (seen.file.name, seen.file.type, seen.file.size) == (
        "sunset.png", "image/png", image.stat().st_size)
    for page in (alice, bob):
        item = log(page, "#lobby").locator(f'li.msg[data-msg-id="{seen.msg_id}"]')
        preview = item.locator("img.file-preview")
        await expect(preview).to_be_visible()
        await expect(item.locator("a.file-link")).to_have_text("sunset.png")
        await page.wait_for_function(
            "(img) => img.complete && img.naturalWidth === 120", arg=await preview.element_handle())
        href = await item.locator("a.file-link").get_attribute("href")
        assert href is not None and href.startswith("/files/") and "?key=" in href
    await expect(log(alice, "#lobby").locator("li.upload")).to_have_count(0)  # done: gone
    await alice.screenshot(path=str(tmp_path / "web-files-1280.png"), animations="disabled")
    await screenshot(alice, "web-files-1280.png")
    assert (tmp_path / "web-files-1280.png").stat().st_size > 0
