"""Write the resume state (checkpoint) and the resolved params after each epoch."""

from __future__ import annotations

import os

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.util.io import atomic_write_json


class CheckpointCallback(Callback):
    """Saves a checkpoint and rewrites OUTPUT_DIR/trainer_params.json with the current epoch.

    It runs last among the epoch-end callbacks, so the states it stores include what the
    others (best model, early stopping) decided for this epoch.
    """

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        trainer = self.trainer
        trainer.params.current_epoch = epoch + 1
        trainer.save_checkpoint()
        atomic_write_json(os.path.join(trainer.output_dir, "trainer_params.json"), trainer.params_dict())
