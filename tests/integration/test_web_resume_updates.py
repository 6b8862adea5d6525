"""The web client learns on resume of the changes made while it was away (Debian's chromium).

The page has bob's messages; the server stops; while the page cannot reach it, bob edits one
message and reacts to the other; when the server is back the page resumes from its marks
(HELLO ``since``) and shows both changes, without reloading history (protocol §15: changes are
events with a ``seq``). Before step 9 finished, a resume sent only messages after the marks, so
the page kept the old text. Screenshot: test-artifacts/web-resume-updates-375.png.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import Page, expect

from palaver.client import Client
from palaver.protocol.messages import Edit, Hello, Message, React, Register, Say
from palaver.server.app import Server
from palaver.server.config import Settings

from . import test_web as web
from .test_web import PHONE, log, login, screenshot

PASSWORD = "correct horse battery"
browser = web.browser  # the fixtures, shared
open_page = web.open_page


async def test_a_resumed_page_shows_what_changed_while_it_was_away(
    tmp_path: Path, open_page: Callable[..., Awaitable[Page]],
) -> None:
    settings = Settings(port=0, web_port=0, data_dir=str(tmp_path), argon2_time_cost=1,
                        argon2_memory_kib=8, shutdown_grace=1.0)
    first = Server(settings)
    await first.start()
    running: Server | None = first
    try:
        port = await first.open_web(0)
        page = await open_page(PHONE)
        await login(page, port, "alice")
        lobby = log(page, "#lobby")
        async with await Client.connect("127.0.0.1", first.port, "bob") as bob:
            await bob.request(Register(nick="bob", password=PASSWORD))  # bob, after a restart
            plan = await bob.request(Say(room="#lobby", text="teh plan"))
            ship = await bob.request(Say(room="#lobby", text="ship it"))
        assert isinstance(plan, Message) and isinstance(ship, Message)
        planned = lobby.locator(f'li.msg[data-msg-id="{plan.msg_id}"]')
        shipped = lobby.locator(f'li.msg[data-msg-id="{ship.msg_id}"]')
        await expect(shipped.locator(".text")).to_have_text("ship it")

        running = None
        await first.stop()
        await expect(page.locator("#status")).to_contain_text("Reconnecting")
        second = running = Server(settings)
        await second.start()
        async with await Client.connect("127.0.0.1", second.port) as bob:
            await bob.request(Hello(version=1, nick="bob", password=PASSWORD))
            await bob.request(Edit(room="#lobby", msg_id=plan.msg_id, text="the plan"))
            await bob.request(React(room="#lobby", msg_id=ship.msg_id, reaction="🚀"))
            await second.open_web(port)  # now the page gets back in, and resumes
            await expect(page.locator("#status")).to_be_hidden()
            await expect(planned.locator(".text")).to_have_text("the plan")
            await expect(planned.locator(".edited")).to_have_text("(edited)")
            rocket = shipped.locator("button.reaction", has_text="🚀")
            await expect(rocket.locator(".count")).to_have_text("1")
            await expect(lobby.locator("li.msg")).to_have_count(2)  # nothing shown twice
            await screenshot(page, "web-resume-updates-375.png")
    finally:
        if running is not None:
            await running.stop()
