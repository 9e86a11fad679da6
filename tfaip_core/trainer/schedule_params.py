"""Learning-rate schedule parameters (`--learning_rate NAME --learning_rate.FIELD VALUE`).

Each class is selectable by its alt name (`--learning_rate WarmupCosineDecay`) and builds a keras
`LearningRateSchedule` from `tfaip_core.trainer.schedules` with `create(steps_per_epoch, total_steps)`.
Schedules count optimizer steps (0 for the first update). Fields given in epochs are converted to
steps with the real `steps_per_epoch`, rounding half up: steps = floor(epochs * steps_per_epoch + 0.5).
A `*_steps` field, when set, wins over the matching `*_epochs` field.

**The schedule fits the training.** `total_steps` T is the number of optimizer steps the run really
makes: `--trainer.max_steps` when set (it wins over `--trainer.epochs`), else epochs x steps per epoch
(`total_training_steps`). The update at step s uses lr(s), s = 0 .. T-1; lr(T) is what is logged after
the last step. The rules, per schedule:

- a phase "until the end of training" (CosineDecay with `decay_epochs -1`, the decay of WarmupCosineDecay
  and WarmupConstantCosineDecay) spans exactly up to T, so the schedule reaches `final_lr` at T and
  nothing trains after it;
- a phase of explicit length that would not end within the training is refused (ConfigError naming the
  flags and the step counts): a warmup (plus constant phase) that does not end before T (WarmupDecay:
  at or before T), or a CosineDecay `decay_epochs` longer than T (the decay asked for would never
  finish; `-1` decays until the end);
- CosineDecay with an explicit `decay_epochs` shorter than T: with `final_lr 0` the last steps would
  train at lr 0, which is refused; with `final_lr > 0` the last steps train at that floor, a legitimate
  choice that is logged as a warning saying how many steps that is;
- Constant, ExponentialDecay and the decay of WarmupDecay have no end; they never reach 0 and need no check;
- `lr 0` trains nothing on purpose (e.g. to evaluate a warm-started model) and is never refused.

TensorFlow and keras are imported only inside `create()`, so this module is cheap to import.
"""

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError
from tfaip_core.util.logging import logger

if TYPE_CHECKING:  # pragma: no cover
    from keras.optimizers.schedules import LearningRateSchedule

_PREFIX = "--learning_rate"
_LENGTH_FLAGS = "--trainer.epochs or --trainer.max_steps"
log = logger("trainer")


def total_training_steps(steps_per_epoch: int, epochs: int, max_steps: int) -> int:
    """The optimizer steps a run makes: `max_steps` when set (> 0; it wins over epochs), else epochs x steps_per_epoch.

    Raises:
        ConfigError: steps_per_epoch < 1, max_steps neither -1 (off) nor >= 1, or epochs < 1 without max_steps.
    """
    if steps_per_epoch < 1:
        raise ConfigError(
            f"`steps_per_epoch` must be >= 1; got {steps_per_epoch}. Fix: train on at least one batch per epoch."
        )
    if max_steps > 0:
        return int(max_steps)
    if max_steps != -1:
        raise ConfigError(f"--trainer.max_steps must be -1 (off) or >= 1; got {max_steps}. Fix: pass -1 or N >= 1.")
    if epochs < 1:
        raise ConfigError(f"--trainer.epochs must be >= 1; got {epochs}. Fix: train at least one epoch.")
    return int(epochs) * int(steps_per_epoch)


def epochs_to_steps(epochs: float, steps_per_epoch: int) -> int:
    """Convert a (possibly fractional) number of epochs to optimizer steps.

    Rounds half up: floor(epochs * steps_per_epoch + 0.5).
    """
    return math.floor(epochs * steps_per_epoch + 0.5)


def _check_finite(name: str, value: float) -> None:
    """Raise ConfigError if `value` is NaN or infinite."""
    if not math.isfinite(value):
        raise ConfigError(f"`{_PREFIX}.{name}` must be a finite number; got {value}. Fix: pass a finite value.")


def _check_training_length(steps_per_epoch: int, total_steps: int) -> None:
    """Raise ConfigError unless steps_per_epoch >= 1 and total_steps >= 1."""
    if steps_per_epoch < 1:
        raise ConfigError(
            f"`steps_per_epoch` must be >= 1 to build a learning-rate schedule; got {steps_per_epoch}. "
            "Fix: train on at least one batch per epoch."
        )
    if total_steps < 1:
        raise ConfigError(
            f"`total_steps` must be >= 1 to build a learning-rate schedule; got {total_steps}. "
            f"Fix: train at least one step ({_LENGTH_FLAGS})."
        )


def _training(total_steps: int, steps_per_epoch: int) -> str:
    """How long training is, for error messages."""
    return f"{total_steps} training steps ({steps_per_epoch} steps per epoch; {_LENGTH_FLAGS})"


@pai_dataclass
@dataclass
class LearningRateParams:
    """Base of all learning-rate schedules; `lr` is the nominal (peak) learning rate.

    Subclasses implement `_create(steps_per_epoch, total_steps)` and extend `validate()`.
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

    def create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
        """Validate and build the keras schedule for a training of `total_steps` optimizer steps.

        `total_steps` is the number of updates the run really makes (`total_training_steps`); fields in
        epochs are converted with `steps_per_epoch`.

        Raises:
            ConfigError: invalid fields, or a schedule that does not fit the training (see the module docstring).
        """
        self.validate()
        _check_training_length(steps_per_epoch, total_steps)
        return self._create(int(steps_per_epoch), int(total_steps))

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
        """Build the schedule; arguments are already validated."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _create(); use a subclass.")


