"""Resume and reproducibility through the CLI: SIGKILL at random moments, extending, params files, refusals, NaN.

The programs run in-process (`cli`, `train_in_process`), several runs in one process, which also shows that a
run's result does not depend on what ran before it in the process. Subprocess test, marked `e2e`: SIGKILL at
random moments and resume (killing the process is the point).
"""

from __future__ import annotations

import glob
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from tests.conftest import NO_EXPORTS, REPO, cli, read_metrics, run, script, train, train_in_process
from tfaip_core.model.variables import read_model_variables

SEEDED = ["--trainer.random_seed", "11", "--trainer.samples_per_epoch", "480", "--trainer.progress_bar", "false"]


def newest_weights(output_dir: Path) -> Dict[str, np.ndarray]:
    newest = sorted(glob.glob(str(output_dir / "checkpoint" / "ckpt-*")))[-1]
    return read_model_variables(newest + "/variables")


def assert_same_weights(a: Path, b: Path) -> None:
    """The newest checkpoints of the runs `a` and `b` hold bit-identical weights."""
    wa, wb = newest_weights(a), newest_weights(b)
    assert sorted(wa) == sorted(wb)
    for key in wa:
        assert wa[key].dtype == wb[key].dtype and np.array_equal(wa[key], wb[key]), key


def epochs_logged(output_dir: Path) -> int:
    log = output_dir / "train.log"
    return log.read_text().count(": loss:") if log.exists() else 0


def start(args: List[str]) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(args, cwd=str(REPO), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_weights(tmp_path: Path) -> None:
    flags = SEEDED + ["--trainer.epochs", "6", "--trainer.checkpoint_every_n_steps", "4"]
    reference, interrupted = tmp_path / "reference", tmp_path / "interrupted"
    train(reference, *flags)

    rng = random.Random()  # a different moment each run; the seed is printed on failure
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    command = script("tfaip-train") + ["scenarios.tutorial", "--trainer.output_dir", str(interrupted), *flags]
    kills = 0
    for _ in range(3):
        before = epochs_logged(interrupted)
        process = start(command)
        deadline = time.time() + 120
        while epochs_logged(interrupted) <= before and process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.6))  # somewhere in the next epoch(s): a step, a checkpoint or an export
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
        command = script("tfaip-resume-training") + [str(interrupted)]
    assert kills >= 1, f"the run always finished before it could be killed (seed {seed})"
    result = run("tfaip-resume-training", str(interrupted))
    assert result.returncode == 0, f"seed {seed}: {result.stderr}"
    assert_same_weights(reference, interrupted)
    assert [r["epoch"] for r in read_metrics(interrupted)] == list(range(1, 7)), f"seed {seed}"
    assert read_metrics(interrupted)[-1]["step"] == read_metrics(reference)[-1]["step"] == 90


def test_resume_extends_a_finished_run_like_a_longer_run(tmp_path: Path) -> None:
    longer, extended = tmp_path / "longer", tmp_path / "extended"
    train_in_process(longer, *SEEDED, *NO_EXPORTS, "--trainer.epochs", "4")
    train_in_process(extended, *SEEDED, *NO_EXPORTS, "--trainer.epochs", "2")
    result = cli("tfaip-resume-training", str(extended), "--trainer.epochs", "4")
    assert result.returncode == 0, result.stderr
    assert_same_weights(longer, extended)
    assert [r["epoch"] for r in read_metrics(extended)] == [1, 2, 3, 4]
    assert json.loads((extended / "trainer_params.json").read_text())["epochs"] == 4
    log = (extended / "train.log").read_text()
    assert "Training scenarios.tutorial" in log and "Resuming at epoch 3" in log  # appended, not replaced
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(extended / "train"), size_guidance={"tensors": 0})
    events.Reload()
    assert [e.step for e in events.Tensors("loss")] == [15, 30, 45, 60]  # the curve continues


def test_resume_refuses_changes_that_do_not_fit_the_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_in_process(out, *SEEDED, *NO_EXPORTS, "--trainer.epochs", "1")
    before = (out / "trainer_params.json").read_bytes()
    for flags, culprit in [
        (["--model.graph", "CNN"], "scenario.model.graph"),
        (["--optimizer", "SGD"], "optimizer.__cls__"),
        (["--trainer.no_train_scope", ".*dense_0.*"], "no_train_scope"),
    ]:
        result = cli("tfaip-resume-training", str(out), *flags)
        assert result.returncode == 2, result.stderr
        line = result.stderr.strip().splitlines()[-1]
        assert "cannot change when resuming" in line and culprit in line
    assert (out / "trainer_params.json").read_bytes() == before
    # a data flag that the saved data position does not fit: refused by the checkpoint, and the run's params
    # file stays as it was (it was rewritten before the restore, and every later resume then failed alike)
    result = cli("tfaip-resume-training", str(out), "--train.shuffle_buffer_size", "10", "--trainer.epochs", "2")
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert "does not match the run: its position in the training data was saved for another input pipeline" in line
    assert (out / "trainer_params.json").read_bytes() == before
    result = cli("tfaip-resume-training", str(out), "--trainer.epochs", "2")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "trainer_params.json").read_text())["epochs"] == 2  # a resume's flags, once it restored
    result = cli("tfaip-resume-training", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "is not a run directory" in result.stderr


def test_train_refuses_to_clobber_a_run_unless_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_in_process(out, *SEEDED, "--trainer.epochs", "1")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = cli("tfaip-train", "scenarios.tutorial", "--trainer.output_dir", str(out), *SEEDED)
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "already holds a run" in line and "tfaip-resume-training" in line
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before  # nothing touched
    (out / "notes.txt").write_text("mine")
    train_in_process(out, *SEEDED, "--trainer.epochs", "2", "--trainer.overwrite", "true")
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]
    assert (out / "notes.txt").read_text() == "mine"  # only the run's own files are replaced


