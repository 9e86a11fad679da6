"""The run directory through the programs: a run owns only what it wrote, one process per directory,
no resume without a checkpoint, no writes through links, SIGTERM is a clean, resumable stop.

Most tests call the programs' `main(argv)` in-process; subprocesses only where a second process or
a signal is the point.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from tests.conftest import REPO, read_metrics, script
from tfaip_core.scripts import resume_training, train_from_params
from tfaip_core.scripts import train as train_script
from tfaip_core.scripts.cli import EXIT_INTERRUPTED, EXIT_TERMINATED, Terminated, run_cli
from tfaip_core.util.run_dir import LOCK_FILE, MANIFEST_FILE

TINY = [
    "--trainer.epochs",
    "1",
    "--train.limit",
    "64",
    "--val.limit",
    "32",
    "--trainer.progress_bar",
    "false",
    "--trainer.random_seed",
    "3",
]
RUN_FILES = {"trainer_params.json", "train.log", "metrics.jsonl", "checkpoint", "best", "export", "train", "validation"}


def snapshot(directory: Path) -> Dict[str, Tuple[bytes, int]]:
    """Every entry below `directory`: relative path -> (bytes, mtime in ns); folders as b"<dir>"."""
    entries: Dict[str, Tuple[bytes, int]] = {}
    for path in sorted(directory.rglob("*")):
        key = str(path.relative_to(directory))
        if path.is_symlink():
            entries[key] = (b"-> " + os.readlink(path).encode(), 0)
        elif path.is_file():
            entries[key] = (path.read_bytes(), path.stat().st_mtime_ns)
        else:
            entries[key] = (b"<dir>", 0)
    return entries


def without_lock(entries: Dict[str, Tuple[bytes, int]]) -> Dict[str, Tuple[bytes, int]]:
    """A run directory's entries but its lock file (a process that takes the lock writes its PID there)."""
    return {k: v for k, v in entries.items() if k != LOCK_FILE}


def project_folder(directory: Path, *, run_names: bool) -> Dict[str, Tuple[bytes, int]]:
    """A folder of the user's files; with `run_names` some carry the names a run writes."""
    directory.mkdir(parents=True)
    (directory / "notes.txt").write_text("my notes\n")
    (directory / "src").mkdir()
    (directory / "src" / "model.py").write_text("print('mine')\n")
    if run_names:
        (directory / "train").mkdir()
        (directory / "train" / "img_001.png").write_bytes(b"\x89PNG user image")
        (directory / "export").mkdir()
        (directory / "export" / "saved_model.pb").write_bytes(b"the user's own model")
        (directory / "metrics.jsonl").write_text('{"epoch": 1, "acc": 0.99}\n')
    return snapshot(directory)


def call(main, argv: List[str], capsys: pytest.CaptureFixture) -> Tuple[int, str]:
    """Run a program's `main(argv)` in-process; return (exit status, stderr)."""
    capsys.readouterr()
    status = main(argv)
    return status, capsys.readouterr().err


def error_line(stderr: str, prog: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(f"{prog}: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


def tiny_run(out: Path, capsys: pytest.CaptureFixture, *flags: str) -> None:
    status, err = call(
        train_script.main, ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, *flags], capsys
    )
    assert status == 0, err


# ============================== a failed start removes only what it created ==============================
SETUP_FAILURES = [
    (["--data.val_fraction", "1"], 1, r"tfaip-train: error: .*(train|empty|no samples)"),
    (["--warmstart.model", "/nonexistent/model"], 2, r"tfaip-train: error: --warmstart\.model /nonexistent/model"),
]


@pytest.mark.parametrize("flags, status, pattern", SETUP_FAILURES, ids=["val_fraction_1", "missing_warmstart"])
def test_a_failed_start_in_a_project_folder_leaves_every_user_file_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: List[str], status: int, pattern: str
) -> None:
    out = tmp_path / "project"
    before = project_folder(out, run_names=False)
    got, err = call(train_script.main, ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, *flags], capsys)
    assert got == status, err
    assert re.search(pattern, error_line(err, "tfaip-train"))
    assert "Training scenarios.tutorial" in err  # it failed during setup, after the run had started writing
    assert snapshot(out) == before  # no train.log, trainer_params.json, manifest or lock file left


def test_a_failed_start_in_a_new_directory_leaves_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "new" / "run"
    got, err = call(
        train_script.main,
        ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, "--data.val_fraction", "1"],
        capsys,
    )
    assert got == 1 and "Training scenarios.tutorial" in err, err
    assert list(tmp_path.iterdir()) == []  # the directories it made are gone too


