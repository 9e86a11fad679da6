"""`DataBase`: a scenario's data — tensor specs, sources, processors, and the way into `tf.data`."""

from __future__ import annotations

import abc
import itertools
from typing import Any, Callable, Dict, Generic, Iterable, Iterator, List, Optional, Tuple, TypeVar

import numpy as np
import tensorflow as tf

from tfaip_core.data.generator import DataGenerator
from tfaip_core.data.params import DataBaseParams, DataPipelineParams, ProcessorPipelineParams
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError
from tfaip_core.util.logging import logger

TDP = TypeVar("TDP", bound=DataBaseParams)
log = logger("data")
Specs = Dict[str, tf.TensorSpec]


class DataBase(abc.ABC, Generic[TDP]):
    """The data part of a scenario.

    Subclasses declare the model's inputs and targets by name (`input_specs`, `target_specs`:
    one `tf.TensorSpec` per sample, without the batch dimension; `None` marks a variable length
    that is padded per batch) and create the raw sample source of each mode (`create_generator`).
    Pre-processors (`--data.pre_proc`) turn raw samples into inputs and targets, optionally in worker
    processes; `create_dataset` feeds them to a batched (padded, optionally bucketed) `tf.data.Dataset`
    of `(inputs, targets)`. Post-processors (`--data.post_proc`) run on predictions before the evaluator.
    """

    def __init__(self, params: TDP):
        self.params = params
        # per mode: whether the last dataset was built from in-memory tensors (its iterator can be checkpointed)
        self.from_tensors: Dict[PipelineMode, bool] = {}
        self._post_pipeline: Optional[ProcessorPipeline] = None

    # --- what a scenario implements --------------------------------------------------------
    @abc.abstractmethod
    def input_specs(self) -> Specs:
        """The model's inputs, one spec per sample (no batch dimension)."""

    @abc.abstractmethod
    def target_specs(self) -> Specs:
        """The training targets, one spec per sample (no batch dimension)."""

    @abc.abstractmethod
    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> DataGenerator:
        """The raw sample source for `mode` (TRAINING: training data, EVALUATION: validation data)."""

    def padding_values(self) -> Dict[str, Any]:
        """Padding value per input/target name for variable-length dimensions. Defaults to 0 for all."""
        return {}

    def element_length(self, inputs: Dict[str, tf.Tensor], targets: Dict[str, tf.Tensor]) -> tf.Tensor:
        """A sample's length for bucketing (`--train.bucket_boundaries`).

        Defaults to the first dimension of the first input whose spec has a variable (None) dimension.
        """
        for name, spec in self.input_specs().items():
            if spec.shape.rank and None in spec.shape.as_list():
                return tf.shape(inputs[name])[0]
        raise ConfigError(
            "Bucketing needs a sample length, but no input has a variable-length dimension. "
            "Fix: override DataBase.element_length, or drop --train.bucket_boundaries."
        )

    # --- samples ------------------------------------------------------------------------------
    def pre_processors(self, mode: PipelineMode, pipeline: DataPipelineParams) -> ProcessorPipeline:
        """The pre-processing pipeline of `mode` (the processors of `--data.pre_proc` that apply in it)."""
        return _processor_pipeline(self.params.pre_proc, mode, pipeline.num_processes)

    def raw_samples(self, mode: PipelineMode, pipeline: DataPipelineParams) -> Iterator[Sample]:
        """The generator's samples of `mode` with `pipeline.limit` applied (before processing)."""
        source: Iterable[Sample] = self.create_generator(mode, pipeline).generate()
        if pipeline.limit > 0:
            source = itertools.islice(source, pipeline.limit)
        return iter(source)

    def samples(self, mode: PipelineMode, pipeline: DataPipelineParams) -> Iterator[Sample]:
        """The pre-processed samples of `mode`, as the model sees them (one pass)."""
        processors = self.pre_processors(mode, pipeline)
        return processors.apply(self.raw_samples(mode, pipeline))

    def post_process(self, samples: Iterable[Sample], mode: PipelineMode = PipelineMode.EVALUATION) -> List[Sample]:
        """Predictions after `--data.post_proc` (in-process, order kept), ready for the evaluator."""
        if not self.params.post_proc.processors:
            return list(samples)
        if self._post_pipeline is None or self._post_pipeline.mode != mode:
            self._post_pipeline = _processor_pipeline(self.params.post_proc, mode, 1)
        return list(self._post_pipeline.apply(samples))

    # --- the way into tf.data ----------------------------------------------------------------
    def create_dataset(
        self,
        mode: PipelineMode,
        pipeline: DataPipelineParams,
        *,
        repeat: bool = False,
        seed: Optional[int] = None,
        preload: bool = True,
    ) -> Tuple[tf.data.Dataset, Optional[int]]:
        """A batched dataset of `(inputs, targets)` dicts and the number of samples of one pass (None: unknown).

        With `preload` the generator's samples are read into memory once (for data that fits): without
        pre-processors in this mode they are then fed from tensors (fast, and the iterator can be
        checkpointed); with pre-processors the cached raw samples go through them on every pass, so random
        augmentation stays random. Infinite generators always stream. Training (`repeat=True`) shuffles
        with `seed` and repeats forever.
        """
        in_specs, tgt_specs = self.input_specs(), self.target_specs()
        processors = self.pre_processors(mode, pipeline)
        size = self.create_generator(mode, pipeline).size()
        num_samples = None if size is None else (min(size, pipeline.limit) if pipeline.limit > 0 else size)
        self.from_tensors[mode] = False
        if preload and size is not None:
            raw = list(self.raw_samples(mode, pipeline))
            if not raw:
                raise DataError(f"The {mode.value} data is empty. Fix: check the data source and --limit flags.")
            num_samples = len(raw)
            if processors.processor_params:
                dataset = self._stream(lambda: processors.apply(iter(raw)), in_specs, tgt_specs)
            else:
                dataset, self.from_tensors[mode] = _from_samples(raw, in_specs, tgt_specs)
        else:
            dataset = self._stream(lambda: processors.apply(self.raw_samples(mode, pipeline)), in_specs, tgt_specs)
        if repeat:
            buffer = pipeline.shuffle_buffer_size
            if buffer < 0:
                buffer = num_samples if (self.from_tensors[mode] and num_samples) else 1000
            if buffer > 1:
                dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
            dataset = dataset.repeat()
        dataset = self._batch(dataset, pipeline, in_specs, tgt_specs)
        if pipeline.prefetch != 0:
            dataset = dataset.prefetch(tf.data.AUTOTUNE if pipeline.prefetch < 0 else pipeline.prefetch)
        return dataset, num_samples

    def _stream(self, samples: Callable[[], Iterator[Sample]], in_specs: Specs, tgt_specs: Specs) -> tf.data.Dataset:
        return tf.data.Dataset.from_generator(
            lambda: (_as_pair(s, in_specs, tgt_specs) for s in samples()), output_signature=(in_specs, tgt_specs)
        )

    def _batch(
        self, dataset: tf.data.Dataset, pipeline: DataPipelineParams, in_specs: Specs, tgt_specs: Specs
    ) -> tf.data.Dataset:
        pads = self.padding_values()

        def padding(specs: Specs) -> Dict[str, Any]:
            return {k: tf.constant(pads.get(k, 0), dtype=s.dtype) for k, s in specs.items()}

        shapes = ({k: s.shape for k, s in in_specs.items()}, {k: s.shape for k, s in tgt_specs.items()})
        values = (padding(in_specs), padding(tgt_specs))
        if pipeline.bucket_boundaries:
            return dataset.bucket_by_sequence_length(
                element_length_func=self.element_length,
                bucket_boundaries=pipeline.bucket_boundaries,
                bucket_batch_sizes=pipeline.batch_sizes(),
                padded_shapes=shapes,
                padding_values=values,
                drop_remainder=pipeline.batch_drop_remainder,
            )
        return dataset.padded_batch(
            pipeline.batch_size,
            padded_shapes=shapes,
            padding_values=values,
            drop_remainder=pipeline.batch_drop_remainder,
        )


