"""Tests of tfaip_core.trainer.schedule_params and tfaip_core.trainer.schedules.

Expected learning rates are written out with `math` from the documented formulas, never computed with
the code under test.
"""

import dataclasses
import logging
import math
from typing import Iterator, List

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaip_core.errors import ConfigError
from tfaip_core.trainer import schedules
from tfaip_core.trainer.schedule_params import (
    SCHEDULES,
    ConstantParams,
    CosineDecayParams,
    ExponentialDecayParams,
    LearningRateParams,
    WarmupConstantCosineDecayParams,
    WarmupCosineDecayParams,
    WarmupDecayParams,
    epochs_to_steps,
    total_training_steps,
)
from tfaip_core.util.logging import logger


def lr_at(schedule: keras.optimizers.schedules.LearningRateSchedule, step: float) -> float:
    """Evaluate a schedule at an int64 step (or a float32 step for fractional values)."""
    if float(step).is_integer():
        value = schedule(tf.constant(int(step), tf.int64))
    else:
        value = schedule(tf.constant(step, tf.float32))
    assert value.dtype == tf.float32
    return float(value)


@pytest.fixture
def warnings_logged() -> Iterator[List[str]]:
    """The messages logged at WARNING level or above while the test runs."""
    messages: List[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(level=logging.WARNING)
    logger().addHandler(handler)
    yield messages
    logger().removeHandler(handler)


def cosine_ref(t: float, length: float, peak: float, floor: float) -> float:
    """Half-cosine from peak to floor over `length` steps, clamped."""
    t = min(max(t, 0.0), length)
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * t / length))


# --- metadata ---------------------------------------------------------------------------------------------------------


def test_schedule_alt_names_and_bases() -> None:
    assert [c.__alt_name__ for c in SCHEDULES] == [
        "Constant",
        "ExponentialDecay",
        "CosineDecay",
        "WarmupCosineDecay",
        "WarmupConstantCosineDecay",
        "WarmupDecay",
    ]
    for cls in SCHEDULES:
        assert issubclass(cls, LearningRateParams)


@pytest.mark.parametrize("cls", SCHEDULES)
def test_every_field_has_help_with_default(cls: type) -> None:
    for f in dataclasses.fields(cls):
        help_text = f.metadata.get("help", "")
        assert "Defaults to " in help_text, f"{cls.__name__}.{f.name}"
        assert help_text.rstrip().endswith("."), f"{cls.__name__}.{f.name}"


# --- epoch -> step conversion ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("epochs", "steps_per_epoch", "expected"),
    [(1, 7, 7), (0.5, 3, 2), (0.25, 10, 3), (0.1, 10, 1), (0.0, 10, 0), (2.5, 4, 10), (0.24, 10, 2)],
)
def test_epochs_to_steps_rounds_half_up(epochs: float, steps_per_epoch: int, expected: int) -> None:
    assert epochs_to_steps(epochs, steps_per_epoch) == expected


# --- values ----------------------------------------------------------------------------------------------------------


def test_constant() -> None:
    s = ConstantParams(lr=0.02).create(steps_per_epoch=10, total_steps=20)
    for step in [0, 1, 19, 20, 10**6]:
        assert lr_at(s, step) == pytest.approx(0.02, rel=1e-6)


def test_exponential_decay_epochs() -> None:
    # decay_every_epochs=2 with 5 steps per epoch -> the factor 0.5 applies every 10 steps
    s = ExponentialDecayParams(lr=0.1, decay=0.5, decay_every_epochs=2).create(steps_per_epoch=5, total_steps=20)
    for step in [0, 5, 10, 15, 20, 35, 100]:
        assert lr_at(s, step) == pytest.approx(0.1 * 0.5 ** (step / 10), rel=1e-6)


def test_exponential_decay_staircase_and_steps_override() -> None:
    params = ExponentialDecayParams(lr=0.1, decay=0.9, decay_every_epochs=2, decay_every_steps=3, staircase=True)
    s = params.create(steps_per_epoch=5, total_steps=20)
    for step in [0, 1, 2, 3, 5, 6, 8, 9, 30]:
        assert lr_at(s, step) == pytest.approx(0.1 * 0.9 ** math.floor(step / 3), rel=1e-6)


