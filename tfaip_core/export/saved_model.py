"""The serving SavedModel: one named signature per prediction graph, loadable without tfaip_core."""

from __future__ import annotations

from typing import Dict, List

import keras
import tensorflow as tf

from tfaip_core.model.model_base import KerasModel, ModelBase
from tfaip_core.model.prediction import prediction_graphs
from tfaip_core.model.variables import ModelVariables

PARAMS_FILE = "trainer_params.json"


def serving_archive(
    keras_model: KerasModel, model: ModelBase, input_specs: Dict[str, tf.TensorSpec]
) -> keras.export.ExportArchive:
    """The serving SavedModel of `keras_model`, traced and ready to be written (`write_saved_model`).

    Each prediction graph of `tfaip_core.model.prediction` becomes a signature: `serving_default` takes the
    scenario's named inputs, batched, and returns `ModelBase.export_outputs` by name; every graph of
    `ModelBase.export_graphs()` is a signature of its name on the same inputs. The variables are tracked by
    Keras path too (`ModelVariables`), so warm start and `tfaip-export` read them by name. The archive can be
    written again after the weights changed (the trainer's best model): the graphs are traced once, the
    variables' current values are written.
    """
    archive = _stable_export_archive(keras_model)
    archive.track(keras_model)
    # readable by path (warm start), like checkpoints; the archive saves its inner trackable
    archive._tf_trackable.model_variables = ModelVariables(keras_model)
    for name, graph in prediction_graphs(keras_model, model, input_specs).items():
        archive.add_endpoint(name, graph.fn, input_signature=[graph.input_signature])
    return archive


def write_saved_model(path: str, archive: keras.export.ExportArchive) -> None:
    """Write the `serving_archive` to the new directory `path`, with the model's current weights."""
    archive.write_out(path, verbose=False)


def _stable_export_archive(keras_model: KerasModel) -> keras.export.ExportArchive:
    """Keras' export archive with its variable list in a fixed order (by the Keras variable path).

    Keras collects the variables the endpoints use in the order the traced graphs capture them, which is not
    the same from one run to the next: the saved variables would be the same values in another order, and two
    exports of identical weights would differ byte for byte. (`ExportArchive()` returns a backend class, so the
    step is wrapped on the instance rather than subclassed.) The endpoints are fixed once added, so what they use
    is collected on the first write only: writing the archive again (a better best model) skips the walk.
    """
    archive = keras.export.ExportArchive()
    collect = archive._filter_and_track_resources
    paths = {id(v.value): v.path for v in keras_model.variables}  # TensorFlow names repeat ("model/bias:0")
    collected: List[int] = []  # the number of endpoints collected for

    def collect_sorted() -> None:
        if collected == [len(archive._endpoint_names)]:
            return
        collect()
        tracked = archive._tf_trackable
        tracked._all_variables = sorted(tracked._all_variables, key=lambda v: (paths.get(id(v), ""), v.name))
        collected[:] = [len(archive._endpoint_names)]

    archive._filter_and_track_resources = collect_sorted
    return archive
