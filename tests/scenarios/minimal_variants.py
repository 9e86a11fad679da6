"""The minimal scenario with the mistakes a new user makes, and probes of what reaches the evaluator."""

from __future__ import annotations

from typing import Callable, Dict, List

import tensorflow as tf

import tfaip_core as tc
from scenarios.minimal.scenario import MLP, MinimalModel, MinimalScenario


class ColumnMLP(MLP):
    """Outputs `y` as [B, 1] (a Dense layer's natural shape) while the target is [B]."""

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        outputs = super().call(inputs, training)
        return {"y": outputs["y"][:, tf.newaxis]}


class BroadcastLossModel(MinimalModel):
    def create_graph(self) -> tc.GraphBase:
        return ColumnMLP(self.params.nodes)  # the loss's target [B] - output [B, 1] broadcasts to [B, B]


class BroadcastLossScenario(MinimalScenario):
    model_cls = BroadcastLossModel


PRINTED: List[str] = []


class PrintingModel(MinimalModel):
    def print_evaluate(self, sample: tc.Sample, print_fn: Callable[[str], None]) -> None:
        PRINTED.append(str(sample.meta.get("id")))
        print_fn(f"{sample.meta['id']}: y={float(sample.targets['y']):.0f} predicted={float(sample.outputs['y']):.0f}")


class MetaEvaluator(tc.EvaluatorBase):
    def reset_state(self) -> None:
        self.patients = 0

    def update_state(self, sample: tc.Sample) -> None:
        self.patients += int(str(sample.meta.get("id", "")).startswith("patient_"))

    def result(self) -> Dict[str, float]:
        return {"patients": float(self.patients)}


class MetaScenario(MinimalScenario):
    model_cls = PrintingModel
    evaluator_cls = MetaEvaluator
