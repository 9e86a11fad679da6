"""Progress bar during an epoch and one log line after it."""

from __future__ import annotations

from typing import Optional

import keras

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.util.logging import logger

log = logger("trainer")


class ProgressCallback(Callback):
    """Shows a Keras progress bar (if enabled) and logs each epoch's values."""

    def __init__(self, show_bar: bool):
        self.show_bar = show_bar
        self._bar: Optional[keras.utils.Progbar] = None

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        t = self.trainer
        log.info("Epoch %d/%d", epoch + 1, t.params.epochs)
        if self.show_bar:
            self._bar = keras.utils.Progbar(t.steps_per_epoch, stateful_metrics=["loss"], unit_name="step")

    def on_train_batch_end(self, step: int, logs: Optional[Logs] = None) -> None:
        if self._bar is not None:
            last = step >= self.trainer.steps_per_epoch
            self._bar.update(step, values=[("loss", (logs or {}).get("loss", 0.0))], finalize=last)
            if last:  # finish the bar before validation starts logging
                self._bar = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        text = " - ".join(f"{k}: {_fmt(v)}" for k, v in logs.items())
        log.info("Epoch %d/%d: %s", epoch + 1, self.trainer.params.epochs, text)


def _fmt(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
