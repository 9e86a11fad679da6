"""`EvaluatorBase`: pure-Python evaluation of predictions, one sample at a time."""

from __future__ import annotations

from typing import Dict, Generic, TypeVar

from tfaip_core.data.sample import Sample
from tfaip_core.evaluator.params import EvaluatorBaseParams

TEP = TypeVar("TEP", bound=EvaluatorBaseParams)


class EvaluatorBase(Generic[TEP]):
    """Accumulates a score over validation samples (with `targets` and `outputs` as numpy).

    The trainer calls `reset_state`, then `update_state` for every validation sample, then
    `result`, whose values are logged with the prefix `val_`. The base evaluates nothing.
    """

    def __init__(self, params: TEP):
        self.params = params

    def reset_state(self) -> None:
        """Forget all samples seen so far."""

    def update_state(self, sample: Sample) -> None:
        """Add one sample (unbatched numpy `targets` and `outputs`)."""

    def result(self) -> Dict[str, float]:
        """The scores by name. Defaults to none."""
        return {}
