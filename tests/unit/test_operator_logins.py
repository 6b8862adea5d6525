"""The operator_logins and server_info settings, and `palaver hash-password`."""

from __future__ import annotations

import io
from pathlib import Path

import argon2
import pytest

from palaver.cli import main
from palaver.server.config import ConfigError, load_settings

HASH = ("$argon2id$v=19$m=8,t=1,p=1$R8SDmiJhwmAU3/+hZhyUeA"
        "$qgKOIrC8tWOhh8Dv1aEC2emLL4TkU8XF9Ve79PM//lQ")


def test_operator_logins_come_from_a_toml_table_or_json_in_the_environment(
    tmp_path: Path,
) -> None:
    config = tmp_path / "palaver.toml"
    config.write_text(f'server_info = "test server"\n[operator_logins]\noperuser = "{HASH}"\n')
    settings = load_settings(config, environ={})
    assert settings.operator_logins == {"operuser": HASH}
    assert settings.server_info == "test server"
    env = load_settings(environ={"PALAVER_OPERATOR_LOGINS": f'{{"root": "{HASH}"}}'})
    assert env.operator_logins == {"root": HASH}
    assert load_settings(environ={}).operator_logins == {}


@pytest.mark.parametrize(("value", "why"), [
    ('{"root": "hunter2"}', "never as itself"),  # a password, not a hash
    ('{"a b": "' + HASH + '"}', "operator_logins"),  # a name OPER cannot send
])
def test_a_plain_password_or_an_unusable_name_is_refused(value: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        load_settings(environ={"PALAVER_OPERATOR_LOGINS": value})


def test_a_server_info_with_a_control_character_is_refused() -> None:
    with pytest.raises(ConfigError, match="server_info"):
        load_settings(environ={"PALAVER_SERVER_INFO": "a\x07b"})


def test_hash_password_prints_a_hash_of_the_first_line_of_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("operpassword\nignored\n"))
    assert main(["hash-password", "--time-cost", "1", "--memory-kib", "8"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert argon2.PasswordHasher().verify(printed, "operpassword")


def test_hash_password_refuses_an_empty_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["hash-password"]) == 1
    assert "empty" in capsys.readouterr().err
