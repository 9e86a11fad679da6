"""Learning-rate schedule parameters (`--learning_rate NAME --learning_rate.FIELD VALUE`).

Each class is selectable by its alt name (`--learning_rate WarmupCosineDecay`) and builds a keras
`LearningRateSchedule` from `tfaip_core.trainer.schedules` with `create(steps_per_epoch, epochs)`.
Schedules count optimizer steps (0 for the first update). Fields given in epochs are converted to
steps with the real `steps_per_epoch`, rounding half up: steps = floor(epochs * steps_per_epoch + 0.5).
A `*_steps` field, when set, wins over the matching `*_epochs` field.

TensorFlow and keras are imported only inside `create()`, so this module is cheap to import.
"""

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from keras.optimizers.schedules import LearningRateSchedule

_PREFIX = "--learning_rate"


def epochs_to_steps(epochs: float, steps_per_epoch: int) -> int:
    """Convert a (possibly fractional) number of epochs to optimizer steps.

    Rounds half up: floor(epochs * steps_per_epoch + 0.5).
    """
    return math.floor(epochs * steps_per_epoch + 0.5)


def _check_finite(name: str, value: float) -> None:
    """Raise ConfigError if `value` is NaN or infinite."""
    if not math.isfinite(value):
        raise ConfigError(f"`{_PREFIX}.{name}` must be a finite number; got {value}. Fix: pass a finite value.")


def _check_training_length(steps_per_epoch: int, epochs: int) -> None:
    """Raise ConfigError unless steps_per_epoch >= 1 and epochs >= 1."""
    if steps_per_epoch < 1:
        raise ConfigError(
            f"`steps_per_epoch` must be >= 1 to build a learning-rate schedule; got {steps_per_epoch}. "
            "Fix: train on at least one batch per epoch."
        )
    if epochs < 1:
        raise ConfigError(
            f"`epochs` must be >= 1 to build a learning-rate schedule; got {epochs}. Fix: train at least one epoch."
        )


