"""Optimizer parameters (`--optimizer NAME --optimizer.FIELD VALUE`).

Each class is selectable by its alt name (`--optimizer Adamax`) and builds a keras optimizer with
`create(learning_rate)`, where `learning_rate` is a float or a keras `LearningRateSchedule`.

Gradient clipping: at most one of clip_value / clip_norm / clip_global_norm (keras' clipvalue /
clipnorm / global_clipnorm), applied before the optimizer update.

Decoupled weight decay (AdamW-style) follows the learning-rate schedule. Per optimizer step, before
the optimizer's own update and using the current variable value:

    w <- w - weight_decay * (lr(step) / base_lr) * w

base_lr is the float learning rate, or for a schedule its `base_lr` attribute (all tfaip schedules:
`--learning_rate.lr`, i.e. lr(0) for schedules without warmup and the peak for warmup schedules), or
lr(0) for other keras schedules. It is implemented with keras' own mechanism: keras applies
`w -= keras_weight_decay * lr(step) * w` before the update, and we pass keras_weight_decay =
weight_decay / base_lr. Every trainable variable is decayed (biases and norms included).

Keras is used only by `create()` through `tfaip_core.trainer.optimizers`, so this module is cheap to import.
"""

import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Union

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from keras.optimizers import Optimizer
    from keras.optimizers.schedules import LearningRateSchedule

_PREFIX = "--optimizer"


def _check_finite(name: str, value: float) -> None:
    """Raise ConfigError if `value` is NaN or infinite."""
    if not math.isfinite(value):
        raise ConfigError(f"`{_PREFIX}.{name}` must be a finite number; got {value}. Fix: pass a finite value.")


def _check_unit_interval(name: str, value: float, hint: str) -> None:
    """Raise ConfigError unless 0 <= value < 1."""
    _check_finite(name, value)
    if not 0 <= value < 1:
        raise ConfigError(f"`{_PREFIX}.{name}` must be in [0, 1); got {value}. Fix: pass e.g. {_PREFIX}.{name} {hint}.")


def _check_positive(name: str, value: float, hint: str) -> None:
    """Raise ConfigError unless value > 0."""
    _check_finite(name, value)
    if value <= 0:
        raise ConfigError(f"`{_PREFIX}.{name}` must be > 0; got {value}. Fix: pass e.g. {_PREFIX}.{name} {hint}.")


def _check_betas_and_epsilon(params: Any, epsilon_hint: str) -> None:
    """The checks every Adam-like optimizer shares: beta_1 and beta_2 in [0, 1), epsilon > 0."""
    _check_unit_interval("beta_1", params.beta_1, "0.9")
    _check_unit_interval("beta_2", params.beta_2, "0.999")
    _check_positive("epsilon", params.epsilon, epsilon_hint)


