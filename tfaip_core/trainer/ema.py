"""Exponential moving average (EMA) of the trainable weights, and swapping it in for evaluation.

After every optimizer update: ``ema = w`` on the first update, then ``ema = rate * ema + (1 - rate) * w``.
The shadow weights, a backup of the raw weights and the update count are variables of this
module, so a checkpoint that tracks it holds the EMA state and resuming continues it.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, List

import tensorflow as tf


class ExponentialMovingAverage(tf.Module):
    """EMA of `variables` with decay `rate`; `averaged()` swaps the averages into the model."""

    def __init__(self, variables: List[tf.Variable], rate: float):
        super().__init__(name="ema")
        self.rate = float(rate)
        self._variables = list(variables)
        only_first = tf.VariableAggregation.ONLY_FIRST_REPLICA  # every replica computes the same value
        self.count = tf.Variable(0, dtype=tf.int64, trainable=False, name="count", aggregation=only_first)
        self.shadow = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="average", aggregation=only_first)
            for v in self._variables
        ]
        self._backup = [
            tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False, name="backup") for v in self._variables
        ]
        self._swapped = False

    def update(self) -> None:
        """Fold the current weights into the averages (call after each optimizer update, in replica context)."""
        rate = tf.where(self.count > 0, tf.constant(self.rate), tf.constant(0.0))
        for average, variable in zip(self.shadow, self._variables):
            value = tf.convert_to_tensor(variable)
            average.assign(tf.cast(rate, value.dtype) * average + tf.cast(1.0 - rate, value.dtype) * value)
        self.count.assign_add(1)

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the raw ones come back after it.

        A no-op before the first update (there is no average yet) or when already swapped in.
        """
        if self._swapped or int(self.count.numpy()) == 0:
            yield
            return
        for backup, variable, average in zip(self._backup, self._variables, self.shadow):
            backup.assign(variable)
            variable.assign(average)
        self._swapped = True
        try:
            yield
        finally:
            for backup, variable in zip(self._backup, self._variables):
                variable.assign(backup)
            self._swapped = False


def ema_rate(calc_ema: float, updates_per_epoch: int) -> float:
    """The decay for `--trainer.calc_ema`: the value itself, or for -1 ``1 - 1 / updates_per_epoch``.

    -1 makes the average span roughly the last epoch (an update's weight decays by 1/e over one epoch).
    """
    if calc_ema == -1:
        return max(0.0, 1.0 - 1.0 / max(1, updates_per_epoch))
    return calc_ema
