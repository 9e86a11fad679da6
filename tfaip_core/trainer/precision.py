"""Mixed precision (`--trainer.precision`): the Keras dtype policy of the run and loss scaling for float16.

Why a context manager: Keras' dtype policy is global to the process; a run sets it while it builds and
trains its model and restores the previous one afterwards, so that the next run (or a test in the same
process) starts from float32 again. The variables stay float32 under both mixed policies, so EMA,
gradient clipping and checkpoints work on float32 values; only float16 needs loss scaling (its small
gradients underflow), which `keras.optimizers.LossScaleOptimizer` adds around the configured optimizer.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

from tfaip_core.util.logging import logger

log = logger("trainer")


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Inside the block, layers built use the dtype policy `precision` (`float32`, `mixed_float16` ...)."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(precision)
    if precision != "float32":
        log.info("Precision %s: layers compute in %s, variables are float32", precision, precision.split("_")[1])
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def with_loss_scaling(optimizer: keras.optimizers.Optimizer, precision: str) -> keras.optimizers.Optimizer:
    """`optimizer` wrapped in a dynamic `LossScaleOptimizer` for `mixed_float16`; unchanged otherwise.

    The train step scales the loss with `optimizer.scale_loss` (a no-op for other optimizers); the wrapper
    unscales the gradients, skips an update whose gradients overflowed and adapts the scale.
    """
    if precision != "mixed_float16":
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
