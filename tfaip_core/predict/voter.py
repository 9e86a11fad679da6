"""Voters: how a `MultiModelPredictor` combines the post-processed predictions of several models for one sample."""

from __future__ import annotations

import abc
from typing import Any, Dict, List

import numpy as np

from tfaip_core.data.sample import Sample
from tfaip_core.errors import DataError


class Voter(abc.ABC):
    """Combines one sample's predictions, one `Sample` per model (same inputs and meta), into one `Sample`."""

    @abc.abstractmethod
    def vote(self, samples: List[Sample]) -> Sample:
        """The combined sample: the first model's inputs and meta, the combined outputs."""


class AverageVoter(Voter):
    """The default: floating-point outputs (e.g. class probabilities) averaged over the models; any other
    output (e.g. a class index) by majority, ties going to the model listed first.

    For a classifier whose class output is the arg-max of its probabilities, override it (see the tutorial's
    `MajorityClassVoter`), so that class and probabilities agree.
    """

    def vote(self, samples: List[Sample]) -> Sample:
        outputs = [_outputs(s) for s in samples]
        voted: Dict[str, Any] = {}
        for name in outputs[0]:
            values = [np.asarray(o[name]) for o in outputs]
            if np.issubdtype(values[0].dtype, np.floating):
                voted[name] = np.mean(np.stack(values), axis=0).astype(values[0].dtype)
            else:
                voted[name] = majority(values)
        return samples[0].new_outputs(voted)


def majority(values: List[np.ndarray]) -> np.ndarray:
    """The most frequent of `values` (compared as whole arrays); a tie goes to the one listed first."""
    counts: Dict[bytes, int] = {}
    for value in values:
        key = value.tobytes() + str(value.shape).encode()
        counts[key] = counts.get(key, 0) + 1
    best = max(counts.values())
    return next(v for v in values if counts[v.tobytes() + str(v.shape).encode()] == best)


def _outputs(sample: Sample) -> Dict[str, Any]:
    if not isinstance(sample.outputs, dict):
        raise DataError(
            f"Sample {sample.id}: a voter combines outputs by name; got outputs of type "
            f"{type(sample.outputs).__name__}. Fix: keep Sample.outputs a dict in the post-processors."
        )
    return sample.outputs
