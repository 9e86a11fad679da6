"""Open an exported model with its scenario: the `trainer_params.json` stored with every export names it."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from typing import Iterator, Type

from tfaip_core.errors import ConfigError
from tfaip_core.export.archive import model_directory
from tfaip_core.export.resources import resolve_resources
from tfaip_core.scenario.locate import RUN_PARAMS_FILE, load_params_file
from tfaip_core.scenario.scenario_base import ScenarioBase
from tfaip_core.trainer.params import TrainerParams


@dataclasses.dataclass
class ExportedScenario:
    """An export opened for use: its scenario class, its params and the directory that holds it.

    `directory` is the model directory itself, or the extracted copy of a `.zip` archive (valid inside the
    `exported_scenario` block). `scenario()` builds the scenario from the stored params.
    """

    scenario_cls: Type[ScenarioBase]
    params: TrainerParams
    directory: str

    def scenario(self) -> ScenarioBase:
        return self.scenario_cls(self.params.scenario)


@contextlib.contextmanager
def exported_scenario(model_dir: str) -> Iterator[ExportedScenario]:
    """The scenario and `TrainerParams` of the export (or `.zip` model archive) `model_dir`, open in the block.

    What `tfaip-lav`, `tfaip-predict` and a Python user of the Predictor call to rebuild the scenario (data,
    pre- and post-processing, evaluator) that belongs to a model. Resource files the export carries are
    resolved into the model directory.

    Example:
        with exported_scenario("run/best") as exported:
            with exported.scenario().create_predictor(exported.directory, PredictorParams()) as predictor:
                samples = list(predictor.predict())

    Raises:
        ConfigError: `model_dir` is no model, or holds no `trainer_params.json`, or that file is invalid.
    """
    with model_directory(model_dir) as directory:
        params_file = os.path.join(directory, RUN_PARAMS_FILE)
        if not os.path.isfile(params_file):
            raise ConfigError(
                f"{model_dir} is not an exported tfaip model: it has no {RUN_PARAMS_FILE}. Fix: pass "
                "OUTPUT_DIR/best or OUTPUT_DIR/export of a training run (or an archive of one)."
            )
        scenario_cls, params = load_params_file(params_file)
        resolve_resources(params.scenario, directory)
        yield ExportedScenario(scenario_cls, params, directory)
