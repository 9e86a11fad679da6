"""Tests of tfaip_core.trainer.optimizer_params and tfaip_core.trainer.adabelief.

Every optimizer is stepped on a tiny variable with fixed gradients and compared with an independent numpy
reference written out below from the papers / keras documentation (float64, rtol 1e-5).
"""

import dataclasses
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from paiargparse import PAIArgumentParser, pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError
from tfaip_core.trainer.adabelief import AdaBelief
from tfaip_core.trainer.optimizer_params import (
    OPTIMIZERS,
    AdaBeliefParams,
    AdamaxParams,
    AdamParams,
    AdamWParams,
    LAMBParams,
    LionParams,
    OptimizerParams,
    RMSpropParams,
    SGDParams,
)
from tfaip_core.trainer.schedule_params import (
    SCHEDULES,
    ConstantParams,
    ExponentialDecayParams,
    LearningRateParams,
    WarmupCosineDecayParams,
)

RTOL = 1e-5
LR = 0.1
W0 = np.array([1.5, -2.0, 2.5, 1.25])
GRADS = [
    np.array([0.1, -0.3, 0.2, 0.05]),
    np.array([-0.2, 0.4, 0.05, 0.1]),
    np.array([0.3, 0.1, -0.25, -0.02]),
]


def run_keras(
    optimizer: keras.optimizers.Optimizer, w0: Sequence[np.ndarray], grads: Sequence[Sequence[np.ndarray]]
) -> list[np.ndarray]:
    """Apply each list of gradients (one per variable) in turn; return the final variable values."""
    variables = [keras.Variable(np.asarray(w, np.float32)) for w in w0]
    for step_grads in grads:
        optimizer.apply_gradients([(tf.constant(g, tf.float32), v) for g, v in zip(step_grads, variables)])
    return [v.numpy().astype(np.float64) for v in variables]


def run_single(optimizer: keras.optimizers.Optimizer, grads: Sequence[np.ndarray] = GRADS) -> np.ndarray:
    """Run `optimizer` on one variable starting at W0."""
    return run_keras(optimizer, [W0], [[g] for g in grads])[0]


# --- numpy references ------------------------------------------------------------------------------------------------
# Each takes the initial weights, the gradients per step and a learning rate per step (lrs[t] for 0-based step t).