@pai_dataclass(alt="Constant")
@dataclass
class ConstantParams(LearningRateParams):
    """lr(step) = lr."""

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
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

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
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
    D = decay_epochs * steps_per_epoch, or the total training steps T if decay_epochs is -1.
    An explicit D must not exceed T; D < T needs final_lr > 0 (logged: the last T - D steps train at it).
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

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import CosineDecay

        if self.decay_epochs == -1:
            return CosineDecay(self.lr, total_steps, self.final_lr)
        decay = self.decay_epochs * steps_per_epoch
        flag = f"{_PREFIX}.decay_epochs {self.decay_epochs}"
        if decay > total_steps:
            raise ConfigError(
                f"`{flag}` must give a decay no longer than training; got {decay} decay steps for "
                f"{_training(total_steps, steps_per_epoch)}: the decay to final_lr would never finish. "
                f"Fix: pass {_PREFIX}.decay_epochs -1 (until the end of training), or train longer."
            )
        if decay < total_steps and self.final_lr == 0 and self.lr > 0:
            raise ConfigError(
                f"`{flag}` with {_PREFIX}.final_lr 0 would train the last {total_steps - decay} of "
                f"{_training(total_steps, steps_per_epoch)} at lr 0 (the decay ends after {decay} steps). "
                f"Fix: pass {_PREFIX}.decay_epochs -1 (until the end of training), a floor {_PREFIX}.final_lr > 0, "
                "or train shorter."
            )
        if decay < total_steps:
            log.warning(
                "%s ends the cosine decay after %d of %d training steps; the last %d steps train at "
                "%s.final_lr %g (pass %s.decay_epochs -1 to decay until the end)",
                flag,
                decay,
                total_steps,
                total_steps - decay,
                _PREFIX,
                self.final_lr,
                _PREFIX,
            )
        return CosineDecay(self.lr, decay, self.final_lr)


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
    T = the total training steps; final_lr from T on. Requires W < T.
    """

    final_lr: float = field(
        default=0.0,
        metadata=pai_meta(help="Floor reached at the end of training. Defaults to 0.0."),
    )

    def validate(self) -> None:
        """Check lr, warmup and final_lr; raise ConfigError."""
        super().validate()
        _check_final_lr(self, self.final_lr)

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import WarmupCosineDecay

        warmup = self.warmup_length(steps_per_epoch)
        if warmup >= total_steps:
            raise ConfigError(
                f"`{self._warmup_flag()}` must give a warmup shorter than training; got {warmup} warmup steps for "
                f"{_training(total_steps, steps_per_epoch)}. Fix: shorten the warmup or train longer."
            )
        return WarmupCosineDecay(self.lr, warmup, total_steps - warmup, self.warmup_start_lr, self.final_lr)


@pai_dataclass(alt="WarmupConstantCosineDecay")
@dataclass
class WarmupConstantCosineDecayParams(WarmupParams):
    """Linear warmup over W steps, constant lr for C steps, then half-cosine decay to final_lr.

    step >= W + C: lr(step) = final_lr + (lr - final_lr) * 0.5 * (1 + cos(pi * (step - W - C) / (T - W - C))),
    T = the total training steps; final_lr from T on. Requires W + C < T.
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

    def _constant_flag(self) -> str:
        """The flag the constant phase came from, for error messages."""
        return f"{_PREFIX}.constant_steps" if self.constant_steps is not None else f"{_PREFIX}.constant_epochs"

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import WarmupConstantCosineDecay

        warmup = self.warmup_length(steps_per_epoch)
        constant = self.constant_length(steps_per_epoch)
        if warmup + constant >= total_steps:
            raise ConfigError(
                f"`{self._warmup_flag()}` plus `{self._constant_flag()}` must be shorter than training; got {warmup} "
                f"warmup + {constant} constant steps for {_training(total_steps, steps_per_epoch)}. "
                "Fix: shorten the warmup or the constant phase, or train longer."
            )
        return WarmupConstantCosineDecay(
            self.lr, warmup, constant, total_steps - warmup - constant, self.warmup_start_lr, self.final_lr
        )


@pai_dataclass(alt="WarmupDecay")
@dataclass
class WarmupDecayParams(WarmupParams):
    """Linear warmup over W >= 1 steps, then inverse-square-root ("Noam") decay.

    step >= W: lr(step) = lr * sqrt(W / step); continuous at step = W. Requires 1 <= W <= T (total training steps).
    """

    def _create(self, steps_per_epoch: int, total_steps: int) -> "LearningRateSchedule":
        from tfaip_core.trainer.schedules import WarmupDecay

        warmup = self.warmup_length(steps_per_epoch)
        if warmup < 1:
            raise ConfigError(
                f"`{self._warmup_flag()}` must give at least 1 warmup step for WarmupDecay; got {warmup} steps "
                f"({steps_per_epoch} steps per epoch). Fix: lengthen the warmup, e.g. {_PREFIX}.warmup_steps 1000."
            )
        if warmup > total_steps:
            raise ConfigError(
                f"`{self._warmup_flag()}` must give a warmup no longer than training; got {warmup} warmup steps for "
                f"{_training(total_steps, steps_per_epoch)}. Fix: shorten the warmup or train longer."
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
