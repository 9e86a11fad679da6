"""`scenarios.minimal`: one file, trains to its documented result, and its validation metrics are per-sample means.

In-process through `tfaip-train` (the `cli` fixtures of conftest).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, cli, read_metrics, train_in_process
from tests.scenarios import minimal_variants

NO_EXPORTS = ("--trainer.export_best", "false", "--trainer.export_final", "false")


def _validation_split() -> tuple:
    """The diabetes validation split as the scenario's docstring describes it, built independently here."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    rows = np.random.default_rng(0).permutation(len(y))[:89]
    return x[rows].astype(np.float32), y[rows]


def test_the_minimal_scenario_is_one_file_of_at_most_80_lines() -> None:
    lines = (REPO / "scenarios" / "minimal" / "scenario.py").read_text().splitlines()
    assert len(lines) <= 80
    assert sorted(p.name for p in (REPO / "scenarios" / "minimal").glob("*.py")) == ["__init__.py", "scenario.py"]
    assert len((REPO / "scenarios" / "minimal" / "__init__.py").read_text().splitlines()) == 1


def test_defaults_reach_the_documented_error_and_val_metrics_are_per_sample_means(tmp_path: Path) -> None:
    import tensorflow as tf

    out = tmp_path / "run"
    train_in_process(out, "--trainer.random_seed", "3", "--trainer.export_best", "false", scenario="scenarios.minimal")
    last = read_metrics(out)[-1]
    assert last["epoch"] == 10
    assert last["val_mae"] <= 48.0, last  # the docstring: about 44.5, <= 48

    x, y = _validation_split()  # 89 samples in batches of 32, 32, 25: a per-batch mean would weigh the 25 too much
    predicted = tf.saved_model.load(str(out / "export")).signatures["serving_default"](x=tf.constant(x))["y"].numpy()
    assert predicted.shape == (89,)
    assert last["val_mae"] == pytest.approx(np.mean(np.abs(predicted - y)), rel=1e-5)
    assert last["val_mse"] == pytest.approx(np.mean((predicted - y) ** 2), rel=1e-5)


def test_a_loss_term_broadcast_to_b_by_b_is_an_error_naming_the_term_and_the_shapes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["--trainer.output_dir", str(out), "--trainer.epochs", "1", *NO_EXPORTS]
    result = cli("tfaip-train", "tests.scenarios.minimal_variants:BroadcastLossScenario", *args)
    assert result.returncode == 2, result.stderr
    line = [x for x in result.stderr.splitlines() if "error:" in x][-1]
    assert re.search(r"Loss term 'mse' of BroadcastLossModel\.loss\(\) has shape \[32, 32\]", line), line
    assert "Targets: y [32]; outputs: y [32, 1]" in line, line
    assert "Traceback" not in result.stderr
    assert not out.exists()  # a failed start leaves nothing


def test_sample_meta_reaches_the_evaluator_and_print_evaluate(tmp_path: Path) -> None:
    minimal_variants.PRINTED.clear()
    out = tmp_path / "run"
    result = train_in_process(
        out,
        "--trainer.epochs",
        "1",
        "--trainer.num_print_evaluate",
        "3",
        *NO_EXPORTS,
        scenario="tests.scenarios.minimal_variants:MetaScenario",
    )
    assert read_metrics(out)[-1]["val_patients"] == 89.0  # every validation sample with its generator's id
    assert len(minimal_variants.PRINTED) == 3 and all(i.startswith("patient_") for i in minimal_variants.PRINTED)
    assert re.search(r"patient_\d+: y=\d+ predicted=-?\d+", result.stderr)
