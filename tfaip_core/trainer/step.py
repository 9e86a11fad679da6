"""One training update, the loss and the metrics of one replica's batch: strategy-agnostic.

`TrainStep` knows nothing of `tf.distribute`: the trainer runs its methods through
`strategy.run` inside compiled functions, and a trainable export can wrap the same object.
`num_replicas` only scales the loss: each replica returns its share of the global-batch mean, so
summing over replicas (what the optimizer's gradient aggregation does) gives the mean.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import keras
import tensorflow as tf

from tfaip_core.errors import ConfigError
from tfaip_core.model.model_base import KerasModel, MetricDefinition, ModelBase

Tensors = Dict[str, tf.Tensor]


class TrainStep:
    """The loss, metric updates and one optimizer update of a scenario's model.

    Args:
        keras_model: The built model.
        model: The scenario's `ModelBase` (loss terms, their weights, metrics).
        optimizer: A built Keras optimizer for `variables`.
        variables: The trainable variables (frozen ones excluded).
        loss_names: The loss terms to track (`"loss"`, the total, first); see `loss_term_names`.
        num_replicas: Replicas that each see a part of the global batch. Defaults to 1.
        ema: Optional `ExponentialMovingAverage` updated after each optimizer update.
    """

    def __init__(
        self,
        keras_model: KerasModel,
        model: ModelBase,
        optimizer: keras.optimizers.Optimizer,
        variables: Sequence[tf.Variable],
        loss_names: Sequence[str],
        num_replicas: int = 1,
        ema: Optional[Any] = None,
    ):
        self.keras_model = keras_model
        self.model = model
        self.optimizer = optimizer
        self.variables = list(variables)
        self.num_replicas = num_replicas
        self.ema = ema
        self.loss_weights = model.loss_weights()
        self.loss_metrics: Dict[str, keras.metrics.Metric] = {n: keras.metrics.Mean(name=n) for n in loss_names}
        self.model_metrics: Dict[str, MetricDefinition] = model.metrics()

    # ---------------------------------------------------------------- one replica's work
    def train(self, inputs: Tensors, targets: Tensors) -> tf.Tensor:
        """One optimizer update on this replica's batch; returns its share of the loss."""
        loss, gradients = self._forward_backward(inputs, targets)
        self._apply(gradients)
        return loss

    def train_accumulated(self, batches: Sequence[Tuple[Tensors, Tensors]]) -> tf.Tensor:
        """One optimizer update with the mean gradient of several equal-sized batches (gradient accumulation).

        The gradients are summed as tensors within one call (no accumulator variables, so nothing can race
        between the sums and the update), which equals one batch of `len(batches)` times the size. Returns
        the sum of the batches' loss shares.
        """
        total = tf.constant(0.0)
        sums: List[Optional[tf.Tensor]] = [None] * len(self.variables)
        for inputs, targets in batches:
            loss, gradients = self._forward_backward(inputs, targets)
            total += loss
            sums = [s if g is None else (g if s is None else s + g) for s, g in zip(sums, gradients)]
        self._apply([None if s is None else s / len(batches) for s in sums])
        return total

    def evaluate(self, inputs: Tensors, targets: Tensors) -> Tensors:
        """The outputs of the training graph in inference mode; updates the loss and model metrics."""
        outputs = self.keras_model(inputs, training=False)
        loss, terms = self.loss(inputs, targets, outputs)
        self.update_metrics(terms, loss, targets, outputs)
        return outputs

    def loss(self, inputs: Tensors, targets: Tensors, outputs: Tensors) -> Tuple[tf.Tensor, Tensors]:
        """This replica's share of the global-batch mean loss (summing over replicas gives the mean), and the terms."""
        terms = self.model.loss(inputs, targets, outputs)
        total = tf.constant(0.0)
        for name, value in terms.items():
            check_loss_term(self.model, name, value, targets, outputs)
            value = tf.cast(value, tf.float32)
            if value.shape.rank == 0:
                scaled = value / self.num_replicas
            else:
                # the sum over this replica's samples over the global batch (what tf.nn.compute_average_loss
                # computes, without its runtime asserts on the batch size: an Assert op in every step)
                global_batch = tf.cast(self._global_batch(value), tf.float32)
                scaled = tf.math.divide_no_nan(tf.reduce_sum(tf.reshape(value, [-1])), global_batch)
            total += self.loss_weights.get(name, 1.0) * scaled
        for regulariser in self.keras_model.losses:
            total += tf.cast(regulariser, tf.float32) / self.num_replicas
        return total, terms

    def update_metrics(self, terms: Tensors, loss: tf.Tensor, targets: Tensors, outputs: Tensors) -> None:
        batch = tf.cast(tf.shape(tf.nest.flatten(targets)[0])[0], tf.float32)
        self.loss_metrics["loss"].update_state(loss * self.num_replicas, sample_weight=batch)
        for name, value in terms.items():
            if name != "loss" and name in self.loss_metrics:
                self.loss_metrics[name].update_state(tf.reshape(tf.cast(value, tf.float32), [-1]))
        for definition in self.model_metrics.values():
            definition.metric.update_state(*per_sample(targets[definition.target], outputs[definition.output]))

    # ---------------------------------------------------------------- metrics on the host
    def reset_metrics(self) -> None:
        for metric in self.loss_metrics.values():
            metric.reset_state()
        for definition in self.model_metrics.values():
            definition.metric.reset_state()

    def metric_logs(self) -> Dict[str, float]:
        """The running loss terms and model metrics as floats."""
        logs = {name: float(m.result()) for name, m in self.loss_metrics.items()}
        logs.update({name: float(d.metric.result()) for name, d in self.model_metrics.items()})
        return logs

    # ---------------------------------------------------------------- internals
    def _forward_backward(self, inputs: Tensors, targets: Tensors) -> Tuple[tf.Tensor, List[tf.Tensor]]:
        with tf.GradientTape() as tape:
            outputs = self.keras_model(inputs, training=True)
            loss, terms = self.loss(inputs, targets, outputs)
            scaled = self.optimizer.scale_loss(loss)  # mixed_float16: loss scaling (else the loss itself)
        self.update_metrics(terms, loss, targets, outputs)
        return loss, tape.gradient(scaled, self.variables)

    def _apply(self, gradients: List[tf.Tensor]) -> None:
        self.optimizer.apply_gradients(zip(gradients, self.variables))
        if self.ema is not None:
            self.ema.update()

    def _global_batch(self, per_sample: tf.Tensor) -> tf.Tensor:
        return tf.shape(per_sample)[0] * self.num_replicas


