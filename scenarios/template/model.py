"""The template's model: the graph plus loss, metrics, the monitored value, a printed look, the exported outputs."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import keras
import tensorflow as tf

from tfaip_core import GraphBase, MetricDefinition, ModelBase, Sample

from .graph import TemplateGraph
from .params import TemplateModelParams


class TemplateModel(ModelBase[TemplateModelParams]):
    def create_graph(self) -> GraphBase:
        return TemplateGraph(self.params.graph, self.params.num_classes)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        """Loss terms by name, each per sample ([batch]); the trainer averages, weights and sums them."""
        return {"xent": keras.losses.sparse_categorical_crossentropy(targets["y"], outputs["logits"], from_logits=True)}

    def metrics(self) -> Dict[str, MetricDefinition]:
        """Keras metrics computed in the graph on every batch (training and validation)."""
        return {"acc": MetricDefinition("y", "logits", keras.metrics.SparseCategoricalAccuracy(name="acc"))}

    def monitor(self) -> Tuple[str, str]:
        """The value that picks the best model and drives early stopping: here the evaluator's accuracy."""
        return "val_accuracy", "max"

    def print_evaluate(self, sample: Sample, print_fn: Callable[[str], None]) -> None:
        """A look at a validation sample after each validation (`--trainer.num_print_evaluate`)."""
        print_fn(f"{sample.id}: y={int(sample.targets['y'])} predicted={int(sample.outputs['class'])}")

    def export_outputs(self, inputs: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        """The outputs of the exported SavedModel's serving signature."""
        return {"probs": outputs["probs"], "class": outputs["class"]}
