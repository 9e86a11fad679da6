"""Keep a SavedModel of the best epoch in OUTPUT_DIR/best."""

from __future__ import annotations

import json
import math
import os
from typing import Optional

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.trainer.monitor import BestValue
from tfaip_core.util.logging import logger

log = logger("trainer")
BEST_FILE = "best.json"


class BestModelCallback(Callback):
    """Exports the model when the epoch's monitored value is the new best (`trainer.best.improved`).

    The export records its value in `best/best.json`; an existing `best/` is replaced only by a
    strictly better value (a run resumed from an older checkpoint never replaces a better model
    written after that checkpoint).
    """

    def __init__(self, best: BestValue, export: bool):
        self.best = best
        self.export = export

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        value = self.best.value
        if not self.best.improved or value is None:
            return
        log.info("Best model: %s = %.6g at epoch %d", self.best.monitor.name, value, epoch + 1)
        if not self.export:
            return
        path = self.trainer.run_dir.best_dir
        recorded = recorded_best(path)
        if recorded is not None and not self.best.monitor.is_improvement(value, recorded):
            log.info("Kept %s: its recorded %s %.6g is at least as good", path, self.best.monitor.name, recorded)
            return
        self.trainer.export(
            path,
            extra_files={BEST_FILE: {"monitor": self.best.monitor.name, "value": value, "epoch": epoch + 1}},
        )


def recorded_best(path: str) -> Optional[float]:
    """The monitored value recorded in an exported best model (None when there is none or it is unreadable)."""
    try:
        with open(os.path.join(path, BEST_FILE), encoding="utf-8") as f:
            value = json.load(f).get("value")
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)
