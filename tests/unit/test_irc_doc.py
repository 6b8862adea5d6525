"""docs/irc.md keeps up with the IRC door: every command, capability and mode it has is there."""

from __future__ import annotations

import re
from pathlib import Path

from palaver.protocol.irc.operators import USER_MODES
from palaver.protocol.irc.render import SUPPORTED_CAPS
from palaver.protocol.irc.rooms import CHANNEL_MODES
from palaver.protocol.irc.table import COMMANDS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "irc.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = DOC.index(f"\n## {title}\n")
    end = DOC.find("\n## ", start + 1)
    return DOC[start:end if end != -1 else len(DOC)]


def test_every_command_has_a_row_in_the_mapping_table() -> None:
    rows = [line.split("|")[1] for line in _section("Mapping").splitlines()
            if line.startswith("| `")]
    missing = [verb for verb in COMMANDS
               if not any(re.search(rf"`{verb}\b", first_cell) for first_cell in rows)]
    assert not missing, f"add these commands to the Mapping table of docs/irc.md: {missing}"


def test_every_capability_has_a_row_in_the_capabilities_table() -> None:
    section = _section("Capabilities (IRCv3)")
    missing = [cap for cap in SUPPORTED_CAPS if f"| `{cap}`" not in section]
    assert not missing, f"add these capabilities to docs/irc.md: {missing}"


def test_every_channel_and_user_mode_is_described() -> None:
    missing = [f"+{mode}" for mode in CHANNEL_MODES + "".join(USER_MODES)
               if not re.search(rf"[+-]{mode}\b", DOC)]
    assert not missing, f"describe these modes in docs/irc.md: {missing}"
