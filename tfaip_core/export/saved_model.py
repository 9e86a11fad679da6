"""The serving SavedModel: one named signature per prediction graph, loadable without tfaip_core."""

from __future__ import annotations

from typing import Dict

import keras
import tensorflow as tf

from tfaip_core.model.model_base import KerasModel, ModelBase
from tfaip_core.model.prediction import prediction_graphs
from tfaip_core.model.variables import ModelVariables

PARAMS_FILE = "trainer_params.json"


def write_saved_model(
    path: str, keras_model: KerasModel, model: ModelBase, input_specs: Dict[str, tf.TensorSpec]
) -> None:
    """Write the serving SavedModel of `keras_model` to the new directory `path`.

    Each prediction graph of `tfaip_core.model.prediction` becomes a signature: `serving_default` takes the
    scenario's named inputs, batched, and returns `ModelBase.export_outputs` by name; every graph of
    `ModelBase.export_graphs()` is a signature of its name on the same inputs. The variables are tracked by
    Keras path too (`ModelVariables`), so warm start and `tfaip-export` read them by name.
    """
    archive = keras.export.ExportArchive()
    archive.track(keras_model)
    # readable by path (warm start), like checkpoints; the archive saves its inner trackable
    archive._tf_trackable.model_variables = ModelVariables(keras_model)
    for name, graph in prediction_graphs(keras_model, model, input_specs).items():
        archive.add_endpoint(name, graph.fn, input_signature=[graph.input_signature])
    archive.write_out(path, verbose=False)
