"""The web client's server commands, in Debian's chromium (docs/web.md, "Composer").

``/time``, ``/joke``, ``/echo`` and ``/sum`` go out as COMMAND frames and their RESULT (or
ERROR) comes back as a line; ``/quit`` says BYE and the page stays disconnected (its timers are
run forward with Playwright's fake clock: no reconnect ever comes); any other ``/word`` is an
unknown command, and ``//text`` says a text that starts with a slash.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from palaver.hub.commands import JOKES
from palaver.protocol.messages import Presence
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, Connect, heard, log, login, say, texts

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]


def lines(page: Page) -> object:
    return log(page, "#lobby").locator("li.sys")


def errors(page: Page) -> object:
    return log(page, "#lobby").locator("li.error")


async def test_server_commands_and_unknown_ones(
    server: Server, connect: Connect, open_page: OpenPage
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(DESKTOP)
    await login(page, port, "alice")

    await say(page, "/time")
    await expect(lines(page).last).to_have_text(
        re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    await say(page, "/joke")
    await expect(lines(page)).to_have_count(2)
    assert await lines(page).last.text_content() in JOKES
    await say(page, "/echo hello   out there")  # the words as typed
    await expect(lines(page).last).to_have_text("hello   out there")
    await say(page, "/sum 1 2.5 3")
    await expect(lines(page).last).to_have_text("6.5")
    await say(page, "/sum 100000000000000000000 1")  # exact: sent as text, summed by the server
    await expect(lines(page).last).to_have_text("100000000000000000001")
    await say(page, "/sum 1 x")  # refused by the server: its words, and the code
    await expect(errors(page).last).to_contain_text("(invalid_args)")
    await say(page, "/echo")
    await expect(errors(page).last).to_have_text("usage: /echo text")

    await say(page, "/xyz now")
    await expect(errors(page).last).to_contain_text("unknown command: /xyz")
    await expect(page.locator("#input")).to_have_value("/xyz now")  # kept, to be fixed
    await say(page, "//xyz now")  # a text that starts with a slash
    assert (await heard(carol, "carol")).text == "/xyz now"
    await expect(texts(page, "#lobby").last).to_have_text("/xyz now")
    await expect(page.locator("#status")).to_be_hidden()


async def test_quit_says_bye_and_stays_disconnected(
    server: Server, connect: Connect, open_page: OpenPage
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(DESKTOP)
    await page.clock.install()  # timers run only when told (below), or as time passes
    await login(page, port, "alice")
    sockets: list[object] = []
    page.on("websocket", lambda socket: sockets.append(socket))

    await say(page, "/quit see you")
    async with asyncio.timeout(web.WAIT / 1000):  # carol hears alice leave, with her reason
        while True:
            event = await carol.next_event()
            if isinstance(event, Presence) and event.nick == "alice" and event.event == "quit":
                assert event.reason == "see you"
                break
    await expect(lines(page).last).to_have_text("You left the chat.")
    status = page.locator("#status-text")
    await expect(status).to_have_text("Disconnected: you left the chat. Log out to join again.")
    await expect(page.locator("#retry")).to_be_hidden()
    # A minute of the page's timers, and the browser "coming back online": no new connection.
    await page.clock.run_for(60_000)
    await page.evaluate("window.dispatchEvent(new Event('online'))")
    await expect(status).to_have_text("Disconnected: you left the chat. Log out to join again.")
    assert sockets == []
    await say(page, "anyone there?")  # not queued for a reconnect that will not come
    await expect(errors(page).last).to_contain_text("You left the chat")
    await expect(log(page, "#lobby").locator("li.msg.pending")).to_have_count(0)
    # Logging out and in again works.
    await page.click("#logout")
    await login(page, port, "alice")
    await say(page, "back")
    assert (await heard(carol, "carol")).text == "back"
