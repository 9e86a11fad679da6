"""The toy model: one dense layer, cross-entropy."""

from __future__ import annotations

from typing import Dict

import keras
import tensorflow as tf

from tests.scenario.listfile_scenario.params import ToyModelParams
from tfaip_core import GraphBase, GraphBaseParams, ModelBase


class ToyGraph(GraphBase[GraphBaseParams]):
    """`x` -> `logits`."""

    def __init__(self, params: GraphBaseParams, num_classes: int):
        super().__init__(params)
        self.dense = keras.layers.Dense(num_classes, name="logits")

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        return {"logits": self.dense(inputs["x"])}


class ToyModel(ModelBase[ToyModelParams]):
    def create_graph(self) -> GraphBase:
        return ToyGraph(GraphBaseParams(), self.params.num_classes)

    def loss(self, inputs: Dict, targets: Dict, outputs: Dict) -> Dict[str, tf.Tensor]:
        xent = keras.losses.sparse_categorical_crossentropy(targets["label"], outputs["logits"], from_logits=True)
        return {"xent": xent}
