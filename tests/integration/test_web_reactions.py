"""Replying and reacting in the web client, in Debian's chromium, at 375 px and 1280 px
(reactions.js).

A message's reply action opens a banner above the composer; the next message sent answers it
(CHAT reply_to) and shows a quote of it; a JSON client's reply shows its quote too. The react
action offers a few quick emoji; reactions show under the message with their counts, yours
marked; clicking yours takes it back; a JSON client's reaction shows up live, and a reloaded
page gets them from history. Screenshots: test-artifacts/web-reactions-375.png and
web-reactions-1280.png.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from palaver.protocol.messages import Message, React, Reacted, Say
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, PHONE, Connect, heard, log, login, say, screenshot

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "375"), (DESKTOP, "1280")])
async def test_reply_and_react_in_the_page(
    server: Server, connect: Connect, open_page: OpenPage, viewport: dict[str, int], name: str,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(viewport)
    await login(page, port, "alice")
    first = await carol.request(Say(room="#lobby", text="who broke the build?"))
    assert isinstance(first, Message)
    lobby = log(page, "#lobby")
    item = lobby.locator(f'li.msg[data-msg-id="{first.msg_id}"]')
    await expect(item.locator(".text")).to_have_text("who broke the build?")

    # Reply: the banner, then the message with its quote; carol gets reply_to and the quote.
    await item.locator("button.reply").click()
    await expect(page.locator(".reply-banner")).to_contain_text(
        "Replying to carol: who broke the build?")
    await say(page, "me, sorry")
    answer = await heard(carol, "carol")
    assert (answer.text, answer.reply_to) == ("me, sorry", first.msg_id)
    assert answer.quote is not None and answer.quote.sender == "carol"
    await expect(page.locator(".reply-banner")).to_be_hidden()
    mine = lobby.locator(f'li.msg[data-msg-id="{answer.msg_id}"]')
    await expect(mine.locator(".quote")).to_have_text("↪ carol: who broke the build?")

    # React with a quick emoji; carol is told; the count shows and it is marked as ours.
    await item.locator("button.add-reaction").click()
    await item.locator("button.pick", has_text="🎉").click()
    told = await carol.wait_for(Reacted)
    assert (told.by, told.reaction, told.msg_id) == ("alice", "🎉", first.msg_id)
    party = item.locator("button.reaction", has_text="🎉")
    await expect(party.locator(".count")).to_have_text("1")
    await expect(party).to_have_class("reaction mine")

    # carol's reactions arrive live; a second 🎉 makes it 2.
    await carol.request(React(room="#lobby", msg_id=first.msg_id, reaction="🎉"))
    await carol.request(React(room="#lobby", msg_id=first.msg_id, reaction="👍"))
    await expect(party.locator(".count")).to_have_text("2")
    thumbs = item.locator("button.reaction", has_text="👍")
    await expect(thumbs.locator(".count")).to_have_text("1")

    # carol replies to alice's reply: its quote shows.
    theirs = await carol.request(Say(room="#lobby", text="no worries",
                                     reply_to=answer.msg_id))
    assert isinstance(theirs, Message)
    quoted = lobby.locator(f'li.msg[data-msg-id="{theirs.msg_id}"] .quote')
    await expect(quoted).to_have_text("↪ alice: me, sorry")
    await screenshot(page, f"web-reactions-{name}.png")

    # Clicking our own reaction takes it back.
    await party.click()
    took_back = await carol.wait_for(Reacted)
    while took_back.by != "alice":  # carol's own answers first
        took_back = await carol.wait_for(Reacted)
    assert took_back.remove and took_back.reaction == "🎉"
    await expect(party.locator(".count")).to_have_text("1")
    await expect(party).to_have_class("reaction")

    # A reload: the reactions and quotes come with history.
    await page.reload()
    await page.fill("#nick", "alice2")
    await page.click("#join")
    await expect(page.locator("#me-nick")).to_have_text("alice2")
    item = log(page, "#lobby").locator(f'li.msg[data-msg-id="{first.msg_id}"]')
    await expect(item.locator("button.reaction", has_text="🎉").locator(".count")).to_have_text(
        "1")
    await expect(item.locator("button.reaction", has_text="👍").locator(".count")).to_have_text(
        "1")
    reply = log(page, "#lobby").locator(f'li.msg[data-msg-id="{answer.msg_id}"] .quote')
    await expect(reply).to_have_text("↪ carol: who broke the build?")