def _processor_pipeline(params: ProcessorPipelineParams, mode: PipelineMode, num_processes: int) -> ProcessorPipeline:
    return ProcessorPipeline(
        params.processors,
        mode,
        num_processes=num_processes,
        run_parallel=params.run_parallel,
        max_failures=params.max_failures if params.max_failures < 1 else int(params.max_failures),
    )


def _as_pair(sample: Sample, in_specs: Specs, tgt_specs: Specs) -> Tuple[Dict[str, np.ndarray], Dict[str, np.ndarray]]:
    return _select(sample, sample.inputs, in_specs, "inputs"), _select(sample, sample.targets, tgt_specs, "targets")


def _select(sample: Sample, values: Any, specs: Specs, what: str) -> Dict[str, np.ndarray]:
    if not isinstance(values, dict):
        raise DataError(f"Sample {sample.id or ''} has {what} of type {type(values).__name__}; expected a dict.")
    missing = [k for k in specs if k not in values]
    if missing:
        raise DataError(
            f"Sample {sample.id or ''} lacks {what} {missing}; the data declares {sorted(specs)}. "
            "Fix: produce every declared tensor in the generator or a processor."
        )
    return {k: np.asarray(values[k], dtype=s.dtype.as_numpy_dtype) for k, s in specs.items()}


def _from_samples(samples: List[Sample], in_specs: Specs, tgt_specs: Specs) -> Tuple[tf.data.Dataset, bool]:
    """A dataset of in-memory samples: from tensors when all shapes agree (returns True), else streamed."""
    pairs = [_as_pair(s, in_specs, tgt_specs) for s in samples]
    keys = [(0, k) for k in in_specs] + [(1, k) for k in tgt_specs]
    if all(len({p[part][k].shape for p in pairs}) == 1 for part, k in keys):
        inputs = {k: np.stack([p[0][k] for p in pairs]) for k in in_specs}
        targets = {k: np.stack([p[1][k] for p in pairs]) for k in tgt_specs}
        return tf.data.Dataset.from_tensor_slices((inputs, targets)), True
    return tf.data.Dataset.from_generator(lambda: iter(pairs), output_signature=(in_specs, tgt_specs)), False
