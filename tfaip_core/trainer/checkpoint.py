"""One checkpoint format, written atomically: OUTPUT_DIR/checkpoint/ckpt-STEP/{variables.*, state.json}.

A checkpoint directory is first written under a temporary name; `state.json` (epoch, step,
callback states) is written last and the directory is renamed into place, so a crash at any
instant leaves the last complete checkpoint loadable. Only complete checkpoints are listed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
from tensorflow.core.protobuf import trackable_object_graph_pb2

from tfaip_core.errors import CheckpointError
from tfaip_core.util.io import atomic_write_json
from tfaip_core.util.logging import logger

log = logger("checkpoint")
_NAME = re.compile(r"^ckpt-(\d+)$")
STATE_FILE = "state.json"
VARIABLES_PREFIX = "variables"


MODEL_KEY = "model_variables"
_ATTRIBUTE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


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


def read_model_variables(prefix: str) -> Dict[str, Any]:
    """Model variable values (numpy) by Keras path, from a checkpoint or SavedModel that tracks `ModelVariables`.

    A variable reachable from several objects (the model, the optimizer ...) is stored once, under
    whichever path TensorFlow met first; so the key of each `by_path` entry is looked up in the
    checkpoint's object graph instead of being guessed from its name.
    """
    reader = tf.train.load_checkpoint(prefix)
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))

    def child(node_id: int, name: str) -> Optional[int]:
        for ref in graph.nodes[node_id].children:
            if ref.local_name == name:
                return ref.node_id
        return None

    holder = child(0, MODEL_KEY)
    by_path = child(holder, "by_path") if holder is not None else None
    values: Dict[str, Any] = {}
    if by_path is None:
        return values
    for ref in graph.nodes[by_path].children:
        attributes = graph.nodes[ref.node_id].attributes
        if attributes:
            values[ref.local_name] = reader.get_tensor(attributes[0].checkpoint_key)
    return values


class CheckpointStore:
    """Saves, lists, prunes and restores the checkpoints in one directory."""

    def __init__(self, directory: str, keep_max: int = 5):
        self.directory = directory
        self.keep_max = keep_max

    def save(self, checkpoint: tf.train.Checkpoint, step: int, state: Dict[str, Any]) -> str:
        """Write `checkpoint` (variables) and `state` as `ckpt-STEP`; keep the newest `keep_max`."""
        os.makedirs(self.directory, exist_ok=True)
        name = f"ckpt-{step:010d}"
        final = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f".tmp-{name}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        checkpoint.write(os.path.join(tmp, VARIABLES_PREFIX))
        atomic_write_json(os.path.join(tmp, STATE_FILE), state)
        if os.path.exists(final):  # same step saved again (e.g. after a resume): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        self._prune()
        return final

    def complete(self) -> List[str]:
        """Paths of complete checkpoints, oldest first."""
        if not os.path.isdir(self.directory):
            return []
        found: List[Tuple[int, str]] = []
        for name in os.listdir(self.directory):
            match = _NAME.match(name)
            path = os.path.join(self.directory, name)
            if match and os.path.isfile(os.path.join(path, STATE_FILE)):
                found.append((int(match.group(1)), path))
        return [p for _, p in sorted(found)]

    def restore_latest(self, checkpoint: tf.train.Checkpoint) -> Optional[Dict[str, Any]]:
        """Restore the newest checkpoint that loads; return its state (None if there is none).

        A corrupt or truncated checkpoint is reported by name and the previous one is tried.

        Raises:
            CheckpointError: checkpoints exist but none of them loads.
        """
        candidates = self.complete()
        errors = []
        for path in reversed(candidates):
            try:
                with open(os.path.join(path, STATE_FILE), encoding="utf-8") as f:
                    state = json.load(f)
                checkpoint.read(os.path.join(path, VARIABLES_PREFIX)).assert_existing_objects_matched()
            except (OSError, ValueError, IndexError, KeyError, tf.errors.OpError, AssertionError) as e:
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                log.error("Checkpoint %s is corrupt or incomplete (%s); trying the previous one", path, reason)
                errors.append(f"{path}: {reason}")
                continue
            log.info("Restored checkpoint %s (epoch %s, step %s)", path, state.get("epoch"), state.get("step"))
            return state
        if errors:
            raise CheckpointError("No checkpoint could be loaded: " + "; ".join(errors))
        return None

    def _prune(self) -> None:
        complete = self.complete()
        for path in complete[: max(0, len(complete) - self.keep_max)]:
            shutil.rmtree(path, ignore_errors=True)