def adam_ref(
    w: np.ndarray,
    grads: Sequence[np.ndarray],
    lrs: Sequence[float],
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    eps: float = 1e-7,
    amsgrad: bool = False,
) -> np.ndarray:
    """Kingma & Ba (2014), with the "epsilon hat" form of the formula just before section 2.1 (keras' choice)."""
    w = np.array(w, np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    v_max = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        v_max = np.maximum(v_max, v)
        denominator_v = v_max if amsgrad else v
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - alpha * m / (np.sqrt(denominator_v) + eps)
    return w


def adamax_ref(
    w: np.ndarray,
    grads: Sequence[np.ndarray],
    lrs: Sequence[float],
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    eps: float = 1e-7,
) -> np.ndarray:
    """Kingma & Ba (2014), section 7.1, with epsilon added to the infinity norm u."""
    w = np.array(w, np.float64)
    m = np.zeros_like(w)
    u = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        u = np.maximum(beta_2 * u, np.abs(g))
        w = w - (lr / (1 - beta_1**t)) * m / (u + eps)
    return w


def adabelief_ref(
    w: np.ndarray,
    grads: Sequence[np.ndarray],
    lrs: Sequence[float],
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    eps: float = 1e-14,
) -> np.ndarray:
    """Zhuang et al. (2020), Algorithm 2."""
    w = np.array(w, np.float64)
    m = np.zeros_like(w)
    s = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        s = beta_2 * s + (1 - beta_2) * (g - m) ** 2 + eps
        m_hat = m / (1 - beta_1**t)
        s_hat = s / (1 - beta_2**t)
        w = w - lr * m_hat / (np.sqrt(s_hat) + eps)
    return w


def rmsprop_ref(
    w: np.ndarray,
    grads: Sequence[np.ndarray],
    lrs: Sequence[float],
    rho: float = 0.9,
    momentum: float = 0.0,
    eps: float = 1e-7,
    centered: bool = False,
) -> np.ndarray:
    """Hinton's RMSprop as documented by keras (epsilon inside the sqrt, optional momentum/centering)."""
    w = np.array(w, np.float64)
    ms = np.zeros_like(w)
    mg = np.zeros_like(w)
    mom = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        ms = rho * ms + (1 - rho) * g * g
        if centered:
            mg = rho * mg + (1 - rho) * g
            denominator = ms - mg * mg + eps
        else:
            denominator = ms + eps
        increment = lr * g / np.sqrt(denominator)
        if momentum > 0:
            mom = momentum * mom + increment
            w = w - mom
        else:
            w = w - increment
    return w


def sgd_ref(
    w: np.ndarray,
    grads: Sequence[np.ndarray],
    lrs: Sequence[float],
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    base_lr: float = 1.0,
) -> np.ndarray:
    """SGD as documented by keras: velocity = momentum * velocity - lr * g; w += velocity (Nesterov:
    w += momentum * velocity - lr * g). Optional decoupled weight decay in this framework's convention."""
    w = np.array(w, np.float64)
    velocity = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        if weight_decay:
            w = w - weight_decay * (lr / base_lr) * w
        if momentum == 0:
            w = w - lr * g
            continue
        velocity = momentum * velocity - lr * g
        w = w + (momentum * velocity - lr * g if nesterov else velocity)
    return w


def lion_ref(
    w: np.ndarray, grads: Sequence[np.ndarray], lrs: Sequence[float], beta_1: float = 0.9, beta_2: float = 0.99
) -> np.ndarray:
    """Chen et al. (2023), Program 1: update with sign(interpolation), then update the momentum."""
    w = np.array(w, np.float64)
    m = np.zeros_like(w)
    for g, lr in zip(grads, lrs):
        w = w - lr * np.sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g
    return w


def lamb_ref(
    w: np.ndarray,
    grads: Sequence[np.ndarray],
    lrs: Sequence[float],
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    eps: float = 1e-7,
) -> np.ndarray:
    """You et al. (2019), Algorithm 2 with identity scaling phi and no in-ratio weight decay."""
    w = np.array(w, np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        r = (m / (1 - beta_1**t)) / (np.sqrt(v / (1 - beta_2**t)) + eps)
        w_norm, r_norm = np.linalg.norm(w), np.linalg.norm(r)
        ratio = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        w = w - lr * ratio * r
    return w


def with_weight_decay(reference: Callable, weight_decay: float, base_lr: float) -> Callable:
    """Wrap a reference: decay w by weight_decay * lr(t) / base_lr before each step of `reference`.

    Only valid for optimizers whose update does not depend on w (Adam & co.): the update of step t is taken as
    the difference of two undecayed reference runs of t + 1 and t steps.
    """

    def run(w: np.ndarray, grads: Sequence[np.ndarray], lrs: Sequence[float], **kwargs: Any) -> np.ndarray:
        w = np.array(w, np.float64)
        for t, lr in enumerate(lrs):
            w = w - weight_decay * (lr / base_lr) * w
            start = np.zeros_like(w)
            after = reference(start, grads[: t + 1], lrs[: t + 1], **kwargs)
            before = reference(start, grads[:t], lrs[:t], **kwargs)
            w = w + (after - before)
        return w

    return run


# --- every optimizer vs. its reference -------------------------------------------------------------------------------

LRS = [LR] * len(GRADS)

CASES = [
    ("adam", AdamParams(), adam_ref, {}),
    (
        "adam_custom",
        AdamParams(beta_1=0.8, beta_2=0.99, epsilon=1e-3),
        adam_ref,
        {"beta_1": 0.8, "beta_2": 0.99, "eps": 1e-3},
    ),
    ("adam_amsgrad", AdamParams(amsgrad=True), adam_ref, {"amsgrad": True}),
    ("adamax", AdamaxParams(), adamax_ref, {}),
    (
        "adamax_custom",
        AdamaxParams(beta_1=0.5, beta_2=0.9, epsilon=1e-3),
        adamax_ref,
        {"beta_1": 0.5, "beta_2": 0.9, "eps": 1e-3},
    ),
    ("adabelief", AdaBeliefParams(), adabelief_ref, {}),
    (
        "adabelief_custom",
        AdaBeliefParams(beta_1=0.8, beta_2=0.9, epsilon=1e-6),
        adabelief_ref,
        {"beta_1": 0.8, "beta_2": 0.9, "eps": 1e-6},
    ),
    ("rmsprop", RMSpropParams(), rmsprop_ref, {}),
    (
        "rmsprop_momentum_centered",
        RMSpropParams(rho=0.8, momentum=0.9, centered=True, epsilon=1e-6),
        rmsprop_ref,
        {"rho": 0.8, "momentum": 0.9, "centered": True, "eps": 1e-6},
    ),
    ("sgd", SGDParams(), sgd_ref, {}),
    ("sgd_momentum", SGDParams(momentum=0.9), sgd_ref, {"momentum": 0.9}),
    ("sgd_nesterov", SGDParams(momentum=0.9, nesterov=True), sgd_ref, {"momentum": 0.9, "nesterov": True}),
    ("adamw_without_decay", AdamWParams(weight_decay=0.0), adam_ref, {}),
    ("lion", LionParams(), lion_ref, {}),
    ("lion_custom", LionParams(beta_1=0.5, beta_2=0.9), lion_ref, {"beta_1": 0.5, "beta_2": 0.9}),
    ("lamb", LAMBParams(), lamb_ref, {}),
    (
        "lamb_custom",
        LAMBParams(beta_1=0.8, beta_2=0.99, epsilon=1e-4),
        lamb_ref,
        {"beta_1": 0.8, "beta_2": 0.99, "eps": 1e-4},
    ),
]


@pytest.mark.parametrize(("name", "params", "reference", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_numpy_reference(
    name: str, params: OptimizerParams, reference: Callable, kwargs: dict
) -> None:
    optimizer = params.create(LR)
    got_one = run_single(optimizer, GRADS[:1])
    np.testing.assert_allclose(got_one, reference(W0, GRADS[:1], LRS[:1], **kwargs), rtol=RTOL)
    got = run_single(params.create(LR))
    expected = reference(W0, GRADS, LRS, **kwargs)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert not np.allclose(got, W0, rtol=1e-3)  # the optimizer did move the weights


def test_create_types() -> None:
    import keras as k

    expected = {
        AdamParams: k.optimizers.Adam,
        AdamaxParams: k.optimizers.Adamax,
        AdaBeliefParams: AdaBelief,
        RMSpropParams: k.optimizers.RMSprop,
        SGDParams: k.optimizers.SGD,
        AdamWParams: k.optimizers.AdamW,
        LionParams: k.optimizers.Lion,
        LAMBParams: k.optimizers.Lamb,
    }
    assert set(expected) == set(OPTIMIZERS)
    for cls, keras_cls in expected.items():
        assert type(cls().create(0.01)) is keras_cls
    assert isinstance(SGDParams().create(1), keras.optimizers.SGD)  # ints are accepted
    with pytest.raises(TypeError, match="learning_rate must be a float or a keras LearningRateSchedule"):
        AdamParams().create("0.1")


# --- decoupled weight decay ------------------------------------------------------------------------------------------


def test_adam_weight_decay_constant_lr() -> None:
    wd = 0.01
    got = run_single(AdamParams(weight_decay=wd).create(LR))
    w = W0.copy()
    for t in range(len(GRADS)):
        w = w - wd * w  # lr(t) / lr0 = 1
        w = w + (adam_ref(W0, GRADS[: t + 1], LRS[: t + 1]) - adam_ref(W0, GRADS[:t], LRS[:t]))
    np.testing.assert_allclose(got, w, rtol=RTOL)


def test_adamw_weight_decay_uses_our_convention() -> None:
    wd = 0.02
    got = run_single(AdamWParams(weight_decay=wd).create(LR))
    expected = with_weight_decay(adam_ref, wd, LR)(W0, GRADS, LRS)
    np.testing.assert_allclose(got, expected, rtol=RTOL)
    assert AdamWParams().weight_decay == 4e-6


def test_sgd_weight_decay_constant_lr() -> None:
    got = run_single(SGDParams(momentum=0.9, weight_decay=0.05).create(LR))
    np.testing.assert_allclose(got, sgd_ref(W0, GRADS, LRS, momentum=0.9, weight_decay=0.05, base_lr=LR), rtol=RTOL)


def test_sgd_weight_decay_follows_exponential_schedule() -> None:
    schedule = ExponentialDecayParams(lr=0.2, decay=0.5, decay_every_steps=1).create(steps_per_epoch=10, total_steps=10)
    lrs = [0.2 * 0.5**t for t in range(len(GRADS))]
    got = run_single(SGDParams(weight_decay=0.1).create(schedule))
    w = W0.copy()
    for g, lr in zip(GRADS, lrs):
        w = w - 0.1 * (lr / 0.2) * w - lr * g
    np.testing.assert_allclose(got, w, rtol=RTOL)


def test_weight_decay_with_warmup_is_normalised_by_peak_lr() -> None:
    # lr(0) = 0 (warmup from 0), so the decay is normalised by --learning_rate.lr (the peak) instead
    schedule = WarmupCosineDecayParams(lr=0.2, warmup_steps=2).create(steps_per_epoch=10, total_steps=10)
    lrs = [0.0, 0.1, 0.2, 0.2 * 0.5 * (1 + math.cos(math.pi * 1 / 8))]
    grads = GRADS + [np.array([0.01, 0.02, -0.03, 0.04])]
    got = run_single(SGDParams(weight_decay=0.1).create(schedule), grads)
    np.testing.assert_allclose(got, sgd_ref(W0, grads, lrs, weight_decay=0.1, base_lr=0.2), rtol=RTOL)


def test_weight_decay_with_foreign_keras_schedule_uses_lr_at_step_0() -> None:
    schedule = keras.optimizers.schedules.ExponentialDecay(0.4, decay_steps=1, decay_rate=0.5)
    lrs = [0.4 * 0.5**t for t in range(len(GRADS))]
    got = run_single(SGDParams(weight_decay=0.05).create(schedule))
    np.testing.assert_allclose(got, sgd_ref(W0, GRADS, lrs, weight_decay=0.05, base_lr=0.4), rtol=RTOL)


def test_adam_weight_decay_with_schedule() -> None:
    schedule = ExponentialDecayParams(lr=0.1, decay=0.5, decay_every_steps=1).create(steps_per_epoch=10, total_steps=10)
    lrs = [0.1 * 0.5**t for t in range(len(GRADS))]
    got = run_single(AdamParams(weight_decay=0.03).create(schedule))
    expected = with_weight_decay(adam_ref, 0.03, 0.1)(W0, GRADS, lrs)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


@pytest.mark.parametrize("cls", [AdamaxParams, AdaBeliefParams, RMSpropParams, LionParams])
def test_weight_decay_supported_by_other_optimizers(cls: type) -> None:
    """One step: decay and update add up, since these updates do not depend on w."""
    references = {
        AdamaxParams: adamax_ref,
        AdaBeliefParams: adabelief_ref,
        RMSpropParams: rmsprop_ref,
        LionParams: lion_ref,
    }
    got = run_single(cls(weight_decay=0.02).create(LR), GRADS[:1])
    expected = W0 - 0.02 * W0 + (references[cls](W0, GRADS[:1], LRS[:1]) - W0)
    np.testing.assert_allclose(got, expected, rtol=RTOL)


def test_lamb_weight_decay_is_applied_before_the_trust_ratio() -> None:
    got = run_single(LAMBParams(weight_decay=0.02).create(LR), GRADS[:1])
    decayed = W0 - 0.02 * W0
    np.testing.assert_allclose(got, lamb_ref(decayed, GRADS[:1], LRS[:1]), rtol=RTOL)


# --- clipping --------------------------------------------------------------------------------------------------------

CLIP_W0 = [np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7])]
CLIP_GRADS = [np.array([0.3, -0.4, 0.0]), np.array([0.05, -0.1])]  # norms 0.5 and ~0.1118, global ~0.5123


def test_clip_value() -> None:
    got = run_keras(SGDParams(clip_value=0.2).create(1.0), CLIP_W0, [CLIP_GRADS])
    for w, g, out in zip(CLIP_W0, CLIP_GRADS, got):
        np.testing.assert_allclose(out, w - np.clip(g, -0.2, 0.2), rtol=RTOL)


def test_clip_norm_per_variable() -> None:
    got = run_keras(SGDParams(clip_norm=0.25).create(1.0), CLIP_W0, [CLIP_GRADS])
    for w, g, out in zip(CLIP_W0, CLIP_GRADS, got):
        clipped = g * 0.25 / max(np.linalg.norm(g), 0.25)
        np.testing.assert_allclose(out, w - clipped, rtol=RTOL)
    np.testing.assert_allclose(got[1], CLIP_W0[1] - CLIP_GRADS[1], rtol=RTOL)  # small gradient untouched


def test_clip_global_norm() -> None:
    got = run_keras(SGDParams(clip_global_norm=0.3).create(1.0), CLIP_W0, [CLIP_GRADS])
    global_norm = math.sqrt(sum(float(np.sum(g * g)) for g in CLIP_GRADS))
    scale = 0.3 / max(global_norm, 0.3)
    for w, g, out in zip(CLIP_W0, CLIP_GRADS, got):
        np.testing.assert_allclose(out, w - g * scale, rtol=RTOL)


def test_clip_global_norm_with_adam() -> None:
    got = run_single(AdamParams(clip_global_norm=0.1).create(LR))
    clipped = [g * 0.1 / max(np.linalg.norm(g), 0.1) for g in GRADS]
    np.testing.assert_allclose(got, adam_ref(W0, clipped, LRS), rtol=RTOL)


# --- validation ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "pattern"),
    [
        (
            AdamParams(clip_value=1.0, clip_norm=2.0),
            (
                r"^`--optimizer\.clip_value`, `--optimizer\.clip_norm` and `--optimizer\.clip_global_norm` must not be "
                r"combined .*; got clip_value=1\.0, clip_norm=2\.0\. Fix: keep only one of them\.$"
            ),
        ),
        (
            SGDParams(clip_norm=1.0, clip_global_norm=5.0),
            r"must not be combined .*; got clip_norm=1\.0, clip_global_norm=5\.0",
        ),
        (SGDParams(momentum=1.5), r"^`--optimizer\.momentum` must be in \[0, 1\); got 1\.5\. Fix: "),
        (RMSpropParams(momentum=-0.1), r"^`--optimizer\.momentum` must be in \[0, 1\); got -0\.1\. Fix: "),
        (RMSpropParams(rho=1.0), r"^`--optimizer\.rho` must be in \[0, 1\); got 1\.0\. Fix: "),
        (SGDParams(nesterov=True), r"^`--optimizer\.nesterov` must be False when momentum is 0 .*Fix: "),
        (AdamParams(beta_1=1.0), r"^`--optimizer\.beta_1` must be in \[0, 1\); got 1\.0\. Fix: "),
        (LAMBParams(beta_2=2.0), r"^`--optimizer\.beta_2` must be in \[0, 1\); got 2\.0\. Fix: "),
        (AdaBeliefParams(epsilon=0.0), r"^`--optimizer\.epsilon` must be > 0; got 0\.0\. Fix: "),
        (AdamaxParams(epsilon=float("nan")), r"^`--optimizer\.epsilon` must be a finite number; got nan\. Fix: "),
        (LionParams(beta_1=0.0), r"^`--optimizer\.beta_1` must be in \(0, 1\]; got 0\.0\. Fix: "),
        (AdamParams(clip_norm=-1.0), r"^`--optimizer\.clip_norm` must be > 0; got -1\.0\. Fix: "),
        (AdamParams(clip_value=0.0), r"^`--optimizer\.clip_value` must be > 0; got 0\.0\. Fix: "),
        (SGDParams(weight_decay=-0.1), r"^`--optimizer\.weight_decay` must be in \[0, 1\); got -0\.1\. Fix: "),
        (AdamWParams(weight_decay=1.0), r"^`--optimizer\.weight_decay` must be in \[0, 1\); got 1\.0\. Fix: "),
    ],
)
def test_validation_errors(params: OptimizerParams, pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern) as info:
        params.validate()
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=pattern):
        params.create(0.01)


