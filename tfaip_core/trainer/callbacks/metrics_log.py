"""`metrics.jsonl`: one JSON object per epoch."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, List, Optional

from tfaip_core.trainer.callbacks.base import Callback, Logs


class MetricsLogCallback(Callback):
    """Appends `{"epoch", "step", "lr", <train and val values>, "best_<monitor>", "time"}` to metrics.jsonl.

    `epoch` counts from 1 (the number of finished epochs); `time` is the wall time since the
    start of training in seconds. Every value is written from its typed value (int or float).
    """

    def __init__(self) -> None:
        self._start = time.time()
        self._elapsed_before = 0.0

    @property
    def path(self) -> str:
        return self.trainer.run_dir.metrics_file

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        self._start = time.time()
        if os.path.exists(self.path):  # a resumed run: drop epochs logged after the checkpoint it resumes from
            kept = _lines_up_to_epoch(self.path, self.trainer.params.current_epoch)
            if kept is not None:
                self.trainer.run_dir.write_text(self.path, "".join(kept))

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        record: Dict[str, Any] = {"epoch": int(epoch) + 1, "step": int(self.trainer.global_step)}
        record.update({str(k): float(v) for k, v in logs.items() if v is not None})
        record["time"] = round(self._elapsed_before + time.time() - self._start, 3)
        self.trainer.run_dir.append_line(self.path, json.dumps(record))

    def get_state(self) -> dict:
        return {"elapsed": self._elapsed_before + time.time() - self._start}

    def set_state(self, state: dict) -> None:
        self._elapsed_before = float(state.get("elapsed", 0.0))


def _lines_up_to_epoch(path: str, epochs_done: int) -> Optional[List[str]]:
    """The lines of epochs up to the resumed one (None: nothing to drop), so a resumed run has no duplicates."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    kept = []
    for line in lines:
        try:
            if json.loads(line).get("epoch", 0) <= epochs_done:
                kept.append(line)
        except (json.JSONDecodeError, AttributeError, TypeError):  # a line cut by a crash
            continue
    return None if len(kept) == len(lines) else kept
