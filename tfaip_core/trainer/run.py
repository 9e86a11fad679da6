"""Start a training run: check the parameters, prepare the output directory, fit."""

from __future__ import annotations

import os
from typing import Type

from tfaip_core.scenario.scenario_base import ScenarioBase
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.util.io import atomic_write_json
from tfaip_core.util.logging import logger, setup_logging

log = logger("trainer")


def train(scenario_cls: Type[ScenarioBase], params: TrainerParams) -> None:
    """Validate `params` (nothing is written before that), then train `scenario_cls` with them."""
    params.scenario.scenario_class = scenario_cls.class_path()
    params.validate()
    output_dir = os.path.abspath(params.output_dir or "")
    os.makedirs(output_dir, exist_ok=True)
    setup_logging(os.path.join(output_dir, "train.log"))
    atomic_write_json(os.path.join(output_dir, "trainer_params.json"), params.to_dict())
    log.info("Training %s into %s", scenario_cls.class_path(), output_dir)
    scenario = scenario_cls(params.scenario)
    trainer = scenario.create_trainer(params)
    trainer.fit()
