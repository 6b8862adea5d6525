"""Where settings come from: defaults < TOML file < ``PALAVER_*`` environment < flags.

How this works: each source gives a dict of setting name → value, and every key remembers where
its value came from ("config file /etc/palaver.toml", "environment variable PALAVER_PORT",
"flag --port"). A file's or the environment's unknown key is refused at once, with the nearest
real name. Environment values are strings: each is converted to its setting's type on its own
(numbers, ``true``/``false``, lists as comma-separated items or a JSON array), so a bad one is
named. Then the layers are merged, later ones winning, and validated once as a
:class:`~palaver.server.config.Settings`; an error names the key and the source of its value.
:func:`to_toml` writes the effective settings back out (``palaver config --print``).
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

import msgspec
import msgspec.inspect as mi

from palaver.server.config import ConfigError, Settings

ENV_PREFIX: Final = "PALAVER_"
CONFIG_VARIABLE: Final = "PALAVER_CONFIG"  # the config file, when --config is not given
# Read by `palaver chat`, not by the server: allowed in the server's environment, ignored.
CLIENT_VARIABLES: Final = frozenset({"PALAVER_PASSWORD"})
DEFAULT_SOURCE: Final = "default"

_AT_KEY = re.compile(r" - at `\$\.([A-Za-z_][A-Za-z0-9_]*)[^`]*`$")


@dataclass(frozen=True)
class Resolved:
    settings: Settings
    # Where each key's value came from; keys left at their default are absent.
    sources: dict[str, str]
    config_file: Path | None


def setting_names() -> tuple[str, ...]:
    return tuple(field.name for field in msgspec.structs.fields(Settings))


def flag_of(key: str) -> str:
    return "--" + key.replace("_", "-")


def env_of(key: str) -> str:
    return ENV_PREFIX + key.upper()


def resolve(
    config_file: str | Path | None,
    environ: Mapping[str, str] | None,
    overrides: Mapping[str, Any],
) -> Resolved:
    """The validated settings from every layer (``environ`` None: ``os.environ``)."""
    env = os.environ if environ is None else environ
    fields = {field.name: field.type for field in msgspec.structs.fields(Settings)}
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}

    if config_file is None and env.get(CONFIG_VARIABLE):
        config_file = env[CONFIG_VARIABLE]
    path = Path(config_file) if config_file is not None else None
    if path is not None:
        source = f"config file {path}"
        for key, value in _read_toml(path).items():
            if key not in fields:
                raise ConfigError(f"invalid setting `{key}` ({source}): no such setting"
                                  + _suggest(key, fields))
            data[key] = value
            sources[key] = source

    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in CLIENT_VARIABLES or name == CONFIG_VARIABLE:
            continue
        key = name[len(ENV_PREFIX):].lower()
        source = f"environment variable {name}"
        if key not in fields:
            raise ConfigError(f"invalid setting `{key}` ({source}): no such setting"
                              + _suggest(key, fields, env_of))
        data[key] = _from_env(key, source, env[name], fields[key])
        sources[key] = source

    for key, value in overrides.items():
        if value is None:
            continue
        data[key] = value
        sources[key] = f"flag {flag_of(key)}" if key in fields else "argument"

    try:
        settings = msgspec.convert(data, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(_explain(str(exc), sources, fields)) from None
    return Resolved(settings, sources, path)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _suggest(
    key: str, fields: Mapping[str, Any], spell: Callable[[str], str] = lambda key: key
) -> str:
    matches = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
    return f" (did you mean {spell(matches[0])}?)" if matches else ""


def _explain(message: str, sources: Mapping[str, str], fields: Mapping[str, Any]) -> str:
    """msgspec's message, with the key and the source of its value in front."""
    found = _AT_KEY.search(message)
    if found is not None:
        key = found.group(1)
        detail = message[: found.start()] + _choices(fields.get(key))
        return f"invalid setting `{key}` ({sources.get(key, DEFAULT_SOURCE)}): {detail}"
    # A check in Settings.__post_init__: "key: what is wrong", or a rule across settings.
    head, _, detail = message.partition(": ")
    if head in fields and detail:
        return f"invalid setting `{head}` ({sources.get(head, DEFAULT_SOURCE)}): {detail}"
    origins = ", ".join(f"{key} from {sources[key]}" for key in fields
                        if key in sources and re.search(rf"\b{key}\b", message))
    return f"invalid setting: {message}" + (f" ({origins})" if origins else "")


def _from_env(key: str, source: str, raw: str, field_type: Any) -> Any:
    """One environment variable's string, converted to its setting's type."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError(f"invalid setting `{key}` ({source}): not valid UTF-8") from None
    info = mi.type_info(field_type)
    value: Any = raw
    if raw == "" and _accepts_none(info):
        value = None  # an empty optional setting is unset
    elif _is_structured(info):
        if raw.lstrip().startswith(("[", "{")):
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise ConfigError(f"invalid setting `{key}` ({source}): not valid JSON: "
                                  f"{exc}") from None
        else:  # comma-separated items
            value = [item.strip() for item in raw.split(",") if item.strip()]
    one = msgspec.defstruct("One", [("value", field_type)])
    try:
        converted: Any = msgspec.convert({"value": value}, one, strict=False)
        return converted.value
    except msgspec.ValidationError as exc:
        detail = str(exc).replace(" - at `$.value`", "").replace(", got `str`", "")
        if repr(raw) not in detail:
            detail += f", not {raw!r}"
        raise ConfigError(f"invalid setting `{key}` ({source}): {detail}"
                          + _choices(field_type)) from None


def _choices(field_type: Any) -> str:
    """For a setting with a few allowed values: which they are."""
    if field_type is None:
        return ""
    if get_origin(field_type) is Literal:  # in the order they are declared
        return " (one of " + ", ".join(repr(value) for value in get_args(field_type)) + ")"
    return ""


def _accepts_none(info: mi.Type) -> bool:
    if isinstance(info, mi.NoneType):
        return True
    return isinstance(info, mi.UnionType) and any(isinstance(t, mi.NoneType) for t in info.types)


_COLLECTIONS = (mi.ListType, mi.VarTupleType, mi.TupleType, mi.SetType, mi.FrozenSetType,
                mi.DictType, mi.StructType)


def _is_structured(info: mi.Type) -> bool:
    if isinstance(info, mi.UnionType):
        return any(isinstance(t, _COLLECTIONS) for t in info.types)
    return isinstance(info, _COLLECTIONS)


# ---------------------------------------------------------------------- palaver config --print

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def to_toml(settings: Settings, sources: Mapping[str, str] | None = None) -> str:
    """The settings as a TOML document that loads back to equal settings; each value not at its
    default says where it came from in a trailing comment."""
    sources = sources or {}
    data = msgspec.to_builtins(settings)
    lines = ["# palaver's effective settings: defaults < config file < PALAVER_* < flags"]
    tables: list[tuple[str, dict[str, Any]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
            continue
        comment = f"  # {sources[key]}" if key in sources else ""
        if value is None:
            lines.append(f"# {_key(key)} is not set{comment.replace('  #', ';')}")
        else:
            lines.append(f"{_key(key)} = {_value(value)}{comment}")
    for name, table in tables:
        comment = f"  # {sources[name]}" if name in sources else ""
        lines.extend(["", f"[{_key(name)}]{comment}"])
        lines.extend(f"{_key(k)} = {_value(v)}" for k, v in table.items() if v is not None)
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)  # 10.0, 1e-05, inf, -inf: all TOML floats
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
                   "\r": "\\r"}


def _string(text: str) -> str:
    out = []
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'