@pai_dataclass
@dataclass
class OptimizerParams:
    """Base of all optimizers: gradient clipping and decoupled weight decay.

    Subclasses implement `_create(keras, learning_rate, common_kwargs)` and extend `validate()`.
    """

    clip_value: float | None = field(
        default=None,
        metadata=pai_meta(
            help="Clip each gradient element to [-v, v] (keras clipvalue); exclusive with the other clip fields. "
            "Defaults to None (off)."
        ),
    )
    clip_norm: float | None = field(
        default=None,
        metadata=pai_meta(
            help="Rescale each variable's gradient to L2 norm <= v (keras clipnorm); exclusive with the other clip "
            "fields. Defaults to None (off)."
        ),
    )
    clip_global_norm: float | None = field(
        default=None,
        metadata=pai_meta(
            help="Rescale all gradients together to a global L2 norm <= v (keras global_clipnorm); exclusive with "
            "the other clip fields. Defaults to None (off)."
        ),
    )
    weight_decay: float = field(
        default=0.0,
        metadata=pai_meta(
            help="Decoupled weight decay per step, scaled by lr(step) / --learning_rate.lr: "
            "w -= weight_decay * lr(step) / lr * w, applied to all trainable variables before the update. "
            "Defaults to 0.0 (off)."
        ),
    )

    def validate(self) -> None:
        """Check clipping and weight decay; raise ConfigError."""
        clips = {"clip_value": self.clip_value, "clip_norm": self.clip_norm, "clip_global_norm": self.clip_global_norm}
        for name, value in clips.items():
            if value is not None:
                _check_positive(name, value, "5")
        given = [name for name, value in clips.items() if value is not None]
        if len(given) > 1:
            got = ", ".join(f"{name}={clips[name]}" for name in given)
            raise ConfigError(
                f"`{_PREFIX}.clip_value`, `{_PREFIX}.clip_norm` and `{_PREFIX}.clip_global_norm` must not be combined "
                f"(keras supports one clipping mode); got {got}. Fix: keep only one of them."
            )
        _check_finite("weight_decay", self.weight_decay)
        if not 0 <= self.weight_decay < 1:
            raise ConfigError(
                f"`{_PREFIX}.weight_decay` must be in [0, 1); got {self.weight_decay}. "
                f"Fix: pass a small value such as {_PREFIX}.weight_decay 0.00002, or 0 to disable it."
            )

    def create(self, learning_rate: Union[float, "LearningRateSchedule"]) -> "Optimizer":
        """Validate and build the keras optimizer for a float learning rate or a keras LearningRateSchedule.

        Raises ConfigError for invalid fields, TypeError for a learning rate of the wrong type.
        """
        from tfaip_core.trainer.optimizers import build_optimizer  # Keras stays out of the params tree

        return build_optimizer(self, learning_rate)

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        """Build the optimizer; `common` holds keras' clipnorm/clipvalue/global_clipnorm/weight_decay kwargs."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _create(); use a subclass.")


_BETA_1_HELP = "Exponential decay rate of the first-moment (gradient) average. Defaults to 0.9."
_BETA_2_HELP = "Exponential decay rate of the second-moment average. Defaults to 0.999."


@pai_dataclass
@dataclass
class AdamBaseParams(OptimizerParams):
    """Fields shared by Adam and AdamW (not selectable itself).

    Adam and AdamW deliberately do not inherit from each other: paiargparse copies the field values of the
    default object into the selected class when that class is a subclass of the default's class, so an
    `AdamW(Adam)` chosen over a default `Adam()` would silently get Adam's weight_decay=0.
    """

    beta_1: float = field(default=0.9, metadata=pai_meta(help=_BETA_1_HELP))
    beta_2: float = field(default=0.999, metadata=pai_meta(help=_BETA_2_HELP))
    epsilon: float = field(
        default=1e-7,
        metadata=pai_meta(help="Added to sqrt(v) in the denominator for numerical stability. Defaults to 1e-07."),
    )
    amsgrad: bool = field(
        default=False,
        metadata=pai_meta(help="Use the AMSGrad variant (running maximum of v). Defaults to False."),
    )

    def validate(self) -> None:
        """Check betas and epsilon on top of the base fields; raise ConfigError."""
        super().validate()
        _check_betas_and_epsilon(self, epsilon_hint="1e-7")


@pai_dataclass(alt="Adam")
@dataclass
class AdamParams(AdamBaseParams):
    """Adam (Kingma & Ba, 2014) with keras' defaults; epsilon is Adam's "epsilon hat" outside the sqrt."""

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        return keras.optimizers.Adam(
            learning_rate=learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            amsgrad=self.amsgrad,
            **common,
        )


@pai_dataclass(alt="AdamW")
@dataclass
class AdamWParams(AdamBaseParams):
    """Adam with decoupled weight decay on by default (keras.optimizers.AdamW).

    The weight decay uses this framework's convention (not multiplied by the learning rate's magnitude),
    so the default 4e-06 equals keras' AdamW default (0.004 x lr) at keras' default lr 0.001.
    """

    weight_decay: float = field(
        default=4e-6,
        metadata=pai_meta(
            help="Decoupled weight decay per step, scaled by lr(step) / --learning_rate.lr: "
            "w -= weight_decay * lr(step) / lr * w, applied to all trainable variables before the update. "
            "The default equals keras' AdamW default (0.004 x lr) at lr 0.001. Defaults to 4e-06."
        ),
    )

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        kwargs = dict(common)
        if kwargs["weight_decay"] is None:  # keras' AdamW rejects None
            kwargs["weight_decay"] = 0.0
        return keras.optimizers.AdamW(
            learning_rate=learning_rate,
            beta_1=self.beta_1,
            beta_2=self.beta_2,
            epsilon=self.epsilon,
            amsgrad=self.amsgrad,
            **kwargs,
        )


@pai_dataclass(alt="Adamax")
@dataclass
class AdamaxParams(OptimizerParams):
    """Adamax (Kingma & Ba, 2014, section 7): Adam with the infinity norm, keras' defaults."""

    beta_1: float = field(default=0.9, metadata=pai_meta(help=_BETA_1_HELP))
    beta_2: float = field(
        default=0.999,
        metadata=pai_meta(help="Exponential decay rate of the weighted infinity norm. Defaults to 0.999."),
    )
    epsilon: float = field(
        default=1e-7,
        metadata=pai_meta(help="Added to the infinity norm in the denominator. Defaults to 1e-07."),
    )

    def validate(self) -> None:
        """Check betas and epsilon on top of the base fields; raise ConfigError."""
        super().validate()
        _check_betas_and_epsilon(self, epsilon_hint="1e-7")

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        return keras.optimizers.Adamax(
            learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, **common
        )