def test_exponential_decay_fractional_epochs() -> None:
    # 0.5 epochs x 3 steps = 1.5 -> 2 steps
    s = ExponentialDecayParams(lr=1.0, decay=0.5, decay_every_epochs=0.5).create(steps_per_epoch=3, total_steps=3)
    assert lr_at(s, 2) == pytest.approx(0.5, rel=1e-6)
    assert lr_at(s, 3) == pytest.approx(0.5**1.5, rel=1e-6)


def test_cosine_decay_until_end_of_training_honours_floor() -> None:
    s = CosineDecayParams(lr=0.1, final_lr=0.01).create(steps_per_epoch=10, total_steps=30)  # 30 steps
    assert lr_at(s, 0) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 15) == pytest.approx((0.1 + 0.01) / 2, rel=1e-6)
    for step in [1, 7, 22, 29]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step, 30, 0.1, 0.01), rel=1e-6)
    assert lr_at(s, 30) == pytest.approx(0.01, rel=1e-6)
    assert lr_at(s, 31) == pytest.approx(0.01, rel=1e-6)
    assert lr_at(s, 10**5) == pytest.approx(0.01, rel=1e-6)
    values = [lr_at(s, step) for step in range(40)]
    assert min(values) >= 0.01 * (1 - 1e-6)


def test_cosine_decay_epochs_as_long_as_training() -> None:
    s = CosineDecayParams(lr=0.1, decay_epochs=2).create(steps_per_epoch=10, total_steps=20)  # decay over 20 steps
    assert lr_at(s, 10) == pytest.approx(0.05, rel=1e-6)
    assert lr_at(s, 5) == pytest.approx(cosine_ref(5, 20, 0.1, 0.0), rel=1e-6)
    assert lr_at(s, 19) == pytest.approx(cosine_ref(19, 20, 0.1, 0.0), rel=1e-6)
    assert lr_at(s, 19) > 0
    assert lr_at(s, 20) == pytest.approx(0.0, abs=1e-9)


def test_cosine_decay_epochs_shorter_than_training_keeps_the_floor_and_warns(warnings_logged: List[str]) -> None:
    params = CosineDecayParams(lr=0.1, decay_epochs=2, final_lr=0.01)
    s = params.create(steps_per_epoch=10, total_steps=50)  # decay over 20 steps, then 30 steps at the floor
    assert lr_at(s, 10) == pytest.approx((0.1 + 0.01) / 2, rel=1e-6)
    assert lr_at(s, 5) == pytest.approx(cosine_ref(5, 20, 0.1, 0.01), rel=1e-6)
    assert lr_at(s, 20) == pytest.approx(0.01, rel=1e-6)
    assert lr_at(s, 49) == pytest.approx(0.01, rel=1e-6)
    assert warnings_logged == [
        "--learning_rate.decay_epochs 2 ends the cosine decay after 20 of 50 training steps; the last 30 steps "
        "train at --learning_rate.final_lr 0.01 (pass --learning_rate.decay_epochs -1 to decay until the end)"
    ]


def test_no_warning_when_the_decay_ends_with_training(warnings_logged: List[str]) -> None:
    CosineDecayParams(lr=0.1, decay_epochs=2, final_lr=0.01).create(steps_per_epoch=10, total_steps=20)
    CosineDecayParams(lr=0.1, final_lr=0.01).create(steps_per_epoch=10, total_steps=55)
    assert warnings_logged == []


# --- the schedule spans the real number of steps (max_steps) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("steps_per_epoch", "epochs", "max_steps", "expected"),
    [(10, 3, -1, 30), (10, 3, 7, 7), (10, 3, 45, 45), (7, 1, -1, 7), (1, 1, 1, 1)],
)
def test_total_training_steps(steps_per_epoch: int, epochs: int, max_steps: int, expected: int) -> None:
    assert total_training_steps(steps_per_epoch, epochs, max_steps) == expected


