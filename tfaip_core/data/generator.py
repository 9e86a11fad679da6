"""`DataGenerator`: where the samples of one pipeline come from."""

from __future__ import annotations

import abc
import itertools
from typing import Generic, Iterable, Iterator, Optional, TypeVar

from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.sample import PipelineMode, Sample

TP = TypeVar("TP", bound=DataPipelineParams)
T = TypeVar("T")


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

    def generate_shard(self, index: int = 0, count: int = 1, limit: int = -1) -> Iterable[Sample]:
        """The samples of shard `index` of `count`: of the first `limit` samples (-1: all), every `count`-th.

        What a data pipeline reads on worker `index` of `count` (multi-worker training: each worker reads its
        own part instead of everything). Override it when skipping a sample without producing it is cheaper
        (e.g. `ListFileGenerator` loads only its shard's files).
        """
        return take_shard(self.generate(), index, count, limit)


def take_shard(items: Iterable[T], index: int = 0, count: int = 1, limit: int = -1) -> Iterator[T]:
    """Of the first `limit` items (-1: all), those at positions `index`, `index + count`, ... .

    Raises:
        ValueError: `index` is not in [0, count).
    """
    if not 0 <= index < count:
        raise ValueError(f"shard index must be in [0, {count}); got {index}")
    if limit > 0:
        items = itertools.islice(items, limit)
    return itertools.islice(items, index, None, count) if count > 1 else iter(items)


def shard_size(size: int, index: int = 0, count: int = 1) -> int:
    """Samples in shard `index` of `count` of `size` samples (the first shards get one more if uneven)."""
    return len(range(index, size, count))


class ListDataGenerator(DataGenerator[DataPipelineParams]):
    """A generator over samples already in memory."""

    def __init__(self, mode: PipelineMode, params: DataPipelineParams, samples: list[Sample]):
        super().__init__(mode, params)
        self.samples = samples

    def generate(self) -> Iterable[Sample]:
        return iter(self.samples)

    def size(self) -> Optional[int]:
        return len(self.samples)
