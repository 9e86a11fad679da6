"""The template's data: tensor specs and where the raw samples come from."""

from __future__ import annotations

from typing import Dict

import numpy as np
import tensorflow as tf

from tfaip_core import DataBase, DataPipelineParams, ListDataGenerator, PipelineMode, Sample

from .params import TemplateDataParams

#: The toy task's hidden rule: the class is 1 when WEIGHTS . x > 0.
WEIGHTS_SEED = 42


class TemplateData(DataBase[TemplateDataParams]):
    """Input `x` (`dim` floats), target `y` (the class index). TODO: your specs and samples."""

    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        # one spec per sample, without the batch dimension; a None dimension is padded per batch
        return {"x": tf.TensorSpec([self.params.dim], tf.float32)}

    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        return {"y": tf.TensorSpec([], tf.int64)}

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> ListDataGenerator:
        """The raw samples of `mode` (TRAINING or EVALUATION), before the pre-processors.

        Samples in memory go into a `ListDataGenerator`; for data on disk, subclass `DataGenerator` (or start from
        `ListFileScenario` for list files) and read lazily.
        """
        training = mode == PipelineMode.TRAINING
        weights = np.random.default_rng(WEIGHTS_SEED).normal(size=self.params.dim)
        rng = np.random.default_rng(0 if training else 1)  # fixed, different samples per split
        n = self.params.num_samples if training else self.params.num_val_samples
        x = rng.normal(size=(n, self.params.dim)).astype(np.float32)
        y = (x @ weights > 0).astype(np.int64)
        samples = [Sample(inputs={"x": x[i]}, targets={"y": y[i]}, meta={"id": f"{mode.value}_{i}"}) for i in range(n)]
        return ListDataGenerator(mode, pipeline, samples)
