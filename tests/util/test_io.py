"""Atomic writes: the new content replaces the old, and the file is readable like any other file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tfaip_core.util.io import atomic_write_json, atomic_write_text


def test_atomic_write_replaces_and_uses_the_umask_mode(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text("old")
    old_umask = os.umask(0o022)
    try:
        atomic_write_json(str(path), {"epochs": 3})
    finally:
        os.umask(old_umask)
    assert path.read_text() == '{\n  "epochs": 3\n}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["params.json"]  # no temporary file left


def test_atomic_write_follows_a_stricter_umask(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    old_umask = os.umask(0o077)
    try:
        atomic_write_text(str(path), "x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