@pytest.mark.parametrize(
    ("steps_per_epoch", "epochs", "max_steps", "pattern"),
    [
        (0, 3, -1, r"^`steps_per_epoch` must be >= 1; got 0\. Fix: "),
        (10, 0, -1, r"^--trainer\.epochs must be >= 1; got 0\. Fix: "),
        (10, 3, 0, r"^--trainer\.max_steps must be -1 \(off\) or >= 1; got 0\. Fix: "),
        (10, 3, -2, r"^--trainer\.max_steps must be -1 \(off\) or >= 1; got -2\. Fix: "),
    ],
)
def test_total_training_steps_refuses(steps_per_epoch: int, epochs: int, max_steps: int, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        total_training_steps(steps_per_epoch, epochs, max_steps)


def test_cosine_decay_until_the_end_spans_max_steps_beyond_epochs() -> None:
    # 1 epoch of 10 steps but --trainer.max_steps 25: the decay spans the 25 steps, lr 0 only at step 25
    s = CosineDecayParams(lr=0.1).create(steps_per_epoch=10, total_steps=total_training_steps(10, 1, 25))
    for step in [0, 9, 10, 12.5, 20, 24]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step, 25, 0.1, 0.0), rel=1e-6)
    assert lr_at(s, 12.5) == pytest.approx(0.05, rel=1e-6)
    assert lr_at(s, 24) > 0
    assert lr_at(s, 25) == pytest.approx(0.0, abs=1e-9)


def test_cosine_decay_until_the_end_spans_max_steps_shorter_than_epochs() -> None:
    # 3 epochs of 10 steps but --trainer.max_steps 8: the decay finishes at step 8
    s = CosineDecayParams(lr=0.1, final_lr=0.02).create(steps_per_epoch=10, total_steps=total_training_steps(10, 3, 8))
    for step in [0, 3, 4, 7]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step, 8, 0.1, 0.02), rel=1e-6)
    assert lr_at(s, 8) == pytest.approx(0.02, rel=1e-6)


def test_warmup_schedules_decay_until_max_steps() -> None:
    # warmup 0.5 epochs x 4 = 2 steps; max_steps 13 (not a whole number of epochs): cosine over 11 steps
    s = WarmupCosineDecayParams(lr=0.1, warmup_epochs=0.5).create(steps_per_epoch=4, total_steps=13)
    assert lr_at(s, 1) == pytest.approx(0.05, rel=1e-6)
    for step in [2, 5, 12]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step - 2, 11, 0.1, 0.0), rel=1e-6)
    assert lr_at(s, 12) > 0
    assert lr_at(s, 13) == pytest.approx(0.0, abs=1e-9)
    # + a constant phase of 1 epoch = 4 steps: cosine over 13 - 6 = 7 steps
    s = WarmupConstantCosineDecayParams(lr=0.1, warmup_steps=2, constant_epochs=1).create(
        steps_per_epoch=4, total_steps=13
    )
    assert lr_at(s, 5) == pytest.approx(0.1, rel=1e-6)
    for step in [6, 9, 12]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step - 6, 7, 0.1, 0.0), rel=1e-6)
    assert lr_at(s, 13) == pytest.approx(0.0, abs=1e-9)


def test_warmup_cosine_decay() -> None:
    # warmup 0.5 epochs x 10 = 5 steps; training 30 steps -> cosine over 25 steps
    params = WarmupCosineDecayParams(lr=0.1, warmup_epochs=0.5, warmup_start_lr=0.01, final_lr=0.02)
    s = params.create(steps_per_epoch=10, total_steps=30)
    assert lr_at(s, 0) == pytest.approx(0.01, rel=1e-6)
    assert lr_at(s, 2) == pytest.approx(0.01 + (0.1 - 0.01) * 2 / 5, rel=1e-6)
    assert lr_at(s, 4) == pytest.approx(0.01 + (0.1 - 0.01) * 4 / 5, rel=1e-6)
    assert lr_at(s, 5) == pytest.approx(0.1, rel=1e-6)  # end of warmup = peak
    assert lr_at(s, 17.5) == pytest.approx((0.1 + 0.02) / 2, rel=1e-6)  # middle of the decay
    for step in [6, 11, 23, 29]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step - 5, 25, 0.1, 0.02), rel=1e-6)
    assert lr_at(s, 30) == pytest.approx(0.02, rel=1e-6)
    assert lr_at(s, 1000) == pytest.approx(0.02, rel=1e-6)


