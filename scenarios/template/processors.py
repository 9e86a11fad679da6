"""The template's pre-processors: per-sample work in Python, optionally in worker processes (`--train.num_processes`).

Keep this module free of TensorFlow: worker processes import it. A processor is a params dataclass (its fields
are flags, `modes` says in which pipelines it runs) plus a class doing the work, linked by
`MappingDataProcessor[ParamsClass]`.
"""

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.processor import DataProcessorParams, MappingDataProcessor
from tfaip_core.data.sample import Sample


@pai_dataclass(alt="Scale")
@dataclass
class ScaleParams(DataProcessorParams):
    factor: float = field(default=0.5, metadata=pai_meta(help="Multiply the inputs by this. Defaults to 0.5."))


class Scale(MappingDataProcessor[ScaleParams]):
    """TODO: your per-sample transformation (load a file, normalise, augment ...). Return None to drop a sample."""

    def apply(self, sample: Sample) -> Optional[Sample]:
        return sample.new_inputs({"x": np.asarray(sample.inputs["x"], np.float32) * self.params.factor})
