"""`DataBase`: a scenario's data — tensor specs, sources, processors, and the way into `tf.data`."""

from __future__ import annotations

import abc
from typing import Any, Dict, Generic, Iterable, List, Optional, TypeVar

import tensorflow as tf

from tfaip_core.data.generator import DataGenerator
from tfaip_core.data.params import DataBaseParams, DataPipelineParams, ProcessorPipelineParams
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError
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
    processes; a `DataPipeline` (`tfaip_core/data/data_pipeline.py`) feeds them to a batched (padded,
    optionally bucketed) `tf.data.Dataset`. Post-processors (`--data.post_proc`) run on predictions before
    the evaluator.
    """

    def __init__(self, params: TDP):
        self.params = params
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

    def generator(self, mode: PipelineMode, pipeline: DataPipelineParams, seed: Optional[int]) -> DataGenerator:
        """The raw sample source for `mode`, with the run's `seed` (`--trainer.random_seed`; None: random).

        What `DataPipeline` calls. Defaults to `create_generator(mode, pipeline)`, for generators with no
        randomness of their own; data whose generator draws random numbers (e.g. `ListFileData`'s list mix)
        overrides this to pass `seed` on, so that a run is reproducible.
        """
        return self.create_generator(mode, pipeline)

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

    def post_process(self, samples: Iterable[Sample], mode: PipelineMode = PipelineMode.EVALUATION) -> List[Sample]:
        """Predictions after `--data.post_proc` (in-process, order kept), ready for the evaluator."""
        if not self.params.post_proc.processors:
            return list(samples)
        if self._post_pipeline is None or self._post_pipeline.mode != mode:
            self._post_pipeline = _processor_pipeline(self.params.post_proc, mode, 1)
        return list(self._post_pipeline.apply(samples))


def _processor_pipeline(params: ProcessorPipelineParams, mode: PipelineMode, num_processes: int) -> ProcessorPipeline:
    return ProcessorPipeline(
        params.processors,
        mode,
        num_processes=num_processes,
        run_parallel=params.run_parallel,
        max_failures=params.max_failures if params.max_failures < 1 else int(params.max_failures),
    )
