"""Deleting messages and resetting a password in the web client, in Debian's chromium, at 375 px
and 1280 px (deletes.js, reset.js).

One's own message has a delete action (🗑) with a confirm step; DELETE goes out, the message
becomes a tombstone ("Message deleted by you") in the page and in a second browser, and a JSON
client gets DELETED. Someone else's message offers no 🗑 until the page's user is made an
operator of the room; then it does, with a reason. ``/delete ID [reason]`` typed works, and its
refusals (not_operator, no_such_message) are error lines. A reloaded page shows the tombstones
from history. The login screen's "Have a reset token?" panel sends RESET_PASSWORD before any
HELLO: a wrong token is refused (invalid_token), a good one changes the password, and the login
form then logs in with the new one. Screenshots: test-artifacts/web-deletes-{375,1280}.png,
web-deletes-confirm-{375,1280}.png and web-reset-{375,1280}.png.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Locator, Page, expect

from palaver.hub.messaging import format_ts
from palaver.protocol.messages import (
    Delete,
    Deleted,
    GrantOperator,
    Join,
    Joined,
    Message,
    React,
    Say,
    SendDirect,
)
from palaver.server.account_work import new_reset_token, token_digest
from palaver.server.app import Server

from . import test_web as web
from .conftest import ServerFactory
from .test_web import DESKTOP, PHONE, Connect, heard, log, login, say, screenshot
from .test_web_account import register

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]
DELETED = re.compile(r"\bdeleted\b")


async def join(page: Page, room: str) -> None:
    await page.fill("#join-room", room)
    await page.press("#join-room", "Enter")
    await expect(page.locator("#title")).to_have_text(room)


def item(page: Page, conv: str, msg_id: int) -> Locator:
    return log(page, conv).locator(f'li.msg[data-msg-id="{msg_id}"]')


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "375"), (DESKTOP, "1280")])
async def test_delete_in_the_page(
    server: Server, connect: Connect, open_page: OpenPage, viewport: dict[str, int], name: str,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    joined = await carol.request(Join(room="#ops"))  # the first in: its operator
    assert isinstance(joined, Joined) and joined.operators == ("carol",)
    page = await open_page(viewport)
    other = await open_page(DESKTOP)
    await login(page, port, "alice")
    await login(other, port, "bob")
    for p in (page, other):
        if viewport == PHONE and p is page:
            await p.click("#toggle-rooms")
        await join(p, "#ops")
    ops = log(page, "#ops")

    # Our own message: 🗑, a confirm step (Cancel closes it), then Delete.
    await say(page, "oops, wrong room")
    mine = await heard(carol, "carol")
    ours = item(page, "#ops", mine.msg_id)
    await expect(item(other, "#ops", mine.msg_id).locator(".text")).to_have_text(
        "oops, wrong room")
    await ours.locator("button.delete").click()
    confirm = ours.locator(".delete-confirm")
    await expect(confirm).to_contain_text("Delete your message?")
    await expect(confirm.locator(".delete-reason")).to_have_count(0)  # no reason for one's own
    await ours.locator("button.delete-no").click()
    await expect(confirm).to_have_count(0)
    await ours.locator("button.delete").click()
    await screenshot(page, f"web-deletes-confirm-{name}.png")
    await ours.locator("button.delete-yes").click()
    told = await carol.wait_for(Deleted)
    assert (told.msg_id, told.by, told.room) == (mine.msg_id, "alice", "#ops")
    await expect(ours).to_have_class(DELETED)
    await expect(ours.locator(".tombstone")).to_have_text("Message deleted by you")
    await expect(ours.locator(".text")).to_have_count(0)
    await expect(ours.locator(".msg-actions")).to_have_count(0)
    # ... seen live by the second browser
    theirs = item(other, "#ops", mine.msg_id)
    await expect(theirs.locator(".tombstone")).to_have_text("Message deleted by alice")
    await expect(theirs.locator(".text")).to_have_count(0)

    # carol's message: no 🗑 for a non-operator; /delete of it is refused, with the code.
    said = await carol.request(Say(room="#ops", text="carol was here"))
    assert isinstance(said, Message)
    hers = item(page, "#ops", said.msg_id)
    await expect(hers.locator(".text")).to_have_text("carol was here")
    await expect(hers.locator("button.reply")).to_be_visible()
    await expect(hers.locator("button.delete")).to_be_hidden()
    await say(page, f"/delete {said.msg_id} spam")
    await expect(ops.locator("li.error").last).to_contain_text("(not_operator)")
    await say(page, "/delete 999999")
    await expect(ops.locator("li.error").last).to_contain_text("(no_such_message)")
    await say(page, "/delete soon")  # not an id: the usage, and it stays in the composer
    await expect(ops.locator("li.error").last).to_have_text("usage: /delete ID [reason]")
    await expect(page.locator("#input")).to_have_value("/delete soon")

    # /delete of our own message, with its reactions: they go with it.
    await say(page, "vote for lunch")
    vote = await heard(carol, "carol")
    await carol.request(React(room="#ops", msg_id=vote.msg_id, reaction="👍"))
    voted = item(page, "#ops", vote.msg_id)
    await expect(voted.locator(".reactions .count")).to_have_text("1")
    await say(page, f"/delete {vote.msg_id} changed my mind")
    told = await carol.wait_for(Deleted)
    assert (told.msg_id, told.reason) == (vote.msg_id, "changed my mind")
    await expect(voted.locator(".tombstone")).to_have_text(
        "Message deleted by you (changed my mind)")
    await expect(voted.locator(".reactions")).to_have_count(0)
    await expect(page.locator("#input")).to_have_value("")

    # Made an operator, alice is offered 🗑 on carol's message, and deletes it with a reason.
    await carol.request(GrantOperator(room="#ops", nick="alice"))
    await expect(hers.locator("button.delete")).to_be_visible()
    await hers.locator("button.delete").click()
    await expect(hers.locator(".delete-confirm")).to_contain_text("Delete carol's message?")
    await hers.locator(".delete-reason").fill("off topic")
    await hers.locator("button.delete-yes").click()
    told = await carol.wait_for(Deleted)
    assert (told.msg_id, told.by, told.reason) == (said.msg_id, "alice", "off topic")
    await expect(hers.locator(".tombstone")).to_have_text("Message deleted by you (off topic)")
    await expect(item(other, "#ops", said.msg_id).locator(".tombstone")).to_have_text(
        "Message deleted by alice (off topic)")
    # bob is no operator: carol's next message has no 🗑 for him, and one for alice.
    kept = await carol.request(Say(room="#ops", text="still on topic"))
    assert isinstance(kept, Message)
    await expect(item(other, "#ops", kept.msg_id).locator("button.delete")).to_be_hidden()
    await expect(item(page, "#ops", kept.msg_id).locator("button.delete")).to_be_visible()
    await screenshot(page, f"web-deletes-{name}.png")

    # A reloaded page shows the tombstones from history (without who), the rest as it was.
    await other.reload()
    await login(other, port, "bob2")
    await join(other, "#ops")
    for msg_id in (mine.msg_id, vote.msg_id, said.msg_id):
        gone = item(other, "#ops", msg_id)
        await expect(gone.locator(".tombstone")).to_have_text("Message deleted")
        await expect(gone.locator(".text")).to_have_count(0)
    await expect(item(other, "#ops", kept.msg_id).locator(".text")).to_have_text(
        "still on topic")


async def test_delete_a_direct_message(
    server: Server, connect: Connect, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(DESKTOP)
    await login(page, port, "alice")
    first = await carol.request(SendDirect(to="alice", text="psst"))
    assert isinstance(first, Message)
    await page.locator('#dm-list button[data-conv="@carol"]').click()
    hers = item(page, "@carol", first.msg_id)
    await expect(hers.locator(".text")).to_have_text("psst")
    await say(page, "what?")
    reply = await heard(carol, "carol")
    ours = item(page, "@carol", reply.msg_id)
    await expect(ours.locator(".text")).to_have_text("what?")
    await expect(hers.locator("button.delete")).to_be_hidden()  # only one's own, in a DM
    await ours.locator("button.delete").click()
    await ours.locator("button.delete-yes").click()
    told = await carol.wait_for(Deleted)
    assert (told.msg_id, told.by, told.to) == (reply.msg_id, "alice", "carol")
    await expect(ours.locator(".tombstone")).to_have_text("Message deleted by you")
    await carol.request(Delete(peer="alice", msg_id=first.msg_id))
    await expect(hers.locator(".tombstone")).to_have_text("Message deleted by carol")


@pytest.mark.parametrize(("viewport", "name"), [(PHONE, "375"), (DESKTOP, "1280")])
async def test_reset_password_with_a_token(
    start_server: ServerFactory, open_page: OpenPage, viewport: dict[str, int], name: str,
) -> None:
    server = await start_server(login_failures=10)  # two wrong tokens and a wrong password
    port = await server.open_web(0)
    page = await open_page(viewport)
    await register(page, port, "dora", "first-password")
    if viewport == PHONE:
        await page.click("#toggle-rooms")
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    assert server.store is not None
    token = new_reset_token()  # as `palaver admin reset-password dora` makes one
    assert await server.store.set_reset_token("dora", token_digest(token),
                                              format_ts(time.time() + 3600))

    await page.fill("#nick", "dora")
    await page.click("#reset summary")
    await expect(page.locator("#reset-nick")).to_have_value("dora")
    await page.fill("#reset-token", "not-" + token)
    await page.fill("#reset-new", "short")
    await page.click("#reset-submit")
    await expect(page.locator("#reset-status")).to_have_text(
        "A password is at least 8 characters.")
    await page.fill("#reset-new", "second-password")
    await page.click("#reset-submit")
    await expect(page.locator("#reset-status.error")).to_contain_text("(invalid_token)")
    await page.fill("#reset-token", token)
    await page.click("#reset-submit")
    await expect(page.locator("#reset-status")).to_have_text(
        "The password of dora is changed. Log in with the new one above.")
    await expect(page.locator("#password")).to_have_value("second-password")
    await screenshot(page, f"web-reset-{name}.png")

    # The token was good once; the login form now logs in with the new password.
    await page.fill("#reset-token", token)
    await page.fill("#reset-new", "third-password")
    await page.click("#reset-submit")
    await expect(page.locator("#reset-status.error")).to_contain_text("(invalid_token)")
    await page.fill("#password", "first-password")
    await page.click("#join")
    await expect(page.locator("#login-error")).to_contain_text("wrong")
    await page.fill("#password", "second-password")
    await page.click("#join")
    await expect(page.locator("#me-kind")).to_have_text("account")
    await expect(page.locator("#me-nick")).to_have_text("dora")
