"""The one way from raw inputs to a model's outputs: used by the SavedModel export, LAV and the Predictor.

A *prediction graph* is a function from a batch of the scenario's named inputs (raw, as the data
pipeline feeds them) to named outputs, run in inference mode. The default graph returns
`ModelBase.export_outputs`; it becomes the `serving_default` signature of an export. Post-processing
(`--data.post_proc`) stays in Python and is not part of the graph.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable, Dict

import tensorflow as tf

from tfaip_core.errors import ConfigError
from tfaip_core.model.model_base import KerasModel, ModelBase

SERVING_DEFAULT = "serving_default"
#: Signature names the exports use themselves (the trainable export's train/save/restore).
RESERVED_SIGNATURES = (SERVING_DEFAULT, "train", "save", "restore")
_SIGNATURE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
    """The model's prediction graphs by signature name: `serving_default`, then `ModelBase.export_graphs()`.

    Args:
        keras_model: The built Keras model (its variables are what the graphs read).
        model: The scenario's `ModelBase`, whose `export_outputs` selects the outputs.
        input_specs: The data's per-sample input specs (`DataBase.input_specs()`).

    Raises:
        ConfigError: an export graph's name is reserved or not a valid signature name.
    """

    def serve(inputs: Tensors) -> Tensors:
        outputs = keras_model(inputs, training=False)
        return model.export_outputs(inputs, outputs)

    signature = batched_signature(input_specs)
    graphs = {SERVING_DEFAULT: PredictionGraph(SERVING_DEFAULT, serve, signature)}
    for name, select in model.export_graphs().items():
        if name in RESERVED_SIGNATURES or not _SIGNATURE_NAME.fullmatch(name):
            raise ConfigError(
                f"{type(model).__name__}.export_graphs() names must be identifiers other than "
                f"{', '.join(RESERVED_SIGNATURES)}; got {name!r}. Fix: rename that export graph."
            )
        graphs[name] = PredictionGraph(name, _head(keras_model, select), signature)
    return graphs


def _head(keras_model: KerasModel, select: Callable[[Tensors, Tensors], Tensors]) -> Callable[[Tensors], Tensors]:
    """The prediction function of one named export graph (a function per graph: no late binding in a loop)."""

    def fn(inputs: Tensors) -> Tensors:
        return select(inputs, keras_model(inputs, training=False))

    return fn
