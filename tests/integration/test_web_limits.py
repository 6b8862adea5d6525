"""The web client checks what it sends, in Debian's chromium (docs/web.md, "Limits").

Texts are checked as the server checks them (hub/names.py check_text: at most 4,000 characters,
counted as code points; no control characters) and a whitespace-only message is refused with a
line; a frame the server would refuse for its size is never sent, and if the server turns out
to take less than the client thought, the message is failed once and not sent again after the
reconnect; a refused REGISTER is not sent again on every reconnect; request ids never repeat,
even when the page is reloaded under a clock that stood still.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable

from playwright.async_api import Page, WebSocketRoute, expect

from palaver.client import Client
from palaver.protocol.messages import Register
from palaver.server.app import Server
from tests.integration.conftest import ServerFactory

from . import test_web as web
from .test_web import DESKTOP, Connect, _drop_web_clients, heard, log, login, say, texts

browser = web.browser  # the fixtures, shared
open_page = web.open_page
OpenPage = Callable[..., Awaitable[Page]]
FROZEN_CLOCK = "Date.now = () => 1767225600000;"  # every page load sees the same instant


def errors(page: Page, conv: str) -> object:
    return log(page, conv).locator("li.error")


async def test_texts_are_checked_before_they_are_sent(
    server: Server, connect: Connect, open_page: OpenPage
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(DESKTOP)
    await login(page, port, "alice")
    lobby = log(page, "#lobby")

    await say(page, "   ")  # only spaces: a line says why, nothing is sent
    await expect(errors(page, "#lobby")).to_have_text(
        ["Nothing to send: the message is empty or only spaces."])
    await page.fill("#input", " \n\t ")
    await page.press("#input", "Enter")
    await expect(errors(page, "#lobby")).to_have_count(2)

    # 4,001 characters (here: 4,001 emoji, 8,002 UTF-16 units) is one too many...
    too_long = "\U0001f600" * 4001
    await say(page, too_long)
    await expect(errors(page, "#lobby").last).to_have_text(
        "Too long to send: 4,001 characters, at most 4,000 per message.")
    await expect(page.locator("#input")).to_have_value(too_long)  # kept, to be shortened
    # ...and 4,000 of them is fine: the limit counts characters, as the server does.
    await say(page, "\U0001f600" * 4000)
    assert (await heard(carol, "carol")).text == "\U0001f600" * 4000
    await expect(page.locator("#input")).to_have_value("")

    await say(page, "evil \u202e text")  # a bidi override
    await expect(errors(page, "#lobby").last).to_contain_text("control characters")

    # A command's frame that the server would refuse for its size is not sent.
    await say(page, "/topic " + "x" * 70_000)
    await expect(errors(page, "#lobby").last).to_contain_text(
        "Too large to send: 70,0")
    await expect(errors(page, "#lobby").last).to_contain_text("less than 65,536 per message")

    # None of them was ever sent (so none could be struck through later), and the page is
    # still connected: a last message goes through.
    await expect(lobby.locator("li.msg.failed, li.msg.pending")).to_have_count(0)
    await say(page, "still fine")
    assert (await heard(carol, "carol")).text == "still fine"
    await expect(page.locator("#status")).to_be_hidden()
    await expect(errors(page, "#lobby")).to_have_count(5)


async def test_a_frame_the_server_refuses_is_failed_once_and_not_resent(
    start_server: ServerFactory, open_page: OpenPage
) -> None:
    server = await start_server(max_frame=1024)  # less than the client assumes (65,536)
    port = await server.open_web(0)
    carol = await Client.connect("127.0.0.1", server.port, "carol")
    try:
        page = await open_page(DESKTOP)
        await login(page, port, "alice")
        await say(page, "y" * 1500)  # fine as a text; too large a frame for this server
        failed = log(page, "#lobby").locator("li.msg.failed")
        await expect(failed).to_have_count(1)
        await expect(failed.locator(".note")).to_contain_text("less than 1,024 per message")
        # The server closed the connection; the page is back, and does not send it again.
        await expect(page.locator("#status")).to_be_hidden()
        await say(page, "small")
        assert (await heard(carol, "carol")).text == "small"
        await expect(failed).to_have_count(1)
        await expect(log(page, "#lobby").locator("li.msg.pending")).to_have_count(0)
        # Now the page knows the limit: the same is refused before it is sent.
        await say(page, "z" * 1500)
        await expect(errors(page, "#lobby").last).to_contain_text("Too large to send")
        await expect(failed).to_have_count(1)
        await say(page, "the end")
        assert (await heard(carol, "carol")).text == "the end"  # nothing else came between
        await expect(failed).to_have_count(1)
    finally:
        await carol.close()


async def test_a_refused_register_is_reported_once(
    server: Server, connect: Connect, open_page: OpenPage
) -> None:
    port = await server.open_web(0)
    carol = await connect("carol")
    page = await open_page(DESKTOP)

    async def spoil_register(route: WebSocketRoute) -> None:
        """Between page and server: a refusal the page cannot foresee (a password cut short)."""
        upstream = route.connect_to_server()

        def forward(data: str | bytes) -> None:
            if isinstance(data, str) and '"REGISTER"' in data:
                data = json.dumps({**json.loads(data), "password": "short"})
            upstream.send(data)

        route.on_message(forward)

    await page.route_web_socket(re.compile(r"/ws$"), spoil_register)
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.fill("#nick", "dora")
    await page.fill("#password", "correct horse")
    await page.click("#register")
    await expect(page.locator("#me-kind")).to_have_text("guest")
    refused = errors(page, "#lobby")
    await expect(refused).to_have_text(["a password is 8 to 1024 characters (invalid_password)"])
    # A reconnect neither sends the REGISTER again nor logs in with that password.
    await _drop_web_clients(server)
    await expect(page.locator("#status")).to_be_hidden()
    await say(page, "back as a guest")
    assert (await heard(carol, "carol")).text == "back as a guest"
    # Acknowledged: any answer to a REGISTER sent after the WELCOME came before this.
    await expect(texts(page, "#lobby").last).to_have_text("back as a guest")
    await expect(refused).to_have_count(1)
    await expect(page.locator("#me-kind")).to_have_text("guest")


async def test_a_password_is_counted_in_characters(server: Server, open_page: OpenPage) -> None:
    port = await server.open_web(0)
    page = await open_page(DESKTOP)
    await page.goto(f"http://127.0.0.1:{port}/")
    await page.fill("#nick", "dora")
    await page.fill("#password", "\U0001f511" * 4)  # 8 UTF-16 units, but 4 characters
    await page.click("#register")
    await expect(page.locator("#login-error")).to_contain_text("at least 8 characters")
    await page.fill("#password", "\U0001f511" * 8)
    await page.click("#register")
    await expect(page.locator("#me-kind")).to_have_text("account")
    await say(page, "/register \U0001f511\U0001f511")  # kept in the composer, said why
    await expect(errors(page, "#lobby")).to_have_text(["A password is at least 8 characters."])
    await expect(page.locator("#input")).to_have_value("/register \U0001f511\U0001f511")


async def test_request_ids_never_repeat_across_reloads(
    server: Server, connect: Connect, open_page: OpenPage
) -> None:
    port = await server.open_web(0)
    owner = await connect("dora")
    await owner.request(Register(nick="dora", password="correct horse"))
    await owner.close()
    carol = await connect("carol")
    page = await open_page(DESKTOP)
    await page.add_init_script(FROZEN_CLOCK)  # e.g. a clock set back after the first load
    for text in ("first load", "second load"):
        await login(page, port, "dora", "correct horse")
        await expect(page.locator("#me-kind")).to_have_text("account")
        await say(page, text)
        # The server stores each message once per (sender, id): a repeated id would be
        # answered with the first message, and "second load" would be lost.
        assert (await heard(carol, "carol")).text == text
        await expect(texts(page, "#lobby").last).to_have_text(text)
        await page.reload()
