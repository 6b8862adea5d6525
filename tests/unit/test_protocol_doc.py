"""docs/protocol.md keeps up with the wire vocabulary: every error code and message tag."""

from __future__ import annotations

from pathlib import Path

import pytest

from palaver.protocol.errors import ErrorCode
from palaver.protocol.messages import CLIENT_MESSAGE_TYPES, SERVER_MESSAGE_TYPES, Wire

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")


def _table_rows(first_cell: str) -> bool:
    """Whether a Markdown table row starts with ``| `first_cell` |`` (any padding)."""
    return any(
        line.startswith("|") and line.split("|")[1].strip() == f"`{first_cell}`"
        for line in PROTOCOL.splitlines()
    )


def _tag(message: type[Wire]) -> str:
    tag = message.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def test_every_error_code_is_in_the_error_table() -> None:
    missing = [code.value for code in ErrorCode if not _table_rows(code.value)]
    assert not missing, f"add these codes to the table of docs/protocol.md §9: {missing}"


@pytest.mark.parametrize(
    ("types", "section"),
    [
        (CLIENT_MESSAGE_TYPES, "## 4. Client messages"),
        (SERVER_MESSAGE_TYPES, "## 5. Server messages"),
    ],
)
def test_every_message_type_is_in_its_table_and_has_an_example(
    types: tuple[type[Wire], ...], section: str
) -> None:
    start = PROTOCOL.index(section)
    end = PROTOCOL.index("\n## ", start + len(section))
    text = PROTOCOL[start:end]
    rows = {line.split("|")[1].strip() for line in text.splitlines() if line.startswith("|")}
    missing_rows = [_tag(t) for t in types if f"`{_tag(t)}`" not in rows]
    assert not missing_rows, f"add these types to the table of {section!r}: {missing_rows}"
    missing_examples = [_tag(t) for t in types if f'{{"type":"{_tag(t)}"' not in text]
    assert not missing_examples, f"give these types an example in {section!r}: {missing_examples}"
