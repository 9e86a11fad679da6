"""`--trainer.precision`: bfloat16 / float16 runs train (with EMA and gradient clipping) and leave float32 behind."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from tests.conftest import read_metrics, train_in_process
from tfaip_core.trainer.precision import with_loss_scaling

FLAGS = (
    "--trainer.epochs", "2", "--trainer.samples_per_epoch", "256", "--val.limit", "64", "--trainer.random_seed", "5",
    "--trainer.calc_ema", "0.9", "--optimizer.clip_global_norm", "1.0", "--learning_rate.lr", "0.01",
    "--trainer.export_best", "false", "--trainer.export_final", "false",
)  # fmt: skip


@pytest.fixture(scope="module")
def float32_losses(tmp_path_factory: pytest.TempPathFactory) -> list:
    out = tmp_path_factory.mktemp("float32") / "run"
    train_in_process(out, *FLAGS)
    return [record["loss"] for record in read_metrics(out)]


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_a_mixed_precision_run_trains_in_16_bits_and_restores_float32(
    tmp_path: Path, precision: str, float32_losses: list
) -> None:
    result = train_in_process(tmp_path / "run", *FLAGS, "--trainer.precision", precision)
    losses = [record["loss"] for record in read_metrics(tmp_path / "run")]
    assert losses[1] < losses[0]  # it trains
    assert losses != float32_losses  # in 16 bits: the same seeded run rounds differently ...
    assert losses == pytest.approx(float32_losses, rel=0.15)  # ... but learns alike (dropout masks differ too)
    assert f"Precision {precision}: layers compute in {precision.split('_')[1]}, variables are float32" in result.stderr
    assert "EMA of the weights" in result.stderr
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the global policy is the caller's again


def test_only_float16_gets_a_loss_scale_optimizer() -> None:
    sgd = keras.optimizers.SGD(0.1)
    assert isinstance(with_loss_scaling(sgd, "mixed_float16"), keras.optimizers.LossScaleOptimizer)
    assert with_loss_scaling(sgd, "mixed_bfloat16") is sgd
    assert with_loss_scaling(sgd, "float32") is sgd