def test_weight_decay_needs_positive_base_lr() -> None:
    with pytest.raises(ConfigError, match=r"^`--optimizer\.weight_decay` needs a positive base learning rate"):
        SGDParams(weight_decay=0.01).create(0.0)
    SGDParams(weight_decay=0.0).create(0.0)  # fine without weight decay


def test_base_class_cannot_create() -> None:
    with pytest.raises(NotImplementedError):
        OptimizerParams().create(0.1)


# --- metadata and command line ---------------------------------------------------------------------------------------


def test_optimizer_alt_names_and_bases() -> None:
    assert [c.__alt_name__ for c in OPTIMIZERS] == [
        "Adam",
        "Adamax",
        "AdaBelief",
        "RMSprop",
        "SGD",
        "AdamW",
        "Lion",
        "LAMB",
    ]
    for cls in OPTIMIZERS:
        assert issubclass(cls, OptimizerParams)
    # paiargparse copies the default object's values into a chosen subclass of it; keep the choices unrelated
    for a in OPTIMIZERS:
        for b in OPTIMIZERS:
            assert a is b or not issubclass(a, b), (a, b)


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_every_field_has_help_with_default(cls: type) -> None:
    for f in dataclasses.fields(cls):
        help_text = f.metadata.get("help", "")
        assert "Defaults to " in help_text, f"{cls.__name__}.{f.name}"
        assert help_text.rstrip().endswith("."), f"{cls.__name__}.{f.name}"


