"""Managing one's account in the web client, in Debian's chromium (account.js).

`/password OLD NEW` in the composer changes the password (a system line says so; a wrong one is
an error line), after which only the new one logs in, in a fresh page; the Account dialog
changes it too, and deletes the account after a confirm step, which brings the page back to
the login screen for good (no reconnect: the nick is free). Screenshots:
test-artifacts/web-account-375.png and web-account-1280.png.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from playwright.async_api import Page, expect

from palaver.client import Client
from palaver.protocol.messages import Welcome
from palaver.server.app import Server

from . import test_web as web
from .test_web import DESKTOP, PHONE, Connect, log, login, say, screenshot

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]

FIRST, SECOND, THIRD = "first-password", "second-password", "third-password"


async def register(page: Page, port: int, nick: str, password: str) -> None:
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.fill("#nick", nick)
    await page.fill("#password", password)
    await page.click("#register")
    await expect(page.locator("#me-kind")).to_have_text("account")


async def test_password_typed_then_only_the_new_one_logs_in(
    server: Server, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    page = await open_page(DESKTOP)
    await register(page, port, "dora", FIRST)
    lines = log(page, "#lobby").locator("li.error, li.sys")
    await say(page, "/password wrong-password " + SECOND)
    await expect(lines.last).to_have_text("wrong password (auth_failed)")
    await say(page, "/password " + FIRST)  # one word: the usage, kept in the composer
    await expect(lines.last).to_contain_text("usage: /password OLD NEW")
    await say(page, f"/password {FIRST} {SECOND}")
    await expect(lines.last).to_have_text(
        "The password of dora is changed; your other sessions are closed.")
    await screenshot(page, "web-account-1280.png")

    fresh = await open_page(DESKTOP)
    await fresh.goto(f"http://127.0.0.1:{port}/")
    await fresh.fill("#nick", "dora")
    await fresh.fill("#password", FIRST)
    await fresh.click("#join")
    await expect(fresh.locator("#login-error")).to_contain_text("wrong")
    await fresh.fill("#password", SECOND)
    await fresh.click("#join")
    await expect(fresh.locator("#me-kind")).to_have_text("account")
    # the first page was not closed: it changed the password, and still chats
    await say(page, "still here")
    await expect(log(page, "#lobby").locator("li.msg").last).to_contain_text("still here")


async def test_the_account_dialog_changes_the_password_and_deletes_the_account(
    server: Server, connect: Connect, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    page = await open_page(PHONE)
    await register(page, port, "erin", FIRST)
    await page.click("#toggle-rooms")
    await page.click("#account")
    dialog = page.locator("#account-dialog")
    await expect(dialog).to_be_visible()
    await page.fill("#account-old", FIRST)
    await page.fill("#account-new", "short")
    await page.click("#account-change")
    await expect(page.locator("#account-status.error")).to_contain_text("at least 8")
    await page.fill("#account-new", THIRD)
    await page.click("#account-change")
    await expect(page.locator("#account-status")).to_contain_text("The password of erin is "
                                                                  "changed")
    await page.fill("#account-delete-password", THIRD)
    await page.click("#account-delete")
    await expect(page.locator("#account-delete-confirm")).to_be_visible()
    await expect(dialog).to_contain_text("Delete the account erin for good?")
    await screenshot(page, "web-account-375.png")
    await page.click("#account-delete-cancel")  # not yet
    await expect(page.locator("#account-delete-confirm")).to_be_hidden()
    await page.fill("#account-delete-password", "not-the-password")
    await page.click("#account-delete")
    await page.click("#account-delete-confirm")
    await expect(page.locator("#account-status.error")).to_contain_text("(auth_failed)")
    await page.fill("#account-delete-password", THIRD)
    await page.click("#account-delete")
    await page.click("#account-delete-confirm")
    await expect(page.locator("#login")).to_be_visible()
    await expect(page.locator("#login-error")).to_have_text(
        "The account erin is deleted; the nick is free.")
    await expect(page.locator("#chat")).to_be_hidden()
    # nothing reconnected: a guest takes the nick, and the page stays on its login screen
    guest: Client = await connect("erin")
    assert isinstance(guest.welcome, Welcome) and not guest.welcome.account
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#nick", "erin")
    await page.fill("#password", THIRD)
    await page.click("#register")  # the nick is a guest's now: refused, on the login screen
    await expect(page.locator("#login-error")).to_be_visible()


async def test_a_password_changed_elsewhere_sends_the_page_to_the_login_screen(
    server: Server, open_page: OpenPage,
) -> None:
    port = await server.open_web(0)
    first = await open_page(DESKTOP)
    await register(first, port, "fay", FIRST)
    second = await open_page(DESKTOP)
    await login(second, port, "fay", FIRST)
    await say(second, f"/password {FIRST} {SECOND}")
    await expect(first.locator("#login-error")).to_contain_text(
        "changed in another session")
    await expect(first.locator("#chat")).to_be_hidden()
