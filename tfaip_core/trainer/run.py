"""Start a training run: check the parameters, take the run directory (lock and policy), then fit.

Nothing is written before the parameters are valid and the run directory is locked; a fresh run
that fails before its first checkpoint removes what it created and nothing else.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import TYPE_CHECKING, Optional, Type

from tfaip_core.device.cluster import is_chief
from tfaip_core.errors import ConfigError, TfaipError
from tfaip_core.trainer.checkpoint_files import complete_checkpoints
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.util.logging import logger, setup_logging
from tfaip_core.util.run_dir import CHECKPOINT_DIR, RunDirectory

if TYPE_CHECKING:
    from tfaip_core.scenario.scenario_base import ScenarioBase

log = logger("trainer")


def train(scenario_cls: Type[ScenarioBase], params: TrainerParams, resume: bool = False) -> None:
    """Validate `params`, open the run directory, then train `scenario_cls` with them.

    A fresh run refuses an output directory that already holds a run unless `--trainer.overwrite`
    is set (which removes only that run's own files); `resume=True` continues the run in the
    directory from its newest complete checkpoint and refuses a run that has none.

    Raises:
        ConfigError: invalid params, a directory in use, held by another run or by the user's files,
            or nothing to resume.
    """
    params.scenario.scenario_class = scenario_cls.class_path()
    params.validate()
    check_scenario_params(scenario_cls, params)
    if params.dry_run:  # one small epoch and every export, in OUTPUT_DIR-dryrun (docs/export.md)
        if resume:
            raise ConfigError(
                "--trainer.dry_run starts a new small run and cannot resume one; got it with a resume. "
                "Fix: drop --trainer.dry_run, or run tfaip-train with it."
            )
        params = params.for_dry_run()
        log.info("Dry run: 1 epoch on at most %d samples, every export, in %s", params.train.limit, params.output_dir)
    if not resume:
        params.current_epoch = 0
    run_dir = RunDirectory(params.output_dir or "", chief=is_chief(params.device))
    run_dir.open(resume=resume, overwrite=params.overwrite and not resume, has_checkpoint=holds_checkpoint)
    handler: Optional[logging.Handler] = None
    try:
        if resume and run_dir.chief and not holds_checkpoint(run_dir.path):
            raise ConfigError(no_checkpoint_message(run_dir.output_dir))
        handler = _log_to(run_dir)
        if not resume:  # a resumed run's file changes only once its checkpoint is restored (Trainer.fit)
            run_dir.write_json(run_dir.params_file, params.to_dict())  # type: ignore[attr-defined]
        log.info(
            "%s %s (%s) in %s",
            "Resuming" if resume else "Training",
            scenario_cls.class_path(),
            inspect.getsourcefile(scenario_cls),  # where a resume finds it again (PYTHONPATH)
            run_dir.output_dir,
        )
        trainer = scenario_cls(params.scenario).create_trainer(params)
        trainer.run_dir = run_dir
        trainer.fit()
    except BaseException as error:
        if handler is not None and isinstance(error, TfaipError):  # the console gets it once, from the program
            handler.handle(log.makeRecord(log.name, logging.ERROR, __file__, 0, "%s", (error,), None))
        resumable = resume or holds_checkpoint(run_dir.path)
        if not resumable:  # a failed start: leave no half-started run, and nothing of anyone else's touched
            _remove_handler(handler)
            handler = None
            run_dir.remove_created()
        if isinstance(error, KeyboardInterrupt) and run_dir.chief:
            error.add_note(
                f"resume with tfaip-resume-training {run_dir.output_dir}"
                if resumable
                else "stopped before the first checkpoint: nothing to resume; the files of this run were removed"
            )
        raise
    finally:
        _remove_handler(handler)
        run_dir.close()


def check_scenario_params(scenario_cls: Type[ScenarioBase], params: TrainerParams) -> None:
    """The scenario params must be the scenario's own (a params file may name another scenario's)."""
    expected = scenario_cls.params_cls
    if not isinstance(params.scenario, expected):
        got = type(params.scenario)
        raise ConfigError(
            f"scenario.__cls__ names {got.__module__}:{got.__qualname__}, but scenario.scenario_class "
            f"{scenario_cls.class_path()} takes {expected.__module__}:{expected.__qualname__}. Fix: use a params file "
            "of that scenario, or correct scenario.scenario_class."
        )


def holds_checkpoint(output_dir: str) -> bool:
    """Whether `output_dir` has a complete checkpoint (`checkpoint/ckpt-N/state.json`) to resume from."""
    return bool(output_dir) and bool(complete_checkpoints(os.path.join(output_dir, CHECKPOINT_DIR)))


def no_checkpoint_message(output_dir: str) -> str:
    """Why a run without a complete checkpoint is not resumed, and the two ways on."""
    params_file = os.path.join(output_dir, "trainer_params.json")
    return (
        f"{output_dir} has no complete checkpoint to resume from (the run stopped before its first one, or "
        "checkpoint/ was removed); resuming would train from scratch and replace its models. Fix: start it again "
        f"in a new directory with `tfaip-train-from-params {params_file} --trainer.output_dir NEW_DIR`, or in place "
        f"with `tfaip-train-from-params {params_file} --trainer.overwrite true`."
    )


def _log_to(run_dir: RunDirectory) -> logging.Handler:
    """Log to stderr and append to `run_dir.log_file` (opened without following a link); return the file handler."""
    setup_logging()
    root = logger()
    handler = logging.StreamHandler(run_dir.open_append(run_dir.log_file))
    formatter = next((h.formatter for h in root.handlers if h.formatter is not None), None)
    handler.setFormatter(formatter)  # the console's format
    root.addHandler(handler)
    return handler


def _remove_handler(handler: Optional[logging.Handler]) -> None:
    if handler is not None:
        logger().removeHandler(handler)
        handler.flush()
        handler.stream.close()  # type: ignore[attr-defined]