def test_warmup_cosine_decay_from_zero_with_steps_override() -> None:
    params = WarmupCosineDecayParams(lr=0.2, warmup_epochs=5, warmup_steps=4)
    s = params.create(steps_per_epoch=10, total_steps=10)  # warmup 4 steps, cosine over 6 steps
    assert lr_at(s, 0) == 0.0
    assert lr_at(s, 1) == pytest.approx(0.05, rel=1e-6)
    assert lr_at(s, 4) == pytest.approx(0.2, rel=1e-6)
    assert lr_at(s, 7) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 10) == pytest.approx(0.0, abs=1e-9)


def test_warmup_cosine_decay_without_warmup() -> None:
    s = WarmupCosineDecayParams(lr=0.1, warmup_epochs=0).create(steps_per_epoch=4, total_steps=8)
    assert lr_at(s, 0) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 4) == pytest.approx(0.05, rel=1e-6)


def test_warmup_constant_cosine_decay() -> None:
    # W = 4 steps, C = 1 epoch = 10 steps, T = 30 -> cosine over 16 steps, floor 0.01
    params = WarmupConstantCosineDecayParams(lr=0.1, warmup_steps=4, constant_epochs=1, final_lr=0.01)
    s = params.create(steps_per_epoch=10, total_steps=30)
    assert lr_at(s, 0) == 0.0
    assert lr_at(s, 2) == pytest.approx(0.05, rel=1e-6)
    assert lr_at(s, 4) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 9) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 13.5) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 14) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 22) == pytest.approx((0.1 + 0.01) / 2, rel=1e-6)
    for step in [15, 19, 27]:
        assert lr_at(s, step) == pytest.approx(cosine_ref(step - 14, 16, 0.1, 0.01), rel=1e-6)
    assert lr_at(s, 30) == pytest.approx(0.01, rel=1e-6)
    assert lr_at(s, 300) == pytest.approx(0.01, rel=1e-6)


def test_warmup_decay_noam() -> None:
    s = WarmupDecayParams(lr=0.1, warmup_steps=4).create(steps_per_epoch=10, total_steps=100)
    assert lr_at(s, 0) == 0.0
    assert lr_at(s, 2) == pytest.approx(0.05, rel=1e-6)
    assert lr_at(s, 4) == pytest.approx(0.1, rel=1e-6)
    assert lr_at(s, 3.999) == pytest.approx(0.1, rel=1e-3)  # continuous at the end of warmup
    assert lr_at(s, 16) == pytest.approx(0.05, rel=1e-6)
    assert lr_at(s, 100) == pytest.approx(0.1 * math.sqrt(4 / 100), rel=1e-6)
    assert lr_at(s, 10**6) == pytest.approx(0.1 * math.sqrt(4 / 10**6), rel=1e-6)


def test_warmup_decay_epochs_and_start_lr() -> None:
    params = WarmupDecayParams(lr=1.0, warmup_epochs=0.5, warmup_start_lr=0.5)
    s = params.create(steps_per_epoch=8, total_steps=16)  # W = 4
    assert lr_at(s, 0) == pytest.approx(0.5, rel=1e-6)
    assert lr_at(s, 1) == pytest.approx(0.625, rel=1e-6)
    assert lr_at(s, 9) == pytest.approx(math.sqrt(4 / 9), rel=1e-6)


