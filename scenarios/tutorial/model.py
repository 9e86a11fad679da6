"""The tutorial's model (cross-entropy, accuracy) and its pure-Python evaluator."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

import keras
import numpy as np
import tensorflow as tf

from scenarios.tutorial.graphs import create_graph
from scenarios.tutorial.params import TutorialModelParams
from tfaip_core import EvaluatorBase, EvaluatorBaseParams, GraphBase, MetricDefinition, ModelBase, Sample


class TutorialModel(ModelBase[TutorialModelParams]):
    def __init__(self, params: TutorialModelParams, pixel_max: float = 16.0):
        super().__init__(params)
        self.pixel_max = pixel_max

    def create_graph(self) -> GraphBase:
        return create_graph(self.params.graph, self.params.num_classes, self.pixel_max)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        xent = keras.losses.sparse_categorical_crossentropy(targets["gt"], outputs["logits"], from_logits=True)
        return {"xent": xent}

    def metrics(self) -> Dict[str, MetricDefinition]:
        return {"acc": MetricDefinition("gt", "logits", keras.metrics.SparseCategoricalAccuracy(name="acc"))}

    def monitor(self) -> Tuple[str, str]:
        return "val_accuracy", "max"

    def print_evaluate(self, sample: Sample, print_fn: Callable[[str], None]) -> None:
        probs = sample.outputs["probs"]
        print_fn(f"gt={int(sample.targets['gt'])} pred={int(sample.outputs['class'])} p={float(np.max(probs)):.3f}")

    def export_outputs(self, inputs: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        return {"probs": outputs["probs"], "class": outputs["class"]}


class TutorialEvaluator(EvaluatorBase[EvaluatorBaseParams]):
    """Accuracy of the predicted class, computed in Python."""

    def reset_state(self) -> None:
        self.correct = 0
        self.total = 0

    def update_state(self, sample: Sample) -> None:
        self.correct += int(int(sample.outputs["class"]) == int(sample.targets["gt"]))
        self.total += 1

    def result(self) -> Dict[str, float]:
        return {"accuracy": self.correct / self.total if self.total else 0.0}
