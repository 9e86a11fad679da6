"""A linear-regression scenario that counts, in a model variable, how often each training sample was trained on.

`N` samples `x` ([2], fixed values), target `t = x . (1, -2) + 0.5`, the sample's index `idx`. The graph is
one Dense(1) layer initialised to kernel 0, bias 0 (so the first update has a closed form), plus a
non-trainable counter per sample that the training forward pass adds the step's indices to (all-reduced over
the replicas). Reading the counter after training says which samples the steps consumed.
"""

from __future__ import annotations

from typing import Dict, List

import keras
import numpy as np
import tensorflow as tf

from tfaip_core import (
    DataBase,
    DataBaseParams,
    DataPipelineParams,
    GraphBase,
    GraphBaseParams,
    ListDataGenerator,
    ModelBase,
    ModelBaseParams,
    PipelineMode,
    Sample,
    ScenarioBase,
    ScenarioBaseParams,
)

N = 48
W_TRUE, B_TRUE = np.array([1.0, -2.0], np.float32), np.float32(0.5)


def features() -> np.ndarray:
    """The inputs of the N training samples (the validation data is the same)."""
    return np.random.default_rng(7).normal(size=(N, 2)).astype(np.float32)


def targets() -> np.ndarray:
    return features() @ W_TRUE + B_TRUE


class CountData(DataBase[DataBaseParams]):
    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"x": tf.TensorSpec([2], tf.float32), "idx": tf.TensorSpec([], tf.int32)}

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"t": tf.TensorSpec([], tf.float32)}

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> ListDataGenerator:
        samples: List[Sample] = [
            Sample(inputs={"x": x, "idx": np.int32(i)}, targets={"t": t}, meta={"id": str(i)})
            for i, (x, t) in enumerate(zip(features(), targets()))
        ]
        return ListDataGenerator(mode, pipeline, samples)


class CountGraph(GraphBase[GraphBaseParams]):
    def __init__(self, params: GraphBaseParams, counting: bool = True):
        super().__init__(params)
        self.counting = counting
        self.dense = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros", name="dense")
        self.counts = self.add_weight(
            shape=(N,), initializer="zeros", trainable=False, name="counts", aggregation="only_first_replica"
        )

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        if training and self.counting:  # all replicas' samples (Keras' assign_add would sum the replicas' v + d)
            seen = tf.reduce_sum(tf.one_hot(inputs["idx"], N, dtype=self.counts.dtype), axis=0)
            self.counts.assign_add(tf.distribute.get_replica_context().all_reduce("SUM", seen))
        return {"y": self.dense(inputs["x"])[:, 0]}


class CountModel(ModelBase[ModelBaseParams]):
    counting = True

    def create_graph(self) -> GraphBase:
        return CountGraph(GraphBaseParams(), self.counting)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        error = outputs["y"] - targets["t"]
        return {"se": error * error}

    def monitor(self) -> tuple:
        return "val_loss", "min"


class CountScenario(ScenarioBase[ScenarioBaseParams]):
    params_cls = ScenarioBaseParams
    data_cls = CountData
    model_cls = CountModel


class PlainModel(CountModel):
    """Without the counter: its all-reduce in the forward pass is not ordered against the gradients' (accumulation)."""

    counting = False


class PlainScenario(CountScenario):
    model_cls = PlainModel


def counts(keras_model: keras.Model) -> np.ndarray:
    """The counter of a trained `CountGraph` model: how often each sample was trained on."""
    (variable,) = [v for v in keras_model.variables if v.path.endswith("counts")]
    return np.asarray(variable.numpy())


def first_sgd_update(batch: int, lr: float) -> np.ndarray:
    """Kernel and bias after one SGD step from zeros on the first `batch` samples (mean squared error), in numpy."""
    x, t = features()[:batch], targets()[:batch]
    error = -t  # the prediction of the zero model is 0
    grad_w = (2 * error[:, None] * x).mean(axis=0)
    grad_b = (2 * error).mean()
    return np.concatenate([-lr * grad_w, [-lr * grad_b]])
