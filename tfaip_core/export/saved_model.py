"""Export the trained model as a stand-alone SavedModel with a named `serving_default` signature."""

from __future__ import annotations

import os
import shutil
from typing import Any, Dict

import keras
import tensorflow as tf

from tfaip_core.model.model_base import KerasModel, ModelBase
from tfaip_core.trainer.checkpoint import ModelVariables
from tfaip_core.util.io import atomic_write_json, replace_dir

PARAMS_FILE = "trainer_params.json"


def export_saved_model(
    path: str,
    keras_model: KerasModel,
    model: ModelBase,
    input_specs: Dict[str, tf.TensorSpec],
    params: Dict[str, Any],
) -> None:
    """Write a SavedModel to `path` (replacing an older one atomically) plus the params JSON beside it.

    The `serving_default` signature takes the scenario's named inputs (batched) and returns the
    model's `export_outputs` by name. It loads with plain `tf.saved_model.load`, without tfaip_core.
    """
    archive = keras.export.ExportArchive()
    archive.track(keras_model)
    # readable by path (warm start), like checkpoints; the archive saves its inner trackable
    archive._tf_trackable.model_variables = ModelVariables(keras_model)
    signature = {k: tf.TensorSpec([None] + s.shape.as_list(), s.dtype, name=k) for k, s in input_specs.items()}

    def serve(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
        outputs = keras_model(inputs, training=False)
        return model.export_outputs(inputs, outputs)

    archive.add_endpoint("serving_default", serve, input_signature=[signature])
    tmp = path.rstrip("/") + ".tmp"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    archive.write_out(tmp, verbose=False)
    atomic_write_json(os.path.join(tmp, PARAMS_FILE), params)
    replace_dir(tmp, path)
