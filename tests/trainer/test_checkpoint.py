"""Tests of tfaip_core.trainer.checkpoint: a checkpoint that does not match is told apart from a corrupt one.

A tiny Keras model is saved twice with `CheckpointStore` (every weight 1.0 at step 1, 2.0 at step 2), so
which checkpoint was restored is read off the weights. In-process and in a few seconds.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaip_core.errors import CheckpointError
from tfaip_core.model.variables import MODEL_KEY, ModelVariables, read_model_variable_shapes, read_model_variables
from tfaip_core.trainer.checkpoint import STATE_FILE, CheckpointStore, InvalidState, validate_state
from tfaip_core.util.logging import logger

NEWEST = "ckpt-0000000002"
PREVIOUS = "ckpt-0000000001"


def build(hidden: Sequence[int] = (4,), inputs: int = 5) -> keras.Model:
    """An MLP with fixed layer names (`dense_0/kernel` ...), so two builds share variable paths."""
    x = source = keras.Input((inputs,))
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(units, name=f"dense_{i}")(x)
    return keras.Model(source, keras.layers.Dense(2, name="logits")(x), name="model")


def checkpoint_of(model: keras.Model, amsgrad: bool = False, **extra: Any) -> tf.train.Checkpoint:
    """What the trainer checkpoints: the model variables by path and the optimizer (with its slots)."""
    optimizer = keras.optimizers.Adam(amsgrad=amsgrad)
    optimizer.build(model.trainable_variables)
    return tf.train.Checkpoint(**{MODEL_KEY: ModelVariables(model), "optimizer": optimizer}, **extra)


def fill(model: keras.Model, value: float) -> None:
    for variable in model.variables:
        variable.assign(np.full(variable.shape, value, dtype="float32"))


def state(n: int, **changes: Any) -> Dict[str, Any]:
    """A valid state of the checkpoint at step `n`, with `changes` applied."""
    return {"epoch": n, "step": n, "step_in_epoch": 0, "callbacks": {"best": {"value": 0.5}}, **changes}


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    """A store holding two checkpoints of `build()`: weights 1.0 at step 1, 2.0 at step 2."""
    store = CheckpointStore(str(tmp_path / "checkpoint"))
    model = build()
    checkpoint = checkpoint_of(model)
    for step in (1, 2):
        fill(model, float(step))
        store.save(checkpoint, step, state(step))
    return store


@pytest.fixture
def errors() -> Iterator[List[str]]:
    """The messages the checkpoint logger emits at ERROR level."""
    messages: List[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.ERROR)
    log = logger("checkpoint")
    log.addHandler(handler)
    yield messages
    log.removeHandler(handler)


def weights(model: keras.Model) -> Dict[str, np.ndarray]:
    return {v.path: np.array(v.numpy()) for v in model.variables}


def newest(store: CheckpointStore) -> Path:
    return Path(store.directory) / NEWEST


# ============================== a checkpoint that loads ==============================
def test_restore_returns_the_typed_state_and_exact_weights(store: CheckpointStore, errors: List[str]) -> None:
    model = build()
    restored = store.restore_latest(checkpoint_of(model))
    assert restored == state(2)
    assert all((value == 2.0).all() for value in weights(model).values())
    assert errors == []


def test_no_checkpoint_gives_none(tmp_path: Path) -> None:
    assert CheckpointStore(str(tmp_path / "nothing")).restore_latest(checkpoint_of(build())) is None


def test_model_variables_are_read_by_path_with_their_shapes(store: CheckpointStore) -> None:
    prefix = str(newest(store) / "variables")
    expected = {"dense_0/kernel": (5, 4), "dense_0/bias": (4,), "logits/kernel": (4, 2)}
    expected["logits/bias"] = (2,)
    assert read_model_variable_shapes(prefix) == expected
    values = read_model_variables(prefix)
    assert {name: value.shape for name, value in values.items()} == expected
    assert all((value == 2.0).all() for value in values.values())


# ============================== a checkpoint that does not match the model ==============================
@pytest.mark.parametrize(
    ("hidden", "inputs", "expected"),
    [
        (
            (3,),
            5,
            r"variable dense_0/kernel has shape \(5, 4\) in the checkpoint but \(5, 3\) in the model; "
            r"variable dense_0/bias has shape \(4,\) in the checkpoint but \(3,\) in the model; "
            r"variable logits/kernel has shape \(4, 2\) in the checkpoint but \(3, 2\) in the model\. Fix: ",
        ),
        (
            (4,),
            6,
            r"does not match the model: variable dense_0/kernel has shape \(5, 4\) in the checkpoint but "
            r"\(6, 4\) in the model\. Fix: resume with the model flags the run was trained with, or train into a "
            r"new directory\.$",
        ),
        (
            (4, 4),
            5,
            r"does not match the model: variable dense_1/kernel \(shape \(4, 4\) in the model\) is missing "
            r"from the checkpoint; variable dense_1/bias \(shape \(4,\) in the model\) is missing",
        ),
        (
            (),
            4,
            r"does not match the model: variable dense_0/kernel \(shape \(5, 4\)\) is in the checkpoint "
            r"but not in the model; variable dense_0/bias \(shape \(4,\)\) is in the checkpoint but not in the "
            r"model\. Fix: ",
        ),
        (
            (7, 4, 3),
            5,
            r"has shape \(5, 4\) in the checkpoint but \(5, 7\) in the model; .*; and 4 more\. Fix: ",
        ),
    ],
    ids=["other-layer-size", "other-input-size", "extra-layer", "fewer-layers", "many"],
)
def test_mismatch_raises_at_once_naming_the_variables(
    store: CheckpointStore, errors: List[str], hidden: Sequence[int], inputs: int, expected: str
) -> None:
    model = build(hidden, inputs)
    fill(model, 7.0)
    with pytest.raises(CheckpointError, match=expected) as info:
        store.restore_latest(checkpoint_of(model))
    message = str(info.value)
    assert message.startswith(f"Checkpoint {newest(store)} does not match the model: ")
    assert "\n" not in message
    assert errors == []  # no "corrupt ... trying the previous one": no fallback
    assert all((value == 7.0).all() for value in weights(model).values())  # nothing restored


def test_a_checkpoint_without_state_the_run_needs_is_a_mismatch(store: CheckpointStore, errors: List[str]) -> None:
    ema = tf.Module()
    ema.average = tf.Variable(np.zeros((5, 4), "float32"))  # e.g. EMA switched on when resuming
    expected = rf"^Checkpoint {re.escape(str(newest(store)))} does not match the run: it holds no state for "
    with pytest.raises(CheckpointError, match=expected + r"1 of the run's objects: variable \S+ \(shape \(5, 4\)\)\."):
        store.restore_latest(checkpoint_of(build(), ema=ema))
    # other optimizer settings: Adam's amsgrad adds one slot per trained variable (4)
    with pytest.raises(CheckpointError, match=expected + r"4 of the run's objects: variable \S+velocity_hat .*1 more"):
        store.restore_latest(checkpoint_of(build(), amsgrad=True))
    assert errors == []


def test_a_data_position_kept_in_another_form_is_a_mismatch(store: CheckpointStore, errors: List[str]) -> None:
    """The newest checkpoint holds a tf.data iterator where the run keeps another kind of state under the same
    name (a value its index lacks): a mismatch, not a corrupt checkpoint, so no older checkpoint is tried."""
    model = build()
    iterator = iter(tf.data.Dataset.range(10))
    next(iterator)
    store.save(checkpoint_of(model, train_iterator=iterator), 3, state(3))
    with pytest.raises(
        CheckpointError,
        match=r"ckpt-0000000003 does not match the run: it holds no value for "
        r"train_iterator/\.ATTRIBUTES/VARIABLE_VALUE \(the position in the training data: the run feeds its "
        r"training data otherwise",
    ):
        store.restore_latest(checkpoint_of(build(), train_iterator=tf.Variable(0, dtype=tf.int64)))
    assert errors == []


def test_a_data_position_of_another_input_pipeline_is_a_mismatch(store: CheckpointStore, errors: List[str]) -> None:
    """E.g. a run resumed with another --train.shuffle_buffer_size: tf.data cannot restore the iterator of the
    saved pipeline into the new one. Reported as such, not as a corrupt checkpoint (which advised a backup)."""
    iterator = iter(tf.data.Dataset.range(10))
    next(iterator)
    store.save(checkpoint_of(build(), train_iterator=iterator), 3, state(3))
    other = iter(tf.data.Dataset.range(10).shuffle(4, seed=1))
    with pytest.raises(
        CheckpointError,
        match=r"ckpt-0000000003 does not match the run: its position in the training data was saved for another "
        r"input pipeline: the run feeds its training data otherwise .*--train\.shuffle_buffer_size.*Fix: resume with",
    ):
        store.restore_latest(checkpoint_of(build(), train_iterator=other))
    assert errors == []


def test_an_older_checkpoint_format_is_a_mismatch(tmp_path: Path) -> None:
    """A checkpoint that tracks the model as a Keras object instead of variables by path."""
    model = build()
    store = CheckpointStore(str(tmp_path))
    store.save(tf.train.Checkpoint(model=model), 1, state(1))
    with pytest.raises(CheckpointError, match=r"does not match the model: it holds no model variables by path"):
        store.restore_latest(checkpoint_of(build()))


# ============================== a corrupt checkpoint ==============================
@pytest.mark.parametrize("file", ["variables.data-00000-of-00001", "variables.index"])
def test_a_truncated_variables_file_falls_back_to_the_previous(
    store: CheckpointStore, errors: List[str], file: str
) -> None:
    path = newest(store) / file
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    model = build()
    assert store.restore_latest(checkpoint_of(model)) == state(1)
    assert all((value == 1.0).all() for value in weights(model).values())
    assert len(errors) == 1
    assert errors[0].startswith(f"Checkpoint {newest(store)} is corrupt or incomplete: {file} cannot be read (")


def test_a_missing_data_file_falls_back_to_the_previous(store: CheckpointStore, errors: List[str]) -> None:
    os.remove(newest(store) / "variables.data-00000-of-00001")
    model = build()
    assert store.restore_latest(checkpoint_of(model)) == state(1)
    assert all((value == 1.0).all() for value in weights(model).values())
    assert [NEWEST in message for message in errors] == [True]


INVALID_STATES = {
    "missing-field": ('{"epoch": 2, "step": 2, "callbacks": {}}', r"`step_in_epoch` is missing"),
    "string-step": (json.dumps(state(2, step="5\nX")), r"`step` must be an int >= 0; got '5\\nX'"),
    "float-step": (json.dumps(state(2, step=2.0)), r"`step` must be an int >= 0; got 2\.0"),
    "bool-epoch": (json.dumps(state(2, epoch=True)), r"`epoch` must be an int >= 0; got True"),
    "negative-epoch": (json.dumps(state(2, epoch=-1)), r"`epoch` must be an int >= 0; got -1"),
    "null-in-epoch": (json.dumps(state(2, step_in_epoch=None)), r"`step_in_epoch` must be an int >= 0; got None"),
    "step-in-epoch-beyond-step": (json.dumps(state(2, step_in_epoch=3)), r"`step_in_epoch` must be <= `step`"),
    "step-of-another-checkpoint": (json.dumps(state(1)), r"`step` must be the step in the checkpoint's name, 2"),
    "callbacks-list": (json.dumps(state(2, callbacks=[])), r"`callbacks` must be an object of objects; got \[\]"),
    "callback-state-string": (
        json.dumps(state(2, callbacks={"best": "x\ny"})),
        r"`callbacks\.best` must be an object; got 'x\\ny'",
    ),
    "unknown-field": (json.dumps(state(2, epochz=1)), r"unknown field 'epochz'"),
    "not-json": ("{epoch: 2", r"state\.json cannot be read \("),
    "list-instead-of-object": ("[2, 2, 0, {}]", r"must be a JSON object with epoch, step, step_in_epoch, callbacks"),
    "empty": ("", r"state\.json cannot be read \("),
    "not-utf8": (b"\xff\xfe{}", r"state\.json cannot be read \("),
}


@pytest.mark.parametrize(("text", "reason"), INVALID_STATES.values(), ids=INVALID_STATES.keys())
def test_an_invalid_state_falls_back_to_the_previous(
    store: CheckpointStore, errors: List[str], text: Any, reason: str
) -> None:
    file = newest(store) / STATE_FILE
    file.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    model = build()
    restored = store.restore_latest(checkpoint_of(model))
    assert restored == state(1)
    assert type(restored["step"]) is int and type(restored["epoch"]) is int
    assert all((value == 1.0).all() for value in weights(model).values())
    assert len(errors) == 1
    assert re.search(reason, errors[0]), errors[0]
    assert errors[0].startswith(f"Checkpoint {newest(store)} is corrupt or incomplete: {STATE_FILE} ")
    assert "\n" not in errors[0]  # a value read from disk never reaches a log raw


def test_all_invalid_is_an_error_naming_each(store: CheckpointStore, errors: List[str]) -> None:
    (newest(store) / STATE_FILE).write_text(json.dumps(state(2, step="2")), encoding="utf-8")
    previous = Path(store.directory) / PREVIOUS / "variables.data-00000-of-00001"
    with open(previous, "r+b") as f:
        f.truncate(1)
    model = build()
    fill(model, 7.0)
    with pytest.raises(CheckpointError, match=r"^No checkpoint could be loaded: ") as info:
        store.restore_latest(checkpoint_of(model))
    message = str(info.value)
    assert f"{newest(store)}: {STATE_FILE} is invalid: `step` must be an int >= 0; got '2'" in message
    assert f"{previous.parent}: variables.data-00000-of-00001 cannot be read" in message
    assert message.endswith("Fix: restore the checkpoint directory from a backup, or train into a new directory.")
    assert len(errors) == 2
    assert all((value == 7.0).all() for value in weights(model).values())


# ============================== the state schema ==============================
def test_validate_state_returns_a_copy_of_typed_values() -> None:
    raw = state(9, step_in_epoch=4)
    typed = validate_state(raw, 9)
    assert typed == raw and typed is not raw and typed["callbacks"] is not raw["callbacks"]


def test_save_refuses_an_invalid_state_and_writes_nothing(tmp_path: Path) -> None:
    store = CheckpointStore(str(tmp_path / "checkpoint"))
    with pytest.raises(InvalidState, match=r"`step` must be the step in the checkpoint's name, 3; got 4"):
        store.save(checkpoint_of(build()), 3, state(4))
    with pytest.raises(InvalidState, match=r"`epoch` is missing"):
        store.save(checkpoint_of(build()), 3, {"step": 3, "step_in_epoch": 0, "callbacks": {}})
    assert store.complete() == []
    assert not os.path.exists(store.directory)  # validated before anything is created


# ============================== through the CLI ==============================
def test_resume_after_the_model_changed_names_the_variable_and_both_shapes(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The model code changed under a run's checkpoint (simulated by editing the stored graph): one line, exit 1."""
    from tfaip_core.scripts.resume_training import main as resume
    from tfaip_core.scripts.train import main as train

    run_dir = tmp_path / "run"
    flags = ["--trainer.epochs", "1", "--trainer.progress_bar", "false", "--model.graph.nodes", "16"]
    assert train(["scenarios.tutorial", "--trainer.output_dir", str(run_dir), *flags]) == 0
    params_file = run_dir / "trainer_params.json"
    params = json.loads(params_file.read_text(encoding="utf-8"))
    assert params["scenario"]["model"]["graph"]["nodes"] == [16]
    params["scenario"]["model"]["graph"]["nodes"] = [8]
    params_file.write_text(json.dumps(params), encoding="utf-8")
    checkpoints = sorted(os.listdir(run_dir / "checkpoint"))
    capsys.readouterr()

    assert resume([str(run_dir), "--trainer.epochs", "2"]) == 1
    stderr = capsys.readouterr().err
    newest = run_dir / "checkpoint" / checkpoints[-1]
    lines = [line for line in stderr.splitlines() if line.startswith("tfaip-resume-training: error: ")]
    assert len(lines) == 1, stderr
    message = lines[0].removeprefix("tfaip-resume-training: error: ")
    assert message.startswith(f"Checkpoint {newest} does not match the model: variable "), message
    assert (
        "variable model/graph/dense_0/kernel has shape (64, 16) in the checkpoint but (64, 8) in the model" in message
    )
    assert "variable model/graph/logits/kernel has shape (16, 10) in the checkpoint but (8, 10) in the model" in message
    assert message.endswith(
        ". Fix: resume with the model flags the run was trained with, or train into a new directory."
    )
    assert "corrupt" not in stderr and "Traceback" not in stderr
    assert sorted(os.listdir(run_dir / "checkpoint")) == checkpoints  # nothing written, nothing removed
