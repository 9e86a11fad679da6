"""Training features through the real CLI (in-process): accumulation, no-train scope, optimizers, schedules, clipping,
weight decay."""

from __future__ import annotations

import glob
import json
import math
from pathlib import Path
from typing import Dict

import numpy as np
import pytest

from tests.conftest import NO_EXPORTS, cli, read_metrics, train_in_process
from tfaip_core.model.variables import read_model_variables

# deterministic data order and no dropout, so that runs can be compared weight for weight
EXACT = ["--trainer.random_seed", "5", "--train.shuffle_buffer_size", "0", "--model.graph.dropout", "0"]
EXACT += ["--trainer.export_best", "false", "--trainer.export_final", "false"]  # compared by checkpoint


def final_weights(output_dir: Path) -> Dict[str, np.ndarray]:
    newest = sorted(glob.glob(str(output_dir / "checkpoint" / "ckpt-*")))[-1]
    return {k: v for k, v in read_model_variables(newest + "/variables").items() if "graph" in k}


@pytest.mark.parametrize("ema", [[], ["--trainer.calc_ema", "0.8"]], ids=["plain", "ema"])
def test_accumulating_n_batches_equals_one_batch_of_n_times_b(tmp_path: Path, ema: list) -> None:
    common = EXACT + [
        "--trainer.epochs",
        "2",
        "--trainer.samples_per_epoch",
        "128",
        "--optimizer",
        "SGD",
        "--optimizer.momentum",
        "0.9",
        "--learning_rate.lr",
        "0.05",
        *ema,
    ]
    train_in_process(tmp_path / "accum", *common, "--train.batch_size", "8", "--trainer.train_accum_steps", "4")
    train_in_process(tmp_path / "big", *common, "--train.batch_size", "32")
    accumulated, big = final_weights(tmp_path / "accum"), final_weights(tmp_path / "big")
    assert read_metrics(tmp_path / "accum")[-1]["step"] == read_metrics(tmp_path / "big")[-1]["step"] == 8
    for key in big:
        np.testing.assert_allclose(accumulated[key], big[key], rtol=1e-5, atol=1e-6, err_msg=key)
    # and the validation (with EMA weights when on) saw the same model
    assert read_metrics(tmp_path / "accum")[-1]["val_loss"] == pytest.approx(
        read_metrics(tmp_path / "big")[-1]["val_loss"], rel=1e-5
    )


def test_no_train_scope_keeps_frozen_weights_bit_identical(tmp_path: Path) -> None:
    frozen, initial = tmp_path / "frozen", tmp_path / "initial"
    train_in_process(
        frozen,
        "--trainer.no_train_scope",
        ".*dense_.*",
        "--trainer.epochs",
        "2",
        "--trainer.samples_per_epoch",
        "320",
        "--trainer.random_seed",
        "9",
    )
    # the same seed, nothing frozen, and learning rate 0: every weight keeps its
    # initial value, which gives the initial weights independently of the freezing code
    train_in_process(
        initial,
        "--learning_rate.lr",
        "0",
        "--trainer.epochs",
        "1",
        "--trainer.samples_per_epoch",
        "32",
        "--trainer.random_seed",
        "9",
        "--trainer.export_best",
        "false",
    )
    trained, untouched = final_weights(frozen), final_weights(initial)
    assert any("dense_" in key for key in untouched)
    for key in untouched:
        if "dense_" in key:
            assert np.array_equal(trained[key], untouched[key]), key
    assert not np.array_equal(trained["model/graph/logits/kernel"], untouched["model/graph/logits/kernel"])
    result = cli(
        "tfaip-train",
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(tmp_path / "all"),
        "--trainer.no_train_scope",
        "model",
    )
    assert result.returncode == 2 and "freezes every trainable variable" in result.stderr


def test_no_train_scope_that_matches_nothing_lists_the_layers(tmp_path: Path) -> None:
    result = cli(
        "tfaip-train",
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(tmp_path / "x"),
        "--trainer.no_train_scope",
        ".*conv.*",
    )
    assert result.returncode == 2
    line = result.stderr.strip().splitlines()[-1]
    assert "matches no layer or variable" in line and "model/graph/dense_0" in line and "model/graph/logits" in line


OPTIMIZER_FLAGS = {
    "Adam": ["--optimizer.epsilon", "1e-7", "--optimizer.beta_1", "0.8", "--optimizer.weight_decay", "0.00002"],
    "Adamax": ["--optimizer.epsilon", "1e-7", "--optimizer.weight_decay", "0.00002"],
    "AdaBelief": ["--optimizer.beta_2", "0.99", "--optimizer.clip_global_norm", "5"],
    "RMSprop": ["--optimizer.momentum", "0.5", "--optimizer.clip_value", "1"],
    "SGD": ["--optimizer.momentum", "0.9", "--optimizer.nesterov", "true", "--optimizer.weight_decay", "0.00002"],
    "AdamW": ["--optimizer.weight_decay", "0.0001", "--optimizer.clip_norm", "1"],
    "Lion": ["--optimizer.beta_1", "0.9"],
    "LAMB": ["--optimizer.epsilon", "1e-6"],
}