@pytest.mark.parametrize("flags", [["--data.val_fraction", "1"], []], ids=["val_fraction_1", "would_succeed"])
def test_user_files_at_the_names_a_run_writes_are_refused_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture, flags: List[str]
) -> None:
    out = tmp_path / "project"
    before = project_folder(out, run_names=True)
    got, err = call(train_script.main, ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, *flags], capsys)
    assert got == 2, err
    line = error_line(err, "tfaip-train")
    assert re.search(r"/metrics\.jsonl, .*/train, .*/export are not written by a tfaip run", line), line
    assert "Training scenarios.tutorial" not in err  # refused before the run started
    assert snapshot(out) == before


def test_a_params_file_naming_an_existing_project_folder_leaves_it_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "project"
    before = project_folder(out, run_names=False)
    capsys.readouterr()
    assert train_script.main(["scenarios.tutorial", *TINY, "--data.val_fraction", "1", "--print_params"]) == 0
    params = json.loads(capsys.readouterr().out)
    params["output_dir"] = str(out)
    params_file = tmp_path / "params.json"
    params_file.write_text(json.dumps(params))
    got, err = call(train_from_params.main, [str(params_file)], capsys)
    assert got == 1 and "Training scenarios.tutorial" in err, err
    error_line(err, "tfaip-train-from-params")
    assert snapshot(out) == before


# ============================== overwrite ==============================
def test_overwrite_removes_only_the_previous_runs_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    tiny_run(out, capsys)
    assert RUN_FILES <= {p.name for p in out.iterdir()}
    (out / "notes.txt").write_text("mine")
    (out / "analysis").mkdir()
    (out / "analysis" / "plot.png").write_bytes(b"png")
    mine = {k: v for k, v in snapshot(out).items() if k.split("/")[0] in ("notes.txt", "analysis")}
    first_log = (out / "train.log").read_text()

    status, err = call(
        train_script.main,
        ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, "--trainer.overwrite", "true"],
        capsys,
    )
    assert status == 0, err
    removed = re.search(r"--trainer\.overwrite: removing the previous run's (.*) in ", err)
    assert removed and set(removed.group(1).split(", ")) >= RUN_FILES, err
    assert {k: v for k, v in snapshot(out).items() if k.split("/")[0] in ("notes.txt", "analysis")} == mine
    assert first_log not in (out / "train.log").read_text()  # a new log, not the old one appended
    assert [r["epoch"] for r in read_metrics(out)] == [1]
    assert set(json.loads((out / MANIFEST_FILE).read_text())["entries"]) >= RUN_FILES
    assert not {"notes.txt", "analysis"} & set(json.loads((out / MANIFEST_FILE).read_text())["entries"])


def test_overwrite_refuses_a_run_without_a_manifest(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    tiny_run(out, capsys)
    (out / MANIFEST_FILE).unlink()  # as written by an older version
    before = without_lock(snapshot(out))
    status, err = call(
        train_script.main,
        ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, "--trainer.overwrite", "true"],
        capsys,
    )
    assert status == 2
    assert "holds a run without a record of the files it wrote" in error_line(err, "tfaip-train")
    assert without_lock(snapshot(out)) == before


