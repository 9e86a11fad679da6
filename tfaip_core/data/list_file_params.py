"""Parameters of list-file data: the lists of a pipeline (`--train.lists`, `--val.lists`).

TensorFlow-free (read when flags are parsed). This module defines paiargparse dataclasses: it must not use
`from __future__ import annotations`.
"""

import dataclasses
import math
from dataclasses import dataclass, field
from typing import List

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.params import DataBaseParams, DataPipelineParams
from tfaip_core.data.sample import PipelineMode
from tfaip_core.errors import ConfigError


@pai_dataclass
@dataclass
class ListsPipelineParams(DataPipelineParams):
    """A data pipeline (`--train.*`, `--val.*`) whose samples are the files named in list files."""

    lists: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="List files, one sample path per line (blank lines and '#' lines ignored; relative paths are "
            "relative to the list file's directory). Defaults to [] (none; required)."
        ),
    )
    list_ratios: List[float] = field(
        default_factory=list,
        metadata=pai_meta(
            help="Training only: mix the lists, drawing each sample from list i with probability R_i / sum(R) "
            "(one ratio > 0 per list; the mix is endless, so --trainer.samples_per_epoch is required; it is "
            "seeded by --trainer.random_seed). Empty: concatenate the lists, each entry once an epoch. Ignored "
            "for validation. Defaults to [] (concatenate)."
        ),
    )

    def validate(self, flag: str) -> None:
        """Raise `ConfigError` for values that cannot work; `flag` is the prefix (`--train`)."""
        super().validate(flag)
        validate_lists(self, flag)

    def mixes(self, mode: PipelineMode) -> bool:
        """Whether this pipeline draws an endless weighted mix of its lists in `mode` (training with ratios)."""
        return PipelineMode(mode) == PipelineMode.TRAINING and len(self.lists) > 1 and bool(self.list_ratios)


@pai_dataclass
@dataclass
class ListFileDataParams(DataBaseParams):
    """Data parameters of a list-file scenario (`--data.*`); scenarios subclass it.

    The LAV lists are `--lav.lists` (`tfaip_core.lav.params.LavParams`, a part of `TrainerParams`).
    """


def validate_lists(pipeline: ListsPipelineParams, flag: str) -> None:
    """Raise `ConfigError` unless `pipeline` names lists and, if any, one positive ratio per list.

    `flag` is the pipeline's prefix (`--train`), used in the message.
    """
    if not pipeline.lists:
        raise ConfigError(f"{flag}.lists is required; got no list files. Fix: pass {flag}.lists FILE [FILE ...].")
    ratios = list(pipeline.list_ratios)
    if not ratios:
        return
    if len(ratios) != len(pipeline.lists):
        raise ConfigError(
            f"{flag}.list_ratios must give one ratio per list file; got {len(ratios)} ratios for "
            f"{len(pipeline.lists)} lists. Fix: pass {len(pipeline.lists)} ratios, or none to concatenate the lists."
        )
    bad = [r for r in ratios if not (math.isfinite(r) and r > 0)]
    if bad:
        raise ConfigError(f"{flag}.list_ratios must all be > 0; got {ratios}. Fix: drop lists you do not want.")


def as_lists_pipeline(pipeline: DataPipelineParams) -> ListsPipelineParams:
    """`pipeline` as `ListsPipelineParams`, keeping the values of all its `DataPipelineParams` fields."""
    if isinstance(pipeline, ListsPipelineParams):
        return pipeline
    values = {f.name: getattr(pipeline, f.name) for f in dataclasses.fields(DataPipelineParams)}
    return ListsPipelineParams(**values)
