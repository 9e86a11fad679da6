"""The tutorial's networks: an MLP and a small CNN, both normalising raw pixels inside the graph."""

from __future__ import annotations

from typing import Dict

import keras
import tensorflow as tf

from scenarios.tutorial.params import CNNParams, MLPParams, TutorialGraphParams
from tfaip_core import GraphBase


class _DigitGraph(GraphBase[TutorialGraphParams]):
    """Shared head: raw pixels in, `logits`, `probs` and `class` out."""

    def __init__(self, params: TutorialGraphParams, num_classes: int, pixel_max: float):
        super().__init__(params)
        self.pixel_max = pixel_max
        self.logits = keras.layers.Dense(num_classes, name="logits")

    def features(self, images: tf.Tensor, training: bool) -> tf.Tensor:
        raise NotImplementedError

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        images = tf.cast(inputs["img"], tf.float32) / self.pixel_max  # the export takes raw pixels
        logits = self.logits(self.features(images, training))
        return {"logits": logits, "probs": tf.nn.softmax(logits), "class": tf.argmax(logits, axis=-1)}


class MLPGraph(_DigitGraph):
    def __init__(self, params: MLPParams, num_classes: int, pixel_max: float):
        super().__init__(params, num_classes, pixel_max)
        self.flatten = keras.layers.Flatten()
        self.hidden = [
            keras.layers.Dense(n, activation=params.activation, name=f"dense_{i}") for i, n in enumerate(params.nodes)
        ]
        self.dropouts = [keras.layers.Dropout(params.dropout) for _ in params.nodes]

    def features(self, images: tf.Tensor, training: bool) -> tf.Tensor:
        x = self.flatten(images)
        for dense, dropout in zip(self.hidden, self.dropouts):
            x = dropout(dense(x), training=training)
        return x


class CNNGraph(_DigitGraph):
    def __init__(self, params: CNNParams, num_classes: int, pixel_max: float):
        super().__init__(params, num_classes, pixel_max)
        self.convs = [
            keras.layers.Conv2D(f, 3, padding="same", activation=params.activation, name=f"conv_{i}")
            for i, f in enumerate(params.filters)
        ]
        self.pools = [keras.layers.MaxPooling2D(2, padding="same") for _ in params.filters]
        self.flatten = keras.layers.Flatten()
        self.dense = [
            keras.layers.Dense(n, activation=params.activation, name=f"dense_{i}") for i, n in enumerate(params.dense)
        ]

    def features(self, images: tf.Tensor, training: bool) -> tf.Tensor:
        x = images[..., tf.newaxis]
        for conv, pool in zip(self.convs, self.pools):
            x = pool(conv(x))
        x = self.flatten(x)
        for dense in self.dense:
            x = dense(x)
        return x


def create_graph(params: TutorialGraphParams, num_classes: int, pixel_max: float) -> GraphBase:
    if isinstance(params, CNNParams):
        return CNNGraph(params, num_classes, pixel_max)
    if isinstance(params, MLPParams):
        return MLPGraph(params, num_classes, pixel_max)
    raise TypeError(f"Unknown graph params {type(params).__name__}")