# ============================== resume ==============================
def test_resume_without_a_checkpoint_is_refused_and_keeps_the_models(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    tiny_run(out, capsys)
    for name in os.listdir(out / "checkpoint"):
        (out / "checkpoint" / name / "state.json").unlink()  # no complete checkpoint is left
    before = without_lock(snapshot(out))
    status, err = call(resume_training.main, [str(out)], capsys)
    assert status == 2
    line = error_line(err, "tfaip-resume-training")
    assert f"{out} has no complete checkpoint to resume from" in line
    assert f"tfaip-train-from-params {out}/trainer_params.json --trainer.output_dir NEW_DIR" in line
    assert "--trainer.overwrite true" in line
    assert without_lock(snapshot(out)) == before  # export/, best/, the log and metrics: bytes and mtimes unchanged


def test_resume_refuses_a_link_in_the_run_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    tiny_run(out, capsys)
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    (out / "metrics.jsonl").unlink()
    (out / "metrics.jsonl").symlink_to(target)
    before = without_lock(snapshot(out))
    status, err = call(resume_training.main, [str(out), "--trainer.epochs", "2"], capsys)
    assert status == 2
    assert "metrics.jsonl is a symbolic link; tfaip never writes through a link" in error_line(
        err, "tfaip-resume-training"
    )
    assert target.read_text() == "precious\n" and without_lock(snapshot(out)) == before


@pytest.mark.parametrize(
    "scenario_class, pattern",
    [
        (
            "tests.data.seq_scenario:SeqScenario",
            r"__cls__.* names .*TutorialScenarioParams.*SeqScenarioParams",
        ),
        ("nosuch_module:Scenario", r"cannot be imported"),
        (
            "broken_scenario:Scenario",
            r"'broken_scenario:Scenario' cannot be imported: .*broken_scenario\.py line 1.*SyntaxError",
        ),
    ],
    ids=["another_scenario", "missing_module", "syntax_error"],
)
def test_resume_of_params_naming_another_or_a_broken_scenario_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, scenario_class: str, pattern: str
) -> None:
    out = tmp_path / "run"
    tiny_run(out, capsys)
    (tmp_path / "broken_scenario.py").write_text("class Scenario(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    params = json.loads((out / "trainer_params.json").read_text())
    params["scenario"]["scenario_class"] = scenario_class
    (out / "trainer_params.json").write_text(json.dumps(params))
    before = snapshot(out)
    status, err = call(resume_training.main, [str(out)], capsys)
    assert status == 2
    assert re.search(pattern, error_line(err, "tfaip-resume-training")), err
    assert snapshot(out) == before


# ============================== signals ==============================
def test_run_cli_turns_sigterm_into_a_clean_stop_and_restores_the_handler(capsys: pytest.CaptureFixture) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    cleaned: List[str] = []

    def main() -> int:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
            return 0
        finally:
            cleaned.append("finally ran")

    def interrupted() -> int:
        error = KeyboardInterrupt()
        error.add_note("resume with tfaip-resume-training /x")
        raise error

    assert run_cli("prog", main) == EXIT_TERMINATED == 143
    assert capsys.readouterr().err == "prog: terminated\n" and cleaned == ["finally ran"]
    assert signal.getsignal(signal.SIGTERM) is previous
    assert run_cli("prog", interrupted) == EXIT_INTERRUPTED == 130
    assert capsys.readouterr().err == "prog: interrupted (resume with tfaip-resume-training /x)\n"
    assert issubclass(Terminated, KeyboardInterrupt)


def test_sigterm_before_the_first_checkpoint_removes_what_the_run_created(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfaip_core.trainer.trainer import Trainer

    def terminated_fit(self: Trainer) -> None:
        assert (Path(self.run_dir.output_dir) / "trainer_params.json").exists()  # the run had started writing
        raise Terminated()

    monkeypatch.setattr(Trainer, "fit", terminated_fit)
    out = tmp_path / "project"
    before = project_folder(out, run_names=False)
    status, err = call(train_script.main, ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY], capsys)
    assert status == EXIT_TERMINATED
    assert err.strip().splitlines()[-1] == (
        "tfaip-train: terminated (stopped before the first checkpoint: nothing to resume; "
        "the files of this run were removed)"
    )
    assert snapshot(out) == before


def start_training(out: Path, *flags: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    command = script("tfaip-train") + ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, *flags]
    return subprocess.Popen(command, cwd=str(REPO), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(out: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None:
        if any((out / "checkpoint").glob("ckpt-*/state.json")):
            return
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"no checkpoint appeared (exit {process.poll()}): {process.communicate()[1]}")


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_one_process_per_directory_and_sigterm_stops_resumably(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import tensorflow  # noqa: F401 - imported before the clock starts: "refused at once" measures the lock only

    out = tmp_path / "run"
    first = start_training(out, "--trainer.epochs", "50", "--trainer.overwrite", "true")
    try:
        wait_for_checkpoint(out, first)
        pid = (out / LOCK_FILE).read_text().strip()
        assert pid == str(first.pid)
        metrics_before = (out / "metrics.jsonl").read_bytes()

        start = time.monotonic()
        status, err = call(
            train_script.main,
            ["scenarios.tutorial", "--trainer.output_dir", str(out), *TINY, "--trainer.overwrite", "true"],
            capsys,
        )
        assert time.monotonic() - start < 10
        assert status == 2
        line = error_line(err, "tfaip-train")
        assert f"is in use by another tfaip process (PID {pid}," in line, line
        status, err = call(resume_training.main, [str(out)], capsys)
        assert status == 2 and f"(PID {pid}," in error_line(err, "tfaip-resume-training")
        assert (out / "metrics.jsonl").read_bytes().startswith(metrics_before)  # the first run's files untouched
        assert (out / "trainer_params.json").exists()

        first.send_signal(signal.SIGTERM)
        _, stderr = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == EXIT_TERMINATED, stderr
    assert stderr.strip().splitlines()[-1] == f"tfaip-train: terminated (resume with tfaip-resume-training {out})"
    assert "Traceback" not in stderr

    states = [json.loads(p.read_text()) for p in (out / "checkpoint").glob("ckpt-*/state.json")]
    done = max(state["epoch"] for state in states)
    status, err = call(resume_training.main, [str(out), "--trainer.epochs", str(done + 1)], capsys)
    assert status == 0, err
    assert f"Resuming at epoch {done + 1}" in err
    assert [r["epoch"] for r in read_metrics(out)] == list(range(1, done + 2))
    assert (out / "export" / "saved_model.pb").is_file()
