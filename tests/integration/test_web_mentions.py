"""Mentions, browser notifications and typing indicators in the web client, in Debian's chromium
(mentions.js, typing.js).

A message naming the page's nick as a whole word (any case), or @room from one of the room's
operators, is highlighted; with the tab hidden (document.hidden forced by the test page) a
message from someone else constructs a Notification (the permission granted to the context;
window.Notification wrapped to record the calls) — every one at the default notification level,
"all" (test_web_notify.py: "mentions" and "none"). Typing in the composer
sends TAGMSG +typing active to the room, done once sent; another member's typing shows
"carol is typing…" until their done or message; the setting switches sending off.
Screenshot: test-artifacts/web-mentions-1280.png.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from palaver.client import Client
from palaver.protocol.messages import (
    Join,
    Joined,
    Message,
    Say,
    SendDirect,
    SendTags,
    ServerMessage,
    Tagged,
)
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, Connect, log, login, screenshot

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]

# Before the page's scripts: record every Notification constructed, and let the test say
# whether the tab is hidden.
RECORDER = """
window.__notes = [];
window.__hidden = false;
Object.defineProperty(document, "hidden", { configurable: true, get: () => window.__hidden });
const Real = window.Notification;
class Recorded {
  constructor(title, options) {
    window.__notes.push({ title, body: options && options.body });
    try { return new Real(title, options); } catch { this.close = () => {}; }
  }
  static get permission() { return Real.permission; }
  static requestPermission(...args) { return Real.requestPermission(...args); }
}
window.Notification = Recorded;
"""


async def notes(page: Page) -> list[dict[str, str]]:
    result: list[dict[str, str]] = await page.evaluate("window.__notes")
    return result


async def test_mentions_are_highlighted_and_notified_when_hidden(
    server: Server, connect: Connect, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    ops = await carol.request(Join(room="#ops"))
    assert isinstance(ops, Joined) and "carol" in ops.operators
    page = await open_page(DESKTOP, permissions=["notifications"])
    await page.add_init_script(RECORDER)
    await login(page, port, "alice")
    assert await page.evaluate("Notification.permission") == "granted"
    await page.fill("#join-room", "#ops")
    await page.press("#join-room", "Enter")
    await expect(page.locator("#title")).to_have_text("#ops")

    async def said(room: str, text: str) -> int:
        message = await carol.request(Say(room=room, text=text))
        assert isinstance(message, Message)
        return message.msg_id

    # Visible tab: highlights, no notifications.
    named = await said("#lobby", "hey ALICE, lunch?")
    inside = await said("#lobby", "malice and alice_2 are not you")
    anyone = await said("#lobby", "@here from a member")
    everyone = await said("#ops", "@room deploy at 5")
    await expect(log(page, "#lobby").locator(f'li[data-msg-id="{named}"]')).to_have_class(
        "msg mention")
    for msg_id in (inside, anyone):
        await expect(log(page, "#lobby").locator(f'li[data-msg-id="{msg_id}"]')).to_have_class(
            "msg")
    await expect(log(page, "#ops").locator(f'li[data-msg-id="{everyone}"]')).to_have_class(
        "msg mention")
    await screenshot(page, "web-mentions-1280.png")
    assert await notes(page) == []

    # Hidden tab, the default level ("all"): every message from someone else notifies.
    await page.evaluate("window.__hidden = true")
    await said("#lobby", "nothing for you")
    await said("#lobby", "alice: the build is green")
    direct = await carol.request(SendDirect(to="alice", text="psst"))
    assert isinstance(direct, Message)
    await expect(page.locator('.log[data-conv="@carol"] li.msg')).to_have_count(1)
    assert await notes(page) == [
        {"title": "carol in #lobby", "body": "nothing for you"},
        {"title": "carol in #lobby", "body": "alice: the build is green"},
        {"title": "carol (direct message)", "body": "psst"},
    ]


async def next_tag(client: Client) -> Tagged:
    """The next TAGMSG the client gets, skipping anything else."""
    while True:
        event: ServerMessage = await client.next_event()
        if isinstance(event, Tagged):
            return event


async def test_typing_is_sent_throttled_shown_and_can_be_switched_off(
    server: Server, connect: Connect, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(DESKTOP)
    await login(page, port, "alice")
    typing = page.locator(".typing")

    # alice types: carol hears "active" once (one per 3 s at most), then "done" once it is sent.
    await page.type("#input", "hello carol")
    active = await next_tag(carol)
    assert (active.sender, active.room, active.tags) == ("alice", "#lobby",
                                                         {"+typing": "active"})
    await page.press("#input", "Enter")
    done = await next_tag(carol)
    assert (done.sender, done.tags) == ("alice", {"+typing": "done"})

    # carol types: the page says so until her done, or her message.
    await carol.request(SendTags(room="#lobby", tags={"+typing": "active"}))
    await expect(typing).to_have_text("carol is typing…")
    await carol.request(SendTags(room="#lobby", tags={"+typing": "done"}))
    await expect(typing).to_have_text("")
    await carol.request(SendTags(room="#lobby", tags={"+typing": "active"}))
    await expect(typing).to_have_text("carol is typing…")
    await carol.request(Say(room="#lobby", text="hi"))
    await expect(typing).to_have_text("")

    # Switched off (and remembered): typing sends nothing; the message still goes out.
    await page.uncheck("#typing-setting")
    assert await page.evaluate("localStorage.getItem('palaver.typing')") == "off"
    await page.type("#input", "quiet now")
    await page.press("#input", "Enter")
    while True:
        event = await carol.next_event()
        assert not (isinstance(event, Tagged) and event.sender == "alice"), event
        if isinstance(event, Message) and event.sender == "alice":
            assert event.text == "quiet now"
            break
