"""Export the trained model as a stand-alone SavedModel with named serving signatures."""

from __future__ import annotations

import os
import shutil
from typing import Any, Dict

import keras
import tensorflow as tf

from tfaip_core.model.model_base import KerasModel, ModelBase
from tfaip_core.model.prediction import prediction_graphs
from tfaip_core.model.variables import ModelVariables
from tfaip_core.util.io import atomic_write_json, replace_dir

PARAMS_FILE = "trainer_params.json"


def export_saved_model(
    path: str,
    keras_model: KerasModel,
    model: ModelBase,
    input_specs: Dict[str, tf.TensorSpec],
    params: Dict[str, Any],
    extra_files: Dict[str, Any] | None = None,
) -> None:
    """Write a SavedModel to `path` (replacing an older one atomically) plus the params JSON beside it.

    Each prediction graph of `tfaip_core.model.prediction` becomes a signature (`serving_default`
    takes the scenario's named inputs, batched, and returns the model's `export_outputs` by name).
    It loads with plain `tf.saved_model.load`, without tfaip_core. `extra_files` are JSON files
    (name -> data) written into the export, e.g. the value that made it the best model.
    """
    archive = keras.export.ExportArchive()
    archive.track(keras_model)
    # readable by path (warm start), like checkpoints; the archive saves its inner trackable
    archive._tf_trackable.model_variables = ModelVariables(keras_model)
    for name, graph in prediction_graphs(keras_model, model, input_specs).items():
        archive.add_endpoint(name, graph.fn, input_signature=[graph.input_signature])
    tmp = path.rstrip("/") + ".tmp"
    if os.path.lexists(tmp):
        shutil.rmtree(tmp)
    archive.write_out(tmp, verbose=False)
    atomic_write_json(os.path.join(tmp, PARAMS_FILE), params)
    for name, data in (extra_files or {}).items():
        atomic_write_json(os.path.join(tmp, name), data)
    replace_dir(tmp, path)
