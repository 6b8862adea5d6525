"""The IRC door's server name: the server_name setting, or the machine's host name."""

from __future__ import annotations

import socket

import pytest

from palaver.server.config import ConfigError, Settings, load_settings
from palaver.transports.irc_port import host_name


def test_server_name_is_a_setting_checked_like_a_host_name() -> None:
    assert Settings().server_name is None
    assert load_settings(environ={"PALAVER_SERVER_NAME": "irc.example.org"}).server_name == (
        "irc.example.org")
    for bad in ("irc example", ":irc", "irc\r\nPRIVMSG", "irc\n", "-irc", "x" * 64):
        with pytest.raises(ConfigError, match="server_name"):
            load_settings(environ={"PALAVER_SERVER_NAME": bad})


def test_the_default_server_name_is_the_host_name() -> None:
    name = socket.gethostname()
    assert host_name() in (name, "palaver")
    assert host_name() == name or not name.replace("-", "").replace(".", "").isalnum()