@pai_dataclass(alt="AdaBelief")
@dataclass
class AdaBeliefParams(OptimizerParams):
    """AdaBelief (Zhuang et al., 2020), see `tfaip_core.trainer.adabelief.AdaBelief`."""

    beta_1: float = field(default=0.9, metadata=pai_meta(help=_BETA_1_HELP))
    beta_2: float = field(
        default=0.999,
        metadata=pai_meta(help="Exponential decay rate of the belief (gradient variance) average. Defaults to 0.999."),
    )
    epsilon: float = field(
        default=1e-14,
        metadata=pai_meta(
            help="Added to the belief s inside the sqrt and to sqrt(s) (AdaBelief's convention; 1e-14 here "
            "corresponds to Adam's 1e-7). Defaults to 1e-14."
        ),
    )

    def validate(self) -> None:
        """Check betas and epsilon on top of the base fields; raise ConfigError."""
        super().validate()
        _check_betas_and_epsilon(self, epsilon_hint="1e-14")

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        from tfaip_core.trainer.adabelief import AdaBelief

        return AdaBelief(
            learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, **common
        )


@pai_dataclass(alt="RMSprop")
@dataclass
class RMSpropParams(OptimizerParams):
    """RMSprop (Hinton, 2012) with keras' defaults."""

    rho: float = field(
        default=0.9,
        metadata=pai_meta(help="Discounting factor of the squared-gradient average. Defaults to 0.9."),
    )
    momentum: float = field(
        default=0.0,
        metadata=pai_meta(help="Momentum of the update, in [0, 1); 0 = none. Defaults to 0.0."),
    )
    epsilon: float = field(
        default=1e-7,
        metadata=pai_meta(help="Added to the squared-gradient average inside the sqrt. Defaults to 1e-07."),
    )
    centered: bool = field(
        default=False,
        metadata=pai_meta(
            help="Normalise by the estimated gradient variance instead of the second moment. Defaults to False."
        ),
    )

    def validate(self) -> None:
        """Check rho, momentum and epsilon on top of the base fields; raise ConfigError."""
        super().validate()
        _check_unit_interval("rho", self.rho, "0.9")
        _check_unit_interval("momentum", self.momentum, "0.9")
        _check_positive("epsilon", self.epsilon, "1e-7")

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        return keras.optimizers.RMSprop(
            learning_rate=learning_rate,
            rho=self.rho,
            momentum=float(self.momentum),
            epsilon=self.epsilon,
            centered=self.centered,
            **common,
        )


