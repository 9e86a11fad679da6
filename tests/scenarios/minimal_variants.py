"""The minimal scenario with the mistakes a new user makes, and probes of what reaches the evaluator."""

from __future__ import annotations

from typing import Callable, Dict, Iterator, List

import numpy as np
import tensorflow as tf

import tfaip_core as tc
from scenarios.minimal.scenario import MLP, DiabetesData, MinimalModel, MinimalScenario


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


class ElevenFeaturesData(DiabetesData):
    """Declares 10 features (the base's spec) but yields 11 for the sixth sample."""

    def create_generator(self, mode: tc.PipelineMode, pipeline: tc.DataPipelineParams) -> tc.DataGenerator:
        samples = list(super().create_generator(mode, pipeline).generate())
        samples[5] = samples[5].new_inputs({"x": np.append(samples[5].inputs["x"], 0.0)})
        return tc.ListDataGenerator(mode, pipeline, samples)


class ElevenFeaturesScenario(MinimalScenario):
    data_cls = ElevenFeaturesData


class RaisingGenerator(tc.DataGenerator):
    def generate(self) -> Iterator[tc.Sample]:
        for i in range(3):
            yield tc.Sample(inputs={"x": np.zeros(10)}, targets={"y": 1.0}, meta={"id": f"row_{i}"})
        raise KeyError("column 'age' missing")

    def size(self) -> int:
        return 10


class RaisingData(DiabetesData):
    def create_generator(self, mode: tc.PipelineMode, pipeline: tc.DataPipelineParams) -> tc.DataGenerator:
        return RaisingGenerator(mode, pipeline)


class RaisingScenario(MinimalScenario):
    data_cls = RaisingData
