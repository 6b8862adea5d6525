"""Server settings: one validated object, from a TOML file plus command-line overrides.

Precedence: built-in defaults < the ``--config`` TOML file < command-line flags. Unknown keys and
wrong types are refused with a message that names the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from palaver.protocol.framing import DEFAULT_MAX_FRAME

Port = Annotated[int, msgspec.Meta(ge=0, le=65_535)]
Seconds = Annotated[float, msgspec.Meta(gt=0)]
LogLevel = Literal["debug", "info", "warning", "error"]


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: Port = 8000
    web_port: Port = 8080  # the web client and /ws; 0 turns the web door off
    irc_port: Port = 6667  # the IRC door (docs/irc.md); 0 turns it off
    data_dir: str = "data"
    log_level: LogLevel = "info"
    log_messages: bool = False
    motd: str = "Welcome to palaver. Type /help for commands."
    max_frame: Annotated[int, msgspec.Meta(ge=1_024, le=16 * 1_048_576)] = DEFAULT_MAX_FRAME
    hello_timeout: Seconds = 10.0
    ping_interval: Seconds = 60.0
    idle_timeout: Seconds = 120.0
    send_queue_limit: Annotated[int, msgspec.Meta(ge=4_096)] = 262_144
    shutdown_grace: Seconds = 3.0
    use_uvloop: bool = True
    store: Literal["sqlite", "memory"] = "sqlite"
    durability: Literal["process", "power"] = "process"
    replay_cap: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1_000
    argon2_time_cost: Annotated[int, msgspec.Meta(ge=1)] = 3
    argon2_memory_kib: Annotated[int, msgspec.Meta(ge=8)] = 65_536
    # Main port: a connection silent this long (or sending something other than "{") is a
    # plain-text client (docs/text.md).
    text_sniff_timeout: Seconds = 0.5


class ConfigError(Exception):
    """The configuration cannot be used; the message says why."""


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Defaults, then the TOML file, then the overrides whose value is not None."""
    data: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            data.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return msgspec.convert(data, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"invalid setting: {exc}") from None
