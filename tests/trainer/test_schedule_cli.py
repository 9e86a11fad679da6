"""`--trainer.max_steps` and the learning-rate schedule agree, through tfaip-train (in-process, a few seconds).

The tutorial on 64 training samples in batches of 32 makes 2 steps an epoch; expected learning rates are
computed with numpy from the documented cosine formula.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import List

import numpy as np
import pytest

TINY = ["--train.limit", "64", "--train.batch_size", "32", "--val.limit", "32", "--trainer.progress_bar", "false"]
TINY += ["--trainer.export_best", "false", "--trainer.export_final", "false"]  # no test here reads the models


def train(output_dir: Path, *flags: str) -> int:
    from tfaip_core.scripts.train import main

    return main(["scenarios.tutorial", "--trainer.output_dir", str(output_dir), *TINY, *flags])


def metrics(output_dir: Path) -> List[dict]:
    with open(output_dir / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_max_steps_beyond_epochs_with_a_cosine_schedule(tmp_path: Path) -> None:
    """--trainer.epochs 1 (2 steps) but --trainer.max_steps 6: the cosine spans 6 steps, lr 0 only after the last."""
    out = tmp_path / "run"
    flags = ["--trainer.epochs", "1", "--trainer.max_steps", "6", "--learning_rate", "CosineDecay"]
    assert train(out, *flags, "--learning_rate.lr", "0.01") == 0
    lines = metrics(out)
    assert [line["step"] for line in lines] == [2, 4, 6]  # max_steps wins over epochs: 3 epochs of 2 steps
    steps = np.array([2.0, 4.0, 6.0])
    expected = 0.01 * 0.5 * (1.0 + np.cos(np.pi * steps / 6.0))  # lr(step) after each epoch, T = 6
    got = np.array([line["lr"] for line in lines])
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)
    assert got[-1] == pytest.approx(0.0, abs=1e-9)  # the end of the decay, reached at the last step
    assert (got[:-1] > 0.002).all()  # never 0 while training


def test_an_explicit_decay_that_leaves_steps_at_lr_zero_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "run"
    flags = ["--trainer.epochs", "1", "--trainer.max_steps", "6", "--learning_rate", "CosineDecay"]
    assert train(out, *flags, "--learning_rate.decay_epochs", "1") == 2
    stderr = capsys.readouterr().err
    expected = (
        "`--learning_rate.decay_epochs 1` with --learning_rate.final_lr 0 would train the last 4 of 6 training steps "
        "(2 steps per epoch; --trainer.epochs or --trainer.max_steps) at lr 0 (the decay ends after 2 steps). Fix: "
    )
    assert expected in stderr, stderr
    assert not (out / "checkpoint").exists()


def test_max_steps_shorter_than_epochs_finishes_the_cosine(tmp_path: Path) -> None:
    """--trainer.epochs 3 (6 steps) but --trainer.max_steps 3: the decay to final_lr ends at step 3."""
    out = tmp_path / "run"
    flags = ["--trainer.epochs", "3", "--trainer.max_steps", "3", "--learning_rate", "CosineDecay"]
    assert train(out, *flags, "--learning_rate.lr", "0.01", "--learning_rate.final_lr", "0.001") == 0
    lines = metrics(out)
    assert [line["step"] for line in lines] == [2, 3]
    expected = [0.001 + 0.009 * 0.5 * (1.0 + math.cos(math.pi * s / 3.0)) for s in (2, 3)]
    np.testing.assert_allclose([line["lr"] for line in lines], expected, rtol=1e-6)
