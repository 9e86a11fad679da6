"""A new scenario's mistakes and a run's rough edges, through `tfaip-train` / `tfaip-resume-training` in-process.

Data that does not fit the specs, a generator that raises, an output directory that is a file, a run that
stopped before its first checkpoint, resuming a finished run, one message per error, logs and summaries.
Runs the minimal scenario (diabetes, 12 steps an epoch) and its variants in `tests/scenarios/minimal_variants.py`.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import List

import pytest

from tests.conftest import Result, cli, read_metrics, train_in_process

MINIMAL = "scenarios.minimal"
NO_EXPORTS = ("--trainer.export_best", "false", "--trainer.export_final", "false")
QUICK = ("--trainer.epochs", "1", "--trainer.progress_bar", "false", *NO_EXPORTS)


def _train(scenario: str, out: Path, *flags: str, **kwargs: object) -> Result:
    return cli("tfaip-train", scenario, "--trainer.output_dir", str(out), *QUICK, *flags, **kwargs)  # type: ignore


def _error_lines(result: Result) -> List[str]:
    assert "Traceback" not in result.stderr, result.stderr
    return [line for line in result.stderr.splitlines() if line.startswith("tfaip-")]


# ============================== data that does not fit ==============================
def test_a_sample_that_does_not_fit_its_spec_is_one_line_naming_input_sample_and_spec(tmp_path: Path) -> None:
    result = _train("tests.scenarios.minimal_variants:ElevenFeaturesScenario", tmp_path / "run")
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert re.fullmatch(
        r"tfaip-train: error: The input 'x' of sample patient_\d+ has shape \[11\], but input_specs\(\) declares "
        r"shape \[10\] float32\. Fix: .*",
        line,
    ), line
    assert not (tmp_path / "run").exists()


def test_a_generator_that_raises_is_one_line_naming_the_cause_the_place_and_the_last_sample(tmp_path: Path) -> None:
    result = _train("tests.scenarios.minimal_variants:RaisingScenario", tmp_path / "run")
    assert result.returncode == 1
    (line,) = _error_lines(result)
    assert re.fullmatch(
        r"tfaip-train: error: The training data generator raised KeyError: \"column 'age' missing\" at "
        r"\S+minimal_variants\.py line \d+, after 3 samples \(the last: row_2\)\. Fix: .*",
        line,
    ), line


def test_an_output_directory_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("mine\n")
    result = _train(MINIMAL, tmp_path / "run")
    assert result.returncode == 2
    (line,) = _error_lines(result)
    assert "--trainer.output_dir" in line and "is a file, not a directory" in line
    assert (tmp_path / "run").read_text() == "mine\n"


# ============================== runs that stopped early, and finished runs ==============================
def test_a_run_killed_before_its_first_checkpoint_does_not_block_the_same_command(tmp_path: Path) -> None:
    from tfaip_core.util.run_dir import RunDirectory

    out = tmp_path / "run"
    killed = RunDirectory(str(out))  # what a run killed during its first epoch leaves behind
    killed.open(resume=False, overwrite=False)
    killed.write_json(killed.params_file, {"scenario": {}})
    killed.append_line(killed.log_file, "the first attempt's log line")
    killed.append_line(killed.metrics_file, json.dumps({"epoch": 1, "loss": 1.0}))
    killed.close()

    train_in_process(out, *QUICK, scenario=MINIMAL)  # the same command again: no refusal
    log = (out / "train.log").read_text()
    assert log.startswith("the first attempt's log line\n") and "Epoch 1/1:" in log
    assert [r["epoch"] for r in read_metrics(out)] == [1] and read_metrics(out)[0]["loss"] != 1.0


def test_a_non_finite_loss_is_one_message_and_the_same_command_can_run_again(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _train(MINIMAL, out, "--learning_rate.lr", "1e30")
    assert result.returncode == 1
    assert len(re.findall("Non-finite loss", result.stderr)) == 1, result.stderr
    (line,) = _error_lines(result)
    assert line.startswith("tfaip-train: error: Non-finite loss at epoch 1") and "Last good checkpoint: none" in line
    train_in_process(out, *QUICK, scenario=MINIMAL)


@pytest.mark.parametrize(
    "flags, reason",
    [
        (["--trainer.epochs", "2"], "it reached its last epoch or step"),
        (["--trainer.epochs", "5", "--early_stopping.lower_threshold", "1e9"], "early stopping ended it"),
    ],
    ids=["last_epoch", "early_stopped"],
)
def test_resuming_a_finished_run_says_so_and_trains_nothing(tmp_path: Path, flags: List[str], reason: str) -> None:
    out = tmp_path / "run"
    result = _train(MINIMAL, out, *flags)
    assert result.returncode == 0, result.stderr
    metrics = (out / "metrics.jsonl").read_text()
    resumed = cli("tfaip-resume-training", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"has already finished ({reason};" in resumed.stderr, resumed.stderr
    assert "Epoch " not in resumed.stderr
    assert (out / "metrics.jsonl").read_text() == metrics


# ============================== output and logs ==============================
def test_no_progress_bar_off_a_terminal_and_a_summary_at_the_end(tmp_path: Path) -> None:
    out = tmp_path / "run"
    old = os.umask(0o022)
    try:
        result = cli("tfaip-train", MINIMAL, "--trainer.output_dir", str(out), "--trainer.epochs", "2")
    finally:
        os.umask(old)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the default --trainer.progress_bar true draws nothing when stdout is no terminal
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr
    best = min(r["val_loss"] for r in read_metrics(out))
    summary = [line for line in result.stderr.splitlines() if "Done: " in line]
    assert len(summary) == 1, result.stderr
    assert re.search(
        rf"Done: epoch 2/2, global step 24 \(24 trained in [\d.]+ s\); best val_loss {best:.4g} at epoch [12]; "
        rf"models: {re.escape(str(out / 'best'))}, {re.escape(str(out / 'export'))}$",
        summary[0],
    ), summary[0]
    assert stat.S_IMODE((out / "trainer_params.json").stat().st_mode) == 0o644


def test_a_quiet_console_still_writes_train_log(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = train_in_process(out, *QUICK, scenario=MINIMAL, env={"TFAIP_LOG_LEVEL": "warning"})
    assert "INFO" not in result.stderr
    log = (out / "train.log").read_text()
    assert "Epoch 1/1:" in log and "Done: epoch 1/1" in log


def test_the_package_exports_only_its_api() -> None:
    import tfaip_core

    public = [name for name in dir(tfaip_core) if not name.startswith("_")]
    assert public == sorted(tfaip_core.__all__)
    assert not {"Any", "Dict", "importlib", "annotations"} & set(dir(tfaip_core))


def _tensorboard_points(directory: Path) -> List[tuple]:
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    points = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = event_pb2.Event.FromString(record.numpy())
            points += [(value.tag, event.step) for value in event.summary.value]
    return points


def test_an_epoch_replayed_after_a_crash_gets_no_second_tensorboard_point(tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "run"
    train_in_process(out, "--trainer.epochs", "3", *NO_EXPORTS, scenario=MINIMAL)
    shutil.rmtree(out / "checkpoint" / "ckpt-0000000036")  # a crash after epoch 3 was logged, before its checkpoint
    resumed = cli("tfaip-resume-training", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming at epoch 3" in resumed.stderr
    for group, tag in (("train", "loss"), ("validation", "mae")):
        points = _tensorboard_points(out / group)
        assert len(points) == len(set(points)), points
        assert sorted(step for t, step in points if t == tag) == [12, 24, 36]
