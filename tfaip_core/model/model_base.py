"""`ModelBase`: the graph plus what training needs around it — losses, metrics, the monitored value."""

from __future__ import annotations

import abc
import dataclasses
from typing import Callable, Dict, Generic, List, Tuple, TypeVar

import keras
import tensorflow as tf

from tfaip_core.data.sample import Sample
from tfaip_core.model.graph_base import GraphBase
from tfaip_core.model.params import ModelBaseParams

TMP = TypeVar("TMP", bound=ModelBaseParams)


@dataclasses.dataclass
class MetricDefinition:
    """A Keras metric fed with `targets[target]` and `outputs[output]` of every batch."""

    target: str
    output: str
    metric: keras.metrics.Metric


class ModelBase(abc.ABC, Generic[TMP]):
    """The model part of a scenario.

    Implement `create_graph` and `loss`; optionally `loss_weights`, `metrics`, `monitor`,
    `print_evaluate` and `export_outputs`.
    """

    def __init__(self, params: TMP):
        self.params = params

    @abc.abstractmethod
    def create_graph(self) -> GraphBase:
        """Build the network (called inside the distribution strategy's scope)."""

    @abc.abstractmethod
    def loss(
        self, inputs: Dict[str, tf.Tensor], targets: Dict[str, tf.Tensor], outputs: Dict[str, tf.Tensor]
    ) -> Dict[str, tf.Tensor]:
        """Loss terms by name, each of shape [B] or [B, 1] (one value per sample) or [] (a batch mean).

        The trainer averages each term over the global batch, weights it by `loss_weights`,
        sums the terms into `loss` and logs every term. A term of any other shape (e.g. [B, B] from a [B]
        target against a [B, 1] output) is a `ConfigError` naming it and the shapes.
        """

    def loss_weights(self) -> Dict[str, float]:
        """Weight of each loss term in the total. Defaults to 1.0 for every term."""
        return {}

    def metrics(self) -> Dict[str, MetricDefinition]:
        """Keras metrics by name, averaged over an epoch (called inside the strategy scope)."""
        return {}

    def monitor(self) -> Tuple[str, str]:
        """(name, mode) of the value that decides the best model, e.g. ("val_accuracy", "max").

        Defaults to ("val_loss", "min").
        """
        return "val_loss", "min"

    def print_evaluate(self, sample: Sample, print_fn: Callable[[str], None]) -> None:
        """Print one validation sample with its prediction (`sample.outputs`), for a quick look."""

    def export_outputs(self, inputs: Dict[str, tf.Tensor], outputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        """The outputs of the exported serving signature. Defaults to all graph outputs."""
        return outputs

    def export_graphs(self) -> Dict[str, Callable[[Dict[str, tf.Tensor], Dict[str, tf.Tensor]], Dict[str, tf.Tensor]]]:
        """Further named export graphs: signature name -> function (inputs, graph outputs) -> outputs by name.

        Each becomes a signature of the exported SavedModel beside `serving_default` (which returns
        `export_outputs`), taking the same inputs, e.g. `{"logits": lambda inputs, outputs: {"logits":
        outputs["logits"]}}` for a head a server calibrates itself. Defaults to none.
        """
        return {}

    def tensorboard_samples(self) -> int:
        """Post-processed samples of a validation or LAV pass kept for `write_tensorboard` (-1: all).

        Defaults to 0: nothing is kept and `write_tensorboard` is not called (keeping samples costs memory).
        """
        return 0

    def write_tensorboard(self, samples: List[Sample], step: int) -> None:
        """Write extra TensorBoard data about one validation or LAV pass: images, histograms, text, PR curves.

        Called after the pass inside its writer's context (`validation/`, `lav_l0/` ...) with the first
        `tensorboard_samples()` post-processed samples (numpy inputs, targets, outputs and meta); write with
        `tf.summary.image/histogram/text/...` at `step` (the global step).
        """


class KerasModel(keras.Model):
    """The Keras model the trainer trains: the graph wrapped so that checkpoints and exports see one model."""

    def __init__(self, graph: GraphBase, **kwargs):
        super().__init__(name="model", **kwargs)
        self.graph = graph

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        return self.graph(inputs, training=training)


def build_keras_model(graph: GraphBase, input_specs: Dict[str, tf.TensorSpec]) -> KerasModel:
    """Wrap `graph` and create its variables by calling it once on zeros shaped like the inputs."""
    model = KerasModel(graph)
    dummy = {
        k: tf.zeros([1] + [d if d is not None else 1 for d in s.shape.as_list()], dtype=s.dtype)
        for k, s in input_specs.items()
    }
    model(dummy, training=False)
    return model
