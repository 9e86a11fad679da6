"""The tutorial's model (cross-entropy, accuracy) and its pure-Python evaluator."""

from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import keras
import numpy as np
import tensorflow as tf

from scenarios.tutorial.graphs import create_graph
from scenarios.tutorial.params import TutorialModelParams
from tfaip_core import EvaluatorBase, EvaluatorBaseParams, GraphBase, MetricDefinition, ModelBase, Sample, Voter

SHOWN_DIGITS = 4  # input digits written to TensorBoard with their predicted class after each validation / LAV


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
        # on the exported probabilities (same arg-max as the logits), so that LAV on the export reports it too
        return {"acc": MetricDefinition("gt", "probs", keras.metrics.SparseCategoricalAccuracy(name="acc"))}

    def monitor(self) -> Tuple[str, str]:
        return "val_accuracy", "max"

    def print_evaluate(self, sample: Sample, print_fn: Callable[[str], None]) -> None:
        probs = sample.outputs["probs"]
        print_fn(f"gt={int(sample.targets['gt'])} pred={int(sample.outputs['class'])} p={float(np.max(probs)):.3f}")

    def export_outputs(self, inputs: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        return {"probs": outputs["probs"], "class": outputs["class"]}

    def export_graphs(self) -> Dict[str, Callable[[Dict, Dict], Dict[str, tf.Tensor]]]:
        """A second signature, `logits`: the unnormalised scores (for a server that calibrates or ensembles)."""
        return {"logits": lambda inputs, outputs: {"logits": outputs["logits"]}}

    def tensorboard_samples(self) -> int:
        return -1  # all: the PR curves need every sample's probabilities

    def write_tensorboard(self, samples: List[Sample], step: int) -> None:
        """A few input digits with their predicted class (images + a text table), and a PR curve per class."""
        from tensorboard.plugins.pr_curve import summary as pr_curve

        shown = samples[:SHOWN_DIGITS]
        images = np.stack([s.inputs["img"] for s in shown]).astype(np.float32) / self.pixel_max
        tf.summary.image("digits", images[..., np.newaxis], step=step, max_outputs=SHOWN_DIGITS)
        rows = [f"| {i} | {s.id} | {int(s.targets['gt'])} | {int(s.outputs['class'])} |" for i, s in enumerate(shown)]
        header = ["| image | id | true | predicted |", "|---|---|---|---|"]
        tf.summary.text("predictions", "\n".join(header + rows), step)
        labels = np.array([int(s.targets["gt"]) for s in samples])
        probs = np.stack([s.outputs["probs"] for s in samples])
        for c in range(probs.shape[1]):
            summary = pr_curve.pb(f"class_{c}", labels == c, probs[:, c], num_thresholds=51)
            tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=step)


class MajorityClassVoter(Voter):
    """The tutorial's voter: the class most models predict (a tie goes to the highest summed probability);
    `probs` is the models' average."""

    def vote(self, samples: List[Sample]) -> Sample:
        classes = np.array([int(s.outputs["class"]) for s in samples])
        summed = np.sum([s.outputs["probs"] for s in samples], axis=0)
        votes = np.bincount(classes, minlength=len(summed))
        tied = np.flatnonzero(votes == votes.max())
        winner = int(tied[np.argmax(summed[tied])])
        return samples[0].new_outputs({"probs": summed / len(samples), "class": np.int64(winner)})


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
