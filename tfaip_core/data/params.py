"""Parameters of the data part of a scenario and of one data pipeline (train / val)."""

import math
from dataclasses import dataclass, field
from typing import List

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.processor import DataProcessorParams
from tfaip_core.errors import ConfigError


@pai_dataclass
@dataclass
class ProcessorPipelineParams:
    """A list of processors and how to run them (`--data.pre_proc.*`, `--data.post_proc.*`)."""

    processors: List[DataProcessorParams] = field(
        default_factory=list,
        metadata=pai_meta(
            help="The processors, in the order they run; each lists the modes it applies in. Defaults to []."
        ),
    )
    run_parallel: bool = field(
        default=True,
        metadata=pai_meta(
            help="Run the processors in --train.num_processes / --val.num_processes worker processes "
            "(False: always in-process). Defaults to True."
        ),
    )
    max_failures: float = field(
        default=0.01,
        metadata=pai_meta(
            help="Samples whose processing may fail (skipped and logged) before the run stops: a fraction < 1 of "
            "the samples seen, or a count >= 1. Defaults to 0.01."
        ),
    )

    def validate(self, flag: str) -> None:
        """Raise `ConfigError` for values that cannot work; `flag` is the prefix (`--data.pre_proc`)."""
        failures = self.max_failures
        if not math.isfinite(failures) or failures < 0 or (failures >= 1 and failures != int(failures)):
            raise ConfigError(
                f"{flag}.max_failures must be a fraction in [0, 1) or a whole count >= 1; got {failures}. "
                f"Fix: e.g. {flag}.max_failures 0.01 (1 %) or 5 (five samples)."
            )


@pai_dataclass
@dataclass
class DataBaseParams:
    """Base of a scenario's data parameters (`--data.*`); scenarios subclass it."""

    pre_proc: ProcessorPipelineParams = field(
        default_factory=ProcessorPipelineParams,
        metadata=pai_meta(help="Pre-processing: raw samples -> model inputs and targets."),
    )
    post_proc: ProcessorPipelineParams = field(
        default_factory=ProcessorPipelineParams,
        metadata=pai_meta(help="Post-processing of predictions before the evaluator (runs in-process)."),
    )

    def validate(self) -> None:
        """Raise `ConfigError` for values that cannot work. Scenarios extend it (call `super().validate()`)."""
        self.pre_proc.validate("--data.pre_proc")
        self.post_proc.validate("--data.post_proc")


@pai_dataclass
@dataclass
class DataPipelineParams:
    """How one pipeline (`--train.*` or `--val.*`) reads, batches and feeds samples."""

    batch_size: int = field(
        default=16,
        metadata=pai_meta(
            help="Samples per step: the global batch over all replicas and workers (each replica gets "
            "batch_size / replicas; see docs/distributed.md). Defaults to 16."
        ),
    )
    limit: int = field(
        default=-1, metadata=pai_meta(help="Use only the first N samples of the source (-1: all). Defaults to -1.")
    )
    shuffle_buffer_size: int = field(
        default=-1,
        metadata=pai_meta(
            help="Shuffle buffer in samples for training (0: no shuffling, -1: the whole data when it is preloaded, "
            "else 1000). Ignored for validation. Defaults to -1."
        ),
    )
    batch_drop_remainder: bool = field(
        default=False, metadata=pai_meta(help="Drop the last incomplete batch. Defaults to False.")
    )
    prefetch: int = field(
        default=-1, metadata=pai_meta(help="Batches to prefetch (-1: tf.data AUTOTUNE, 0: off). Defaults to -1.")
    )
    num_processes: int = field(
        default=1,
        metadata=pai_meta(help="Worker processes for Python pre-processing (1: in-process). Defaults to 1."),
    )
    bucket_boundaries: List[int] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Batch samples of similar length together: length boundaries of the buckets, by the data's "
            "length function (empty: off). Defaults to []."
        ),
    )
    bucket_batch_sizes: List[int] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Batch size of each bucket (one more than boundaries; empty: --batch_size for all). Defaults to []."
        ),
    )

    def validate(self, flag: str) -> None:
        """Raise `ConfigError` for values that cannot work; `flag` is the prefix (`--train`)."""
        if self.batch_size < 1:
            raise ConfigError(f"{flag}.batch_size must be >= 1; got {self.batch_size}. Fix: pass a positive size.")
        if self.limit == 0 or self.limit < -1:
            raise ConfigError(f"{flag}.limit must be -1 (all) or >= 1; got {self.limit}. Fix: pass -1 or a count.")
        if self.shuffle_buffer_size < -1:
            raise ConfigError(
                f"{flag}.shuffle_buffer_size must be -1 (automatic), 0 (no shuffling) or a number of samples; got "
                f"{self.shuffle_buffer_size}. Fix: pass -1, 0 or a positive size."
            )
        if self.prefetch < -1:
            raise ConfigError(
                f"{flag}.prefetch must be -1 (AUTOTUNE), 0 (off) or a number of batches; got {self.prefetch}. "
                "Fix: pass -1, 0 or a positive count."
            )
        if self.num_processes < 1:
            raise ConfigError(
                f"{flag}.num_processes must be >= 1 (1: in-process); got {self.num_processes}. Fix: pass 1 or more."
            )
        if self.bucket_boundaries != sorted(set(self.bucket_boundaries)) or any(b < 1 for b in self.bucket_boundaries):
            raise ConfigError(
                f"{flag}.bucket_boundaries must be increasing positive lengths; got {self.bucket_boundaries}. "
                f"Fix: e.g. {flag}.bucket_boundaries 8 16 32."
            )
        if self.bucket_batch_sizes and len(self.bucket_batch_sizes) != len(self.bucket_boundaries) + 1:
            raise ConfigError(
                f"{flag}.bucket_batch_sizes needs one size per bucket, {len(self.bucket_boundaries) + 1} for "
                f"{len(self.bucket_boundaries)} boundaries; got {len(self.bucket_batch_sizes)}. "
                "Fix: give one more size than boundaries, or none."
            )
        if any(b < 1 for b in self.bucket_batch_sizes):
            raise ConfigError(
                f"{flag}.bucket_batch_sizes must be >= 1; got {self.bucket_batch_sizes}. Fix: pass positive sizes."
            )

    def batch_sizes(self) -> List[int]:
        """The batch size of each bucket (one bucket of `batch_size` without bucketing)."""
        if not self.bucket_boundaries:
            return [self.batch_size]
        return list(self.bucket_batch_sizes) or [self.batch_size] * (len(self.bucket_boundaries) + 1)
