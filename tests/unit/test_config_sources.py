"""Settings layers: defaults < TOML file < PALAVER_* environment < flags; errors name the source."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from palaver.server.config import ConfigError, Settings, load_settings
from palaver.server.config_sources import resolve, to_toml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "palaver.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_with_nothing_set() -> None:
    assert load_settings(environ={}) == Settings()


def test_file_then_environment_then_flags(tmp_path: Path) -> None:
    config = write(tmp_path, 'port = 1001\nweb_port = 1002\nirc_port = 1003\nmotd = "file"\n')
    env = {"PALAVER_WEB_PORT": "2002", "PALAVER_IRC_PORT": "2003"}
    resolved = resolve(config, env, {"irc_port": 3003, "host": None})
    settings = resolved.settings
    assert (settings.port, settings.web_port, settings.irc_port) == (1001, 2002, 3003)
    assert settings.motd == "file" and settings.host == "127.0.0.1"  # None: flag not given
    assert resolved.sources == {
        "port": f"config file {config}", "motd": f"config file {config}",
        "web_port": "environment variable PALAVER_WEB_PORT", "irc_port": "flag --irc-port"}
    # the same through the old entry point
    assert load_settings(config, environ=env, irc_port=3003) == settings


def test_environment_values_take_their_settings_types() -> None:
    settings = load_settings(environ={
        "PALAVER_PORT": "9000", "PALAVER_LOG_MESSAGES": "true", "PALAVER_USE_UVLOOP": "0",
        "PALAVER_IDLE_TIMEOUT": "300.5", "PALAVER_MOTD": "42", "PALAVER_LOG_FORMAT": "json",
        "PALAVER_METRICS_FROM": " 10.0.0.0/8 , ::1 ,"})
    assert settings.port == 9000 and settings.log_messages is True
    assert settings.use_uvloop is False and settings.idle_timeout == 300.5
    assert settings.motd == "42" and settings.log_format == "json"
    assert settings.metrics_from == ("10.0.0.0/8", "::1")


def test_environment_lists_as_json_and_empty() -> None:
    assert load_settings(environ={"PALAVER_METRICS_FROM": '["192.168.0.0/16"]'}).metrics_from \
        == ("192.168.0.0/16",)
    assert load_settings(environ={"PALAVER_METRICS_FROM": ""}).metrics_from == ()


def test_empty_optional_setting_is_unset() -> None:
    assert load_settings(environ={"PALAVER_TLS_KEY": ""}).tls_key is None


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = write(tmp_path, "port = 1234\n")
    assert load_settings(environ={"PALAVER_CONFIG": str(config)}).port == 1234
    other = tmp_path / "other.toml"
    other.write_text("port = 4321\n")
    assert load_settings(other, environ={"PALAVER_CONFIG": str(config)}).port == 4321


def test_client_variables_are_ignored() -> None:
    assert load_settings(environ={"PALAVER_PASSWORD": "hunter2", "HOME": "/x"}) == Settings()


@pytest.mark.parametrize(("env", "flags", "expected"), [
    ({"PALAVER_PORT": "eighty"}, {},
     "invalid setting `port` (environment variable PALAVER_PORT): Expected `int`, not 'eighty'"),
    ({"PALAVER_PORT": "70000"}, {},
     "invalid setting `port` (environment variable PALAVER_PORT): Expected `int` <= 65535"),
    ({"PALAVER_PROT": "1"}, {},
     "invalid setting `prot` (environment variable PALAVER_PROT): no such setting "
     "(did you mean PALAVER_PORT?)"),
    ({"PALAVER_LOG_FORMAT": "xml"}, {},
     "invalid setting `log_format` (environment variable PALAVER_LOG_FORMAT): Invalid enum "
     "value 'xml' (one of 'text', 'json')"),
    ({"PALAVER_METRICS_FROM": "[1"}, {},
     "invalid setting `metrics_from` (environment variable PALAVER_METRICS_FROM): not valid JSON"),
    ({"PALAVER_METRICS_FROM": "10.0.0.0/8,nowhere"}, {},
     "invalid setting `metrics_from` (environment variable PALAVER_METRICS_FROM): 'nowhere' is "
     "not an IP address or network"),
    ({}, {"port": -1}, "invalid setting `port` (flag --port): Expected `int` >= 0"),
    ({}, {"log_level": "loud"}, "invalid setting `log_level` (flag --log-level): Invalid enum "
     "value 'loud' (one of 'debug', 'info', 'warning', 'error')"),
    ({"PALAVER_TLS_KEY": "key.pem"}, {},
     "(tls_key from environment variable PALAVER_TLS_KEY)"),
])
def test_errors_name_the_source_and_key(
    env: dict[str, str], flags: dict[str, object], expected: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=env, **flags)
    assert expected in str(caught.value)


def test_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    config = write(tmp_path, 'port = "eighty"\n')
    with pytest.raises(ConfigError, match=rf"invalid setting `port` \(config file "
                                          rf"{tmp_path}.*\): Expected `int`, got `str`"):
        load_settings(config, environ={})
    config = write(tmp_path, "prot = 1\n")
    with pytest.raises(ConfigError, match=r"invalid setting `prot` \(config file .*\): no such "
                                          r"setting \(did you mean port\?\)"):
        load_settings(config, environ={})
    # a flag that fixes the file's bad value: the merged settings are what is validated
    config = write(tmp_path, "port = 70000\n")
    assert load_settings(config, environ={}, port=1).port == 1
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "port = \n"), environ={})
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "missing.toml", environ={})


def test_printed_settings_load_back_equal(tmp_path: Path) -> None:
    resolved = resolve(None, {"PALAVER_PORT": "9000", "PALAVER_MOTD": 'say "hi"\n\ttab\x7f\x01é',
                              "PALAVER_METRICS_FROM": ""}, {"tls_cert": "c.pem", "web_port": 0})
    text = to_toml(resolved.settings, resolved.sources)
    assert "port = 9000  # environment variable PALAVER_PORT" in text
    assert "web_port = 0  # flag --web-port" in text
    assert msgspec.convert(tomllib.loads(text), Settings) == resolved.settings
    assert load_settings(write(tmp_path, text), environ={}) == resolved.settings


@given(motd=st.text(alphabet=st.characters(exclude_categories=("Cs",))),
       grace=st.floats(min_value=1e-9, max_value=1e12))
def test_any_text_and_number_round_trips_through_toml(motd: str, grace: float) -> None:
    settings = Settings(motd=motd, shutdown_grace=grace)
    assert msgspec.convert(tomllib.loads(to_toml(settings)), Settings) == settings
