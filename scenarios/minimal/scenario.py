"""Minimal scenario: regression on scikit-learn's bundled diabetes data (353 training, 89 validation patients).

    tfaip-train scenarios.minimal --trainer.output_dir runs/minimal

Expected: validation mean absolute error about 44.5 (<= 48) after the default 10 epochs, in 6 s on 2 CPU cores."""

from dataclasses import dataclass, field
from typing import Dict, List

import keras
import numpy as np
import tensorflow as tf
from paiargparse import pai_dataclass, pai_meta
from sklearn.datasets import load_diabetes

import tfaip_core as tc


@pai_dataclass
@dataclass
class MinimalModelParams(tc.ModelBaseParams):
    nodes: List[int] = field(default_factory=lambda: [16], metadata=pai_meta(help="Layer sizes. Defaults to [16]."))


@pai_dataclass
@dataclass
class MinimalParams(tc.ScenarioBaseParams):  # data and evaluator have no settings: their base params serve
    model: MinimalModelParams = field(default_factory=MinimalModelParams, metadata=pai_meta(mode="flat", fix_dc=True))


class DiabetesData(tc.DataBase):
    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"x": tf.TensorSpec([10], tf.float32)}

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"y": tf.TensorSpec([], tf.float32)}

    def create_generator(self, mode: tc.PipelineMode, pipeline: tc.DataPipelineParams) -> tc.DataGenerator:
        x, y = load_diabetes(return_X_y=True)
        order = np.random.default_rng(0).permutation(len(y))  # a fixed split: 89 patients for validation
        rows = order[89:] if mode == tc.PipelineMode.TRAINING else order[:89]
        samples = [tc.Sample(inputs={"x": x[i]}, targets={"y": y[i]}, meta={"id": f"patient_{i}"}) for i in rows]
        return tc.ListDataGenerator(mode, pipeline, samples)


class MLP(tc.GraphBase):
    def __init__(self, nodes: List[int]):
        super().__init__(tc.GraphBaseParams())
        self.hidden = [keras.layers.Dense(n, activation="relu") for n in nodes]
        self.out = keras.layers.Dense(1)

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        x = inputs["x"] * 20.0  # the features come scaled to a standard deviation of 0.05
        for layer in self.hidden:
            x = layer(x)
        return {"y": 150.0 + 80.0 * self.out(x)[:, 0]}  # shape [B], around the targets' mean and spread


class MinimalModel(tc.ModelBase[MinimalModelParams]):
    def create_graph(self) -> tc.GraphBase:
        return MLP(self.params.nodes)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        return {"mse": tf.square(targets["y"] - outputs["y"])}  # shape [B]: one value per sample

    def metrics(self) -> Dict[str, tc.MetricDefinition]:
        return {"mae": tc.MetricDefinition("y", "y", keras.metrics.MeanAbsoluteError())}


class MinimalScenario(tc.ScenarioBase[MinimalParams]):
    params_cls = MinimalParams
    data_cls = DiabetesData
    model_cls = MinimalModel

    @classmethod
    def default_trainer_params(cls) -> tc.TrainerParams:
        params = super().default_trainer_params()
        params.epochs, params.train.batch_size, params.val.batch_size = 10, 32, 32
        params.learning_rate.lr = 0.01
        return params
