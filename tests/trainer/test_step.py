"""`TrainStep` against numpy: the loss share of one replica, weights, metrics, and one SGD update."""

from __future__ import annotations

from typing import Dict

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfaip_core.model.graph_base import GraphBase
from tfaip_core.model.model_base import ModelBase, build_keras_model
from tfaip_core.model.params import GraphBaseParams, ModelBaseParams
from tfaip_core.trainer.step import TrainStep, loss_term_names


class _Linear(GraphBase):
    def __init__(self) -> None:
        super().__init__(GraphBaseParams())
        self.dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="ones", name="dense")

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        return {"y": self.dense(inputs["x"])[:, 0]}


class _Model(ModelBase):
    def create_graph(self) -> GraphBase:
        return _Linear()

    def loss(self, inputs, targets, outputs) -> Dict[str, tf.Tensor]:
        error = outputs["y"] - targets["t"]
        return {"se": error * error, "mean_abs": tf.reduce_mean(tf.abs(error))}

    def loss_weights(self) -> Dict[str, float]:
        return {"mean_abs": 0.5}


X = np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 0.0]], np.float32)
T = np.array([1.0, 0.0, 2.0], np.float32)


def _step(replicas: int, lr: float = 0.1) -> TrainStep:
    model = _Model(ModelBaseParams())
    keras_model = build_keras_model(model.create_graph(), {"x": tf.TensorSpec([2], tf.float32)})
    optimizer = keras.optimizers.SGD(lr)
    optimizer.build(keras_model.trainable_variables)
    names = loss_term_names(model, keras_model, {"x": X}, {"t": T})
    return TrainStep(keras_model, model, optimizer, keras_model.trainable_variables, names, num_replicas=replicas)


@pytest.mark.parametrize("replicas", [1, 2])
def test_loss_is_this_replicas_share_of_the_global_mean(replicas: int) -> None:
    step = _step(replicas)
    error = X.sum(axis=1) - T  # kernel of ones
    loss, terms = step.loss({"x": X}, {"t": T}, step.keras_model({"x": X}))
    expected = (np.mean(error**2) + 0.5 * np.mean(np.abs(error))) / replicas
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    assert set(terms) == {"se", "mean_abs"}


def test_one_sgd_update_and_the_logged_metrics_match_numpy() -> None:
    step = _step(1, lr=0.1)
    error = X.sum(axis=1) - T
    # d/dw of mean(e^2) + 0.5 mean(|e|) with e = Xw - t
    gradient = (2 * error[:, None] * X).mean(axis=0) + 0.5 * (np.sign(error)[:, None] * X).mean(axis=0)
    step.train({"x": X}, {"t": T})
    kernel = step.keras_model.trainable_variables[0].numpy()[:, 0]
    np.testing.assert_allclose(kernel, 1.0 - 0.1 * gradient, rtol=1e-6)
    logs = step.metric_logs()
    assert logs["loss"] == pytest.approx(np.mean(error**2) + 0.5 * np.mean(np.abs(error)), rel=1e-6)
    assert logs["se"] == pytest.approx(np.mean(error**2), rel=1e-6)
    assert logs["mean_abs"] == pytest.approx(np.mean(np.abs(error)), rel=1e-6)
    assert step.loss_metrics.keys() == {"loss", "se", "mean_abs"}
    step.reset_metrics()
    assert step.metric_logs()["loss"] == 0.0
