"""`DataGenerator`: where the samples of one pipeline come from."""

from __future__ import annotations

import abc
from typing import Generic, Iterable, Optional, TypeVar

from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.sample import PipelineMode, Sample

TP = TypeVar("TP", bound=DataPipelineParams)


class DataGenerator(abc.ABC, Generic[TP]):
    """Yields the raw samples of one pipeline (before pre-processing).

    Subclasses implement `generate` and, for finite data, `__len__`. A training generator may
    be infinite (`__len__` returns None); `--trainer.samples_per_epoch` then defines an epoch.
    """

    def __init__(self, mode: PipelineMode, params: TP):
        self.mode = mode
        self.params = params

    @abc.abstractmethod
    def generate(self) -> Iterable[Sample]:
        """Yield the samples, in a deterministic order."""

    def __len__(self) -> int:
        """Number of samples `generate` yields. Infinite generators override `size` instead."""
        size = self.size()
        if size is None:
            raise TypeError(f"{type(self).__name__} is infinite; it has no length")
        return size

    def size(self) -> Optional[int]:
        """Number of samples, or None if the generator is infinite or does not know."""
        return None


class ListDataGenerator(DataGenerator[DataPipelineParams]):
    """A generator over samples already in memory."""

    def __init__(self, mode: PipelineMode, params: DataPipelineParams, samples: list[Sample]):
        super().__init__(mode, params)
        self.samples = samples

    def generate(self) -> Iterable[Sample]:
        return iter(self.samples)

    def size(self) -> Optional[int]:
        return len(self.samples)