@pai_dataclass(alt="SGD")
@dataclass
class SGDParams(OptimizerParams):
    """Stochastic gradient descent with optional (Nesterov) momentum, keras' defaults."""

    momentum: float = field(
        default=0.0,
        metadata=pai_meta(help="Momentum, in [0, 1); 0 = plain SGD. Defaults to 0.0."),
    )
    nesterov: bool = field(
        default=False,
        metadata=pai_meta(help="Use Nesterov momentum (requires momentum > 0). Defaults to False."),
    )

    def validate(self) -> None:
        """Check momentum and nesterov on top of the base fields; raise ConfigError."""
        super().validate()
        _check_unit_interval("momentum", self.momentum, "0.9")
        if self.nesterov and self.momentum == 0:
            raise ConfigError(
                f"`{_PREFIX}.nesterov` must be False when momentum is 0 (keras would ignore it); got nesterov=True, "
                f"momentum=0. Fix: also pass {_PREFIX}.momentum 0.9, or drop {_PREFIX}.nesterov."
            )

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=float(self.momentum), nesterov=self.nesterov, **common
        )


@pai_dataclass(alt="Lion")
@dataclass
class LionParams(OptimizerParams):
    """Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), keras' defaults.

    The update is lr * sign(...), so Lion usually wants a 3-10x smaller learning rate than Adam.
    """

    beta_1: float = field(
        default=0.9,
        metadata=pai_meta(
            help="Interpolation between momentum and gradient for the update sign, in (0, 1]. Defaults to 0.9."
        ),
    )
    beta_2: float = field(
        default=0.99,
        metadata=pai_meta(help="Exponential decay rate of the momentum, in [0, 1). Defaults to 0.99."),
    )

    def validate(self) -> None:
        """Check betas on top of the base fields; raise ConfigError."""
        super().validate()
        _check_finite("beta_1", self.beta_1)
        if not 0 < self.beta_1 <= 1:
            raise ConfigError(
                f"`{_PREFIX}.beta_1` must be in (0, 1]; got {self.beta_1}. Fix: pass e.g. {_PREFIX}.beta_1 0.9."
            )
        _check_unit_interval("beta_2", self.beta_2, "0.99")

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        return keras.optimizers.Lion(learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, **common)


@pai_dataclass(alt="LAMB")
@dataclass
class LAMBParams(OptimizerParams):
    """LAMB (You et al., 2019): Adam update rescaled per variable by ||w|| / ||update|| (keras.optimizers.Lamb).

    Unlike the paper, weight decay is decoupled (applied before the update, outside the trust ratio).
    """

    beta_1: float = field(default=0.9, metadata=pai_meta(help=_BETA_1_HELP))
    beta_2: float = field(default=0.999, metadata=pai_meta(help=_BETA_2_HELP))
    epsilon: float = field(
        default=1e-7,
        metadata=pai_meta(help="Added to sqrt(v_hat) in the denominator. Defaults to 1e-07."),
    )

    def validate(self) -> None:
        """Check betas and epsilon on top of the base fields; raise ConfigError."""
        super().validate()
        _check_betas_and_epsilon(self, epsilon_hint="1e-7")

    def _create(
        self, keras: ModuleType, learning_rate: Union[float, "LearningRateSchedule"], common: dict[str, Any]
    ) -> "Optimizer":
        return keras.optimizers.Lamb(
            learning_rate=learning_rate, beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon, **common
        )


OPTIMIZERS: list[type[OptimizerParams]] = [
    AdamParams,
    AdamaxParams,
    AdaBeliefParams,
    RMSpropParams,
    SGDParams,
    AdamWParams,
    LionParams,
    LAMBParams,
]
