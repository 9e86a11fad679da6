"""Progress bar during an epoch (on a terminal only), one log line after it, and a summary at the end."""

from __future__ import annotations

import os
import sys
import time
from typing import List, Optional

import keras

from tfaip_core.trainer.callbacks.base import BatchLogs, Callback, Logs
from tfaip_core.util.logging import logger
from tfaip_core.util.run_dir import BEST_DIR, EXPORT_DIR

log = logger("trainer")
REDRAW_SECONDS = 0.2  # the bar (and the loss it shows: a host synchronisation) is updated at most this often


class ProgressCallback(Callback):
    """Shows a Keras progress bar (if enabled and stdout is a terminal), logs each epoch's values and a summary.

    Why only on a terminal: redirected to a file or a CI log, the bar's `\\r` redraws and ANSI codes are
    noise; the epoch's log line says the same once.
    """

    def __init__(self, show_bar: bool):
        self.show_bar = show_bar and _is_terminal()
        self._bar: Optional[keras.utils.Progbar] = None
        self._start = time.monotonic()
        self._start_step = 0
        self._drawn = 0.0  # time.monotonic() of the bar's last update

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        self._start = time.monotonic()
        self._start_step = self.trainer.global_step

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        t = self.trainer
        log.info("Epoch %d/%d", epoch + 1, t.params.epochs)
        if self.show_bar:
            self._bar = keras.utils.Progbar(t.steps_per_epoch, stateful_metrics=["loss"], unit_name="step")
            self._drawn = time.monotonic()

    def on_train_batch_end(self, step: int, logs: Optional[BatchLogs] = None) -> None:
        if self._bar is None:
            return
        last = step >= self.trainer.steps_per_epoch
        now = time.monotonic()
        if not last and now - self._drawn < REDRAW_SECONDS:
            return  # no read of the loss: the compiled steps go on without a host synchronisation
        self._drawn = now
        self._bar.update(step, values=[("loss", (logs or {}).get("loss", 0.0))], finalize=last)
        if last:  # finish the bar before validation starts logging
            self._bar = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        text = " - ".join(f"{k}: {_fmt(v)}" for k, v in logs.items())
        log.info("Epoch %d/%d: %s", epoch + 1, self.trainer.params.epochs, text)

    def on_train_end(self, logs: Optional[Logs] = None) -> None:
        log.info("%s", self.summary())

    def summary(self) -> str:
        """One line: how far the run got, how long it took, the best value and where the models are."""
        t = self.trainer
        steps = t.global_step - self._start_step
        parts: List[str] = [
            f"Done: epoch {t.params.current_epoch}/{t.params.epochs}, global step {t.global_step} "
            f"({steps} trained in {time.monotonic() - self._start:.1f} s)"
        ]
        if t.best.value is not None:
            parts.append(f"best {t.monitor.name} {_fmt(t.best.value)} at epoch {t.best.epoch}")
        models = [os.path.join(t.output_dir, d) for d in (BEST_DIR, EXPORT_DIR)]
        existing = [m for m in models if os.path.isdir(m)]
        parts.append(f"models: {', '.join(existing)}" if existing else "no exported model")
        return "; ".join(parts)


def _is_terminal() -> bool:
    return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()


def _fmt(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
