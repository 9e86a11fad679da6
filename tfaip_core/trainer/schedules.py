"""Learning-rate schedules as `keras.optimizers.schedules.LearningRateSchedule` subclasses.

The parameter classes in `tfaip_core.trainer.schedule_params` build these objects; everything here
works in optimizer steps (the optimizer's `iterations` counter, 0 for the first update), epochs are
already converted. Every schedule is registered with keras under the package "tfaip_core", so
`keras.optimizers.schedules.serialize` / `deserialize` round-trip it through `get_config`.

All schedules compute in float64 and return a float32 scalar tensor. Each exposes `base_lr`, the
nominal (peak) learning rate given by `--learning_rate.lr`; the optimizers normalise decoupled weight
decay by it (see `tfaip_core.trainer.optimizer_params`).
"""

import math
from typing import Any, TypeAlias, Union

import keras
import tensorflow as tf

StepLike: TypeAlias = Union[int, float, tf.Tensor, tf.Variable, keras.Variable]

_PACKAGE = "tfaip_core"


def _as_float(step: StepLike) -> tf.Tensor:
    """Cast an optimizer step (int64 tensor, variable or Python number) to a float64 scalar tensor."""
    return tf.cast(tf.convert_to_tensor(step), tf.float64)


def _out(value: tf.Tensor) -> tf.Tensor:
    """Cast a float64 learning rate to the float32 the optimizers expect."""
    return tf.cast(value, tf.float32)


def _linear_warmup(step: tf.Tensor, warmup_steps: int, start_lr: float, peak_lr: float) -> tf.Tensor:
    """Linear ramp start_lr -> peak_lr: start_lr + (peak_lr - start_lr) * step / warmup_steps."""
    denominator = float(max(warmup_steps, 1))  # never divides by 0, even in an unselected tf.where branch
    return start_lr + (peak_lr - start_lr) * step / denominator


def _cosine(step: tf.Tensor, decay_steps: int, peak_lr: float, final_lr: float) -> tf.Tensor:
    """Half-cosine from peak_lr (step 0) to final_lr (step >= decay_steps), clamped to [0, decay_steps]."""
    denominator = float(max(decay_steps, 1))
    progress = tf.clip_by_value(step, 0.0, denominator) / denominator
    return final_lr + (peak_lr - final_lr) * 0.5 * (1.0 + tf.cos(math.pi * progress))


class TfaipSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Base of the framework's schedules; stores the nominal learning rate `lr`.

    Subclasses implement `__call__(step)` with TF ops and extend `get_config`.
    """

    def __init__(self, lr: float) -> None:
        self.lr = float(lr)

    @property
    def base_lr(self) -> float:
        """The nominal (peak) learning rate; the reference for decoupled weight decay."""
        return self.lr

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        return {"lr": self.lr}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Constant(TfaipSchedule):
    """lr(step) = lr."""

    def __call__(self, step: StepLike) -> tf.Tensor:
        return _out(tf.zeros_like(_as_float(step)) + self.lr)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ExponentialDecay(TfaipSchedule):
    """lr(step) = lr * decay ** (step / decay_steps); the exponent is floored if `staircase`."""

    def __init__(self, lr: float, decay: float, decay_steps: int, staircase: bool = False) -> None:
        super().__init__(lr)
        self.decay = float(decay)
        self.decay_steps = int(decay_steps)
        self.staircase = bool(staircase)

    def __call__(self, step: StepLike) -> tf.Tensor:
        exponent = _as_float(step) / float(self.decay_steps)
        if self.staircase:
            exponent = tf.floor(exponent)
        return _out(self.lr * tf.pow(tf.constant(self.decay, tf.float64), exponent))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        return {
            **super().get_config(),
            "decay": self.decay,
            "decay_steps": self.decay_steps,
            "staircase": self.staircase,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CosineDecay(TfaipSchedule):
    """Half-cosine decay from lr to final_lr over decay_steps, then final_lr forever.

    lr(step) = final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps)).
    """

    def __init__(self, lr: float, decay_steps: int, final_lr: float = 0.0) -> None:
        super().__init__(lr)
        self.decay_steps = int(decay_steps)
        self.final_lr = float(final_lr)

    def __call__(self, step: StepLike) -> tf.Tensor:
        return _out(_cosine(_as_float(step), self.decay_steps, self.lr, self.final_lr))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        return {**super().get_config(), "decay_steps": self.decay_steps, "final_lr": self.final_lr}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WarmupCosineDecay(TfaipSchedule):
    """Linear warmup, then half-cosine decay to final_lr.

    W = warmup_steps, D = decay_steps:
    step < W:  warmup_start_lr + (lr - warmup_start_lr) * step / W;
    step >= W: final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * min(step - W, D) / D)).
    """

    def __init__(
        self, lr: float, warmup_steps: int, decay_steps: int, warmup_start_lr: float = 0.0, final_lr: float = 0.0
    ) -> None:
        super().__init__(lr)
        self.warmup_steps = int(warmup_steps)
        self.decay_steps = int(decay_steps)
        self.warmup_start_lr = float(warmup_start_lr)
        self.final_lr = float(final_lr)

    def __call__(self, step: StepLike) -> tf.Tensor:
        s = _as_float(step)
        warm = _linear_warmup(s, self.warmup_steps, self.warmup_start_lr, self.lr)
        decay = _cosine(s - self.warmup_steps, self.decay_steps, self.lr, self.final_lr)
        return _out(tf.where(s < self.warmup_steps, warm, decay))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        return {
            **super().get_config(),
            "warmup_steps": self.warmup_steps,
            "decay_steps": self.decay_steps,
            "warmup_start_lr": self.warmup_start_lr,
            "final_lr": self.final_lr,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WarmupConstantCosineDecay(TfaipSchedule):
    """Linear warmup, a constant plateau at lr, then half-cosine decay to final_lr.

    W = warmup_steps, C = constant_steps, D = decay_steps:
    step < W:          warmup_start_lr + (lr - warmup_start_lr) * step / W;
    W <= step < W + C: lr;
    step >= W + C:     final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * min(step - W - C, D) / D)).
    """

    def __init__(
        self,
        lr: float,
        warmup_steps: int,
        constant_steps: int,
        decay_steps: int,
        warmup_start_lr: float = 0.0,
        final_lr: float = 0.0,
    ) -> None:
        super().__init__(lr)
        self.warmup_steps = int(warmup_steps)
        self.constant_steps = int(constant_steps)
        self.decay_steps = int(decay_steps)
        self.warmup_start_lr = float(warmup_start_lr)
        self.final_lr = float(final_lr)

    def __call__(self, step: StepLike) -> tf.Tensor:
        s = _as_float(step)
        plateau_end = self.warmup_steps + self.constant_steps
        warm = _linear_warmup(s, self.warmup_steps, self.warmup_start_lr, self.lr)
        decay = _cosine(s - plateau_end, self.decay_steps, self.lr, self.final_lr)
        after_warmup = tf.where(s < plateau_end, tf.ones_like(s) * self.lr, decay)
        return _out(tf.where(s < self.warmup_steps, warm, after_warmup))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        return {
            **super().get_config(),
            "warmup_steps": self.warmup_steps,
            "constant_steps": self.constant_steps,
            "decay_steps": self.decay_steps,
            "warmup_start_lr": self.warmup_start_lr,
            "final_lr": self.final_lr,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WarmupDecay(TfaipSchedule):
    """Linear warmup, then inverse-square-root ("Noam") decay; continuous at step = W.

    W = warmup_steps (>= 1):
    step < W:  warmup_start_lr + (lr - warmup_start_lr) * step / W;
    step >= W: lr * sqrt(W / step).
    """

    def __init__(self, lr: float, warmup_steps: int, warmup_start_lr: float = 0.0) -> None:
        super().__init__(lr)
        if int(warmup_steps) < 1:
            raise ValueError(f"WarmupDecay needs warmup_steps >= 1; got {warmup_steps}.")
        self.warmup_steps = int(warmup_steps)
        self.warmup_start_lr = float(warmup_start_lr)

    def __call__(self, step: StepLike) -> tf.Tensor:
        s = _as_float(step)
        warm = _linear_warmup(s, self.warmup_steps, self.warmup_start_lr, self.lr)
        decay = self.lr * tf.sqrt(float(self.warmup_steps) / tf.maximum(s, 1.0))
        return _out(tf.where(s < self.warmup_steps, warm, decay))

    def get_config(self) -> dict[str, Any]:
        """Return the constructor arguments (keras serialisation)."""
        return {**super().get_config(), "warmup_steps": self.warmup_steps, "warmup_start_lr": self.warmup_start_lr}
