"""The template's network: a Keras layer from the named inputs of a batch to named outputs."""

from __future__ import annotations

from typing import Dict

import keras
import tensorflow as tf

from tfaip_core import GraphBase

from .params import TemplateGraphParams


class TemplateGraph(GraphBase[TemplateGraphParams]):
    """TODO: your layers. Create them in `__init__` (their names form the variable paths), use them in `call`."""

    def __init__(self, params: TemplateGraphParams, num_classes: int):
        super().__init__(params)
        self.hidden = keras.layers.Dense(params.units, activation="relu", name="hidden")
        self.logits = keras.layers.Dense(num_classes, name="logits")

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        logits = self.logits(self.hidden(inputs["x"]))
        # everything the loss, the metrics, the evaluator or the export need, by name
        return {"logits": logits, "probs": tf.nn.softmax(logits), "class": tf.argmax(logits, axis=-1)}