@pai_dataclass
@dataclass
class LearningRateParams:
    """Base of all learning-rate schedules; `lr` is the nominal (peak) learning rate.

    Subclasses implement `_create(steps_per_epoch, epochs)` and extend `validate()`.
    """

    lr: float = field(
        default=0.001,
        metadata=pai_meta(
            help="Learning rate: the constant value, the start of a decay, or the peak reached after warmup. "
            "Decoupled weight decay is normalised by it. Defaults to 0.001."
        ),
    )

    def validate(self) -> None:
        """Check the fields that do not depend on the length of training; raise ConfigError."""
        _check_finite("lr", self.lr)
        if self.lr < 0:  # 0 is allowed: it trains nothing, e.g. to evaluate a warm-started model
            raise ConfigError(
                f"`{_PREFIX}.lr` must be >= 0; got {self.lr}. Fix: pass a positive learning rate, "
                f"e.g. {_PREFIX}.lr 0.001."
            )

    def create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        """Validate and build the keras schedule for a training of `epochs` x `steps_per_epoch` steps.

        Raises ConfigError for invalid fields or a schedule that does not fit into the training.
        """
        self.validate()
        _check_training_length(steps_per_epoch, epochs)
        return self._create(int(steps_per_epoch), int(epochs))

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        """Build the schedule; arguments are already validated."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _create(); use a subclass.")


@pai_dataclass(alt="Constant")
@dataclass
class ConstantParams(LearningRateParams):
    """lr(step) = lr."""

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import Constant

        return Constant(self.lr)


@pai_dataclass(alt="ExponentialDecay")
@dataclass
class ExponentialDecayParams(LearningRateParams):
    """lr(step) = lr * decay ** (step / decay_steps), exponent floored if `staircase`.

    decay_steps = decay_every_steps if set, else decay_every_epochs converted to steps (at least 1).
    """

    decay: float = field(
        default=0.95,
        metadata=pai_meta(help="Factor applied to the learning rate every decay period, in (0, 1]. Defaults to 0.95."),
    )
    decay_every_epochs: float = field(
        default=1.0,
        metadata=pai_meta(
            help="Decay period in epochs (may be fractional); ignored if decay_every_steps is set. Defaults to 1.0."
        ),
    )
    decay_every_steps: int | None = field(
        default=None,
        metadata=pai_meta(help="Decay period in optimizer steps; wins over decay_every_epochs. Defaults to None."),
    )
    staircase: bool = field(
        default=False,
        metadata=pai_meta(
            help="Decay in discrete jumps (floor(step / decay_steps)) instead of continuously. Defaults to False."
        ),
    )

    def validate(self) -> None:
        """Check lr, decay and the decay period; raise ConfigError."""
        super().validate()
        _check_finite("decay", self.decay)
        if not 0 < self.decay <= 1:
            raise ConfigError(
                f"`{_PREFIX}.decay` must be in (0, 1]; got {self.decay}. Fix: pass e.g. {_PREFIX}.decay 0.95."
            )
        _check_finite("decay_every_epochs", self.decay_every_epochs)
        if self.decay_every_steps is None and self.decay_every_epochs <= 0:
            raise ConfigError(
                f"`{_PREFIX}.decay_every_epochs` must be > 0; got {self.decay_every_epochs}. "
                f"Fix: pass e.g. {_PREFIX}.decay_every_epochs 1."
            )
        if self.decay_every_steps is not None and self.decay_every_steps < 1:
            raise ConfigError(
                f"`{_PREFIX}.decay_every_steps` must be >= 1; got {self.decay_every_steps}. "
                f"Fix: pass a positive step count or leave it unset to use {_PREFIX}.decay_every_epochs."
            )

    def decay_steps(self, steps_per_epoch: int) -> int:
        """The decay period in optimizer steps (decay_every_steps wins; at least 1)."""
        if self.decay_every_steps is not None:
            return int(self.decay_every_steps)
        return max(1, epochs_to_steps(self.decay_every_epochs, steps_per_epoch))

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import ExponentialDecay

        return ExponentialDecay(self.lr, self.decay, self.decay_steps(steps_per_epoch), self.staircase)


def _check_final_lr(params: LearningRateParams, final_lr: float) -> None:
    """Raise ConfigError unless 0 <= final_lr <= lr."""
    _check_finite("final_lr", final_lr)
    if not 0 <= final_lr <= params.lr:
        raise ConfigError(
            f"`{_PREFIX}.final_lr` must be in [0, lr={params.lr}]; got {final_lr}. "
            f"Fix: pass a floor below {_PREFIX}.lr, e.g. {_PREFIX}.final_lr 0."
        )


@pai_dataclass(alt="CosineDecay")
@dataclass
class CosineDecayParams(LearningRateParams):
    """Half-cosine decay from lr to the floor final_lr, then final_lr.

    lr(step) = final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * min(step, D) / D)),
    D = decay_epochs * steps_per_epoch, or epochs * steps_per_epoch if decay_epochs is -1.
    """

    final_lr: float = field(
        default=0.0,
        metadata=pai_meta(help="Floor reached at the end of the decay and kept afterwards. Defaults to 0.0."),
    )
    decay_epochs: int = field(
        default=-1,
        metadata=pai_meta(help="Length of the decay in epochs; -1 = until the end of training. Defaults to -1."),
    )

    def validate(self) -> None:
        """Check lr, final_lr and decay_epochs; raise ConfigError."""
        super().validate()
        _check_final_lr(self, self.final_lr)
        if self.decay_epochs != -1 and self.decay_epochs < 1:
            raise ConfigError(
                f"`{_PREFIX}.decay_epochs` must be >= 1 or -1 (until the end of training); got {self.decay_epochs}. "
                f"Fix: pass {_PREFIX}.decay_epochs -1."
            )

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import CosineDecay

        decay_epochs = epochs if self.decay_epochs == -1 else self.decay_epochs
        return CosineDecay(self.lr, decay_epochs * steps_per_epoch, self.final_lr)


@pai_dataclass
@dataclass
class WarmupParams(LearningRateParams):
    """Base of schedules that start with a linear warmup (not selectable itself).

    During warmup lr(step) = warmup_start_lr + (lr - warmup_start_lr) * step / W, W = warmup steps.
    """

    warmup_epochs: float = field(
        default=1.0,
        metadata=pai_meta(
            help="Length of the linear warmup in epochs (may be fractional); ignored if warmup_steps is set. "
            "Defaults to 1.0."
        ),
    )
    warmup_steps: int | None = field(
        default=None,
        metadata=pai_meta(help="Length of the warmup in optimizer steps; wins over warmup_epochs. Defaults to None."),
    )
    warmup_start_lr: float = field(
        default=0.0,
        metadata=pai_meta(help="Learning rate at step 0, ramped linearly up to lr. Defaults to 0.0."),
    )

    def validate(self) -> None:
        """Check lr and the warmup fields; raise ConfigError."""
        super().validate()
        _check_finite("warmup_epochs", self.warmup_epochs)
        if self.warmup_steps is None and self.warmup_epochs < 0:
            raise ConfigError(
                f"`{_PREFIX}.warmup_epochs` must be >= 0; got {self.warmup_epochs}. "
                f"Fix: pass e.g. {_PREFIX}.warmup_epochs 1."
            )
        if self.warmup_steps is not None and self.warmup_steps < 0:
            raise ConfigError(
                f"`{_PREFIX}.warmup_steps` must be >= 0; got {self.warmup_steps}. "
                f"Fix: pass a non-negative step count or leave it unset to use {_PREFIX}.warmup_epochs."
            )
        _check_finite("warmup_start_lr", self.warmup_start_lr)
        if not 0 <= self.warmup_start_lr <= self.lr:
            raise ConfigError(
                f"`{_PREFIX}.warmup_start_lr` must be in [0, lr={self.lr}]; got {self.warmup_start_lr}. "
                f"Fix: pass {_PREFIX}.warmup_start_lr 0."
            )

    def warmup_length(self, steps_per_epoch: int) -> int:
        """The warmup length in optimizer steps (warmup_steps wins over warmup_epochs)."""
        if self.warmup_steps is not None:
            return int(self.warmup_steps)
        return epochs_to_steps(self.warmup_epochs, steps_per_epoch)

    def _warmup_flag(self) -> str:
        """The flag the warmup length came from, for error messages."""
        return f"{_PREFIX}.warmup_steps" if self.warmup_steps is not None else f"{_PREFIX}.warmup_epochs"


@pai_dataclass(alt="WarmupCosineDecay")
@dataclass
class WarmupCosineDecayParams(WarmupParams):
    """Linear warmup over W steps, then half-cosine decay to final_lr until the end of training.

    step >= W: lr(step) = final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * (step - W) / (T - W))),
    T = epochs * steps_per_epoch; final_lr after T. Requires W < T.
    """

    final_lr: float = field(
        default=0.0,
        metadata=pai_meta(help="Floor reached at the end of training. Defaults to 0.0."),
    )

    def validate(self) -> None:
        """Check lr, warmup and final_lr; raise ConfigError."""
        super().validate()
        _check_final_lr(self, self.final_lr)

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import WarmupCosineDecay

        total = epochs * steps_per_epoch
        warmup = self.warmup_length(steps_per_epoch)
        if warmup >= total:
            raise ConfigError(
                f"`{self._warmup_flag()}` must give a warmup shorter than training; got {warmup} warmup steps for "
                f"{total} training steps ({epochs} epochs x {steps_per_epoch} steps). "
                "Fix: shorten the warmup or train for more epochs."
            )
        return WarmupCosineDecay(self.lr, warmup, total - warmup, self.warmup_start_lr, self.final_lr)


@pai_dataclass(alt="WarmupConstantCosineDecay")
@dataclass
class WarmupConstantCosineDecayParams(WarmupParams):
    """Linear warmup over W steps, constant lr for C steps, then half-cosine decay to final_lr.

    step >= W + C: lr(step) = final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * (step - W - C) / (T - W - C))),
    T = epochs * steps_per_epoch; final_lr after T. Requires W + C < T.
    """

    constant_epochs: float = field(
        default=1.0,
        metadata=pai_meta(
            help="Length of the constant phase after warmup in epochs (may be fractional); ignored if "
            "constant_steps is set. Defaults to 1.0."
        ),
    )
    constant_steps: int | None = field(
        default=None,
        metadata=pai_meta(
            help="Length of the constant phase in optimizer steps; wins over constant_epochs. Defaults to None."
        ),
    )
    final_lr: float = field(
        default=0.0,
        metadata=pai_meta(help="Floor reached at the end of training. Defaults to 0.0."),
    )

    def validate(self) -> None:
        """Check lr, warmup, the constant phase and final_lr; raise ConfigError."""
        super().validate()
        _check_finite("constant_epochs", self.constant_epochs)
        if self.constant_steps is None and self.constant_epochs < 0:
            raise ConfigError(
                f"`{_PREFIX}.constant_epochs` must be >= 0; got {self.constant_epochs}. "
                f"Fix: pass e.g. {_PREFIX}.constant_epochs 1."
            )
        if self.constant_steps is not None and self.constant_steps < 0:
            raise ConfigError(
                f"`{_PREFIX}.constant_steps` must be >= 0; got {self.constant_steps}. "
                f"Fix: pass a non-negative step count or leave it unset to use {_PREFIX}.constant_epochs."
            )
        _check_final_lr(self, self.final_lr)

    def constant_length(self, steps_per_epoch: int) -> int:
        """The constant phase in optimizer steps (constant_steps wins over constant_epochs)."""
        if self.constant_steps is not None:
            return int(self.constant_steps)
        return epochs_to_steps(self.constant_epochs, steps_per_epoch)

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import WarmupConstantCosineDecay

        total = epochs * steps_per_epoch
        warmup = self.warmup_length(steps_per_epoch)
        constant = self.constant_length(steps_per_epoch)
        if warmup + constant >= total:
            raise ConfigError(
                f"`{self._warmup_flag()}` plus the constant phase must be shorter than training; got {warmup} warmup "
                f"+ {constant} constant steps for {total} training steps ({epochs} epochs x {steps_per_epoch} steps). "
                "Fix: shorten the warmup or the constant phase, or train for more epochs."
            )
        return WarmupConstantCosineDecay(
            self.lr, warmup, constant, total - warmup - constant, self.warmup_start_lr, self.final_lr
        )


@pai_dataclass(alt="WarmupDecay")
@dataclass
class WarmupDecayParams(WarmupParams):
    """Linear warmup over W >= 1 steps, then inverse-square-root ("Noam") decay.

    step >= W: lr(step) = lr * sqrt(W / step); continuous at step = W. Requires 1 <= W <= T.
    """

    def _create(self, steps_per_epoch: int, epochs: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import WarmupDecay

        total = epochs * steps_per_epoch
        warmup = self.warmup_length(steps_per_epoch)
        if warmup < 1:
            raise ConfigError(
                f"`{self._warmup_flag()}` must give at least 1 warmup step for WarmupDecay; got {warmup} steps "
                f"({steps_per_epoch} steps per epoch). Fix: lengthen the warmup, e.g. {_PREFIX}.warmup_steps 1000."
            )
        if warmup > total:
            raise ConfigError(
                f"`{self._warmup_flag()}` must give a warmup no longer than training; got {warmup} warmup steps for "
                f"{total} training steps ({epochs} epochs x {steps_per_epoch} steps). "
                "Fix: shorten the warmup or train for more epochs."
            )
        return WarmupDecay(self.lr, warmup, self.warmup_start_lr)


SCHEDULES: list[type[LearningRateParams]] = [
    ConstantParams,
    ExponentialDecayParams,
    CosineDecayParams,
    WarmupCosineDecayParams,
    WarmupConstantCosineDecayParams,
    WarmupDecayParams,
]
