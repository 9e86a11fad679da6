"""Tests of warm start (`--warmstart.*`, tfaip_core.trainer.warmstart).

The source is the session's `small_small_tutorial_run` (the tutorial's default MLP trained in-process for 3 short
epochs). Loaded values are compared bit for bit with values read independently: exports through
`tf.saved_model.load`, checkpoints by restoring them the way the trainer resumes
(`tf.train.Checkpoint(model, optimizer)`). The command-line runs are in-process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import keras
import numpy as np
import pytest
import tensorflow as tf

from scenarios.tutorial.params import CNNParams, MLPParams, TutorialGraphParams
from scenarios.tutorial.scenario import TutorialScenario
from tests.conftest import cli, read_metrics, train_in_process
from tfaip_core.errors import ConfigError
from tfaip_core.model.model_base import KerasModel, build_keras_model
from tfaip_core.trainer.checkpoint import CheckpointStore
from tfaip_core.trainer.scope import trainable_variables
from tfaip_core.trainer.warmstart import WarmstartReport, warmstart
from tfaip_core.trainer.warmstart_params import WarmstartParams

MLP_WEIGHTS = [f"model/graph/{name}/{kind}" for name in ("logits", "dense_0", "dense_1") for kind in ("kernel", "bias")]


def build_model(graph: Optional[TutorialGraphParams] = None) -> KerasModel:
    """A freshly initialised tutorial model, built as the trainer builds it."""
    params = TutorialScenario.default_params()
    if graph is not None:
        params.model.graph = graph
    scenario = TutorialScenario(params)
    return build_keras_model(scenario.create_model().create_graph(), scenario.create_data().input_specs())


def weights(model: keras.Model) -> Dict[str, np.ndarray]:
    """Path -> value of every weight (Keras RNG states left out: they are not weights)."""
    return {v.path: np.array(v.numpy()) for v in model.variables if not v.path.endswith("seed_generator_state")}


def export_weights(export_dir: Path) -> Dict[str, np.ndarray]:
    """The tutorial MLP's weights in an export, read with plain TensorFlow (no tfaip_core).

    The SavedModel keeps the model's variables as one list, in the order of `keras_model.variables`.
    """
    loaded = tf.saved_model.load(str(export_dir))
    paths = [v.path for v in build_model().variables]
    assert len(paths) == len(loaded.variables)
    return {p: np.array(v.numpy()) for p, v in zip(paths, loaded.variables, strict=True) if p in MLP_WEIGHTS}


def checkpoint_values(prefix: str) -> Dict[str, np.ndarray]:
    """The model weights of a checkpoint, restored the way the trainer resumes (same optimizer and schedule)."""
    model = build_model()
    params = TutorialScenario.default_trainer_params()
    optimizer = params.optimizer.create(params.learning_rate.create(1, params.epochs))
    optimizer.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=optimizer).read(prefix).expect_partial()
    return weights(model)


def weights_after(source: Path) -> Dict[str, np.ndarray]:
    model = build_model()
    load(model, source)
    return weights(model)


def assert_same(actual: Dict[str, np.ndarray], expected: Dict[str, np.ndarray]) -> None:
    assert sorted(actual) == sorted(expected)
    for path, value in expected.items():
        assert actual[path].dtype == value.dtype and actual[path].shape == value.shape, path
        assert actual[path].tobytes() == value.tobytes(), f"{path} differs"


def load(model: keras.Model, source: Path, **kwargs) -> WarmstartReport:
    return warmstart(model, WarmstartParams(model=str(source), **kwargs))


# ============================== loading everything ==============================
@pytest.mark.parametrize("which", ["export", "best"])
def test_from_an_export_every_weight_equals_the_export(small_tutorial_run: Path, which: str) -> None:
    model = build_model()
    initial = weights(model)
    report = load(model, small_tutorial_run / which)
    assert sorted(report.loaded) == sorted(MLP_WEIGHTS)
    assert report.unused == {}
    assert all(reason == "RNG state, not a weight" for reason in report.skipped.values())
    expected = export_weights(small_tutorial_run / which)
    assert_same(weights(model), expected)
    assert any(not np.array_equal(initial[p], expected[p]) for p in MLP_WEIGHTS)


@pytest.mark.parametrize("which", ["run", "checkpoint", "ckpt-newest", "ckpt-oldest"])
def test_from_a_checkpoint_every_weight_equals_the_checkpoint(small_tutorial_run: Path, which: str) -> None:
    checkpoints = CheckpointStore(str(small_tutorial_run / "checkpoint")).complete()
    source = {
        "run": small_tutorial_run,
        "checkpoint": small_tutorial_run / "checkpoint",
        "ckpt-newest": Path(checkpoints[-1]),
        "ckpt-oldest": Path(checkpoints[0]),
    }[which]
    chosen = checkpoints[0] if which == "ckpt-oldest" else checkpoints[-1]
    model = build_model()
    report = load(model, source)
    assert report.source.kind == "checkpoint" and report.source.prefix == chosen + "/variables"
    assert sorted(report.loaded) == sorted(MLP_WEIGHTS)
    assert_same(weights(model), checkpoint_values(chosen + "/variables"))


def test_the_final_checkpoint_and_the_export_hold_the_same_weights(small_tutorial_run: Path) -> None:
    from_export, from_checkpoint = build_model(), build_model()
    load(from_export, small_tutorial_run / "export")
    load(from_checkpoint, small_tutorial_run)
    assert_same(weights(from_checkpoint), weights(from_export))


def test_a_source_trained_with_no_train_scope_loads_every_weight(tmp_path: Path) -> None:
    # Frozen variables are not in the optimizer; checkpoints still hold them (tracked by path).
    out = tmp_path / "frozen"
    scope = ".*dense_0"
    train_in_process(
        out,
        "--trainer.no_train_scope",
        scope,
        "--trainer.epochs",
        "1",
        "--trainer.samples_per_epoch",
        "320",
        "--trainer.export_best",
        "false",
    )
    prefix = CheckpointStore(str(out / "checkpoint")).complete()[-1] + "/variables"

    reference = build_model()  # the trained variables, restored the way the trainer resumes such a run
    params = TutorialScenario.default_trainer_params()
    optimizer = params.optimizer.create(params.learning_rate.create(1, params.epochs))
    optimizer.build(trainable_variables(reference, scope))
    tf.train.Checkpoint(optimizer=optimizer).read(prefix).expect_partial()
    expected = weights(reference)

    model = build_model()
    report = load(model, out)
    assert sorted(report.loaded) == sorted(MLP_WEIGHTS)
    for path in ("model/graph/dense_1/kernel", "model/graph/logits/kernel"):
        assert weights(model)[path].tobytes() == expected[path].tobytes(), path
    assert_same(weights(model), weights_after(out / "export"))

    report = load(build_model(), out / "export")  # the export holds every weight
    assert sorted(report.loaded) == sorted(MLP_WEIGHTS)


# ============================== mismatches ==============================
def test_another_architecture_is_an_error_naming_the_unmatched_variables(small_tutorial_run: Path) -> None:
    model = build_model(CNNParams())
    initial = weights(model)
    with pytest.raises(ConfigError) as info:
        load(model, small_tutorial_run / "export")
    message = str(info.value)
    assert "\n" not in message
    for name in ("model/graph/conv_0/kernel", "model/graph/conv_1/bias", "model/graph/dense_1/kernel"):
        assert name in message
    assert "--warmstart.allow_partial" in message and "--warmstart.rename" in message
    assert_same(weights(model), initial)  # a failed warm start changes nothing


def test_allow_partial_loads_the_matching_variables_and_reports_the_rest(small_tutorial_run: Path) -> None:
    model = build_model(CNNParams())
    initial = weights(model)
    report = load(model, small_tutorial_run / "export", allow_partial=True)
    assert sorted(report.loaded) == ["model/graph/logits/bias", "model/graph/logits/kernel"]
    assert report.skipped["model/graph/conv_0/kernel"] == "no source variable of that name"
    assert report.skipped["model/graph/dense_0/kernel"] == "shape [128, 64] here but [64, 128] in the source"
    assert sorted(report.unused) == ["model/graph/dense_1/bias", "model/graph/dense_1/kernel"]
    source = export_weights(small_tutorial_run / "export")
    now = weights(model)
    for path in report.loaded:
        assert now[path].tobytes() == source[path].tobytes()
    for path in report.skipped:
        if path in initial:
            assert now[path].tobytes() == initial[path].tobytes()


def test_a_shape_mismatch_names_the_variable_and_both_shapes(small_tutorial_run: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(build_model(MLPParams(nodes=[32, 64])), small_tutorial_run / "export")
    message = str(info.value)
    assert "model/graph/dense_0/kernel (shape [64, 32] here, [64, 128] in the source)" in message
    assert "model/graph/dense_1/kernel (shape [32, 64] here, [128, 64] in the source)" in message
    assert "model/graph/logits" not in message


def test_include_and_exclude_select_the_variables_on_both_sides(small_tutorial_run: Path) -> None:
    report = load(build_model(MLPParams(nodes=[32, 64])), small_tutorial_run / "export", exclude=r"/dense_\d/")
    assert sorted(report.loaded) == ["model/graph/logits/bias", "model/graph/logits/kernel"]
    assert report.skipped["model/graph/dense_0/kernel"].startswith("filtered out")
    assert report.unused["model/graph/dense_1/kernel"].startswith("filtered out")

    report = load(build_model(), small_tutorial_run / "export", include="dense_1")
    assert sorted(report.loaded) == ["model/graph/dense_1/bias", "model/graph/dense_1/kernel"]

    with pytest.raises(ConfigError, match="nothing to load"):
        load(build_model(), small_tutorial_run / "export", include="no_such_layer")


def test_rename_rules_map_source_names_to_ours(small_tutorial_run: Path) -> None:
    # The CNN's dense_0 (128x64) has the shape of the MLP's dense_1: move it there, set the MLP's dense_0 aside.
    model = build_model(CNNParams())
    report = load(
        model,
        small_tutorial_run / "export",
        rename=["dense_0/->first/", "dense_1/->dense_0/"],
        exclude="conv_|first/",
    )
    assert report.loaded == {
        "model/graph/dense_0/kernel": "model/graph/dense_1/kernel",
        "model/graph/dense_0/bias": "model/graph/dense_1/bias",
        "model/graph/logits/kernel": "model/graph/logits/kernel",
        "model/graph/logits/bias": "model/graph/logits/bias",
    }
    source = export_weights(small_tutorial_run / "export")
    assert weights(model)["model/graph/dense_0/kernel"].tobytes() == source["model/graph/dense_1/kernel"].tobytes()

    with pytest.raises(ConfigError, match="both become model/graph/dense_1/kernel"):
        load(build_model(), small_tutorial_run / "export", rename=["dense_0->dense_1"])


# ============================== bad paths and flags ==============================
def test_a_missing_path_is_a_one_line_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_run" / "export"
    with pytest.raises(ConfigError) as info:
        load(build_model(), missing)
    assert str(missing) in str(info.value) and "\n" not in str(info.value)

    with pytest.raises(ConfigError, match="neither an exported model"):
        load(build_model(), tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(rename=["foo"]), "FROM->TO"),
        (dict(rename=["->bar"]), "non-empty FROM"),
        (dict(include="dense_(["), "--warmstart.include"),
        (dict(exclude="*x"), "--warmstart.exclude"),
    ],
)
def test_bad_rules_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        WarmstartParams(model="x", **kwargs).validate()


# ============================== through the real command line ==============================
def test_cli_warm_start_with_lr_zero_reproduces_the_source_validation(small_tutorial_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "warm"
    result = train_in_process(
        out,
        "--warmstart.model",
        str(small_tutorial_run / "export"),
        "--learning_rate.lr",
        "0",  # nothing trains: the weights stay the export's
        "--trainer.epochs",
        "1",
    )
    assert "Warm start loaded 6 variable(s)" in result.stderr + (out / "train.log").read_text()
    source_last = read_metrics(small_tutorial_run)[-1]
    first = read_metrics(out)[0]
    assert first["epoch"] == 1
    assert first["val_accuracy"] == source_last["val_accuracy"]
    assert first["val_loss"] == pytest.approx(source_last["val_loss"], rel=1e-6)
    # resuming ignores warm start: it continues from the run's own checkpoint
    resumed = cli("tfaip-resume-training", str(out), "--trainer.epochs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming at epoch 2" in resumed.stderr and "Warm start from" not in resumed.stderr


def test_cli_bad_rename_rule_exits_2_with_one_line(tmp_path: Path) -> None:
    result = cli(
        "tfaip-train", "scenarios.tutorial", "--trainer.output_dir", str(tmp_path / "o"), "--warmstart.rename", "foo"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--warmstart.rename" in lines[0] and "'foo'" in lines[0]
    assert not (tmp_path / "o").exists()
