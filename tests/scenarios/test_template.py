"""The template scenario, copied and renamed as the docs say, trains as it is and exports a working model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import REPO, read_metrics, train_in_process


def test_a_renamed_copy_of_the_template_trains_and_exports(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "scenarios" / "template", tmp_path / "my_scenario", ignore=shutil.ignore_patterns("__pycache__")
    )
    out = tmp_path / "run"
    train_in_process(
        out, "--trainer.epochs", "4", "--learning_rate.lr", "0.01", "--trainer.export_best", "false",
        scenario="my_scenario", cwd=tmp_path, path=[tmp_path],
    )  # fmt: skip
    params = json.loads((out / "trainer_params.json").read_text())
    assert params["scenario"]["scenario_class"] == "my_scenario.scenario:TemplateScenario"  # the copy ran
    metrics = read_metrics(out)
    assert len(metrics) == 4 and metrics[-1]["val_accuracy"] >= 0.9
    # evaluator (Python float) and Keras metric (float32) count the same samples: equal up to float32 rounding,
    # while one sample more or less would change the value by 1 / (validation samples) >= 1e-3
    assert metrics[-1]["val_accuracy"] == pytest.approx(metrics[-1]["val_acc"], rel=1e-6, abs=0)

    # the export applies the hidden rule to new samples (the Scale pre-processor runs in Python: feed x * 0.5)
    dim = params["scenario"]["data"]["dim"]
    weights = np.random.default_rng(42).normal(size=dim)
    x = np.random.default_rng(7).normal(size=(500, dim)).astype(np.float32)
    serve = tf.saved_model.load(str(out / "export")).signatures["serving_default"]
    predicted = serve(x=tf.constant(x * 0.5))["class"].numpy()
    assert np.mean(predicted == (x @ weights > 0)) >= 0.9
