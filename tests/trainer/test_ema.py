"""EMA weights: the average after k updates equals the closed form; swapping; EMA in checkpoints and exports.

The command-line run is in-process (`train_in_process`).
"""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import read_metrics, train_in_process, tutorial_export_accuracy
from tfaip_core.model.variables import read_model_variables
from tfaip_core.trainer.ema import ExponentialMovingAverage, ema_rate


def closed_form(weights: list, rate: float) -> np.ndarray:
    """ema_k = rate^(k-1) w_1 + (1 - rate) * sum_{i=2..k} rate^(k-i) w_i (the first update copies w_1)."""
    k = len(weights)
    total = rate ** (k - 1) * weights[0]
    for i in range(2, k + 1):
        total = total + (1 - rate) * rate ** (k - i) * weights[i - 1]
    return total


@pytest.mark.parametrize("rate", [0.0, 0.5, 0.9, 0.99])
def test_average_after_k_updates_is_the_closed_form(rate: float) -> None:
    rng = np.random.default_rng(0)
    variable = tf.Variable(np.zeros((3, 2), np.float32))
    ema = ExponentialMovingAverage([variable], rate)
    history = []
    for _ in range(7):
        value = rng.normal(size=(3, 2)).astype(np.float32)
        variable.assign(value)
        history.append(value.astype(np.float64))
        ema.update()
    np.testing.assert_allclose(ema.shadow[0].numpy(), closed_form(history, rate), rtol=1e-5, atol=1e-6)
    assert int(ema.count.numpy()) == 7


def test_swap_in_and_back_and_never_before_the_first_update() -> None:
    variable = tf.Variable([1.0, 2.0])
    ema = ExponentialMovingAverage([variable], 0.5)
    with ema.averaged():  # no update yet: nothing to swap in
        np.testing.assert_array_equal(variable.numpy(), [1.0, 2.0])
    ema.update()  # average = [1, 2]
    variable.assign([3.0, 4.0])
    ema.update()  # average = 0.5 * [1, 2] + 0.5 * [3, 4] = [2, 3]
    with ema.averaged():
        np.testing.assert_array_equal(variable.numpy(), [2.0, 3.0])
        with ema.averaged():  # nested: stays swapped in, and swapping back happens once
            np.testing.assert_array_equal(variable.numpy(), [2.0, 3.0])
    np.testing.assert_array_equal(variable.numpy(), [3.0, 4.0])


def test_rate_minus_one_uses_steps_per_epoch() -> None:
    assert ema_rate(-1, 50) == pytest.approx(0.98)
    assert ema_rate(0.99, 50) == 0.99


def test_cli_ema_validates_exports_and_checkpoints_the_average(tmp_path: Path) -> None:
    out = tmp_path / "ema"
    result = train_in_process(
        out,
        "--trainer.calc_ema",
        "0.9",
        "--trainer.epochs",
        "2",
        "--trainer.samples_per_epoch",
        "320",
        "--trainer.random_seed",
        "3",
    )
    assert "EMA of the weights with decay 0.9" in result.stderr
    ckpt = sorted(glob.glob(str(out / "checkpoint" / "ckpt-*")))[-1] + "/variables"
    raw = read_model_variables(ckpt)
    reader = tf.train.load_checkpoint(ckpt)
    keys = [k for k, _ in tf.train.list_variables(ckpt)]
    shadow_keys = sorted((k for k in keys if k.startswith("ema/shadow/")), key=lambda k: int(k.split("/")[2]))
    assert shadow_keys and any(k.startswith("ema/count") for k in keys)
    assert int(reader.get_tensor(next(k for k in keys if k.startswith("ema/count")))) == 20
    shadows = [reader.get_tensor(k) for k in shadow_keys]
    # the checkpoint holds the raw weights (they differ from the averages) ...
    trainable = [v for k, v in raw.items() if "graph" in k]
    assert not any(any(np.array_equal(s, t) for t in trainable) for s in shadows)
    # ... and the export holds the averages, bit for bit
    loaded = tf.saved_model.load(str(out / "export"))
    exported = [v.numpy() for v in loaded.variables]
    for shadow in shadows:
        assert any(e.dtype == shadow.dtype and np.array_equal(e, shadow) for e in exported)
    # validation ran with the averaged weights: the export reproduces the last val_accuracy
    params = json.loads((out / "trainer_params.json").read_text())
    assert params["calc_ema"] == 0.9
    assert tutorial_export_accuracy(out / "export") == read_metrics(out)[-1]["val_accuracy"]
