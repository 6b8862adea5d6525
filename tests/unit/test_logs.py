"""Log lines: text by default, one JSON object per line with --log-format json."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from palaver.server.log_sink import LogSink
from palaver.server.logs import FORMAT, JsonFormatter, TextFormatter, setup_logging


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


def test_text_line_is_the_standard_formatters_across_seconds() -> None:
    ours, standard = TextFormatter(), logging.Formatter(FORMAT)
    for created in (1_700_000_000.0, 1_700_000_000.999, 1_700_000_001.5, 1_700_000_000.25,
                    1_700_086_400.001):  # the same second twice, the next, back, a day on
        rec = record("%s joined", "ada")
        rec.created, rec.msecs = created, (created - int(created)) * 1000
        assert ours.format(rec) == standard.format(rec)


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
               if getattr(h, "_palaver_handler", False)) == 1
    logging.getLogger("palaver.server").info("%s joined", "bob", extra={"nick": "bob"})
    logging.getLogger("palaver.server").debug("not at info")
    logging.getLogger("asyncio").warning("from asyncio")
    for handler in logging.getLogger("palaver").handlers:
        handler.flush()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["logger"], e["message"]) for e in lines] == [
        ("palaver.server", "bob joined"), ("asyncio", "from asyncio")]
    assert lines[0]["nick"] == "bob"


def sink(tmp_path: Path, max_bytes: int = 0) -> tuple[LogSink, io.StringIO, Path]:
    err = io.StringIO()
    path = tmp_path / "palaver.log"
    path.touch()
    handler = LogSink(path, max_bytes=max_bytes, backups=2, stderr=err)
    handler.setFormatter(logging.Formatter("%(message)s"))
    return handler, err, path


async def test_sink_writes_the_lines_of_a_loop_turn_together_after_it(tmp_path: Path) -> None:
    handler, err, path = sink(tmp_path)
    handler.handle(record("one"))
    handler.handle(record("two"))
    assert path.read_text() == err.getvalue() == ""  # held until the turn ends
    await asyncio.sleep(0)  # one turn of the loop: the scheduled flush runs
    assert path.read_text() == err.getvalue() == "one\ntwo\n"
    error = record("broken")
    error.levelno, error.levelname = logging.ERROR, "ERROR"
    handler.handle(error)  # at once, never held
    assert path.read_text().endswith("broken\n")
    handler.close()


def test_sink_without_a_loop_writes_at_once_and_rotates_by_size(tmp_path: Path) -> None:
    handler, err, path = sink(tmp_path, max_bytes=20)
    for word in ("first line", "second line", "third line", "\udc80 odd"):
        handler.handle(record(word))
    handler.close()
    assert err.getvalue() == "first line\nsecond line\nthird line\n\udc80 odd\n"
    rotated = tmp_path / "palaver.log.1"
    assert rotated.read_text() == "third line\n"
    assert path.read_text() == "\\udc80 odd\n"  # the lone surrogate escaped, not lost
    assert (tmp_path / "palaver.log.2").read_text() == "second line\n"  # "first" is gone
