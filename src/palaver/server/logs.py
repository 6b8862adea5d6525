"""Logging: to a rotating file in ``DATA_DIR/logs/`` and to stderr, as text or JSON lines
(one handler, :class:`~palaver.server.log_sink.LogSink`, writing once per loop turn).

JSON lines (``log_format = "json"``): one object per record with ``ts`` (UTC, ISO 8601),
``level``, ``logger`` and ``message``, then the record's structured fields (what the code passed as
``extra=``, e.g. ``event``, ``nick``, ``reason``), and ``exc`` with the traceback when there is
one. Python's own and aiohttp's warnings go to the same places in the same format.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from palaver.server.log_sink import LogSink

FORMAT: Final = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_MARK: Final = "_palaver_handler"  # set on the handlers we install, to replace them on a re-setup

# Every attribute a plain LogRecord has: anything else on a record came from ``extra=``.
_STANDARD: Final = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime",
                                                                  "taskName"}
_encoder = msgspec.json.Encoder(enc_hook=repr)


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        try:
            return _encoder.encode(entry).decode()
        except (UnicodeEncodeError, TypeError, ValueError, OverflowError):
            # a lone surrogate, a key that is not a string, …: json escapes or stringifies them
            return json.dumps(entry, default=repr, skipkeys=True)


class TextFormatter(logging.Formatter):
    """:data:`FORMAT`, with the time's date and seconds formatted once per second rather than
    once per record (``time.strftime`` was a tenth of a record's cost)."""

    def __init__(self) -> None:
        super().__init__(FORMAT)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime(self.default_time_format, self.converter(record.created))
        return f"{self._stamp},{int(record.msecs):03d}"  # as default_msec_format


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def setup_logging(data_dir: Path, level: str, log_format: str = "text", *,
                  name: str = "palaver") -> Path:
    """Send palaver's logs to stderr and ``data_dir/logs/NAME.log``; returns the file's path.
    (A worker of ``--workers`` has its own file, ``palaver-NODE.log``.)

    Other libraries' records (asyncio, aiohttp) go to the same handlers at ``warning`` and above.
    Calling it again replaces the handlers it installed before."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / f"{name}.log"
    formatter = formatter_for(log_format)
    # Nothing palaver logs shows the calling line, thread or process: not looking them up
    # makes a record cheaper (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    sink = LogSink(path, max_bytes=10 * 1_048_576, backups=5)
    root = logging.getLogger()
    palaver = logging.getLogger("palaver")
    for logger in (root, palaver):
        for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
            logger.removeHandler(old)
            old.close()
    sink.setFormatter(formatter)
    setattr(sink, _MARK, True)
    palaver.addHandler(sink)
    root.addHandler(sink)
    palaver.setLevel(level.upper())
    palaver.propagate = False
    root.setLevel(max(logging.WARNING, palaver.level))
    return path
