"""Build the Keras optimizer of an `OptimizerParams` (the Keras side of `trainer/optimizer_params.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional, Union

import keras

from tfaip_core.errors import ConfigError

if TYPE_CHECKING:  # optimizer_params imports this module when it builds an optimizer
    from tfaip_core.trainer.optimizer_params import OptimizerParams

_PREFIX = "--optimizer"

LearningRate = Union[float, keras.optimizers.schedules.LearningRateSchedule]


def build_optimizer(params: OptimizerParams, learning_rate: LearningRate) -> keras.optimizers.Optimizer:
    """Validate `params` and build its optimizer for a float learning rate or a Keras schedule.

    Raises:
        ConfigError: invalid fields, or weight decay without a positive base learning rate.
        TypeError: a learning rate of the wrong type.
    """
    params.validate()
    if isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool):
        learning_rate = float(learning_rate)
    elif not isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        raise TypeError(
            f"learning_rate must be a float or a keras LearningRateSchedule; got {type(learning_rate).__name__}."
        )
    common: dict[str, Any] = {
        "clipvalue": params.clip_value,
        "clipnorm": params.clip_norm,
        "global_clipnorm": params.clip_global_norm,
        "weight_decay": keras_weight_decay(params.weight_decay, learning_rate),
    }
    return params._create(keras, learning_rate, common)


def keras_weight_decay(weight_decay: float, learning_rate: LearningRate) -> Optional[float]:
    """Keras' weight_decay (multiplied by lr(step) in Keras) that realises our convention; None if off."""
    if weight_decay == 0:
        return None
    base_lr = base_learning_rate(learning_rate)
    if not base_lr > 0:
        raise ConfigError(
            f"`{_PREFIX}.weight_decay` needs a positive base learning rate to follow the schedule; got "
            f"weight_decay={weight_decay} with base learning rate {base_lr}. "
            f"Fix: pass a positive --learning_rate.lr or {_PREFIX}.weight_decay 0."
        )
    return weight_decay / base_lr


def base_learning_rate(learning_rate: LearningRate) -> float:
    """The learning rate decoupled weight decay is normalised by (see optimizer_params' docstring)."""
    if isinstance(learning_rate, float):
        return learning_rate
    base = getattr(learning_rate, "base_lr", None)
    if base is not None:
        return float(base)
    return float(keras.ops.convert_to_numpy(learning_rate(0)))
