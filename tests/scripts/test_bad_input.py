"""Bad numeric flags and bad params files through the programs, in-process: one line naming the culprit, exit 2,
no traceback, and nothing on disk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import pytest

from tfaip_core.scripts import train, train_from_params

OUT = "out"


def run_train(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: List[str]) -> List[str]:
    """`tfaip-train scenarios.tutorial --trainer.output_dir tmp/out FLAGS`: must fail as a usage error."""
    status = train.main(["scenarios.tutorial", "--trainer.output_dir", str(tmp_path / OUT), *flags])
    captured = capsys.readouterr()
    assert status == 2, captured.err
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / OUT).exists()
    return captured.err.splitlines()


@pytest.mark.parametrize(
    "flags, fix",
    [
        (["--train.shuffle_buffer_size", "-2"], "pass -1, 0 or a positive size"),
        (["--val.prefetch", "-3"], "pass -1, 0 or a positive count"),
        (["--train.batch_size", "0"], "pass a positive size"),
        (["--val.batch_size", "-4"], "pass a positive size"),
        (["--train.num_processes", "0"], "pass 1 or more"),
        (["--train.limit", "0"], "pass -1 or a count"),
        (["--train.bucket_boundaries", "8", "4"], "e.g. --train.bucket_boundaries 8 16 32"),
        (["--train.bucket_boundaries", "8", "--train.bucket_batch_sizes", "4", "0"], "pass positive sizes"),
        (["--trainer.random_seed", "99999999999999999999"], "pass a smaller non-negative seed"),
        (["--trainer.random_seed", "-1"], "pass a smaller non-negative seed"),
        (["--trainer.random_seed", str(2**32)], "pass a smaller non-negative seed"),
        (["--trainer.epochs", "0"], "pass --trainer.epochs 1 or more"),
        (["--trainer.samples_per_epoch", "0"], "pass -1 or a positive count"),
        (["--trainer.max_steps", "-5"], "pass -1 or a positive count"),
        (["--trainer.val_every_n", "-1"], "pass --trainer.val_every_n 0 or more"),
        (["--trainer.lav_every_n", "-1"], "pass --trainer.lav_every_n 0 or more"),
        (["--trainer.steps_per_execution", "-1"], "pass --trainer.steps_per_execution 0 or more"),
        (["--trainer.calc_ema", "1.5"], "e.g. --trainer.calc_ema 0.99"),
        (["--trainer.train_accum_steps", "0"], "pass --trainer.train_accum_steps 1 or more"),
        (["--trainer.checkpoint_every_n_steps", "0"], "pass -1 or a positive count"),
        (["--trainer.checkpoint_every_secs", "0"], "e.g. --trainer.checkpoint_every_secs 600"),
        (["--trainer.checkpoint_every_secs", "-5"], "e.g. --trainer.checkpoint_every_secs 600"),
        (["--trainer.checkpoint_every_secs", "inf"], "e.g. --trainer.checkpoint_every_secs 600"),
        (["--trainer.keep_checkpoint_max", "0"], "pass --trainer.keep_checkpoint_max 1 or more"),
        (["--trainer.num_print_evaluate", "-1"], "pass --trainer.num_print_evaluate 0 or more"),
        (["--trainer.current_epoch", "-1"], "pass --trainer.current_epoch 0 or more"),
        (["--early_stopping.n_to_go", "0"], "pass -1 or a count"),
        (["--early_stopping.frequency", "0"], "pass 1 or more"),
        (["--early_stopping.min_delta", "nan"], "e.g. 0.001"),
        (["--early_stopping.min_delta", "-0.1"], "e.g. 0.001"),
        (["--early_stopping.upper_threshold", "inf"], "pass a number or None"),
        (["--data.pre_proc.max_failures", "1.5"], "e.g. --data.pre_proc.max_failures 0.01"),
        (["--data.post_proc.max_failures", "-0.1"], "e.g. --data.post_proc.max_failures 0.01"),
        (["--device.gpus", "-1"], "e.g. --device.gpus 0 1"),
        (["--device.gpus", "0", "0"], "e.g. --device.gpus 0 1"),
        (["--optimizer", "SGD", "--optimizer.momentum", "1.5"], ""),
        (["--optimizer.beta_1", "1"], ""),
        (["--optimizer.clip_norm", "-1"], ""),
        (["--learning_rate.lr", "-0.1"], ""),
    ],
)
def test_an_out_of_range_flag_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: List[str], fix: str
) -> None:
    lines = run_train(tmp_path, capsys, flags)
    flag = flags[-2] if flags[-2].startswith("--") else flags[-3]
    assert len(lines) == 1, lines
    assert lines[0].startswith("tfaip-train: error: "), lines
    assert flag in lines[0] and "Fix: " in lines[0], lines
    assert fix in lines[0], lines


def test_a_gpu_index_the_machine_does_not_have_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # found when the strategy is created, after the run started (its log lines come first); on a machine without GPUs
    lines = run_train(tmp_path, capsys, ["--device.gpus", "3", "--trainer.epochs", "1", "--train.limit", "32"])
    errors = [line for line in lines if line.startswith("tfaip-train: error: ")]
    assert (
        errors
        == [lines[-1]]
        == [
            "tfaip-train: error: --device.gpus 3: this machine has no GPU (visible to TensorFlow); got index 3. "
            "Fix: drop --device.gpus to train on the CPU."
        ]
    ), lines


def _params_file(tmp_path: Path, **changes: object) -> Path:
    from scenarios.tutorial.scenario import TutorialScenario

    data = TutorialScenario.default_trainer_params().to_dict()  # type: ignore[attr-defined]
    data.update(changes)
    path = tmp_path / "params.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"epochz": 3}, 'unknown key "epochz" (did you mean "epochs"?). Fix: correct or remove it.'),
        (
            {"epochs": 2.5},
            '"epochs" must be an integer; got 2.5. Fix: correct the value (tfaip-train SCENARIO --print_params '
            "shows a valid file).",
        ),
    ],
)
def test_tfaip_train_from_params_reports_a_bad_entry_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], changes: dict, expected: str
) -> None:
    path = _params_file(tmp_path, **changes)
    status = train_from_params.main([str(path), "--trainer.output_dir", str(tmp_path / OUT)])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err, err
    assert err == f"tfaip-train-from-params: error: {path}: {expected}\n"
    assert not (tmp_path / OUT).exists()