@pai_dataclass
@dataclass
class Holder:
    """Mimics how the trainer declares the two fields."""

    optimizer: OptimizerParams = field(
        default_factory=AdamParams, metadata=pai_meta(mode="flat", choices=OPTIMIZERS, help="Optimizer.")
    )
    learning_rate: LearningRateParams = field(
        default_factory=ConstantParams, metadata=pai_meta(mode="flat", choices=SCHEDULES, help="Schedule.")
    )


def parse(argv: list[str]) -> Holder:
    parser = PAIArgumentParser()
    parser.add_root_argument("root", Holder)
    return parser.parse_args(argv).root


def test_paiargparse_flags() -> None:
    holder = parse(
        ["--optimizer", "Adamax", "--optimizer.epsilon", "1e-7", "--learning_rate", "ExponentialDecay",
         "--learning_rate.decay", "0.9"]
    )  # fmt: skip
    assert type(holder.optimizer) is AdamaxParams
    assert holder.optimizer.epsilon == 1e-7
    assert holder.optimizer.beta_1 == 0.9
    assert type(holder.learning_rate) is ExponentialDecayParams
    assert holder.learning_rate.decay == 0.9
    assert holder.learning_rate.lr == 0.001


def test_paiargparse_defaults_and_more_flags() -> None:
    holder = parse([])
    assert type(holder.optimizer) is AdamParams and type(holder.learning_rate) is ConstantParams
    holder = parse(
        ["--optimizer", "SGD", "--optimizer.momentum", "0.9", "--optimizer.nesterov", "True",
         "--optimizer.clip_global_norm", "5", "--optimizer.weight_decay", "0.00002",
         "--learning_rate", "WarmupCosineDecay", "--learning_rate.lr", "0.01", "--learning_rate.warmup_epochs", "1",
         "--learning_rate.warmup_steps", "7"]
    )  # fmt: skip
    assert holder.optimizer == SGDParams(momentum=0.9, nesterov=True, clip_global_norm=5.0, weight_decay=2e-5)
    assert holder.learning_rate == WarmupCosineDecayParams(lr=0.01, warmup_epochs=1.0, warmup_steps=7)
    holder.optimizer.create(holder.learning_rate.create(steps_per_epoch=10, total_steps=20))


