"""The one exporter: every artefact of a trained state (serving SavedModel, trainable SavedModel, `.tflite`,
archive) is written here, through the one prediction function of `model/prediction.py`.

Used by the trainer (best/ and export/) and by `tfaip-export` (from a model directory or checkpoint, without a
trainer). An export directory is written under `NAME.tmp` and moved into place whole, so a crash leaves the
old export or the new one. Layout of a full export (`extras=True`):

    saved_model.pb, variables/, fingerprint.pb   the serving SavedModel (serving_default + named graphs)
    trainer_params.json                          the resolved params (resource paths relative to the export)
    resources/                                   files the scenario needs at prediction time (resource fields)
    model.tflite                                 with --export.tflite float32|dynamic|int8
    trainable/ (saved_model.pb, model.json ...)  with --export.trainable
"""

from __future__ import annotations

import copy
import dataclasses
import os
import shutil
from typing import Any, Callable, Dict, Optional, Sequence

import keras
import tensorflow as tf

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.params import DataPipelineParams
from tfaip_core.errors import ConfigError
from tfaip_core.export.archive import write_model_archive
from tfaip_core.export.params import ExportParams
from tfaip_core.export.resources import copy_resources, relocate
from tfaip_core.export.saved_model import PARAMS_FILE, serving_archive, write_saved_model
from tfaip_core.export.tflite import TFLITE_FILE, convert_tflite, representative_inputs
from tfaip_core.export.trainable import LossFn, write_trainable
from tfaip_core.model.model_base import KerasModel, ModelBase
from tfaip_core.model.prediction import prediction_graphs
from tfaip_core.util.io import atomic_write_json, replace_dir
from tfaip_core.util.logging import logger

log = logger("export")
TRAINABLE_DIR = "trainable"
ARCHIVE_SUFFIX = ".zip"


@dataclasses.dataclass
class Training:
    """What the trainable export needs beyond the model: the optimizer, the variables it updates, the loss."""

    optimizer: keras.optimizers.Optimizer
    variables: Sequence[tf.Variable]
    loss_fn: LossFn


class Exporter:
    """Writes the exports of one trained state.

    Args:
        keras_model: The built model; its current weights are exported (swap EMA weights in before).
        model: The scenario's `ModelBase` (prediction graphs, export outputs).
        data: The scenario's data (input and target specs; validation samples for int8 calibration).
        params: The resolved params as JSON data (`TrainerParams.to_dict()`), stored with every export.
        scenario_params: The scenario's params object (its resource fields are copied into the export).
        export_params: What a full export holds (`--export.*`).
        val_pipeline: The validation pipeline's params (int8 calibration samples).
        training: Optimizer, variables and loss for `--export.trainable`. Defaults to None (then a trainable
            export is refused).
    """

    def __init__(
        self,
        keras_model: KerasModel,
        model: ModelBase,
        data: DataBase,
        params: Dict[str, Any],
        scenario_params: Any,
        export_params: ExportParams,
        val_pipeline: DataPipelineParams,
        training: Optional[Training] = None,
    ) -> None:
        self.keras_model = keras_model
        self.model = model
        self.data = data
        self.params = params
        self.scenario_params = scenario_params
        self.export_params = export_params
        self.val_pipeline = val_pipeline
        self.training = training
        self._archive: Optional[keras.export.ExportArchive] = None  # traced on the first export, then reused

    def export(self, path: str, extra_files: Optional[Dict[str, Any]] = None, extras: bool = False) -> None:
        """Write the export directory `path` (replacing an older one): the serving SavedModel, params, resources.

        `extras` adds what `export_params` asks for (TFLite, trainable); `extra_files` are JSON files
        (name -> data) written into it, e.g. the value that made it the best model.
        """
        tmp = path.rstrip("/") + ".tmp"
        if os.path.lexists(tmp):
            shutil.rmtree(tmp)
        try:
            if self._archive is None:  # best/ is exported at every improvement: trace its graphs once per run
                self._archive = serving_archive(self.keras_model, self.model, self.data.input_specs())
            write_saved_model(tmp, self._archive)
            params = copy.deepcopy(self.params)
            relocate(params, copy_resources(self.scenario_params, tmp))
            atomic_write_json(os.path.join(tmp, PARAMS_FILE), params)
            for name, data in (extra_files or {}).items():
                atomic_write_json(os.path.join(tmp, name), data)
            if extras and self.export_params.tflite != "none":
                self.write_tflite(tmp, os.path.join(tmp, TFLITE_FILE))
            if extras and self.export_params.trainable:
                self.write_trainable(os.path.join(tmp, TRAINABLE_DIR))
        except BaseException:  # a failed export leaves the previous one and no half-written directory
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        replace_dir(tmp, path)
        log.info("Exported the model to %s", path)

    def write_tflite(self, saved_model_dir: str, path: str) -> None:
        """Convert the serving SavedModel in `saved_model_dir` to `path` as `export_params.tflite` says."""
        mode = self.export_params.tflite
        representative = (
            representative_inputs(self.data, self.val_pipeline, self.export_params.representative_samples)
            if mode == "int8"
            else []
        )
        signatures = list(prediction_graphs(self.keras_model, self.model, self.data.input_specs()))
        content = convert_tflite(saved_model_dir, signatures, mode, representative)
        with open(path, "wb") as f:
            f.write(content)
        log.info("Wrote %s (%s, %d bytes)", path, mode, len(content))

    def write_trainable(self, path: str) -> None:
        """The trainable SavedModel with `model.json` in the new directory `path`.

        Raises:
            ConfigError: no optimizer was given (see `training`).
        """
        if self.training is None:
            raise ConfigError(
                "--export.trainable needs the optimizer and loss of a training setup; got an exporter without one. "
                "Fix: pass training=Training(...) to the Exporter (the trainer and tfaip-export do)."
            )
        scenario = str(self.params.get("scenario", {}).get("scenario_class", ""))
        write_trainable(
            path,
            self.keras_model,
            self.model,
            self.training.optimizer,
            self.training.variables,
            self.training.loss_fn,
            self.data.input_specs(),
            self.data.target_specs(),
            name=scenario,
        )

    @staticmethod
    def archive(model_dir: str, path: str, run_files: Dict[str, str]) -> None:
        """Pack `model_dir` (at the archive's root) and the run's files (name -> path) into the zip `path`."""
        write_model_archive(path, model_dir, run_files)
        log.info("Wrote the model archive %s", path)


def loss_function(loss: Callable[..., Any]) -> LossFn:
    """A `LossFn` from a function returning (total, terms), such as `TrainStep.loss`."""
    return lambda inputs, targets, outputs: loss(inputs, targets, outputs)[0]
