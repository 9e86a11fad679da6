"""A model's variables by Keras path: how checkpoints and exports store them, and how they are read back.

They describe a model, not a checkpoint: the trainer's checkpoints, the SavedModel export and warm
start all track (or read) every model variable under its unique `variable.path`, so this lives in
`model/` where `export/` can import it without importing `trainer/`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from tfaip_core.errors import CheckpointError

MODEL_KEY = "model_variables"
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class ModelVariables(tf.Module):
    """Every variable of a Keras model (trainable or not), tracked under its unique `variable.path`.

    Keras 3 layers kept in Python lists are invisible to `tf.train.Checkpoint`'s object graph,
    so the checkpoint tracks the variables by path instead; that also makes checkpoints readable
    by name (warm start) and independent of how a graph stores its sub-layers.
    """

    def __init__(self, model: Any):
        super().__init__(name=MODEL_KEY)
        variables: Dict[str, Any] = {}
        for variable in model.variables:
            key, n = variable.path, 1
            while key in variables:  # Keras paths are unique in practice; stay safe if not
                key, n = f"{variable.path}_{n}", n + 1
            variables[key] = variable
        self.by_path = variables


def model_variable_keys(reader: tf.train.CheckpointReader) -> Optional[Dict[str, str]]:
    """Keras path -> tensor key in the file, for every variable tracked by `ModelVariables` (None: no such object).

    A variable reachable from several objects (the model, the optimizer ...) is stored once, under
    whichever path TensorFlow met first; so the key of each `by_path` entry is looked up in the
    checkpoint's object graph instead of being guessed from its name.
    """
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(_OBJECT_GRAPH_KEY))

    def child(node_id: int, name: str) -> Optional[int]:
        for ref in graph.nodes[node_id].children:
            if ref.local_name == name:
                return ref.node_id
        return None

    holder = child(0, MODEL_KEY)
    by_path = child(holder, "by_path") if holder is not None else None
    if by_path is None:
        return None
    keys: Dict[str, str] = {}
    for ref in graph.nodes[by_path].children:
        attributes = graph.nodes[ref.node_id].attributes
        if attributes:
            keys[ref.local_name] = attributes[0].checkpoint_key
    return keys


def read_model_variable_shapes(prefix: str) -> Optional[Dict[str, Tuple[int, ...]]]:
    """Keras path -> shape of every model variable in a checkpoint, without reading the values.

    None if the checkpoint does not track `ModelVariables`.
    """
    reader = tf.train.load_checkpoint(prefix)
    keys = model_variable_keys(reader)
    if keys is None:
        return None
    shapes = reader.get_variable_to_shape_map()
    return {path: tuple(int(d) for d in shapes[key]) for path, key in keys.items()}


def read_model_variables(prefix: str) -> Dict[str, np.ndarray]:
    """Model variable values (numpy) by Keras path, from a checkpoint or SavedModel that tracks `ModelVariables`.

    Empty if the checkpoint does not track `ModelVariables`.
    """
    reader = tf.train.load_checkpoint(prefix)
    keys = model_variable_keys(reader) or {}
    return {path: reader.get_tensor(key) for path, key in keys.items()}


RNG_STATE_NAME = "seed_generator_state"


def is_rng_state(path: str) -> bool:
    """Whether the variable at Keras `path` is a random generator's state (not a weight: never loaded or saved)."""
    return path.rsplit("/", 1)[-1] == RNG_STATE_NAME


def assign_model_variables(model: Any, values: Dict[str, np.ndarray], source: str) -> None:
    """Set every variable of the Keras `model` to `values[variable.path]` (read with `read_model_variables`).

    All weights must match: the same paths and shapes. Random generator states are taken over when `values` holds
    them and are not required.

    Raises:
        CheckpointError: a variable is missing from `values`, left over in it, or of another shape.
    """
    ours = {path: v for path, v in ModelVariables(model).by_path.items() if not is_rng_state(path)}
    theirs = {path: v for path, v in values.items() if not is_rng_state(path)}
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    wrong = sorted(p for p in set(ours) & set(theirs) if tuple(ours[p].shape) != tuple(theirs[p].shape))
    if missing or extra or wrong:
        raise CheckpointError(
            f"the weights in {source} must fit the model built from its params; got missing {missing[:3]}, "
            f"unexpected {extra[:3]}, other shapes {wrong[:3]}. Fix: pass the model or checkpoint of this run."
        )
    for path, variable in ModelVariables(model).by_path.items():
        if path in values:  # random generator states too when the source has them: the same bytes export again
            variable.assign(values[path])
