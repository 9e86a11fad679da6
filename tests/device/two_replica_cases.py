"""Training on 2 logical CPU replicas (`--device.cpu_replicas 2`), run by `test_two_replicas.py` in its own process.

Why a process of its own: TensorFlow splits the CPU into logical devices only before its first operation, so
these tests need a fresh process whose very first TensorFlow work is that split (done at import, below). The
file name does not start with `test_`, so the suite collects it only through that one subprocess.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Type

import numpy as np
import pytest

from tests.conftest import read_metrics
from tests.device.count_scenario import CountScenario, N, PlainScenario, counts, first_sgd_update
from tfaip_core.device.strategy import split_cpu
from tfaip_core.errors import ConfigError
from tfaip_core.trainer.optimizer_params import SGDParams
from tfaip_core.trainer.schedule_params import ConstantParams
from tfaip_core.trainer.trainer import Trainer

split_cpu(2)
MIRROR = {"dist_strategy": "mirror", "cpu_replicas": 2}
LR = 0.05


def fit(
    output_dir: Path,
    device: dict,
    shuffle: int = 0,
    batch_size: int = 8,
    scenario: Type[CountScenario] = CountScenario,
    **changes: Any,
) -> Trainer:
    """CountScenario trained through the Python API (SGD, seeded; no shuffling unless asked), the trainer returned."""
    params = scenario.default_trainer_params()
    params.output_dir = str(output_dir)
    params.progress_bar = False
    params.export_best = params.export_final = False
    params.random_seed = 1
    params.optimizer = SGDParams()
    params.learning_rate = ConstantParams(lr=LR)
    params.train.batch_size, params.train.shuffle_buffer_size = batch_size, shuffle
    params.val.batch_size = 12
    for key, value in device.items():
        setattr(params.device, key, value)
    for key, value in changes.items():
        setattr(params, key, value)
    trainer = scenario(params.scenario).create_trainer(params)
    trainer.fit()
    return trainer


def weights(trainer: Trainer) -> np.ndarray:
    kernel, bias = trainer.keras_model.trainable_variables
    return np.concatenate([kernel.numpy()[:, 0], bias.numpy()])


def test_one_epoch_on_two_replicas_trains_on_every_sample_once(tmp_path: Path) -> None:
    trainer = fit(tmp_path / "run", MIRROR, epochs=1)
    assert trainer.strategy.num_replicas_in_sync == 2
    np.testing.assert_array_equal(counts(trainer.keras_model), np.ones(N))
    # the docs: step = optimizer updates so far = epochs x ceil(samples / --train.batch_size), replicas or not
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [N // 8]


def test_two_epochs_on_two_replicas_see_every_sample_twice_when_shuffled(tmp_path: Path) -> None:
    trainer = fit(tmp_path / "run", MIRROR, shuffle=-1, epochs=2)
    np.testing.assert_array_equal(counts(trainer.keras_model), np.full(N, 2.0))
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [N // 8, 2 * N // 8]


@pytest.mark.parametrize("accum", [1, 2])
def test_first_update_is_the_same_on_one_and_two_replicas_and_matches_numpy(tmp_path: Path, accum: int) -> None:
    one = weights(fit(tmp_path / "one", {}, scenario=PlainScenario, max_steps=1, train_accum_steps=accum))
    two = weights(fit(tmp_path / "two", MIRROR, scenario=PlainScenario, max_steps=1, train_accum_steps=accum))
    expected = first_sgd_update(8 * accum, LR)  # accumulation: the mean gradient of accum batches
    np.testing.assert_allclose(one, expected, atol=1e-6)
    np.testing.assert_allclose(two, one, atol=1e-5)
    assert np.abs(expected).min() > 1e-3  # a real update, not zeros compared with zeros


def test_a_run_resumed_mid_epoch_on_two_replicas_continues_where_it_stopped(tmp_path: Path) -> None:
    out = tmp_path / "run"
    fit(out, MIRROR, epochs=1, checkpoint_every_n_steps=2)  # checkpoints after steps 2, 4 and 6 of the 6
    for newer in sorted((out / "checkpoint").glob("ckpt-*"))[1:]:
        shutil.rmtree(newer)  # as if the run had stopped after step 2 (its counter holds the first 16 samples)
    resumed = fit(out, MIRROR, epochs=1, checkpoint_every_n_steps=2)
    # the checkpoint's data position: steps 3-6 take the samples after the first 16 (2 steps x 2 replicas x 4)
    np.testing.assert_array_equal(counts(resumed.keras_model), np.ones(N))
    assert [r["step"] for r in read_metrics(out)] == [N // 8]


def test_central_storage_on_two_replicas_trains_every_sample_once(tmp_path: Path) -> None:
    trainer = fit(tmp_path / "run", {"dist_strategy": "central_storage", "cpu_replicas": 2}, epochs=1)
    assert trainer.strategy.num_replicas_in_sync == 2
    np.testing.assert_array_equal(counts(trainer.keras_model), np.ones(N))


def test_a_global_batch_the_replicas_cannot_share_is_refused(tmp_path: Path) -> None:
    pattern = (
        r"^--train\.batch_size is the global batch \(all replicas together\) and must be a multiple of the 2 "
        r"replicas; got 7\. Fix: pass a multiple of 2, e\.g\. --train\.batch_size 6\.$"
    )
    with pytest.raises(ConfigError, match=pattern):
        fit(tmp_path / "run", MIRROR, batch_size=7, epochs=1)
