"""TensorBoard event files: OUTPUT_DIR/train and OUTPUT_DIR/validation."""

from __future__ import annotations

from typing import Dict

import tensorflow as tf

from tfaip_core.trainer.callbacks.base import Callback, Logs


class TensorBoardCallback(Callback):
    """Writes every loss term, metric and the learning rate per epoch, at the global step."""

    def __init__(self) -> None:
        self._writers: Dict[str, tf.summary.SummaryWriter] = {}

    def _writer(self, name: str) -> tf.summary.SummaryWriter:
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(self.trainer.run_dir.tensorboard_dir(name))
        return self._writers[name]

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        step = self.trainer.global_step
        groups: Dict[str, Dict[str, float]] = {"train": {}, "validation": {}}
        for key, value in logs.items():
            if key.startswith("val_"):
                groups["validation"][key[4:]] = value
            else:
                groups["train"][key] = value
        for name, values in groups.items():
            if not values:
                continue
            with self._writer(name).as_default():
                for key, value in values.items():
                    tf.summary.scalar(key, value, step=step)
            self._writer(name).flush()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
