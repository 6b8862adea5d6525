"""docs/operations.md and deploy/palaver.service keep up with the code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from types import SimpleNamespace

from prometheus_client.exposition import generate_latest

from palaver.cli import _build_parser
from palaver.server.cluster import LAG_BUCKETS
from palaver.server.config import Settings
from palaver.server.metrics import Buckets, ServerMetrics, make_registry

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_settings_table() -> None:
    missing = [name for name in Settings.__struct_fields__ if f"| `{name}` |" not in OPERATIONS]
    assert not missing, f"document these settings in docs/operations.md: {missing}"


def test_every_metric_is_documented() -> None:
    class Core:  # a node of a cluster: its metrics too
        metrics = ServerMetrics()
        cluster = SimpleNamespace(node="a", shards_up={0: True}, published=0, unpublished=0,
                                  filled=0, checks=0, lag=Buckets(LAG_BUCKETS))

        def connections(self) -> list[object]:
            return []

    text = generate_latest(make_registry(Core())).decode()
    names = set(re.findall(r"^# TYPE (palaver_\w+) ", text, re.MULTILINE))
    assert names
    missing = [name for name in sorted(names) if f"`{name}" not in OPERATIONS]
    assert not missing, f"document these metrics in docs/operations.md: {missing}"


def test_the_unit_file_runs_real_commands() -> None:
    unit = (ROOT / "deploy" / "palaver.service").read_text(encoding="utf-8")
    commands = re.findall(r"^Exec\w+=(?:/opt/palaver/bin/palaver) (.*)$", unit, re.MULTILINE)
    assert len(commands) == 2
    parser = _build_parser()
    for command in commands:
        args, extra = parser.parse_known_args(shlex.split(command))
        assert args.command in {"serve", "config"}
        if args.command == "config":
            args.settings_parser.parse_args(extra)
        else:
            assert not extra
    for name in re.findall(r"^Environment=(PALAVER_\w+)=", unit, re.MULTILINE):
        key = name.removeprefix("PALAVER_").lower()
        assert key in Settings.__struct_fields__ or name == "PALAVER_CONFIG", name
