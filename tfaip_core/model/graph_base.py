"""`GraphBase`: the network, a Keras layer from an input dict to an output dict."""

from __future__ import annotations

from typing import Dict, Generic, TypeVar

import keras
import tensorflow as tf

from tfaip_core.model.params import GraphBaseParams

TGP = TypeVar("TGP", bound=GraphBaseParams)


class GraphBase(keras.layers.Layer, Generic[TGP]):
    """A Keras layer mapping the named inputs of a batch to named outputs.

    Subclasses create their sub-layers in `__init__` and implement `call(inputs, training)`.
    Sub-layer names form the variable paths that `--trainer.no_train_scope` and warm start match.
    """

    def __init__(self, params: TGP, name: str = "graph", **kwargs):
        super().__init__(name=name, **kwargs)
        self.params = params

    def call(self, inputs: Dict[str, tf.Tensor], training: bool = False) -> Dict[str, tf.Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement call(inputs, training)")
