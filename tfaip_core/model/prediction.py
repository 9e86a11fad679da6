"""The one way from raw inputs to a model's outputs: used by the SavedModel export, LAV and the Predictor.

A *prediction graph* is a function from a batch of the scenario's named inputs (raw, as the data
pipeline feeds them) to named outputs, run in inference mode. The default graph returns
`ModelBase.export_outputs`; it becomes the `serving_default` signature of an export. Post-processing
(`--data.post_proc`) stays in Python and is not part of the graph.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict

import tensorflow as tf

from tfaip_core.model.model_base import KerasModel, ModelBase

SERVING_DEFAULT = "serving_default"
Tensors = Dict[str, tf.Tensor]


@dataclasses.dataclass(frozen=True)
class PredictionGraph:
    """A named prediction function and the batched input signature it takes.

    `fn` is a plain Python function (wrap it in `tf.function` to run it compiled); `input_signature`
    maps each input name to its batched `tf.TensorSpec` (the batch dimension is None).
    """

    name: str
    fn: Callable[[Tensors], Tensors]
    input_signature: Dict[str, tf.TensorSpec]

    def compiled(self) -> Callable[[Tensors], Tensors]:
        """`fn` as a `tf.function` traced once for `input_signature`."""
        return tf.function(self.fn, input_signature=[self.input_signature])


def batched_signature(input_specs: Dict[str, tf.TensorSpec]) -> Dict[str, tf.TensorSpec]:
    """The per-sample `input_specs` with a leading batch dimension of unknown size, named by input."""
    return {k: tf.TensorSpec([None] + s.shape.as_list(), s.dtype, name=k) for k, s in input_specs.items()}


def prediction_graphs(
    keras_model: KerasModel, model: ModelBase, input_specs: Dict[str, tf.TensorSpec]
) -> Dict[str, PredictionGraph]:
    """The model's prediction graphs by signature name (today `serving_default`).

    Args:
        keras_model: The built Keras model (its variables are what the graphs read).
        model: The scenario's `ModelBase`, whose `export_outputs` selects the outputs.
        input_specs: The data's per-sample input specs (`DataBase.input_specs()`).
    """

    def serve(inputs: Tensors) -> Tensors:
        outputs = keras_model(inputs, training=False)
        return model.export_outputs(inputs, outputs)

    return {SERVING_DEFAULT: PredictionGraph(SERVING_DEFAULT, serve, batched_signature(input_specs))}
