"""Keep a SavedModel of the best epoch in OUTPUT_DIR/best."""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.trainer.monitor import Monitor
from tfaip_core.util.logging import logger

log = logger("trainer")


class BestModelCallback(Callback):
    """Exports the model whenever the model's monitored value improves (validated epochs only)."""

    def __init__(self, monitor: Monitor, export: bool):
        self.monitor = monitor
        self.export = export
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        current = self.monitor.value(logs)
        if current is None:
            return
        if self.monitor.is_improvement(current, self.best):
            previous = self.best
            self.best, self.best_epoch = current, epoch + 1
            log.info(
                "Best model: %s improved from %s to %.6g at epoch %d",
                self.monitor.name,
                "none" if previous is None else f"{previous:.6g}",
                current,
                epoch + 1,
            )
            if self.export:
                self.trainer.export(os.path.join(self.trainer.output_dir, "best"))
        logs[f"best_{self.monitor.name}"] = self.best  # type: ignore[assignment]

    def get_state(self) -> Dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def set_state(self, state: Dict[str, Any]) -> None:
        self.best, self.best_epoch = state.get("best"), state.get("best_epoch")
