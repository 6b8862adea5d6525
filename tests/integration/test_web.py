"""The web client in a real browser: Debian's chromium driven by Playwright (never downloaded).

Two pages chat with each other and with a JSON-lines client, page through history, and survive
a server restart without losing or repeating a message. Screenshots at phone and desktop widths
land in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from palaver.client import Client
from palaver.protocol.messages import History, HistoryPage, Message, Say, SendDirect
from palaver.server.app import Server
from palaver.server.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
WAIT = 15_000  # ms: the bound on every expectation

expect.set_options(timeout=WAIT)
Connect = Callable[..., Awaitable[Client]]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("/usr/bin/chromium is missing: `make test` installs it (apt-get install "
                    "chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def open_page(browser: Browser) -> AsyncIterator[Callable[..., Awaitable[Page]]]:
    """A page in its own browser context (its own storage), failing the test on a page error."""
    errors: list[str] = []
    contexts: list[Any] = []

    async def open_one(viewport: dict[str, int] = DESKTOP, **options: Any) -> Page:
        if viewport == PHONE:
            options = {"is_mobile": True, "has_touch": True, "device_scale_factor": 2,
                       **options}
        context = await browser.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        return page

    yield open_one
    for context in contexts:
        await context.close()
    assert not errors, errors


async def login(page: Page, port: int, nick: str, password: str | None = None) -> None:
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.fill("#nick", nick)
    if password:
        await page.fill("#password", password)
    await page.click("#join")
    await expect(page.locator("#chat")).to_be_visible()
    await expect(page.locator("#me-nick")).to_have_text(nick)


def log(page: Page, conv: str) -> Any:
    return page.locator(f'.log[data-conv="{conv}"]')


def texts(page: Page, conv: str) -> Any:
    return log(page, conv).locator("li.msg:not(.pending) .text")


async def say(page: Page, text: str) -> None:
    await page.fill("#input", text)
    await page.press("#input", "Enter")


async def heard(client: Client, nick: str) -> Message:
    """The next message ``client`` gets from someone else (its own acks are skipped)."""
    while True:
        message = await client.wait_for(Message)
        if message.sender != nick:
            return message


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / name), animations="disabled")


async def test_two_pages_and_a_tcp_client_chat(
    server: Server, connect: Connect, open_page: Callable[..., Awaitable[Page]]
) -> None:
    port = await server.open_web(0)
    alice = await open_page(DESKTOP)
    bob = await open_page(PHONE)
    await login(alice, port, "alice")
    await login(bob, port, "bob")
    members = alice.locator("#member-list")
    await expect(members).to_contain_text("bob")
    carol = await connect("carol")
    await expect(members).to_contain_text("carol")

    # Room chat: page to page and to TCP, TCP to both pages.
    await say(alice, "hello from alice")
    await expect(texts(bob, "#lobby").last).to_have_text("hello from alice")
    assert (await heard(carol, "carol")).text == "hello from alice"
    tricky = 'hi from tcp <img src=x onerror="alert(1)"> <b>bold</b>'
    await carol.request(Say(room="#lobby", text=tricky))
    for page in (alice, bob):
        await expect(texts(page, "#lobby").last).to_have_text(tricky)
        assert await log(page, "#lobby").locator("img, b").count() == 0  # text, not HTML

    # Shift+Enter is a newline, Enter sends.
    await bob.fill("#input", "line one")
    await bob.press("#input", "Shift+Enter")
    await bob.type("#input", "line two")
    await bob.press("#input", "Enter")
    assert (await heard(carol, "carol")).text == "line one\nline two"
    await expect(texts(alice, "#lobby").last).to_have_text("line one\nline two")

    # A direct message from the phone, chosen in the member drawer; an unread mark on desktop.
    await bob.click("#toggle-members")
    await bob.locator("#member-list button", has_text="alice").click()
    await expect(bob.locator("#title")).to_have_text("@alice")
    await say(bob, "psst alice")
    dm_from_bob = alice.locator('#dm-list button[data-conv="@bob"]')
    await expect(dm_from_bob.locator(".badge")).to_have_text("1")
    await carol.request(Say(room="#lobby", text="meanwhile in the lobby"))
    await expect(texts(alice, "#lobby").last).to_have_text("meanwhile in the lobby")
    await dm_from_bob.click()
    await expect(texts(alice, "@bob")).to_have_text(["psst alice"])
    await expect(log(alice, "@bob").locator(".divider")).to_be_visible()
    await expect(dm_from_bob.locator(".badge")).to_have_count(0)

    # DMs with the TCP client, both ways (/msg from the composer).
    await carol.request(SendDirect(to="alice", text="hello from tcp"))
    await expect(alice.locator('#dm-list button[data-conv="@carol"] .badge')).to_have_text("1")
    await say(alice, "/msg carol hey carol")
    reply = await heard(carol, "carol")
    assert (reply.sender, reply.to, reply.text) == ("alice", "carol", "hey carol")
    await expect(texts(alice, "@carol")).to_have_text(["hello from tcp", "hey carol"])

    # Joining a room from the sidebar.
    await alice.fill("#join-room", "#dev")
    await alice.press("#join-room", "Enter")
    await expect(alice.locator("#title")).to_have_text("#dev")
    await say(alice, "first in dev")
    await expect(texts(alice, "#dev")).to_have_text(["first in dev"])
    await alice.click('#room-list button[data-conv="#lobby"]')

    # Screenshots, then a look at the phone's room drawer.
    await bob.click('#toggle-rooms')
    await expect(bob.locator("#sidebar")).to_be_in_viewport(ratio=1)
    await bob.click('#room-list button[data-conv="#lobby"]')
    await expect(bob.locator("#title")).to_have_text("#lobby")
    await expect(bob.locator("#sidebar")).to_be_hidden()
    await screenshot(alice, "web-1280.png")
    await screenshot(bob, "web-375.png")
    await bob.click('#toggle-rooms')
    await expect(bob.locator("#sidebar")).to_be_in_viewport(ratio=1)
    await screenshot(bob, "web-375-rooms.png")
    await bob.click("#scrim", position={"x": 360, "y": 400})
    await bob.click("#toggle-members")
    await expect(bob.locator("#members")).to_be_in_viewport(ratio=1)
    await screenshot(bob, "web-375-members.png")


async def test_login_page_and_accounts(
    server: Server, open_page: Callable[..., Awaitable[Page]]
) -> None:
    port = await server.open_web(0)
    page = await open_page(PHONE)
    await page.goto(f"http://127.0.0.1:{port}/")
    await screenshot(page, "web-375-login.png")
    await page.fill("#nick", "dora")
    await page.fill("#password", "short")
    await page.click("#register")
    await expect(page.locator("#login-error")).to_contain_text("at least 8")
    await page.fill("#password", "correct horse")
    await page.click("#register")
    await expect(page.locator("#me-kind")).to_have_text("account")
    await page.click("#toggle-rooms")
    await page.click("#logout")
    await expect(page.locator("#login")).to_be_visible()
    await page.fill("#password", "")
    await page.click("#join")  # a guest may not take an account's nick
    await expect(page.locator("#login-error")).to_contain_text("registered")
    await page.fill("#password", "wrong password")
    await page.click("#join")
    await expect(page.locator("#login-error")).to_contain_text("wrong")
    await page.fill("#password", "correct horse")
    await page.click("#join")
    await expect(page.locator("#me-kind")).to_have_text("account")


async def test_scrolling_up_loads_older_messages(
    server: Server, connect: Connect, open_page: Callable[..., Awaitable[Page]]
) -> None:
    port = await server.open_web(0)
    writer = await connect("writer")
    for n in range(120):
        await writer.request(Say(room="#lobby", text=f"msg {n}"))
    page = await open_page(DESKTOP)
    await login(page, port, "reader")
    shown = texts(page, "#lobby")
    await expect(shown.last).to_have_text("msg 119")
    assert await shown.count() < 120
    room = log(page, "#lobby")
    for _ in range(10):  # each scroll to the top fetches one more page
        count = await shown.count()
        if count == 120:
            break
        await room.evaluate("node => { node.scrollTop = 0; }")
        await expect(shown).not_to_have_count(count)
    await expect(shown).to_have_count(120)
    await expect(shown.first).to_have_text("msg 0")
    await expect(room.locator(".older")).to_be_visible()
    assert await shown.all_text_contents() == [f"msg {n}" for n in range(120)]


async def test_reconnect_resumes_without_gaps_or_duplicates(
    tmp_path: Path, open_page: Callable[..., Awaitable[Page]]
) -> None:
    settings = Settings(port=0, web_port=0, data_dir=str(tmp_path), argon2_time_cost=1,
                        argon2_memory_kib=8, shutdown_grace=1.0)
    first = Server(settings)
    await first.start()
    second: Server | None = None
    running: Server | None = first
    try:
        port = await first.open_web(0)
        page = await open_page(PHONE)
        await login(page, port, "alice")
        async with await Client.connect("127.0.0.1", first.port, "bob") as bob:
            await bob.request(Say(room="#lobby", text="before the restart"))
        await expect(texts(page, "#lobby")).to_have_text(["before the restart"])

        running = None
        await first.stop()
        await expect(page.locator("#status")).to_contain_text("Reconnecting")
        await say(page, "sent while offline")
        await expect(log(page, "#lobby").locator("li.msg.pending")).to_have_count(1)
        await screenshot(page, "web-375-offline.png")

        # The server is back, but the page cannot reach it until bob has said more.
        second = running = Server(settings)
        await second.start()
        async with await Client.connect("127.0.0.1", second.port, "bob") as bob:
            for text in ("missed one", "missed two"):
                await bob.request(Say(room="#lobby", text=text))
            await second.open_web(port)
            await expect(page.locator("#status")).to_be_hidden()
            seen = await heard(bob, "bob")
            assert (seen.sender, seen.text) == ("alice", "sent while offline")
            wanted = ["before the restart", "missed one", "missed two", "sent while offline"]
            await expect(texts(page, "#lobby")).to_have_text(wanted)
            await expect(log(page, "#lobby").locator("li.msg.pending")).to_have_count(0)
            page_of = await bob.request(History(room="#lobby"))
            assert isinstance(page_of, HistoryPage)
            assert [m.text for m in page_of.messages] == wanted  # stored once

            # Cut from the server side this time: the page comes back by itself.
            assert second.core is not None
            await asyncio.wait_for(_drop_web_clients(second), 10)
            await expect(page.locator("#status")).to_be_hidden()
            await bob.request(Say(room="#lobby", text="after the drop"))
            await expect(texts(page, "#lobby")).to_have_text([*wanted, "after the drop"])
    finally:
        if running is not None:
            await running.stop()


async def _drop_web_clients(server: Server) -> None:
    """Abort every WebSocket connection, as a network failure would."""
    from palaver.transports.websocket import WebSocketConnection

    assert server.core is not None
    core = server.core
    dropped = [c for c in list(core._connections.values())
               if isinstance(c, WebSocketConnection)]
    assert dropped
    for conn in dropped:
        core.overflowed(conn)  # cut without a farewell
