"""`LoadedModel`: an exported model (directory or `.zip` archive) loaded with plain `tf.saved_model.load`.

LAV on exports (`tfaip-lav`), the `Predictor` and `tfaip-predict` all run a model through this one class,
so they call it exactly as a user of the export without tfaip_core would: its `serving_default` signature
with the named inputs as keyword arguments.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Dict

import tensorflow as tf

from tfaip_core.errors import ConfigError
from tfaip_core.export.archive import model_directory
from tfaip_core.model.prediction import SERVING_DEFAULT
from tfaip_core.util.logging import silenced_native_stderr

Tensors = Dict[str, tf.Tensor]
PredictFn = Callable[[Tensors], Tensors]
PARAMS_FILE = "trainer_params.json"


class LoadedModel:
    """An exported model, open until `close()` (an extracted archive is removed then).

    Example:
        with LoadedModel("run/best") as model:
            outputs = model.predict({"img": images})

    Args:
        path: A model directory (`OUTPUT_DIR/best`, `OUTPUT_DIR/export`) or a `.zip` model archive.
        signature: The serving signature to run. Defaults to `serving_default`.

    Raises:
        ConfigError: `path` is not a model (no directory or archive, no SavedModel, no such signature).
    """

    def __init__(self, path: str, signature: str = SERVING_DEFAULT) -> None:
        self.path = path
        self._stack = contextlib.ExitStack()
        try:
            self.directory = self._stack.enter_context(model_directory(path))
            if not os.path.isfile(os.path.join(self.directory, "saved_model.pb")):
                raise ConfigError(
                    f"model path must hold an exported SavedModel (saved_model.pb); got {path!r}. Fix: pass "
                    "OUTPUT_DIR/best or OUTPUT_DIR/export of a training run."
                )
            with silenced_native_stderr():  # CUDA probing logs an error on machines without a GPU
                tf.config.list_physical_devices("GPU")
            self.saved_model: Any = tf.saved_model.load(self.directory)
            signatures = self.saved_model.signatures
            if signature not in signatures:
                raise ConfigError(
                    f"the model {path!r} has no signature {signature!r}; it has {sorted(signatures)}. "
                    f"Fix: choose one of them."
                )
            self._signature = signatures[signature]
        except BaseException:
            self._stack.close()
            raise

    @property
    def params_file(self) -> str:
        """The `trainer_params.json` stored with the export (the scenario and its parameters)."""
        return os.path.join(self.directory, PARAMS_FILE)

    def predict(self, inputs: Tensors) -> Tensors:
        """The signature's outputs by name for one batch of named inputs."""
        return self._signature(**inputs)

    def close(self) -> None:
        """Release the model (and remove an extracted archive). Idempotent."""
        self.saved_model = None
        self._stack.close()

    def __enter__(self) -> LoadedModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