def test_paiargparse_adamw_keeps_its_own_weight_decay_default() -> None:
    assert parse(["--optimizer", "AdamW"]).optimizer == AdamWParams()
    assert parse(["--optimizer", "AdamW"]).optimizer.weight_decay == 4e-6
    assert parse(["--optimizer", "AdamW", "--optimizer.weight_decay", "0"]).optimizer.weight_decay == 0.0


# --- AdaBelief: tf.function, distribution, checkpoints, config ------------------------------------------------------


def test_adabelief_in_tf_function_under_default_strategy() -> None:
    strategy = tf.distribute.get_strategy()
    with strategy.scope():
        variable = keras.Variable(W0.astype(np.float32))
        optimizer = AdaBelief(learning_rate=LR)

    @tf.function
    def step(gradient: tf.Tensor) -> None:
        optimizer.apply_gradients([(gradient, variable)])

    for g in GRADS:
        step(tf.constant(g, tf.float32))
    np.testing.assert_allclose(variable.numpy(), adabelief_ref(W0, GRADS, LRS), rtol=RTOL)
    assert int(optimizer.iterations) == len(GRADS)


def test_adabelief_under_mirrored_strategy() -> None:
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        variable = keras.Variable(W0.astype(np.float32))
        optimizer = AdaBeliefParams(clip_norm=0.3).create(LR)

    @tf.function
    def step(gradient: tf.Tensor) -> None:
        strategy.run(lambda g: optimizer.apply_gradients([(g, variable)]), args=(gradient,))

    for g in GRADS:
        step(tf.constant(g, tf.float32))
    clipped = [g * 0.3 / max(np.linalg.norm(g), 0.3) for g in GRADS]
    np.testing.assert_allclose(variable.numpy(), adabelief_ref(W0, clipped, LRS), rtol=RTOL)


