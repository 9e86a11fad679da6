"""The sequence scenario's processors, in a module without TensorFlow: data worker processes import it."""

from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import numpy as np
from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.processor import DataProcessorParams, GeneratingDataProcessor, MappingDataProcessor
from tfaip_core.data.sample import Sample


@pai_dataclass(alt="ToFloat")
@dataclass
class ToFloatParams(DataProcessorParams):
    scale: float = field(default=0.1, metadata=pai_meta(help="Multiplier. Defaults to 0.1."))


class ToFloat(MappingDataProcessor[ToFloatParams]):
    def apply(self, sample: Sample) -> Optional[Sample]:
        seq = np.asarray(sample.inputs["seq"], np.float32) * self.params.scale
        return sample.new_inputs({"seq": seq[:, None], "length": np.int32(len(seq))})


@pai_dataclass(alt="DropShort")
@dataclass
class DropShortParams(DataProcessorParams):
    min_length: int = field(default=3, metadata=pai_meta(help="Shorter samples are dropped. Defaults to 3."))


class DropShort(MappingDataProcessor[DropShortParams]):
    def apply(self, sample: Sample) -> Optional[Sample]:
        return None if len(sample.inputs["seq"]) < self.params.min_length else sample


@pai_dataclass(alt="SplitLong")
@dataclass
class SplitLongParams(DataProcessorParams):
    max_length: int = field(default=20, metadata=pai_meta(help="Longer samples are split in two. Defaults to 20."))


class SplitLong(GeneratingDataProcessor[SplitLongParams]):
    def generate(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            seq = sample.inputs["seq"]
            if len(seq) <= self.params.max_length:
                yield sample
                continue
            half = len(seq) // 2
            for i, part in enumerate((seq[:half], seq[half:])):
                yield Sample(
                    inputs={"seq": part},
                    targets={"label": np.int64(int(np.sum(part)) % 2)},
                    meta={**sample.meta, "id": f"{sample.meta['id']}/{i}"},
                )
