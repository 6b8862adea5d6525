"""The web client in rooms with rules (docs/protocol.md §19), in Debian's chromium.

Two pages and a JSON-lines client that is the room's operator: topics in the header, operator
marks, kicks (the kicked page closes the room and does not rejoin it on reconnect), invitations
with a one-click join, and moderation from the composer. Screenshots of a room with a topic and
operators at phone and desktop widths land in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from palaver.protocol.messages import (
    GrantOperator,
    Join,
    Kick,
    ListUsers,
    RoomUpdated,
    Say,
    SetTopic,
    Users,
)
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, PHONE, Connect, _drop_web_clients, log, login, say, screenshot, texts

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OP = re.compile(r"\bop\b")
LEFT = re.compile(r"\bleft\b")


def lines(page: Page, conv: str) -> object:
    """The system lines (joins, kicks, topic changes, errors) of a conversation."""
    return log(page, conv).locator("li.sys, li.kicked, li.error")


def member(page: Page, nick: str) -> object:
    return page.locator(f'#member-list button.member[data-nick="{nick}"]')


async def test_rooms_with_rules(
    server: Server, connect: Connect, open_page: Callable[..., Awaitable[Page]]
) -> None:
    port = await server.open_web(0)
    oper = await connect("oper")
    await oper.request(Join(room="#dev"))  # the first in the room: its operator
    alice = await open_page(DESKTOP)
    bob = await open_page(PHONE)
    await login(alice, port, "alice")
    await login(bob, port, "bob")
    for page in (alice, bob):
        await say(page, "/join #dev")
        await expect(page.locator("#title")).to_have_text("#dev")

    # Operator marks, from JOINED.
    await expect(member(alice, "oper")).to_have_class(OP)
    await expect(member(alice, "oper").locator(".op-mark")).to_have_text("@")
    await expect(member(alice, "bob")).not_to_have_class(OP)

    # The operator (over TCP) sets a topic: both headers show it, as text.
    topic = "release on Friday <b>not bold</b>"
    await oper.request(SetTopic(room="#dev", topic=topic))
    for page in (alice, bob):
        await expect(page.locator("#topic")).to_have_text(topic)
        await expect(page.locator("#topic")).to_be_visible()
        await expect(lines(page, "#dev").last).to_have_text(f"oper set the topic: {topic}")
        assert await page.locator("header b").count() == 0

    # ... and makes alice an operator: her mark shows on both pages.
    await oper.request(GrantOperator(room="#dev", nick="alice"))
    await expect(lines(alice, "#dev").last).to_have_text("oper made you an operator")
    await expect(lines(bob, "#dev").last).to_have_text("oper made alice an operator")
    await expect(member(alice, "alice")).to_have_class(OP)
    await oper.request(Say(room="#dev", text="ship it once the tests pass"))
    await expect(texts(bob, "#dev").last).to_have_text("ship it once the tests pass")
    await say(alice, "on it")
    await expect(texts(bob, "#dev").last).to_have_text("on it")
    await screenshot(alice, "web-rooms-1280.png")
    await screenshot(bob, "web-rooms-375.png")
    await bob.click("#toggle-members")
    await expect(bob.locator("#members")).to_be_in_viewport(ratio=1)
    await expect(member(bob, "alice").locator(".op-mark")).to_have_text("@")
    await screenshot(bob, "web-rooms-375-members.png")
    await bob.click("#scrim", position={"x": 20, "y": 400})

    # alice, an operator, sets the topic from the composer.
    await say(alice, "/topic shipping now")
    for page in (alice, bob):
        await expect(page.locator("#topic")).to_have_text("shipping now")
    while (update := await oper.wait_for(RoomUpdated)).topic != "shipping now":
        pass  # the earlier updates, still queued
    assert (update.change, update.by) == ("topic", "alice")

    # A non-operator's attempt is refused, readably.
    await say(bob, "/topic mine now")
    await expect(lines(bob, "#dev").last).to_have_text(
        "Only #dev's operators may do that. (not_operator)")

    # The operator kicks bob: his page says so and closes the room; alice's says who and why.
    await oper.request(Kick(room="#dev", nick="bob", reason="too noisy"))
    await expect(lines(bob, "#dev").last).to_have_text(
        "You were kicked from #dev by oper (too noisy). You are no longer in the room: "
        "/join #dev to go back.")
    await expect(bob.locator('#room-list button[data-conv="#dev"]')).to_have_class(LEFT)
    await expect(bob.locator("#room-flags")).to_have_text("left")
    await expect(bob.locator("#member-list button")).to_have_count(0)
    await expect(lines(alice, "#dev").last).to_have_text("bob was kicked by oper (too noisy)")
    await expect(member(alice, "bob")).to_have_count(0)
    # Out of #dev only: bob is still a member of #lobby on alice's page.
    await alice.click('#room-list button[data-conv="#lobby"]')
    await expect(member(alice, "bob")).to_have_count(1)
    await alice.click('#room-list button[data-conv="#dev"]')
    await say(bob, "anyone here?")  # not sent: he is not in the room
    await expect(lines(bob, "#dev").last).to_contain_text("You are not in #dev")

    # A reconnect does not take bob back into #dev (alice, still in it, is back in it).
    await asyncio.wait_for(_drop_web_clients(server), 10)
    await oper.request(Say(room="#lobby", text="after the drop"))
    for page in (alice, bob):
        await expect(texts(page, "#lobby").last).to_have_text("after the drop")
    who = await oper.request(ListUsers(room="#dev"))
    assert isinstance(who, Users)
    assert sorted(who.users) == ["alice", "oper"]
    await expect(bob.locator('#room-list button[data-conv="#dev"]')).to_have_class(LEFT)

    # alice makes the room invite-only; bob cannot come back until she invites him.
    await say(alice, "/mode +i")
    await expect(alice.locator("#room-flags")).to_have_text("invite-only")
    await expect(lines(alice, "#dev").last).to_have_text("You made the room invite-only")
    await bob.click("#toggle-rooms")
    await bob.click('#room-list button[data-conv="#dev"]')
    await say(bob, "/join #dev")
    await expect(lines(bob, "#dev").last).to_have_text(
        "#dev is invite-only: ask an operator for an invitation. (invite_only)")
    await say(alice, "/invite bob")
    await expect(lines(alice, "#dev").last).to_have_text("You invited bob to #dev")
    invite = lines(bob, "#dev").last
    await expect(invite).to_contain_text("alice invited you to #dev")
    await invite.get_by_role("button", name="Join #dev").click()
    await expect(bob.locator('#room-list button[data-conv="#dev"]')).not_to_have_class(LEFT)
    await expect(bob.locator("#room-flags")).to_have_text("invite-only")
    await expect(bob.locator("#topic")).to_have_text("shipping now")
    await expect(member(alice, "bob")).to_have_count(1)
    await expect(texts(bob, "#dev").last).to_have_text("on it")  # history is back

    # alice kicks bob from the composer (no reason: none is shown).
    await say(alice, "/kick bob")
    await expect(lines(alice, "#dev").last).to_have_text("bob was kicked by you")
    await expect(lines(bob, "#dev").last).to_contain_text("You were kicked from #dev by alice.")
    await expect(bob.locator("#room-flags")).to_have_text("left")
    # /leave closes a room one is out of.
    await say(bob, "/leave")
    await expect(bob.locator('#room-list button[data-conv="#dev"]')).to_have_count(0)
    await expect(bob.locator("#title")).to_have_text("#lobby")

    # A ban from the composer puts a member out at once, and keeps them out.
    carol = await connect("carol")
    await say(alice, "/invite carol")
    await carol.request(Join(room="#dev"))
    await expect(member(alice, "carol")).to_have_count(1)
    await say(alice, "/ban carol")
    await expect(lines(alice, "#dev").last).to_have_text("carol was kicked by you (banned)")
    await expect(lines(alice, "#dev").nth(-2)).to_have_text("You banned carol")
    await expect(member(alice, "carol")).to_have_count(0)
    await say(alice, "/mode -i")
    await expect(alice.locator("#room-flags")).to_be_hidden()
    await say(alice, "/mode +x")
    await expect(lines(alice, "#dev").last).to_contain_text("usage: /mode")
