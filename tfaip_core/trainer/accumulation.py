"""Gradient accumulation: sum the gradients of N batches per replica, then apply their mean once."""

from __future__ import annotations

from typing import List, Sequence

import tensorflow as tf


class GradientAccumulator(tf.Module):
    """Per-replica gradient sums (sync-on-read variables: each replica adds to its own copy)."""

    def __init__(self, variables: Sequence[tf.Variable], steps: int):
        super().__init__(name="gradient_accumulator")
        self.steps = steps
        self.sums = [
            tf.Variable(
                tf.zeros(v.shape, v.dtype),
                trainable=False,
                name="gradient_sum",
                synchronization=tf.VariableSynchronization.ON_READ,
                aggregation=tf.VariableAggregation.SUM,
            )
            for v in variables
        ]

    def add(self, gradients: Sequence[tf.Tensor]) -> None:
        for total, gradient in zip(self.sums, gradients):
            if gradient is not None:
                total.assign_add(tf.convert_to_tensor(gradient))

    def mean_and_reset(self) -> List[tf.Tensor]:
        """The mean gradient over the accumulated batches; the sums start again from zero."""
        means = [tf.identity(total) / self.steps for total in self.sums]
        with tf.control_dependencies(means):
            for total in self.sums:
                total.assign(tf.zeros_like(total))
        return means
