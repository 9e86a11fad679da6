"""Atomic file writes (a crash at any instant leaves either the old or the new file, never half of one),
and appends that never follow a symbolic link.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import IO, Any

_APPEND_NOFOLLOW = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC


def _file_mode() -> int:
    """0666 less the process umask: what `open()` would give a new file (mkstemp gives 0600).

    The umask is read from /proc (thread-safe); setting and restoring it would briefly give other
    threads' new files the mode 0666.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def atomic_write_text(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.fchmod(fd, _file_mode())  # readable like every other file of a run, not private
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_json(path: str, data: Any) -> None:
    """`atomic_write_text` of `data` as indented JSON."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def replace_dir(tmp_dir: str, final_dir: str) -> None:
    """Move the finished directory `tmp_dir` to `final_dir`, replacing an older one.

    The old directory is renamed aside first and deleted only after the new one is in
    place, so at every instant one complete version exists on disk.
    """
    old = None
    if os.path.lexists(final_dir):
        old = final_dir.rstrip("/") + ".old"
        if os.path.islink(old):  # never delete through a link
            os.unlink(old)
        elif os.path.exists(old):
            shutil.rmtree(old)
        os.replace(final_dir, old)
    os.replace(tmp_dir, final_dir)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def append_line(path: str, line: str) -> None:
    """Append one line to `path` and fsync it (for logs such as metrics.jsonl); never through a symbolic link.

    Raises:
        OSError: `path` is a symbolic link (errno ELOOP), or cannot be written.
    """
    with open_append(path) as f:
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())


def open_append(path: str) -> IO[str]:
    """`path` opened for appending UTF-8 text, created if missing (mode 0644 before umask).

    Raises:
        OSError: `path` is a symbolic link (errno ELOOP), or cannot be opened.
    """
    return os.fdopen(os.open(path, _APPEND_NOFOLLOW, 0o644), "a", encoding="utf-8")


def is_link(path: str) -> bool:
    """Whether `path` is a symbolic link (a dangling one too)."""
    return os.path.islink(path)
