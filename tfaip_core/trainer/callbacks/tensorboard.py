"""TensorBoard event files: OUTPUT_DIR/train and OUTPUT_DIR/validation."""

from __future__ import annotations

import glob
import os
from typing import Dict, List, Optional

import tensorflow as tf
from tensorflow.core.util import event_pb2

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.util.logging import logger

log = logger("trainer")


class TensorBoardCallback(Callback):
    """Writes every loss term, metric and the learning rate per epoch, at the global step."""

    def __init__(self) -> None:
        self._writers: Dict[str, tf.summary.SummaryWriter] = {}

    def _writer(self, name: str) -> tf.summary.SummaryWriter:
        if name not in self._writers:
            self._writers[name] = tf.summary.create_file_writer(self.trainer.run_dir.tensorboard_dir(name))
        return self._writers[name]

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        """A resumed run first drops the points written after its checkpoint: the epochs it replays.

        Why: a run that crashed after an epoch's TensorBoard points but before its checkpoint replays that
        epoch; without this, TensorBoard would draw two points at each of its steps.
        """
        step = self.trainer.global_step
        if step == 0:
            return
        run_dir = self.trainer.run_dir
        for name in run_dir.owned:
            directory = os.path.join(run_dir.path, name)
            if os.path.isdir(directory) and not os.path.islink(directory):
                for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
                    dropped = drop_events_after(path, step)
                    if dropped:
                        log.info("TensorBoard: dropped %d points after step %d in %s (replayed)", dropped, step, path)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        step = self.trainer.global_step
        groups: Dict[str, Dict[str, float]] = {"train": {}, "validation": {}}
        for key, value in logs.items():
            if key.startswith("lav_"):  # the LAV callback writes these under lav_l0/ ...
                continue
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


def drop_events_after(path: str, step: int) -> int:
    """Rewrite the event file `path` without its summaries of steps after `step`; return how many were dropped.

    A record cut short by a crash ends the file (what TensorBoard reads of it too). Written to a temporary file
    and renamed, so a crash here leaves the old file or the new one.
    """
    kept: List[bytes] = []
    dropped = 0
    try:
        for record in tf.data.TFRecordDataset(path):
            raw = record.numpy()
            event = event_pb2.Event.FromString(raw)
            if event.HasField("summary") and event.step > step:
                dropped += 1
            else:
                kept.append(raw)
    except tf.errors.DataLossError:
        dropped += 1  # a truncated last record
    if dropped:
        temporary = path + ".tmp"
        with tf.io.TFRecordWriter(temporary) as writer:
            for raw in kept:
                writer.write(raw)
        os.replace(temporary, path)
    return dropped
