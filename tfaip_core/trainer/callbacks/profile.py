"""`--trainer.profile`: a TensorBoard profile (trace) of the global steps `--trainer.profile_steps`.

Why a callback: profiling is optional and reads only the loop's step count. The trace goes to the train
log directory (`OUTPUT_DIR/train/plugins/profile/RUN/*.xplane.pb`), where TensorBoard's profile tab (the
`tensorboard-plugin-profile` package, the `profile` extra) shows it. The steps run in compiled chunks of
`--trainer.steps_per_execution`, so the trace starts and stops at the chunk boundaries nearest the steps.
"""

from __future__ import annotations

import importlib.util
from typing import List, Optional

import tensorflow as tf

from tfaip_core.errors import ConfigError
from tfaip_core.trainer.callbacks.base import BatchLogs, Callback, Logs
from tfaip_core.util.logging import logger

log = logger("trainer")
PLUGIN = "tensorboard_plugin_profile"


def check_profile_extra() -> None:
    """Raise `ConfigError` if TensorBoard's profile plugin is not installed (the trace could not be viewed)."""
    if importlib.util.find_spec(PLUGIN) is None:
        raise ConfigError(
            "--trainer.profile true needs TensorBoard's profile plugin, which is not installed. "
            "Fix: pip install 'tfaip_core[profile]' (or pip install tensorboard-plugin-profile), or drop "
            "--trainer.profile."
        )


class ProfileCallback(Callback):
    """Traces from global step `steps[0]` to `steps[1]` (at chunk boundaries) into the `train` log directory."""

    def __init__(self, steps: List[int]) -> None:
        check_profile_extra()
        self.first, self.last = steps
        self._logdir: Optional[str] = None
        self._done = False

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        self._update()

    def on_train_batch_end(self, step: int, logs: Optional[BatchLogs] = None) -> None:
        self._update()

    def on_train_end(self, logs: Optional[Logs] = None) -> None:
        self._stop()

    def close(self) -> None:
        self._stop()

    def _update(self) -> None:
        step = self.trainer.global_step
        if self._logdir is None and not self._done and self.first <= step < self.last:
            self._logdir = self.trainer.run_dir.tensorboard_dir("train")
            tf.profiler.experimental.start(self._logdir)
            log.info("Profiling from global step %d into %s", step, self._logdir)
        elif self._logdir is not None and step >= self.last:
            self._stop()

    def _stop(self) -> None:
        if self._logdir is not None:
            tf.profiler.experimental.stop()
            log.info("Profile of global steps %d-%d written to %s", self.first, self.trainer.global_step, self._logdir)
            self._logdir = None
            self._done = True
