"""Log lines: text by default, one JSON object per line with --log-format json."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from palaver.server.logs import JsonFormatter, setup_logging


def record(message: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            exc_info = sys.exc_info()
    rec = logging.LogRecord("palaver.server", logging.WARNING, __file__, 1, message, args,
                            exc_info)
    rec.__dict__.update(extra)
    return rec


def test_json_line_has_the_fixed_fields_and_the_structured_ones() -> None:
    line = JsonFormatter().format(record("%s left (%s)", "alice", "quit", event="leave",
                                         nick="alice", session=7))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "warning" and entry["logger"] == "palaver.server"
    assert entry["message"] == "alice left (quit)"
    assert entry["ts"].endswith("Z") and entry["ts"][:2] == "20"
    assert (entry["event"], entry["nick"], entry["session"]) == ("leave", "alice", 7)
    assert "args" not in entry and "msg" not in entry and "exc" not in entry


def test_json_line_with_a_traceback_and_odd_values() -> None:
    entry = json.loads(JsonFormatter().format(record("failed", exc=True, thing=object())))
    assert "ValueError: boom" in entry["exc"] and entry["thing"].startswith("<object")
    # a lone surrogate (chat text decoded with surrogateescape) still gives valid JSON
    entry = json.loads(JsonFormatter().format(record("text %r", "\udc80", text="\udc80")))
    assert entry["text"] == "\udc80"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    loggers = [logging.getLogger(), logging.getLogger("palaver")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for logger, handlers, level, propagate in saved:
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.mark.usefixtures("restore_logging")
def test_setup_logging_json_writes_json_lines_to_the_file(tmp_path: Path) -> None:
    setup_logging(tmp_path, "info", "text")
    path = setup_logging(tmp_path, "info", "json")  # again: replaces, does not add
    assert sum(1 for h in logging.getLogger("palaver").handlers
               if getattr(h, "_palaver_handler", False)) == 2
    logging.getLogger("palaver.server").info("%s joined", "bob", extra={"nick": "bob"})
    logging.getLogger("palaver.server").debug("not at info")
    logging.getLogger("asyncio").warning("from asyncio")
    for handler in logging.getLogger("palaver").handlers:
        handler.flush()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["logger"], e["message"]) for e in lines] == [
        ("palaver.server", "bob joined"), ("asyncio", "from asyncio")]
    assert lines[0]["nick"] == "bob"
