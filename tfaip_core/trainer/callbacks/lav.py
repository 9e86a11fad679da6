"""LAV during training (`--trainer.lav_every_n N`): the exported prediction graph over each LAV list."""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional

from tfaip_core.data.params import DataPipelineParams
from tfaip_core.evaluator.summaries import SampleSummaries
from tfaip_core.lav.lav import LAV, LavResult
from tfaip_core.model.prediction import SERVING_DEFAULT, prediction_graphs
from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.util.logging import logger

log = logger("lav")
RESULTS_DIR = "lav"  # OUTPUT_DIR/lav/<label>_epoch_<N>.json, one file per LAV run


class LavCallback(Callback):
    """Runs LAV when due; the loop calls `run` inside its EMA block, before the best model is chosen.

    Why the in-memory model and not a re-loaded export: LAV runs the very function the export serves
    (`prediction_graphs(...)[serving_default]`, traced once) on the current (EMA) weights, which gives the
    export's outputs without writing and loading a SavedModel every epoch.

    Each list `lN` reports `lav_lN_<metric>` (the model's metrics the prediction can feed, and the evaluator's
    results) into the epoch's logs (log line, metrics.jsonl), TensorBoard `OUTPUT_DIR/lav_lN/` (with the
    model's extra outputs) and `OUTPUT_DIR/lav/lN_epoch_<N>.json`. Due after the first epoch, every
    `every_n`-th and the last. Its checkpoint state holds each list's last run under the list's own key.
    """

    def __init__(self, every_n: int) -> None:
        self.every_n = every_n
        self.state: Dict[str, Dict[str, Any]] = {}
        self._summaries: List[SampleSummaries] = []
        self._lav: Optional[LAV] = None
        self._pipelines: List[DataPipelineParams] = []

    def set_trainer(self, trainer: Any) -> None:
        """Build the LAV runner around the trainer's model (after its setup; a bad `--lav.lists` fails here)."""
        super().set_trainer(trainer)
        self._pipelines = trainer.scenario.lav_pipelines(trainer.params)
        graph = prediction_graphs(trainer.keras_model, trainer.model, trainer.data.input_specs())[SERVING_DEFAULT]
        self._lav = trainer.scenario.create_lav(graph.compiled(), trainer.params.lav)
        self._summaries = [
            SampleSummaries(self._lav.model, lambda name=f"lav_{label}": trainer.run_dir.tensorboard_dir(name))
            for label in self.labels
        ]

    @property
    def labels(self) -> List[str]:
        return [f"l{i}" for i in range(len(self._pipelines))]

    def due(self, epoch: int, last: bool) -> bool:
        """Whether LAV runs after epoch `epoch` (1-based): the first, every `every_n`-th and the last."""
        return epoch == 1 or last or epoch % self.every_n == 0

    def run(self, epoch: int) -> Logs:
        """LAV over every list; the values as `lav_lN_<name>` logs."""
        assert self._lav is not None, "set_trainer() builds the LAV runner"
        trainer = self.trainer
        logs: Logs = {}
        for label, pipeline, summaries in zip(self.labels, self._pipelines, self._summaries):
            result = self._lav.run(pipeline, label, print_fn=log.info, summaries=summaries)
            summaries.write(trainer.global_step, result.metrics)
            self._save(result, epoch)
            log.info("LAV %s: %s", label, ", ".join(f"{k} = {v:.6g}" for k, v in result.metrics.items()))
            logs.update({f"lav_{label}_{name}": value for name, value in result.metrics.items()})
        return logs

    def _save(self, result: LavResult, epoch: int) -> None:
        run_dir = self.trainer.run_dir
        record = {"epoch": epoch, "step": self.trainer.global_step, **result.to_dict()}
        run_dir.write_json(os.path.join(run_dir.file(RESULTS_DIR), f"{result.label}_epoch_{epoch:04d}.json"), record)
        self.state[result.label] = {"epoch": epoch, "metrics": result.metrics}

    def get_state(self) -> Dict[str, Any]:
        return {"lists": self.state}

    def set_state(self, state: Dict[str, Any]) -> None:
        self.state = dict(state.get("lists", {}))

    def close(self) -> None:
        for summaries in self._summaries:
            summaries.close()