@pytest.mark.parametrize("build_before_restore", [True, False])
def test_adabelief_checkpoint_round_trip(tmp_path: Path, build_before_restore: bool) -> None:
    variable = keras.Variable(W0.astype(np.float32))
    optimizer = AdaBelief(learning_rate=LR)
    for g in GRADS[:2]:
        optimizer.apply_gradients([(tf.constant(g, tf.float32), variable)])
    saved = {v.path: v.numpy() for v in optimizer.variables}
    # iteration, learning_rate (a variable for a float lr) and the two slots
    assert len(saved) == 4 and any(p.endswith("_belief") for p in saved) and any(p.endswith("_momentum") for p in saved)
    path = tf.train.Checkpoint(optimizer=optimizer, variable=variable).save(os.fspath(tmp_path / "ckpt"))

    restored_variable = keras.Variable(np.zeros_like(W0, np.float32))
    restored = AdaBelief(learning_rate=LR)
    if build_before_restore:
        restored.build([restored_variable])
        tf.train.Checkpoint(optimizer=restored, variable=restored_variable).restore(path).assert_consumed()
    else:
        tf.train.Checkpoint(optimizer=restored, variable=restored_variable).restore(path)
        restored.build([restored_variable])
    assert int(restored.iterations) == 2
    np.testing.assert_array_equal(restored_variable.numpy(), variable.numpy())
    for original, copy in zip(optimizer.variables, restored.variables):
        assert np.any(original.numpy() != 0)
        np.testing.assert_array_equal(copy.numpy(), original.numpy())

    # continuing from the checkpoint equals continuing the original run
    optimizer.apply_gradients([(tf.constant(GRADS[2], tf.float32), variable)])
    restored.apply_gradients([(tf.constant(GRADS[2], tf.float32), restored_variable)])
    np.testing.assert_array_equal(restored_variable.numpy(), variable.numpy())
    np.testing.assert_allclose(variable.numpy(), adabelief_ref(W0, GRADS, LRS), rtol=RTOL)


def test_adabelief_config_round_trip() -> None:
    optimizer = AdaBelief(learning_rate=0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-10, clipnorm=2.0)
    config = optimizer.get_config()
    assert (config["beta_1"], config["beta_2"], config["epsilon"], config["clipnorm"]) == (0.8, 0.95, 1e-10, 2.0)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert type(clone) is AdaBelief
    assert clone.get_config() | {"name": None} == config | {"name": None}


@pytest.mark.parametrize("cls", OPTIMIZERS)
def test_every_optimizer_steps_inside_tf_function(cls: type) -> None:
    schedule = WarmupCosineDecayParams(lr=0.1, warmup_steps=1).create(steps_per_epoch=4, total_steps=4)
    optimizer = cls(weight_decay=0.01, clip_global_norm=1.0).create(schedule)
    variable = keras.Variable(W0.astype(np.float32))

    @tf.function
    def step(gradient: tf.Tensor) -> None:
        optimizer.apply_gradients([(gradient, variable)])

    for g in GRADS:
        step(tf.constant(g, tf.float32))
    assert np.all(np.isfinite(variable.numpy()))
    assert not np.allclose(variable.numpy(), W0)
