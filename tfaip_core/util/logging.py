"""Logging for the framework: the `tfaip_core` logger, configured by the scripts only.

Importing tfaip_core never touches the global logging configuration; `setup_logging` is
called by the command-line programs (and may be called by users who embed the trainer).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Optional

LOGGER_NAME = "tfaip_core"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def logger(name: Optional[str] = None) -> logging.Logger:
    """The framework's logger, or a child of it (`logger("trainer")` -> `tfaip_core.trainer`)."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


def log_level() -> int:
    """The level named by `TFAIP_LOG_LEVEL` (debug, info, warning, error). Defaults to info."""
    name = os.environ.get("TFAIP_LOG_LEVEL", "info").strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def setup_logging(log_file: Optional[str] = None) -> None:
    """Print the `tfaip_core` logger to stderr and, if given, append it to `log_file`.

    Idempotent: calling it again only adds a file handler for a new file.
    """
    root = logger()
    root.setLevel(log_level())
    root.propagate = False
    formatter = logging.Formatter(_FORMAT)
    if not any(getattr(h, "_tfaip_console", False) for h in root.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(formatter)
        console._tfaip_console = True  # type: ignore[attr-defined]
        root.addHandler(console)
    if log_file:
        path = os.path.abspath(log_file)
        if not any(getattr(h, "baseFilename", None) == path for h in root.handlers):
            file_handler = logging.FileHandler(path, mode="a", encoding="utf-8")
            file_handler.setFormatter(formatter)
            root.addHandler(file_handler)


def quiet_tensorflow() -> None:
    """Silence TensorFlow's C++ start-up chatter (must run before TensorFlow is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
