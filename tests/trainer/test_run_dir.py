"""`RunDirectory`: the lock, the manifest, the policy, no writes through links, and the non-chief scratch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

from tfaip_core.errors import ConfigError
from tfaip_core.util.run_dir import LOCK_FILE, MANIFEST_FILE, RunDirectory

HOLD_LOCK = """
import sys, time
from tfaip_core.util.run_dir import RunDirectory
run_dir = RunDirectory(sys.argv[1])
run_dir.open(resume=False, overwrite=False)
print("locked", flush=True)
time.sleep(120)
"""


def snapshot(directory: Path) -> Dict[str, bytes]:
    """Every file below `directory` (relative path -> bytes), links as their target text."""
    files: Dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        if path.is_symlink():
            files[key] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            files[key] = path.read_bytes()
        else:
            files[key] = b"<dir>"
    return files


def user_files(directory: Path) -> Dict[str, bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "notes.txt").write_text("my notes")
    (directory / "data").mkdir()
    (directory / "data" / "a.csv").write_text("1,2\n")
    return snapshot(directory)


def manifest(directory: Path) -> list:
    return json.loads((directory / MANIFEST_FILE).read_text())["entries"]


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A second process holding the lock of tmp_path/run (until killed)."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "run")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_second_process_is_refused_at_once_naming_the_holder(tmp_path: Path, holder: subprocess.Popen) -> None:
    run_dir = RunDirectory(str(tmp_path / "run"))
    start = time.monotonic()
    with pytest.raises(ConfigError) as info:
        run_dir.open(resume=False, overwrite=False)
    assert time.monotonic() - start < 2  # refused, not waiting
    message = str(info.value)
    assert f"in use by another tfaip process (PID {holder.pid}," in message and "\n" not in message
    assert (tmp_path / "run" / LOCK_FILE).read_text().strip() == str(holder.pid)  # the holder's lock is untouched


def test_a_dead_holder_does_not_block(tmp_path: Path, holder: subprocess.Popen) -> None:
    holder.kill()
    holder.wait(timeout=30)
    assert (tmp_path / "run" / LOCK_FILE).exists()  # left behind by the killed process
    with RunDirectory(str(tmp_path / "run")) as run_dir:
        assert (tmp_path / "run" / LOCK_FILE).read_text().strip() == str(os.getpid())
        run_dir.append_line(run_dir.metrics_file, "{}")
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == "{}\n"


def test_two_run_directories_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first = RunDirectory(str(tmp_path / "run"))
    first.open(resume=False, overwrite=False)
    with pytest.raises(ConfigError, match=f"PID {os.getpid()}"):
        RunDirectory(str(tmp_path / "run")).open(resume=False, overwrite=False)
    first.close()
    second = RunDirectory(str(tmp_path / "run"))
    second.open(resume=False, overwrite=False)  # released by close()
    second.close()


def test_manifest_records_what_the_run_creates(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with RunDirectory(str(out)) as run_dir:
        run_dir.write_json(run_dir.params_file, {"epochs": 1})
        run_dir.append_line(run_dir.log_file, "a log line")
        os.makedirs(run_dir.tensorboard_dir("train"))
        assert run_dir.export_dir == str(out / "export")
        assert manifest(out) == [
            "trainer_params.json",
            "train.log",
            "train",
            "export.tmp",
            "export.old",
            "export",
        ]
        assert run_dir.created == manifest(out)
    assert json.loads((out / "trainer_params.json").read_text()) == {"epochs": 1}


def test_remove_created_keeps_every_file_that_existed_before(tmp_path: Path) -> None:
    out = tmp_path / "project"
    before = user_files(out)
    run_dir = RunDirectory(str(out))
    run_dir.open(resume=False, overwrite=False)
    run_dir.write_json(run_dir.params_file, {"epochs": 1})
    os.makedirs(os.path.join(run_dir.checkpoint_dir, "ckpt-1"))
    run_dir.append_line(run_dir.metrics_file, "{}")
    run_dir.remove_created()
    run_dir.close()
    assert snapshot(out) == before  # no run file, no manifest, no lock file left


def test_remove_created_removes_the_directories_the_run_made(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b" / "run"
    run_dir = RunDirectory(str(out))
    run_dir.open(resume=False, overwrite=False)
    run_dir.append_line(run_dir.log_file, "x")
    run_dir.remove_created()
    run_dir.close()
    assert list(tmp_path.iterdir()) == []


def test_fresh_run_refuses_a_directory_holding_a_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with RunDirectory(str(out)) as run_dir:
        run_dir.write_json(run_dir.params_file, {})
    before = snapshot(out)
    with pytest.raises(ConfigError, match=r"already holds a run\. Fix: continue it with `tfaip-resume-training"):
        RunDirectory(str(out)).open(resume=False, overwrite=False)
    assert snapshot(out) == before


def test_overwrite_removes_only_the_entries_of_the_manifest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "run"
    with RunDirectory(str(out)) as run_dir:
        run_dir.write_json(run_dir.params_file, {"run": 1})
        run_dir.append_line(run_dir.metrics_file, "{}")
        os.makedirs(os.path.join(run_dir.checkpoint_dir, "ckpt-1"))
    (out / "notes.txt").write_text("mine")
    run_dir = RunDirectory(str(out))
    with caplog.at_level("INFO", logger="tfaip_core"):
        run_dir.open(resume=False, overwrite=True)
    assert "removing the previous run's trainer_params.json, metrics.jsonl, checkpoint" in caplog.text
    assert sorted(p.name for p in out.iterdir()) == sorted([LOCK_FILE, MANIFEST_FILE, "notes.txt"])
    assert manifest(out) == []
    run_dir.append_line(run_dir.metrics_file, '{"epoch": 1}')
    run_dir.close()
    assert (out / "metrics.jsonl").read_text() == '{"epoch": 1}\n' and (out / "notes.txt").read_text() == "mine"


def test_overwrite_of_a_run_without_manifest_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "old_run"
    out.mkdir()
    (out / "trainer_params.json").write_text("{}")
    (out / "checkpoint").mkdir()
    before = snapshot(out)
    with pytest.raises(ConfigError, match=r"holds a run without a record of the files it wrote \(\.tfaip_run\.json\)"):
        RunDirectory(str(out)).open(resume=False, overwrite=True)
    assert snapshot(out) == before


@pytest.mark.parametrize(
    "content",
    ["not json", '{"format": 2, "entries": []}', '{"format": 1, "entries": ["../../etc"]}', '{"format": 1}'],
)
def test_an_untrustworthy_manifest_is_refused_and_nothing_removed(tmp_path: Path, content: str) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "trainer_params.json").write_text("{}")
    (out / MANIFEST_FILE).write_text(content)
    before = snapshot(out)
    with pytest.raises(ConfigError, match=r"\.tfaip_run\.json is .*so the files of the run in .* are unknown"):
        RunDirectory(str(out)).open(resume=False, overwrite=True)
    assert snapshot(out) == before


def test_entries_not_written_by_a_run_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "project"
    out.mkdir()
    (out / "export").mkdir()
    (out / "export" / "model.bin").write_bytes(b"\x00\x01")
    (out / "metrics.jsonl").write_text("mine\n")
    before = snapshot(out)
    for overwrite in (False, True):
        with pytest.raises(ConfigError, match=r"/metrics\.jsonl, .*/export are not written by a tfaip run"):
            RunDirectory(str(out)).open(resume=False, overwrite=overwrite)
        assert snapshot(out) == before


def test_a_foreign_entry_at_a_new_name_is_refused_when_claimed(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "lav_l0").mkdir()
    with RunDirectory(str(out)) as run_dir:
        with pytest.raises(ConfigError, match=r"lav_l0 is not written by a tfaip run"):
            run_dir.tensorboard_dir("lav_l0")
        with pytest.raises(ValueError):
            run_dir.file("../escape")
        with pytest.raises(ValueError):
            run_dir.write_json(str(tmp_path / "outside.json"), {})
    assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE, "lav_l0"]


@pytest.mark.parametrize("name", ["train.log", "metrics.jsonl", "trainer_params.json"])
def test_a_link_at_a_run_file_is_an_error_and_its_target_is_untouched(tmp_path: Path, name: str) -> None:
    out = tmp_path / "run"
    with RunDirectory(str(out)) as run_dir:  # a run whose file was replaced by a link afterwards
        run_dir.write_json(run_dir.params_file, {})
        run_dir.append_line(run_dir.log_file, "x")
        run_dir.append_line(run_dir.metrics_file, "{}")
    target = tmp_path / "target.txt"
    target.write_text("precious")
    (out / name).unlink()
    (out / name).symlink_to(target)
    with pytest.raises(ConfigError, match=rf"{name} is a symbolic link; tfaip never writes through a link"):
        RunDirectory(str(out)).open(resume=True, overwrite=False)
    assert target.read_text() == "precious" and (out / name).is_symlink()


def test_writes_do_not_follow_a_link_put_in_place_during_the_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    target = tmp_path / "target.txt"
    target.write_text("precious")
    with RunDirectory(str(out)) as run_dir:
        for path in (run_dir.metrics_file, run_dir.log_file, run_dir.params_file):
            os.symlink(target, path)
        with pytest.raises(ConfigError, match=r"metrics\.jsonl is a symbolic link"):
            run_dir.append_line(run_dir.metrics_file, "{}")
        with pytest.raises(ConfigError, match=r"train\.log is a symbolic link"):
            run_dir.open_append(run_dir.log_file)
        with pytest.raises(ConfigError, match=r"trainer_params\.json is a symbolic link"):
            run_dir.write_json(run_dir.params_file, {})
        os.makedirs(tmp_path / "elsewhere")
        os.symlink(tmp_path / "elsewhere", run_dir.checkpoint_dir)
        with pytest.raises(ConfigError, match=r"checkpoint is a symbolic link"):
            run_dir.write_json(os.path.join(run_dir.checkpoint_dir, "state.json"), {})
    assert target.read_text() == "precious" and list((tmp_path / "elsewhere").iterdir()) == []


def test_append_line_takes_exactly_one_line(tmp_path: Path) -> None:
    with RunDirectory(str(tmp_path / "run")) as run_dir:
        with pytest.raises(ValueError, match="one line"):
            run_dir.append_line(run_dir.metrics_file, '{"step": 1}\n{"step": 2}')
        run_dir.append_line(run_dir.metrics_file, '{"step": 1}\n')
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == '{"step": 1}\n'


def test_resume_adopts_a_run_written_before_manifests(tmp_path: Path) -> None:
    out = tmp_path / "old_run"
    out.mkdir()
    for name in ("trainer_params.json", "metrics.jsonl", "train.log"):
        (out / name).write_text("x\n")
    (out / "checkpoint").mkdir()
    (out / "notes.txt").write_text("mine")
    with RunDirectory(str(out)) as run_dir:  # resume=True
        run_dir.append_line(run_dir.metrics_file, "y")
        assert run_dir.created == []
    assert manifest(out) == ["trainer_params.json", "train.log", "metrics.jsonl", "checkpoint"]
    assert (out / "metrics.jsonl").read_text() == "x\ny\n" and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda p: p.write_text("a file"), r"is a file, not a directory"),
        (lambda p: None, r"cannot be created: .*/blocker is a file"),
    ],
)
def test_an_output_dir_that_is_or_is_under_a_file_is_a_config_error(tmp_path: Path, make, pattern: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    target = blocker if "not a directory" in pattern else blocker / "run"
    with pytest.raises(ConfigError, match=pattern):
        RunDirectory(str(target)).open(resume=False, overwrite=False)
    assert blocker.read_text() == "a file" and sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_non_chief_writes_only_to_a_private_scratch_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_dir = RunDirectory(str(out), chief=False)
    run_dir.open(resume=False, overwrite=False)
    scratch = Path(run_dir.path)
    assert scratch.is_dir() and scratch != out and run_dir.output_dir == str(out)
    run_dir.write_json(run_dir.params_file, {"a": 1})
    run_dir.append_line(run_dir.metrics_file, "{}")
    assert (scratch / "trainer_params.json").exists() and not (scratch / MANIFEST_FILE).exists()
    assert run_dir.restore_checkpoint_dir == str(out / "checkpoint")
    run_dir.close()
    assert not scratch.exists() and not out.exists()


def test_paths_before_open_are_a_programming_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        _ = RunDirectory(str(tmp_path / "run")).params_file
    assert not (tmp_path / "run").exists()
