"""Parameters of the data part of a scenario and of one data pipeline (train / val)."""

from dataclasses import dataclass, field

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError


@pai_dataclass
@dataclass
class DataBaseParams:
    """Base of a scenario's data parameters (`--data.*`); scenarios subclass it."""


@pai_dataclass
@dataclass
class DataPipelineParams:
    """How one pipeline (`--train.*` or `--val.*`) reads, batches and feeds samples."""

    batch_size: int = field(default=16, metadata=pai_meta(help="Samples per batch. Defaults to 16."))
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

    def validate(self, flag: str) -> None:
        """Raise `ConfigError` for values that cannot work; `flag` is the prefix (`--train`)."""
        if self.batch_size < 1:
            raise ConfigError(f"{flag}.batch_size must be >= 1; got {self.batch_size}. Fix: pass a positive size.")
        if self.limit == 0 or self.limit < -1:
            raise ConfigError(f"{flag}.limit must be -1 (all) or >= 1; got {self.limit}.")
        if self.num_processes < 1:
            raise ConfigError(f"{flag}.num_processes must be >= 1; got {self.num_processes}.")
