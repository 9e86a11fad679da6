"""`metrics.jsonl`: one JSON object per epoch."""

from __future__ import annotations

import json
import os
import time
from typing import Any, Dict, Optional

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.util.io import append_line, atomic_write_text


class MetricsLogCallback(Callback):
    """Appends `{"epoch", "step", "lr", <train and val values>, "time"}` to OUTPUT_DIR/metrics.jsonl.

    `epoch` counts from 1 (the number of finished epochs); `time` is the wall time since the
    start of training in seconds.
    """

    def __init__(self, path: str):
        self.path = path
        self._start = time.time()
        self._elapsed_before = 0.0

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        self._start = time.time()
        if os.path.exists(self.path):  # a resumed run: drop epochs logged after the checkpoint it resumes from
            _truncate_after_epoch(self.path, self.trainer.params.current_epoch)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        record: Dict[str, Any] = {"epoch": epoch + 1, "step": self.trainer.global_step}
        record.update({k: float(v) for k, v in logs.items()})
        record["time"] = round(self._elapsed_before + time.time() - self._start, 3)
        append_line(self.path, json.dumps(record))

    def get_state(self) -> dict:
        return {"elapsed": self._elapsed_before + time.time() - self._start}

    def set_state(self, state: dict) -> None:
        self._elapsed_before = float(state.get("elapsed", 0.0))


def _truncate_after_epoch(path: str, epochs_done: int) -> None:
    """Drop lines of epochs after the resumed one, so a resumed run has no duplicate epochs."""
    with open(path, encoding="utf-8") as f:
        lines = [line for line in f if line.strip()]
    kept = []
    for line in lines:
        try:
            if json.loads(line).get("epoch", 0) <= epochs_done:
                kept.append(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
    if len(kept) != len(lines):
        atomic_write_text(path, "".join(kept))
