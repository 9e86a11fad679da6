"""`SampleSummaries`: one TensorBoard directory's writer, and the samples of a pass the model turns into extra data."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import tensorflow as tf

from tfaip_core.data.sample import Sample
from tfaip_core.model.model_base import ModelBase


class SampleSummaries:
    """Writes one TensorBoard directory (`validation/`, `lav_l0/` ...): scalars, and the model's extra outputs.

    Keeps up to `model.tensorboard_samples()` post-processed samples of a pass and hands them to
    `model.write_tensorboard` at its end. Why one helper: validation (trainer) and LAV write the same way, and a
    model that asks for no samples costs nothing (nothing is kept). The writer is opened on the first write.

    Args:
        model: The scenario's model (its `tensorboard_samples` and `write_tensorboard`).
        logdir: Gives the directory when the first write happens (None: nothing is written, e.g. `tfaip-lav`).
    """

    def __init__(self, model: ModelBase, logdir: Optional[Callable[[], str]] = None) -> None:
        self.model = model
        self.logdir = logdir
        self.limit = int(model.tensorboard_samples()) if logdir is not None else 0
        self.samples: List[Sample] = []
        self._writer: Optional[tf.summary.SummaryWriter] = None

    def reset(self) -> None:
        self.samples = []

    def add(self, samples: List[Sample]) -> None:
        """Keep `samples` (post-processed) while fewer than the model's limit are kept."""
        if self.limit < 0:
            self.samples += samples
        elif len(self.samples) < self.limit:
            self.samples += samples[: self.limit - len(self.samples)]

    def write(self, step: int, scalars: Optional[Dict[str, float]] = None) -> None:
        """Write `scalars` and let the model write the kept samples, at `step`; then forget the samples."""
        writer = self._open()
        if writer is not None and (scalars or self.samples):
            with writer.as_default():
                for name, value in (scalars or {}).items():
                    tf.summary.scalar(name, value, step=step)
                if self.samples:
                    self.model.write_tensorboard(self.samples, step)
            writer.flush()
        self.reset()

    def close(self) -> None:
        """Close the writer. Idempotent."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open(self) -> Optional[tf.summary.SummaryWriter]:
        if self._writer is None and self.logdir is not None:
            self._writer = tf.summary.create_file_writer(self.logdir())
        return self._writer