def test_schedule_accepts_keras_variable_and_runs_in_tf_function() -> None:
    s = WarmupCosineDecayParams(lr=0.1, warmup_steps=2).create(steps_per_epoch=5, total_steps=10)
    step = keras.Variable(0, dtype="int64", trainable=False)

    @tf.function
    def evaluate() -> tf.Tensor:
        return s(step)

    got = []
    for i in range(12):
        step.assign(i)
        got.append(float(evaluate()))
    expected = [0.05 * i if i < 2 else cosine_ref(i - 2, 8, 0.1, 0.0) for i in range(12)]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


# --- serialisation ---------------------------------------------------------------------------------------------------


ALL_SCHEDULE_PARAMS = [
    ConstantParams(lr=0.3),
    ExponentialDecayParams(lr=0.3, decay=0.7, decay_every_steps=3, staircase=True),
    CosineDecayParams(lr=0.3, final_lr=0.03),
    WarmupCosineDecayParams(lr=0.3, warmup_steps=3, warmup_start_lr=0.01, final_lr=0.02),
    WarmupConstantCosineDecayParams(lr=0.3, warmup_steps=3, constant_steps=4, final_lr=0.02),
    WarmupDecayParams(lr=0.3, warmup_steps=3, warmup_start_lr=0.1),
]


@pytest.mark.parametrize("params", ALL_SCHEDULE_PARAMS, ids=lambda p: type(p).__name__)
def test_schedule_config_round_trip(params: LearningRateParams) -> None:
    s = params.create(steps_per_epoch=5, total_steps=20)
    assert isinstance(s, keras.optimizers.schedules.LearningRateSchedule)
    assert s.base_lr == pytest.approx(0.3)
    clone = type(s).from_config(s.get_config())
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert type(restored) is type(s)
    for step in [0, 2, 3, 5, 8, 13, 20, 40]:
        assert lr_at(clone, step) == lr_at(s, step)
        assert lr_at(restored, step) == lr_at(s, step)


def test_schedules_module_classes_are_learning_rate_schedules() -> None:
    for name in ["Constant", "ExponentialDecay", "CosineDecay", "WarmupCosineDecay", "WarmupConstantCosineDecay"]:
        assert issubclass(getattr(schedules, name), keras.optimizers.schedules.LearningRateSchedule)


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        (ConstantParams(lr=-0.1), r"^`--learning_rate\.lr` must be >= 0; got -0\.1\. Fix: "),
        (ConstantParams(lr=float("nan")), r"^`--learning_rate\.lr` must be a finite number; got nan\. Fix: "),
        (ExponentialDecayParams(decay=1.5), r"^`--learning_rate\.decay` must be in \(0, 1\]; got 1\.5\. Fix: "),
        (ExponentialDecayParams(decay=0.0), r"`--learning_rate\.decay` must be in \(0, 1\]; got 0\.0"),
        (
            ExponentialDecayParams(decay_every_epochs=0),
            r"^`--learning_rate\.decay_every_epochs` must be > 0; got 0\. Fix: ",
        ),
        (
            ExponentialDecayParams(decay_every_steps=0),
            r"^`--learning_rate\.decay_every_steps` must be >= 1; got 0\. Fix: ",
        ),
        (
            CosineDecayParams(lr=0.1, final_lr=0.2),
            r"^`--learning_rate\.final_lr` must be in \[0, lr=0\.1\]; got 0\.2\. Fix: ",
        ),
        (CosineDecayParams(decay_epochs=0), r"^`--learning_rate\.decay_epochs` must be >= 1 or -1 .*; got 0\. Fix: "),
        (WarmupCosineDecayParams(warmup_epochs=-1), r"^`--learning_rate\.warmup_epochs` must be >= 0; got -1\. Fix:"),
        (WarmupCosineDecayParams(warmup_steps=-2), r"^`--learning_rate\.warmup_steps` must be >= 0; got -2\. Fix:"),
        (
            WarmupCosineDecayParams(lr=0.1, warmup_start_lr=0.5),
            r"^`--learning_rate\.warmup_start_lr` must be in \[0, lr=0\.1\]; got 0\.5\. Fix: ",
        ),
        (
            WarmupConstantCosineDecayParams(constant_steps=-1),
            r"^`--learning_rate\.constant_steps` must be >= 0; got -1\. Fix: ",
        ),
    ],
)
def test_validation_errors(params: LearningRateParams, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as info:
        params.validate()
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=pattern):
        params.create(steps_per_epoch=10, total_steps=100)


