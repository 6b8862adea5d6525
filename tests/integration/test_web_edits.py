"""Editing in the web client, in Debian's chromium, at 375 px and 1280 px (edits.js).

One's own message has an edit action (✎): it puts ``/edit <msg_id> <text>`` in the composer;
Enter sends the EDIT; the page shows the new text with "(edited)" and a JSON client gets
EDITED. A JSON client's edit of its message shows up live; someone else's message has no edit
action; ``/edit`` typed works too; a reloaded page shows the edited text from history.
Screenshots: test-artifacts/web-edits-375.png and web-edits-1280.png.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from palaver.protocol.messages import Edit, Edited, Message, Say
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, PHONE, Connect, heard, log, login, say, screenshot

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "375"), (DESKTOP, "1280")])
async def test_edit_in_the_page(
    server: Server, connect: Connect, open_page: OpenPage, viewport: dict[str, int], name: str,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(viewport)
    await login(page, port, "alice")
    lobby = log(page, "#lobby")

    # Our own message: the ✎ action fills the composer; Enter edits it; carol is told.
    await say(page, "teh build is red")
    sent = await heard(carol, "carol")
    mine = lobby.locator(f'li.msg[data-msg-id="{sent.msg_id}"]')
    await expect(mine.locator(".text")).to_have_text("teh build is red")
    await mine.locator("button.edit").click()
    await expect(page.locator("#input")).to_have_value(f"/edit {sent.msg_id} teh build is red")
    await page.fill("#input", f"/edit {sent.msg_id} the build is red")
    await page.press("#input", "Enter")
    told = await carol.wait_for(Edited)
    assert (told.msg_id, told.text, told.by) == (sent.msg_id, "the build is red", "alice")
    await expect(mine.locator(".text")).to_have_text("the build is red")
    await expect(mine.locator(".edited")).to_have_text("(edited)")
    await expect(page.locator("#input")).to_have_value("")

    # carol's message: no edit action for us; her edit shows up live.
    theirs = await carol.request(Say(room="#lobby", text="who broke it?"))
    assert isinstance(theirs, Message)
    item = lobby.locator(f'li.msg[data-msg-id="{theirs.msg_id}"]')
    await expect(item.locator(".text")).to_have_text("who broke it?")
    assert await item.locator("button.edit").count() == 0
    await carol.request(Edit(room="#lobby", msg_id=theirs.msg_id, text="who fixed it?"))
    await expect(item.locator(".text")).to_have_text("who fixed it?")
    await expect(item.locator(".edited")).to_be_visible()

    # /edit typed: someone else's message is refused, with the code; ours works.
    await say(page, f"/edit {theirs.msg_id} hijacked")
    await expect(lobby.locator("li.error").last).to_contain_text("not_sender")
    await say(page, f"/edit {sent.msg_id} the build is green")
    await expect(mine.locator(".text")).to_have_text("the build is green")
    await screenshot(page, f"web-edits-{name}.png")

    # A reloaded page shows the current texts, marked, from history.
    await page.reload()
    await login(page, port, "alice2")
    lobby = log(page, "#lobby")
    again = lobby.locator(f'li.msg[data-msg-id="{sent.msg_id}"]')
    await expect(again.locator(".text")).to_have_text("the build is green")
    await expect(again.locator(".edited")).to_have_text("(edited)")
    assert await again.locator("button.edit").count() == 0  # alice2 is someone else
