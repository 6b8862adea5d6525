"""The web client in a big room (docs/protocol.md §21, docs/web.md "Big rooms"), in chromium.

A server whose rooms are "big" early (``presence_limit`` 3, ``member_page`` 10) and 25 JSON
clients in #lobby: the page's HELLO says ``member_pages``, so its JOINED brings the first ten
members and the count; "Show more" loads the next pages (WHO ``after``) until all 26 are listed;
joins and leaves come as MEMBERS_CHANGED, applied to the list and said in one quiet line.
Scrolling the members panel to its end loads the next page as well. Screenshots at phone and
desktop widths land in ``test-artifacts/``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Page, expect

from palaver.client import Client
from palaver.protocol.messages import Say
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, PHONE, log, login, screenshot, texts

browser = web.browser  # the fixtures, shared
open_page = web.open_page
CROWD = 25


def members(page: Page) -> Any:
    return page.locator("#member-list button.member")


def batches(page: Page) -> Any:
    return log(page, "#lobby").locator("li.sys.batch")


async def test_a_big_room_in_pages_and_batches(
    start_server: Callable[..., Awaitable[Server]],
    open_page: Callable[..., Awaitable[Page]],
) -> None:
    server = await start_server(presence_limit=3, member_page=10, presence_interval=0.1)
    port = await server.open_web(0)
    crowd = [await Client.connect("127.0.0.1", server.port, f"m{n:02d}")
             for n in range(CROWD)]
    try:
        zed = await open_page(DESKTOP)
        await login(zed, port, "zed")
        title = zed.locator("#members-title")
        await expect(title).to_have_text("26 members")
        # The first page (m00-m09), and zed itself once its own join comes in a batch.
        await expect(members(zed)).to_have_count(11)
        more = zed.locator("#more-members")
        await expect(more).to_have_text("Show more")
        await expect(zed.locator(".more-members .shown")).to_have_text("11 of 26")
        await screenshot(zed, "web-bigroom-1280.png")
        await more.click()
        await expect(members(zed)).to_have_count(21)
        await more.click()
        await expect(members(zed)).to_have_count(26)
        await expect(more).to_have_count(0)  # the last page: nothing more to load
        names = await members(zed).evaluate_all("buttons => buttons.map(b => b.dataset.nick)")
        assert sorted(names) == sorted([f"m{n:02d}" for n in range(CROWD)] + ["zed"])
        assert await batches(zed).count() == 0  # its own join is no news

        # A phone joins: the drawer shows the count and its own "Show more".
        yan = await open_page(PHONE)
        await login(yan, port, "yan")
        await yan.click("#toggle-members")
        await expect(yan.locator("#members")).to_be_in_viewport(ratio=1)
        await expect(yan.locator("#members-title")).to_have_text("27 members")
        await expect(members(yan)).to_have_count(11)  # m00-m09, and yan (its own batch)
        await yan.locator("#more-members").click()
        await expect(members(yan)).to_have_count(21)
        await screenshot(yan, "web-bigroom-375-members.png")
        await yan.click("#scrim", position={"x": 20, "y": 400})

        # A batch: three leave, two come; the lists follow, one quiet line says so.
        await crowd[-1].request(Say(room="#lobby", text="anyone else here?"))
        await expect(texts(zed, "#lobby").last).to_have_text("anyone else here?")
        await expect(members(zed)).to_have_count(27)  # yan, in a batch
        for client in crowd[:3]:
            await client.close()
        crowd = crowd[3:]
        crowd.append(await Client.connect("127.0.0.1", server.port, "aaron"))
        crowd.append(await Client.connect("127.0.0.1", server.port, "abby"))
        summary = re.compile(r"aaron, abby joined; m0[0-2], m0[0-2], m0[0-2] left")
        for page in (zed, yan):
            await expect(batches(page).last).to_have_text(summary)
            await expect(page.locator("#members-title")).to_have_text("26 members")
        await expect(members(zed)).to_have_count(26)
        for gone in ("m00", "m01", "m02"):
            await expect(zed.locator(f'#member-list [data-nick="{gone}"]')).to_have_count(0)
        for came in ("aaron", "abby"):
            await expect(zed.locator(f'#member-list [data-nick="{came}"]')).to_have_count(1)
        await expect(batches(zed)).to_have_count(2)  # yan's join, then this run of batches
        await screenshot(zed, "web-bigroom-batch-1280.png")
        await screenshot(yan, "web-bigroom-375.png")

        # A short window: scrolling the members panel to its end loads the next page too.
        xena = await open_page({"width": 1280, "height": 400})
        await login(xena, port, "xena")
        await expect(xena.locator("#members-title")).to_have_text("27 members")
        await expect(members(xena)).to_have_count(11)  # aaron, abby, m03-m10; xena
        panel = xena.locator("#members")
        assert await panel.evaluate("el => el.scrollHeight > el.clientHeight")
        await panel.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        await expect(members(xena)).to_have_count(21)
    finally:
        for client in crowd:
            await client.close()