@pytest.mark.parametrize(
    ("params", "steps_per_epoch", "total_steps", "pattern"),
    [
        (
            WarmupCosineDecayParams(warmup_epochs=2),
            10,
            20,
            (
                r"^`--learning_rate\.warmup_epochs` must give a warmup shorter than training; got 20 warmup steps for "
                r"20 training steps \(10 steps per epoch; --trainer\.epochs or --trainer\.max_steps\)\. Fix: "
            ),
        ),
        (
            WarmupCosineDecayParams(warmup_steps=50),
            10,
            35,
            r"^`--learning_rate\.warmup_steps` must give a warmup shorter than training; got 50 warmup steps for 35 ",
        ),
        (
            WarmupConstantCosineDecayParams(warmup_epochs=1, constant_epochs=1),
            10,
            20,
            (
                r"^`--learning_rate\.warmup_epochs` plus `--learning_rate\.constant_epochs` must be shorter than "
                r"training; got 10 warmup \+ 10 constant steps for 20 training steps"
            ),
        ),
        (
            WarmupConstantCosineDecayParams(warmup_steps=3, constant_steps=4),
            10,
            7,
            r"^`--learning_rate\.warmup_steps` plus `--learning_rate\.constant_steps` must be shorter than training; "
            r"got 3 warmup \+ 4 constant steps for 7 training steps",
        ),
        (
            WarmupDecayParams(warmup_epochs=3),
            10,
            29,
            r"^`--learning_rate\.warmup_epochs` must give a warmup no longer than training; got 30 warmup steps "
            r"for 29 ",
        ),
        (
            WarmupDecayParams(warmup_epochs=0.01),
            10,
            20,
            r"^`--learning_rate\.warmup_epochs` must give at least 1 warmup step for WarmupDecay; got 0 steps",
        ),
        (
            CosineDecayParams(lr=0.1, decay_epochs=3, final_lr=0.01),
            10,
            25,
            (
                r"^`--learning_rate\.decay_epochs 3` must give a decay no longer than training; got 30 decay steps for "
                r"25 training steps \(10 steps per epoch; --trainer\.epochs or --trainer\.max_steps\): the decay to "
                r"final_lr would never finish\. Fix: pass --learning_rate\.decay_epochs -1 "
            ),
        ),
        (
            CosineDecayParams(decay_epochs=2),
            10,
            21,
            (
                r"^`--learning_rate\.decay_epochs 2` with --learning_rate\.final_lr 0 would train the last 1 of 21 "
                r"training steps .* at lr 0 \(the decay ends after 20 steps\)\. Fix: "
            ),
        ),
        (ConstantParams(), 0, 2, r"^`steps_per_epoch` must be >= 1 .*; got 0\. Fix: "),
        (ConstantParams(), 10, 0, r"^`total_steps` must be >= 1 .*; got 0\. Fix: train at least one step "),
    ],
)
def test_schedule_does_not_fit_training(
    params: LearningRateParams, steps_per_epoch: int, total_steps: int, pattern: str
) -> None:
    params.validate()  # the fields alone are fine
    with pytest.raises(ConfigError, match=pattern) as info:
        params.create(steps_per_epoch=steps_per_epoch, total_steps=total_steps)
    assert "\n" not in str(info.value)


def test_base_class_cannot_create() -> None:
    with pytest.raises(NotImplementedError):
        LearningRateParams().create(steps_per_epoch=1, total_steps=1)


def test_learning_rate_zero_is_allowed_and_stays_zero() -> None:
    for params in (ConstantParams(lr=0.0), CosineDecayParams(lr=0.0), CosineDecayParams(lr=0.0, decay_epochs=1)):
        schedule = params.create(steps_per_epoch=10, total_steps=20)
        assert all(lr_at(schedule, step) == 0.0 for step in (0, 5, 19, 25))
