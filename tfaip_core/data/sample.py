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
        return self._with(inputs, self.targets, self.outputs, self.meta)

    def new_targets(self, targets: Any) -> Sample:
        return self._with(self.inputs, targets, self.outputs, self.meta)

    def new_outputs(self, outputs: Any) -> Sample:
        return self._with(self.inputs, self.targets, outputs, self.meta)

    def new_meta(self, meta: Dict[str, Any]) -> Sample:
        return self._with(self.inputs, self.targets, self.outputs, meta)

    def _with(self, inputs: Any, targets: Any, outputs: Any, meta: Dict[str, Any]) -> Sample:
        if type(self) is Sample:  # positional: a fifth of what dataclasses.replace costs (once per sample)
            return Sample(inputs, targets, outputs, meta)
        return dataclasses.replace(self, inputs=inputs, targets=targets, outputs=outputs, meta=meta)

    @property
    def id(self) -> Optional[str]:
        """The sample's identity for log messages (``meta['id']`` if set)."""
        value = self.meta.get("id") if isinstance(self.meta, dict) else None
        return None if value is None else str(value)
