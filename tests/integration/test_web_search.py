"""Searching in the web client, in Debian's chromium, at 375 px and 1280 px (search.js).

The search button opens a search box above the messages; hits come newest first with the words
marked; "Older results" asks for the next page; clicking a hit shows its conversation and the
message; `/search` in the composer does the same; a refused query is said in the panel.
Screenshots: test-artifacts/web-search-375.png and web-search-1280.png.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from palaver.protocol.messages import Join, Message, Say, SendDirect
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, PHONE, Connect, login, say, screenshot

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "375"), (DESKTOP, "1280")])
async def test_search_finds_marks_pages_and_opens_a_hit(
    server: Server, connect: Connect, open_page: OpenPage, viewport: dict[str, int], name: str,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    await carol.request(Join(room="#dev"))
    page = await open_page(viewport)
    await login(page, port, "alice")
    await say(page, "/join #dev")
    await expect(page.locator("#title")).to_have_text("#dev")
    first = await carol.request(Say(room="#dev", text="the Release is on friday <b>x</b>"))
    assert isinstance(first, Message)
    for n in range(3):
        await carol.request(Say(room="#lobby", text=f"release note {n}"))
    await carol.request(SendDirect(to="alice", text="pre-release build"))
    await carol.request(Say(room="#dev", text="nothing to see"))

    await page.click("#toggle-search")
    await expect(page.locator("#search-panel")).to_be_visible()
    await page.fill("#search-input", "RELEASE")
    await page.press("#search-input", "Enter")
    hits = page.locator(".search-hit")
    await expect(page.locator(".search-summary")).to_contain_text("found for “RELEASE”")
    await expect(hits).to_have_count(5)
    await expect(hits.first.locator(".search-where")).to_have_text("@carol")
    await expect(hits.first.locator("mark")).to_have_text(["release"])
    await expect(hits.last.locator(".text")).to_have_text("the Release is on friday <b>x</b>")
    assert await hits.last.locator("b").count() == 0  # text, not HTML
    await screenshot(page, f"web-search-{name}.png")

    await page.fill("#search-input", "#lobby note")  # one room, pages of 20: all in one
    await page.press("#search-input", "Enter")
    await expect(hits).to_have_count(3)
    await expect(hits.first.locator(".text")).to_have_text("release note 2")

    await page.fill("#search-input", "on friday")  # "on" is too short: refused
    await page.press("#search-input", "Enter")
    await expect(page.locator(".search-summary.error")).to_contain_text("(invalid_field)")

    await page.click("#toggle-search")  # closed; /search opens it again
    await expect(page.locator("#search-panel")).to_be_hidden()
    await say(page, "/search friday")
    await expect(hits).to_have_count(1)
    await say(page, "/join #lobby")  # leave #dev's view: the hit brings it back
    await expect(page.locator("#title")).to_have_text("#lobby")
    await page.locator(".search-open").first.click()
    await expect(page.locator("#search-panel")).to_be_hidden()
    await expect(page.locator("#title")).to_have_text("#dev")
    found = page.locator(f'.log[data-conv="#dev"] li.msg[data-msg-id="{first.msg_id}"]')
    await expect(found).to_be_visible()


async def test_older_results_page_back(
    server: Server, connect: Connect, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    for n in range(25):
        await carol.request(Say(room="#lobby", text=f"needle {n}"))
    page = await open_page(DESKTOP)
    await login(page, port, "alice")
    await say(page, "/search needle")
    hits = page.locator(".search-hit .text")
    await expect(hits).to_have_count(20)
    await expect(hits.first).to_have_text("needle 24")
    await page.click(".search-older")
    await expect(hits).to_have_count(25)
    await expect(hits.last).to_have_text("needle 0")
    await expect(page.locator(".search-older")).to_be_hidden()
