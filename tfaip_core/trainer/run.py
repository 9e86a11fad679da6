"""Start a training run: check the parameters and the output directory, then fit."""

from __future__ import annotations

import os
import shutil
from typing import Type

from tfaip_core.errors import ConfigError, DataError
from tfaip_core.scenario.scenario_base import ScenarioBase
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.util.io import atomic_write_json
from tfaip_core.util.logging import logger, setup_logging

log = logger("trainer")
PARAMS_FILE = "trainer_params.json"
# What a run writes; --trainer.overwrite deletes exactly these and nothing else of the directory.
RUN_ARTIFACTS = (
    "trainer_params.json",
    "metrics.jsonl",
    "train.log",
    "checkpoint",
    "best",
    "export",
    "train",
    "validation",
)


def holds_run(output_dir: str) -> bool:
    return any(os.path.exists(os.path.join(output_dir, name)) for name in ("trainer_params.json", "checkpoint"))


def train(scenario_cls: Type[ScenarioBase], params: TrainerParams, resume: bool = False) -> None:
    """Validate `params` (nothing is written before that), then train `scenario_cls` with them.

    A fresh run refuses an output directory that already holds a run unless `--trainer.overwrite`
    is set; `resume=True` continues the run in the directory instead.
    """
    params.scenario.scenario_class = scenario_cls.class_path()
    params.validate()
    output_dir = os.path.abspath(params.output_dir or "")
    if not resume:
        if holds_run(output_dir) and not params.overwrite:
            raise ConfigError(
                f"--trainer.output_dir {output_dir} already holds a run. Fix: continue it with "
                f"`tfaip-resume-training {output_dir}`, choose a new directory, or pass --trainer.overwrite true "
                "to replace it."
            )
        if params.overwrite:
            remove_run(output_dir)
        params.current_epoch = 0
    os.makedirs(output_dir, exist_ok=True)
    setup_logging(os.path.join(output_dir, "train.log"))
    atomic_write_json(os.path.join(output_dir, PARAMS_FILE), params.to_dict())  # type: ignore[attr-defined]
    log.info("%s %s in %s", "Resuming" if resume else "Training", scenario_cls.class_path(), output_dir)
    scenario = scenario_cls(params.scenario)
    trainer = scenario.create_trainer(params)
    try:
        trainer.fit()
    except (ConfigError, DataError):
        if not resume and not holds_checkpoint(output_dir):
            _remove_fresh_run(output_dir)  # a usage or data error found while setting up: leave no half-started run
        raise


def holds_checkpoint(output_dir: str) -> bool:
    checkpoint_dir = os.path.join(output_dir, "checkpoint")
    return os.path.isdir(checkpoint_dir) and any(n.startswith("ckpt-") for n in os.listdir(checkpoint_dir))


def remove_run(output_dir: str) -> None:
    """Delete what a run wrote (`RUN_ARTIFACTS`) and nothing else of the directory."""
    for name in RUN_ARTIFACTS:
        path = os.path.join(output_dir, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.exists(path):
            os.remove(path)


def _remove_fresh_run(output_dir: str) -> None:
    for handler in [h for h in logger().handlers if getattr(h, "baseFilename", None)]:
        handler.close()  # train.log is about to be deleted
        logger().removeHandler(handler)
    remove_run(output_dir)
    if os.path.isdir(output_dir) and not os.listdir(output_dir):
        os.rmdir(output_dir)
