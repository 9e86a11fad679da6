"""Logging for the framework: the `tfaip_core` logger, configured by the scripts only.

Importing tfaip_core never touches the global logging configuration; `setup_logging` is
called by the command-line programs (and may be called by users who embed the trainer).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Iterator, Optional, TextIO

LOGGER_NAME = "tfaip_core"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
FILE_LEVEL = logging.INFO  # the least a log file records, whatever TFAIP_LOG_LEVEL says for the console


def logger(name: Optional[str] = None) -> logging.Logger:
    """The framework's logger, or a child of it (`logger("trainer")` -> `tfaip_core.trainer`)."""
    return logging.getLogger(LOGGER_NAME if not name else f"{LOGGER_NAME}.{name}")


def log_level() -> int:
    """The level named by `TFAIP_LOG_LEVEL` (debug, info, warning, error). Defaults to info."""
    name = os.environ.get("TFAIP_LOG_LEVEL", "info").strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


class CurrentStderrHandler(logging.StreamHandler):
    """A console handler that writes to whatever `sys.stderr` is when a record is emitted.

    A plain `StreamHandler(sys.stderr)` keeps the stream object of the moment it was created, so a
    program run again in the same process (tests, notebooks, an embedding application) with stderr
    redirected would still print to the old stream.
    """

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


def setup_logging(log_file: Optional[str] = None) -> None:
    """Print the `tfaip_core` logger to stderr and, if given, append it to `log_file`.

    `TFAIP_LOG_LEVEL` sets the console's level; log files record at least `FILE_LEVEL` (info), so that a quiet
    console does not leave an empty `train.log`. Idempotent: calling it again only adds a file handler for a new
    file (and applies the current `TFAIP_LOG_LEVEL`).
    """
    root = logger()
    level = log_level()
    root.setLevel(min(level, FILE_LEVEL))  # TFAIP_LOG_LEVEL quiets the console, never empties a run's train.log
    root.propagate = False
    formatter = logging.Formatter(_FORMAT)
    console = next((h for h in root.handlers if isinstance(h, CurrentStderrHandler)), None)
    if console is None:
        console = CurrentStderrHandler()
        console.setFormatter(formatter)
        root.addHandler(console)
    console.setLevel(level)
    if log_file:
        path = os.path.abspath(log_file)
        if not any(getattr(h, "baseFilename", None) == path for h in root.handlers):
            file_handler = logging.FileHandler(path, mode="a", encoding="utf-8")
            file_handler.setFormatter(formatter)
            root.addHandler(file_handler)


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras without their C++ start-up chatter on stderr.

    TF 2.21 prints absl lines (oneDNN, CUDA probing) before its logging is configured, which
    `TF_CPP_MIN_LOG_LEVEL` does not stop; so stderr's file descriptor points to /dev/null while
    the libraries load. Python errors still propagate as exceptions. `TFAIP_LOG_LEVEL=debug`
    keeps the chatter.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with silenced_native_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def silenced_native_stderr() -> Iterator[None]:
    """Point file descriptor 2 to /dev/null (C++ log lines); a no-op at `TFAIP_LOG_LEVEL=debug`."""
    if log_level() <= logging.DEBUG:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