@pytest.mark.parametrize("name", sorted(OPTIMIZER_FLAGS))
def test_every_optimizer_trains_from_the_cli(tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    train_in_process(
        out,
        "--optimizer",
        name,
        *OPTIMIZER_FLAGS[name],
        "--trainer.epochs",
        "2",
        "--trainer.samples_per_epoch",
        "640",
        "--trainer.export_best",
        "false",
        "--trainer.random_seed",
        "2",
    )
    params = json.loads((out / "trainer_params.json").read_text())
    stored = params["optimizer"]
    flags = OPTIMIZER_FLAGS[name]
    for flag, value in zip(flags[::2], flags[1::2]):
        field = flag.split(".", 1)[1]
        assert str(stored[field]).lower() == value.lower() or float(stored[field]) == float(value), field
    metrics = read_metrics(out)
    # it learns: both the training loss and the validation accuracy improve (seeded: the same numbers every run)
    assert metrics[-1]["loss"] < metrics[0]["loss"] and metrics[-1]["val_accuracy"] > metrics[0]["val_accuracy"]


def test_two_clip_fields_are_refused(tmp_path: Path) -> None:
    result = cli(
        "tfaip-train",
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(tmp_path / "x"),
        "--optimizer.clip_norm",
        "1",
        "--optimizer.clip_global_norm",
        "5",
    )
    assert result.returncode == 2 and "clip" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "x").exists()


def test_logged_learning_rate_follows_the_schedule(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    train_in_process(
        out,
        *NO_EXPORTS,
        "--learning_rate",
        "ExponentialDecay",
        "--learning_rate.lr",
        "0.01",
        "--learning_rate.decay",
        "0.5",
        "--learning_rate.staircase",
        "true",
        "--trainer.epochs",
        "3",
        "--trainer.samples_per_epoch",
        "320",
    )
    lrs = [r["lr"] for r in read_metrics(out)]  # logged after each epoch: lr(step = epoch * 10)
    np.testing.assert_allclose(lrs, [0.01 * 0.5**1, 0.01 * 0.5**2, 0.01 * 0.5**3], rtol=1e-6)

    out = tmp_path / "cos"
    train_in_process(
        out,
        *NO_EXPORTS,
        "--learning_rate",
        "WarmupCosineDecay",
        "--learning_rate.lr",
        "0.01",
        "--learning_rate.warmup_epochs",
        "1",
        "--learning_rate.final_lr",
        "0.001",
        "--trainer.epochs",
        "3",
        "--trainer.samples_per_epoch",
        "320",
    )
    lrs = [r["lr"] for r in read_metrics(out)]
    # steps 10, 20, 30 of 30; warmup 10 steps; cosine from 0.01 to the floor 0.001 over steps 10..30
    expected = [0.001 + 0.5 * (0.01 - 0.001) * (1 + math.cos(math.pi * (s - 10) / 20)) for s in (10, 20, 30)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-5)


def _xla_functions(function: object) -> list:
    """The names of the functions inside a compiled `tf.function` that XLA must compile."""
    names = []
    for concrete in function._list_all_concrete_functions():  # type: ignore[attr-defined]
        library = concrete.graph.as_graph_def().library.function
        names += [f.signature.name for f in library if f.attr["_XlaMustCompile"].b]
    return names


def test_jit_compile_compiles_the_steps_with_xla_and_trains_alike(tmp_path: Path) -> None:
    from scenarios.tutorial.scenario import TutorialScenario

    def fit(jit: bool) -> tuple:
        params = TutorialScenario.default_trainer_params()
        params.output_dir = str(tmp_path / f"jit_{jit}")
        params.epochs, params.random_seed, params.progress_bar, params.jit_compile = 1, 5, False, jit
        params.train.limit, params.val.limit, params.train.shuffle_buffer_size = 128, 64, 0
        params.scenario.model.graph.dropout = 0.0
        params.export_best = params.export_final = False
        trainer = TutorialScenario(params.scenario).create_trainer(params)
        return trainer, trainer.fit()

    compiled, compiled_logs = fit(True)
    plain, plain_logs = fit(False)
    assert _xla_functions(compiled._train_function) and _xla_functions(compiled._eval_function)
    assert not _xla_functions(plain._train_function) and not _xla_functions(plain._eval_function)
    assert compiled_logs["val_loss"] == pytest.approx(plain_logs["val_loss"], rel=1e-4)  # XLA may fuse differently
    assert compiled_logs["val_loss"] < math.log(10) - 0.02  # and it trained


def test_jit_compile_with_force_eager_is_refused(tmp_path: Path) -> None:
    result = cli(
        "tfaip-train",
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(tmp_path / "run"),
        "--trainer.jit_compile",
        "true",
        "--trainer.force_eager",
        "true",
    )
    assert result.returncode == 2, result.stderr
    assert "--trainer.jit_compile and --trainer.force_eager exclude each other" in result.stderr
    assert not (tmp_path / "run").exists()
