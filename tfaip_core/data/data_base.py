"""`DataBase`: a scenario's data — tensor specs, sources, and the way into `tf.data`."""

from __future__ import annotations

import abc
import itertools
from typing import Any, Dict, Generic, Iterable, Iterator, List, Optional, Tuple, TypeVar

import numpy as np
import tensorflow as tf

from tfaip_core.data.generator import DataGenerator
from tfaip_core.data.params import DataBaseParams, DataPipelineParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import DataError
from tfaip_core.util.logging import logger

TDP = TypeVar("TDP", bound=DataBaseParams)
log = logger("data")


class DataBase(abc.ABC, Generic[TDP]):
    """The data part of a scenario.

    Subclasses declare the model's inputs and targets by name (`input_specs`, `target_specs`:
    one `tf.TensorSpec` per sample, without the batch dimension; `None` marks a variable length
    that is padded per batch) and create the raw sample source of each mode (`create_generator`).
    `create_dataset` turns that source into a batched `tf.data.Dataset` of `(inputs, targets)`.
    """

    def __init__(self, params: TDP):
        self.params = params

    # --- what a scenario implements --------------------------------------------------------
    @abc.abstractmethod
    def input_specs(self) -> Dict[str, tf.TensorSpec]:
        """The model's inputs, one spec per sample (no batch dimension)."""

    @abc.abstractmethod
    def target_specs(self) -> Dict[str, tf.TensorSpec]:
        """The training targets, one spec per sample (no batch dimension)."""

    @abc.abstractmethod
    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> DataGenerator:
        """The raw sample source for `mode` (TRAINING: training data, EVALUATION: validation data)."""

    def padding_values(self) -> Dict[str, Any]:
        """Padding value per input/target name for variable-length dimensions. Defaults to 0 for all."""
        return {}

    # --- the way into tf.data ----------------------------------------------------------------
    def samples(self, mode: PipelineMode, pipeline: DataPipelineParams) -> Iterator[Sample]:
        """The raw samples of `mode` with `pipeline.limit` applied."""
        source: Iterable[Sample] = self.create_generator(mode, pipeline).generate()
        if pipeline.limit > 0:
            source = itertools.islice(source, pipeline.limit)
        return iter(source)

    def create_dataset(
        self,
        mode: PipelineMode,
        pipeline: DataPipelineParams,
        *,
        repeat: bool = False,
        seed: Optional[int] = None,
        preload: bool = True,
    ) -> Tuple[tf.data.Dataset, Optional[int]]:
        """A batched dataset of `(inputs, targets)` dicts and the number of samples of one pass.

        With `preload` all samples are loaded into memory once (fast; for data that fits) and,
        when their shapes agree, fed from tensors; otherwise they stream through a generator.
        Training (`repeat=True`) shuffles with `seed` and repeats forever.
        """
        in_specs, tgt_specs = self.input_specs(), self.target_specs()
        num_samples: Optional[int] = None
        if preload:
            samples = list(self.samples(mode, pipeline))
            if not samples:
                raise DataError(f"The {mode.value} data is empty. Fix: check the data source and --limit flags.")
            num_samples = len(samples)
            dataset = _dataset_from_samples(samples, in_specs, tgt_specs)
        else:
            dataset = tf.data.Dataset.from_generator(
                lambda: (_as_pair(s, in_specs, tgt_specs) for s in self.samples(mode, pipeline)),
                output_signature=(in_specs, tgt_specs),
            )
            size = self.create_generator(mode, pipeline).size()
            if size is not None:
                num_samples = min(size, pipeline.limit) if pipeline.limit > 0 else size
        if repeat:
            buffer = pipeline.shuffle_buffer_size
            if buffer < 0:
                buffer = num_samples if (preload and num_samples) else 1000
            if buffer > 1:
                dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
            dataset = dataset.repeat()
        dataset = self._batch(dataset, pipeline, in_specs, tgt_specs)
        if pipeline.prefetch != 0:
            dataset = dataset.prefetch(tf.data.AUTOTUNE if pipeline.prefetch < 0 else pipeline.prefetch)
        return dataset, num_samples

    def _batch(
        self,
        dataset: tf.data.Dataset,
        pipeline: DataPipelineParams,
        in_specs: Dict[str, tf.TensorSpec],
        tgt_specs: Dict[str, tf.TensorSpec],
    ) -> tf.data.Dataset:
        pads = self.padding_values()

        def padding(specs: Dict[str, tf.TensorSpec]) -> Dict[str, Any]:
            return {k: tf.constant(pads.get(k, 0), dtype=s.dtype) for k, s in specs.items()}

        return dataset.padded_batch(
            pipeline.batch_size,
            padded_shapes=({k: s.shape for k, s in in_specs.items()}, {k: s.shape for k, s in tgt_specs.items()}),
            padding_values=(padding(in_specs), padding(tgt_specs)),
            drop_remainder=pipeline.batch_drop_remainder,
        )


def _as_pair(
    sample: Sample, in_specs: Dict[str, tf.TensorSpec], tgt_specs: Dict[str, tf.TensorSpec]
) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    return _select(sample, sample.inputs, in_specs, "inputs"), _select(sample, sample.targets, tgt_specs, "targets")


def _select(sample: Sample, values: Any, specs: Dict[str, tf.TensorSpec], what: str) -> Dict[str, np.ndarray]:
    if not isinstance(values, dict):
        raise DataError(f"Sample {sample.id or ''} has {what} of type {type(values).__name__}; expected a dict.")
    missing = [k for k in specs if k not in values]
    if missing:
        raise DataError(
            f"Sample {sample.id or ''} lacks {what} {missing}; the data declares {sorted(specs)}. "
            "Fix: produce every declared tensor in the generator or a processor."
        )
    return {k: np.asarray(values[k], dtype=s.dtype.as_numpy_dtype) for k, s in specs.items()}


def _dataset_from_samples(
    samples: List[Sample], in_specs: Dict[str, tf.TensorSpec], tgt_specs: Dict[str, tf.TensorSpec]
) -> tf.data.Dataset:
    pairs = [_as_pair(s, in_specs, tgt_specs) for s in samples]
    keys = [("in", k) for k in in_specs] + [("tgt", k) for k in tgt_specs]
    shapes_agree = all(len({p[0 if part == "in" else 1][k].shape for p in pairs}) == 1 for part, k in keys)
    if shapes_agree:
        inputs = {k: np.stack([p[0][k] for p in pairs]) for k in in_specs}
        targets = {k: np.stack([p[1][k] for p in pairs]) for k in tgt_specs}
        return tf.data.Dataset.from_tensor_slices((inputs, targets))
    return tf.data.Dataset.from_generator(lambda: iter(pairs), output_signature=(in_specs, tgt_specs))
