"""Logging: to stderr and to a rotating file in ``DATA_DIR/logs/``."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(data_dir: Path, level: str) -> Path:
    """Send palaver's logs to stderr and ``data_dir/logs/palaver.log``; returns the file's path."""
    log_dir = data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "palaver.log"
    formatter = logging.Formatter(FORMAT)
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=10 * 1_048_576, backupCount=5, encoding="utf-8"
    )
    to_stderr = logging.StreamHandler()
    root = logging.getLogger("palaver")
    for handler in (to_file, to_stderr):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level.upper())
    root.propagate = False
    return path
