"""`Sample`: the unit that flows through data generators, processors and evaluators."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Dict, Optional


class PipelineMode(str, enum.Enum):
    """What a data pipeline is used for; processors declare the modes they apply in."""

    TRAINING = "training"
    EVALUATION = "evaluation"
    PREDICTION = "prediction"


@dataclasses.dataclass
class Sample:
    """One example: named `inputs`, named `targets`, model `outputs` and free-form `meta`.

    `inputs`/`targets`/`outputs` are usually dicts of numpy arrays keyed by the tensor names
    the scenario's data declares; `meta` holds anything else (an id, a file path) and is never
    fed to the model.

    Example:
        >>> s = Sample(inputs={"img": img}, targets={"gt": 3}, meta={"id": "digit_17"})
        >>> s2 = s.new_inputs({"img": img / 255})
    """

    inputs: Any = None
    targets: Any = None
    outputs: Any = None
    meta: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def new_inputs(self, inputs: Any) -> Sample:
        if type(self) is Sample:  # positional: a fifth of what dataclasses.replace costs (once per sample)
            return Sample(inputs, self.targets, self.outputs, self.meta)
        return dataclasses.replace(self, inputs=inputs)

    def new_targets(self, targets: Any) -> Sample:
        if type(self) is Sample:
            return Sample(self.inputs, targets, self.outputs, self.meta)
        return dataclasses.replace(self, targets=targets)

    def new_outputs(self, outputs: Any) -> Sample:
        if type(self) is Sample:
            return Sample(self.inputs, self.targets, outputs, self.meta)
        return dataclasses.replace(self, outputs=outputs)

    def new_meta(self, meta: Dict[str, Any]) -> Sample:
        if type(self) is Sample:
            return Sample(self.inputs, self.targets, self.outputs, meta)
        return dataclasses.replace(self, meta=meta)

    @property
    def id(self) -> Optional[str]:
        """The sample's identity for log messages (``meta['id']`` if set)."""
        value = self.meta.get("id") if isinstance(self.meta, dict) else None
        return None if value is None else str(value)