def test_print_params_and_train_from_params_round_trip(tmp_path: Path) -> None:
    flags = [
        *SEEDED,
        "--trainer.epochs",
        "2",
        "--model.graph",
        "CNN",
        "--model.graph.filters",
        "4",
        "8",
        "--optimizer",
        "SGD",
        "--optimizer.momentum",
        "0.9",
        "--learning_rate.lr",
        "0.02",
    ]
    printed = cli("tfaip-train", "scenarios.tutorial", *flags, "--print_params")
    assert printed.returncode == 0, printed.stderr
    params_file = tmp_path / "params.json"
    params_file.write_text(printed.stdout)
    assert not any(tmp_path.glob("run*"))  # printing trains nothing
    direct, from_file = tmp_path / "run_direct", tmp_path / "run_from_file"
    train_in_process(direct, *flags)
    result = cli("tfaip-train-from-params", str(params_file), "--trainer.output_dir", str(from_file))
    assert result.returncode == 0, result.stderr
    assert_same_weights(direct, from_file)
    a, b = (json.loads((d / "trainer_params.json").read_text()) for d in (direct, from_file))
    a.pop("output_dir"), b.pop("output_dir")
    assert a == b
    # flags override single fields of the file and keep the others
    again = cli(
        "tfaip-train-from-params", str(direct / "trainer_params.json"), "--trainer.epochs", "5", "--print_params"
    )
    resolved = json.loads(again.stdout)
    assert resolved["epochs"] == 5 and resolved["current_epoch"] == 0
    assert resolved["scenario"]["model"]["graph"]["filters"] == [4, 8] and resolved["optimizer"]["momentum"] == 0.9


def test_a_corrupt_newest_checkpoint_is_reported_and_resume_falls_back(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_in_process(out, *SEEDED, *NO_EXPORTS, "--trainer.epochs", "2")
    newest = sorted((out / "checkpoint").iterdir())[-1]
    data = next(newest.glob("variables.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])  # truncated, as by a full disk
    result = cli("tfaip-resume-training", str(out), "--trainer.epochs", "3")
    assert result.returncode == 0, result.stderr
    assert f"Checkpoint {newest} is corrupt or incomplete" in result.stderr
    assert "Restored checkpoint" in result.stderr and "ckpt-0000000015" in result.stderr
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2, 3]


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    train_in_process(out, *SEEDED, "--trainer.epochs", "1")
    good = sorted(p.name for p in (out / "checkpoint").iterdir())
    export = {p: p.read_bytes() for p in (out / "export").rglob("*") if p.is_file()}
    assert export  # the first run exported its model
    result = cli("tfaip-resume-training", str(out), "--trainer.epochs", "3", "--learning_rate.lr", "1e30")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    # the first update at lr 1e30 makes the second step's loss non-finite: the compiled call (15 steps) stops there
    assert "Non-finite loss at epoch 2, step 2 of the epoch (global step 17)" in line, line
    assert "ckpt-0000000015" in line and "Traceback" not in result.stderr
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == good
    assert {p: p.read_bytes() for p in (out / "export").rglob("*") if p.is_file()} == export  # the good export stays
    result = cli("tfaip-resume-training", str(out), "--trainer.epochs", "2", "--learning_rate.lr", "0.001")
    assert result.returncode == 0, result.stderr
    assert [r["epoch"] for r in read_metrics(out)] == [1, 2]


def test_checkpoint_cadence_keep_max_and_max_steps(tmp_path: Path) -> None:
    out = tmp_path / "steps"
    train_in_process(
        out,
        *SEEDED,
        "--trainer.checkpoint_every_n_steps",
        "7",
        "--trainer.keep_checkpoint_max",
        "3",
        "--trainer.max_steps",
        "40",
        "--trainer.export_best",
        "false",
    )
    names = sorted(p.name for p in (out / "checkpoint").iterdir())
    assert names == ["ckpt-0000000028", "ckpt-0000000035", "ckpt-0000000040"]  # every 7 steps + the end, last 3
    metrics = read_metrics(out)
    assert [r["step"] for r in metrics] == [15, 30, 40]  # max_steps ends the third epoch early
    state = json.loads((out / "checkpoint" / "ckpt-0000000035" / "state.json").read_text())
    assert state["epoch"] == 2 and state["step_in_epoch"] == 5  # a mid-epoch checkpoint

    result = cli(
        "tfaip-train",
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(tmp_path / "conflict"),
        "--trainer.checkpoint_every_n_steps",
        "5",
        "--trainer.checkpoint_every_secs",
        "10",
    )
    assert result.returncode == 2
    assert "--trainer.checkpoint_every_n_steps and --trainer.checkpoint_every_secs conflict" in result.stderr

    out = tmp_path / "secs"
    train_in_process(out, *SEEDED, "--trainer.epochs", "2", "--trainer.checkpoint_every_secs", "3600")
    assert sorted(p.name for p in (out / "checkpoint").iterdir()) == ["ckpt-0000000030"]  # only the final one
