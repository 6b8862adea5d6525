"""The small login screen of ``palaver chat``: a nickname and an optional password.

It fits a 60×20 terminal (the box is at most the screen's width). After a wrong password the
password field is empty and has the focus.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

Login = tuple[str, str | None]


class LoginScreen(Screen[Login]):
    """Ask for a nick (and a password, for an account); dismissed with ``(nick, password)``."""

    AUTO_FOCUS = "#login-nick"

    def __init__(self, server: str, *, error: str | None = None, nick: str = "",
                 password: str | None = None, focus_password: bool = False) -> None:
        super().__init__()
        self.server = server
        self.error = error
        self.nick = nick
        self.password = password
        self.focus_password = focus_password

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(Text(f"palaver — {self.server}"), id="login-title")
            yield Input(self.nick, placeholder="nickname", id="login-nick", max_length=200)
            yield Input(self.password or "", placeholder="password (only for an account)",
                        password=True, id="login-password")
            yield Static(Text(self.error or "Enter to connect, Ctrl+C to leave"),
                         id="login-error", classes="error" if self.error else "")

    def on_mount(self) -> None:
        if self.focus_password:
            self.query_one("#login-password", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        nick = self.query_one("#login-nick", Input).value.strip()
        if not nick:
            self.query_one("#login-error", Static).update(Text("a nickname, please"))
            self.query_one("#login-nick", Input).focus()
            return
        password = self.query_one("#login-password", Input).value or None
        self.dismiss((nick, password))


__all__ = ["Login", "LoginScreen"]
