"""A TensorFlow-free processor for tests that need a run to fail in training: it makes every image NaN.

A module of its own without TensorFlow, so that spawned data workers start in well under a second.
"""

from dataclasses import dataclass, field

import numpy as np
from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.processor import DataProcessorParams, MappingDataProcessor
from tfaip_core.data.sample import Sample


@pai_dataclass(alt="NanImage")
@dataclass
class NanImageParams(DataProcessorParams):
    """Replace the input `key` by NaNs of the same shape (the loss of a step on it is not finite)."""

    key: str = field(default="img", metadata=pai_meta(help="The input to poison. Defaults to 'img'."))


class NanImage(MappingDataProcessor[NanImageParams]):
    def apply(self, sample: Sample) -> Sample | None:
        value = np.full(np.shape(sample.inputs[self.params.key]), np.nan, dtype=np.float32)
        return sample.new_inputs({**sample.inputs, self.params.key: value})