def loss_term_names(model: ModelBase, keras_model: KerasModel, inputs: Tensors, targets: Tensors) -> List[str]:
    """`["loss"]` and the model's loss terms, named by one look at a batch."""
    outputs = keras_model(inputs, training=False)
    terms = model.loss(inputs, targets, outputs)
    for name, value in terms.items():  # here with the batch's concrete shapes in the message
        check_loss_term(model, name, value, targets, outputs)
    return ["loss"] + [name for name in terms if name != "loss"]


def check_loss_term(model: ModelBase, name: str, value: tf.Tensor, targets: Tensors, outputs: Tensors) -> None:
    """A loss term must be [] (a batch mean), [B] or [B, 1] (one value per sample); anything else is an error.

    Why: a term of shape [B, B] (a [B] target broadcast against a [B, 1] output) or [B, T] would be summed and
    divided by B, a loss that trains, but on the wrong quantity, without a word.

    Raises:
        ConfigError: naming the term, its shape and the shapes of the targets and outputs.
    """
    shape = value.shape
    if shape.rank == 0 or shape.rank == 1 or (shape.rank == 2 and shape[1] == 1):
        return
    hint = ""
    if shape.rank == 2 and shape[0] is not None and shape[0] == shape[1]:
        hint = " A [B, B] term comes from broadcasting a [B] tensor against a [B, 1] one."
    raise ConfigError(
        f"Loss term {name!r} of {type(model).__name__}.loss() has shape {_shape(shape)}; a loss term must have shape "
        f"[] (a batch mean), [B] or [B, 1] (one value per sample).{hint} Targets: {_shapes(targets)}; outputs: "
        f"{_shapes(outputs)}. Fix: give the target and the output the same shape (e.g. outputs[...][:, 0]), and "
        "reduce any other axis inside loss()."
    )


def per_sample(target: tf.Tensor, output: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """A per-sample scalar ([B]) as [B, 1], so that a Keras metric counts each sample once.

    Why: Keras' mean metrics (MeanAbsoluteError ...) reduce the last axis first; a [B] pair would give one value
    per batch and be averaged per batch (an uneven last batch then weighs as much as a full one), and a [B]
    target against a [B, 1] output would broadcast to [B, B].
    """
    if target.shape.rank == 1 and (output.shape.rank == 1 or (output.shape.rank == 2 and output.shape[1] == 1)):
        target = target[:, tf.newaxis]
    if output.shape.rank == 1 and target.shape.rank == 2 and target.shape[1] == 1:
        output = output[:, tf.newaxis]
    return target, output


def _shape(shape: tf.TensorShape) -> str:
    if shape.rank is None:
        return "unknown"
    return "[" + ", ".join("B" if d is None else str(d) for d in shape.as_list()) + "]"


def _shapes(tensors: Tensors) -> str:
    return ", ".join(f"{k} {_shape(v.shape)}" for k, v in tensors.items()) or "none"
