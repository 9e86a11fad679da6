"""The trainable export: a SavedModel that keeps training where it runs (on-device training), plus `model.json`.

Signatures (all callable with keyword arguments after plain `tf.saved_model.load`, without tfaip_core):

* `train(**inputs, **targets) -> {"loss"}`: one optimizer step on the batch (dropout etc. in training mode);
* `serving_default(**inputs)` and every named export graph: the prediction graphs of `model/prediction.py`;
* `save(checkpoint_path) / restore(checkpoint_path)`: the model variables to / from a checkpoint file by Keras
  path (the workflow of TFLite on-device training), so a device keeps what it learned across restarts.

The optimizer (with its slots and step counter) is saved with the model, so training continues where the run
stopped. `model.json` describes inputs, targets, outputs (name, dtype, shape with -1 for unknown sizes) and the
training function, in the spirit of Tensor/IO's model descriptor.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Sequence

import keras
import tensorflow as tf

from tfaip_core.errors import ConfigError
from tfaip_core.model.model_base import KerasModel, ModelBase
from tfaip_core.model.prediction import batched_signature, prediction_graphs
from tfaip_core.model.variables import ModelVariables, is_rng_state

Tensors = Dict[str, tf.Tensor]
LossFn = Callable[[Tensors, Tensors, Tensors], tf.Tensor]
DESCRIPTOR_FILE = "model.json"
DESCRIPTOR_FORMAT = 1
TRAIN, SAVE, RESTORE = "train", "save", "restore"
CHECKPOINT_PATH = "checkpoint_path"


class TrainableModule(tf.Module):
    """What the trainable SavedModel holds: the model, its optimizer, and the functions of its signatures."""

    def __init__(
        self,
        keras_model: KerasModel,
        optimizer: keras.optimizers.Optimizer,
        variables: Sequence[tf.Variable],
        loss_fn: LossFn,
    ) -> None:
        super().__init__(name="trainable")
        self.model = keras_model
        self.optimizer = optimizer
        self.model_variables = ModelVariables(keras_model)  # readable by path, like every export
        self._trained = list(variables)
        self._loss_fn = loss_fn
        self._saved = {path: v for path, v in self.model_variables.by_path.items() if not is_rng_state(path)}

    def train_step(self, inputs: Tensors, targets: Tensors) -> Tensors:
        with tf.GradientTape() as tape:
            outputs = self.model(inputs, training=True)
            loss = self._loss_fn(inputs, targets, outputs)
        gradients = tape.gradient(loss, self._trained)
        self.optimizer.apply_gradients(zip(gradients, self._trained))
        return {"loss": loss}

    def save_variables(self, checkpoint_path: tf.Tensor) -> Tensors:
        names = list(self._saved)
        tf.raw_ops.Save(
            filename=checkpoint_path, tensor_names=names, data=[tf.convert_to_tensor(self._saved[n]) for n in names]
        )
        return {CHECKPOINT_PATH: checkpoint_path}

    def restore_variables(self, checkpoint_path: tf.Tensor) -> Tensors:
        for name, variable in self._saved.items():
            dtype = tf.as_dtype(variable.dtype)
            restored = tf.raw_ops.Restore(file_pattern=checkpoint_path, tensor_name=name, dt=dtype)
            variable.assign(tf.ensure_shape(restored, variable.shape))
        return {CHECKPOINT_PATH: checkpoint_path}


def write_trainable(
    path: str,
    keras_model: KerasModel,
    model: ModelBase,
    optimizer: keras.optimizers.Optimizer,
    variables: Sequence[tf.Variable],
    loss_fn: LossFn,
    input_specs: Dict[str, tf.TensorSpec],
    target_specs: Dict[str, tf.TensorSpec],
    name: str = "",
) -> Dict[str, Any]:
    """Write the trainable SavedModel and its `model.json` to the new directory `path`; return the descriptor.

    Args:
        path: The directory to create.
        keras_model: The built model (its current weights are exported).
        model: The scenario's `ModelBase` (prediction graphs).
        optimizer: The built optimizer of `variables` (its slots are exported with it).
        variables: The variables `train` updates (frozen ones left out).
        loss_fn: (inputs, targets, outputs) -> the scalar mean loss of the batch (the trainer's loss).
        input_specs: Per-sample input specs (`DataBase.input_specs()`).
        target_specs: Per-sample target specs (`DataBase.target_specs()`).
        name: The scenario, recorded in the descriptor. Defaults to "".

    Raises:
        ConfigError: a target has the name of an input (the `train` signature takes both by name).
    """
    clash = sorted(set(input_specs) & set(target_specs))
    if clash:
        raise ConfigError(
            f"the trainable export takes inputs and targets by name, so they must differ; got {clash} in both. "
            f"Fix: rename the target(s) in the scenario's DataBase.target_specs()."
        )
    module = TrainableModule(keras_model, optimizer, variables, loss_fn)
    inputs_signature = batched_signature(input_specs)
    batch_signature = {**inputs_signature, **batched_signature(target_specs)}

    def train(batch: Tensors) -> Tensors:
        return module.train_step({k: batch[k] for k in input_specs}, {k: batch[k] for k in target_specs})

    path_spec = tf.TensorSpec([], tf.string, name=CHECKPOINT_PATH)
    signatures = {TRAIN: tf.function(train).get_concrete_function(batch_signature)}
    for graph_name, graph in prediction_graphs(keras_model, model, input_specs).items():
        signatures[graph_name] = tf.function(graph.fn).get_concrete_function(graph.input_signature)
    signatures[SAVE] = tf.function(module.save_variables).get_concrete_function(path_spec)
    signatures[RESTORE] = tf.function(module.restore_variables).get_concrete_function(path_spec)
    tf.saved_model.save(module, path, signatures=signatures)
    descriptor = describe(signatures, name, type(optimizer).__name__)
    with open(f"{path}/{DESCRIPTOR_FILE}", "w", encoding="utf-8") as f:
        f.write(json.dumps(descriptor, indent=2) + "\n")
    return descriptor


def describe(signatures: Dict[str, Any], name: str, optimizer: str) -> Dict[str, Any]:
    """The `model.json` descriptor of the signatures (concrete functions): tensors by name, dtype and shape."""

    def tensors(specs: Dict[str, Any]) -> List[Dict[str, Any]]:
        return [
            {"name": key, "dtype": spec.dtype.name, "shape": [-1 if d is None else int(d) for d in spec.shape]}
            for key, spec in sorted(specs.items())
        ]

    def inputs_of(fn: Any) -> Dict[str, Any]:
        return {spec.name: spec for spec in tf.nest.flatten(fn.structured_input_signature)}

    described = {
        key: {
            "inputs": tensors(inputs_of(fn)),
            "outputs": tensors({k: tf.TensorSpec.from_tensor(v) for k, v in fn.structured_outputs.items()}),
        }
        for key, fn in signatures.items()
    }
    serving = described["serving_default"]
    train_inputs = {t["name"] for t in described[TRAIN]["inputs"]}
    serving_inputs = {t["name"] for t in serving["inputs"]}
    return {
        "format": DESCRIPTOR_FORMAT,
        "name": name,
        "model": {"file": ".", "backend": "tensorflow", "format": "saved_model", "modes": ["predict", "train"]},
        "inputs": serving["inputs"],
        "targets": [t for t in described[TRAIN]["inputs"] if t["name"] in train_inputs - serving_inputs],
        "outputs": serving["outputs"],
        "train": {
            "signature": TRAIN,
            "inputs": sorted(train_inputs),
            "outputs": ["loss"],
            "optimizer": optimizer,
            "save": {"signature": SAVE, "input": CHECKPOINT_PATH},
            "restore": {"signature": RESTORE, "input": CHECKPOINT_PATH},
        },
        "signatures": described,
    }
