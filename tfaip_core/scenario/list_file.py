"""List-file scenarios: the samples are files named in list files (`--train.lists`, `--val.lists`, `--lav.lists`).

A list file is a text file with one sample path per line:

* blank lines and lines whose first non-blank character is `#` are ignored (there are no comments
  after a path: `#` may be part of a file name);
* leading and trailing white space of a line is stripped; `~` is expanded;
* a relative path is resolved against the directory of the list file (not the working directory),
  so a list can be moved together with its data. List files themselves are named relative to the
  working directory.

Flags (a `ListFileScenario` adds them to every run):

* `--train.lists FILE ...` the training lists; `--train.list_ratios R ...` mixes several lists so that
  each training sample comes from list i with probability R_i / sum(R). Without ratios the lists are
  simply concatenated (each list contributes in proportion to its size, every entry once an epoch).
* `--val.lists FILE ...` the validation lists, read in list order.
* `--lav.lists FILE ...` the lists of "load and validate" (LAV, `--trainer.lav_every_n`, `tfaip-lav`), each
  validated and reported on its own (`lav_l0_*`, `lav_l1_*` ...); empty means the validation lists
  (`lav_list_pipelines(trainer_params)` resolves it).

Every listed file is checked before training starts; a missing list file or listed file is a
`DataError` naming the list file and line number.

A scenario subclasses `ListFileScenario` (its params `ListFileScenarioParams`, its data `ListFileData`)
and implements `ListFileData.load_sample(path)`, or leaves the path in `Sample.inputs` for a
pre-processor that loads it.

Layers: the TF-free params are in `tfaip_core/data/list_file_params.py` and
`tfaip_core/scenario/list_file_params.py`, the list reading and `ListFileGenerator` (pure Python) in
`tfaip_core/data/list_reading.py`; this module holds the scenario classes and re-exports the public names of
the others, so `from tfaip_core.scenario.list_file import ...` keeps working.
"""

from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple, TypeVar

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.list_file_params import (
    ListFileDataParams,
    ListsPipelineParams,
    as_lists_pipeline,
    validate_lists,
)
from tfaip_core.data.list_reading import (
    MAX_MISSING_SHOWN,
    ListEntry,
    ListFileGenerator,
    flag_prefix,
    lists_flag,
    read_list_file,
    read_lists,
)
from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError
from tfaip_core.lav.params import LavParams
from tfaip_core.scenario.list_file_params import ListFileScenarioParams
from tfaip_core.scenario.scenario_base import ScenarioBase
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.util.logging import logger

__all__ = [
    "MAX_MISSING_SHOWN",
    "LavParams",
    "ListEntry",
    "ListFileData",
    "ListFileDataParams",
    "ListFileGenerator",
    "ListFileScenario",
    "ListFileScenarioParams",
    "ListsPipelineParams",
    "as_lists_pipeline",
    "lav_list_pipelines",
    "lav_lists",
    "lists_flag",
    "read_list_file",
    "read_lists",
    "validate_lists",
]

log = logger("data")


def lav_lists(trainer_params: TrainerParams) -> List[str]:
    """The list files LAV reads: `--lav.lists`, or else the validation lists (`--val.lists`)."""
    return list(trainer_params.lav.lists or getattr(trainer_params.val, "lists", None) or [])


def lav_list_pipelines(trainer_params: TrainerParams) -> List[DataPipelineParams]:
    """The LAV pipelines: one per `--lav.lists` file (the validation pipeline `--val.*` reading that list instead,
    for `PipelineMode.EVALUATION`), or else the validation pipeline itself."""
    if not trainer_params.lav.lists:
        return [trainer_params.val]
    pipelines: List[DataPipelineParams] = []
    for list_file in trainer_params.lav.lists:
        pipeline = as_lists_pipeline(copy.deepcopy(trainer_params.val))
        pipeline.lists = [list_file]
        pipeline.list_ratios = []
        pipelines.append(pipeline)
    return pipelines


# ============================== the data ==============================
TLP = TypeVar("TLP", bound=ListFileDataParams)


class ListFileData(DataBase[TLP]):
    """Data whose samples are files named in list files; scenarios implement `load_sample` and the specs.

    `generator` reads `pipeline.lists` (a `ListsPipelineParams`) and checks every listed file once (cached
    per list set), when the `DataPipeline` is built, before any training step. `load_sample(path)` runs in
    the main process; to load in worker processes, keep the default (the path in `Sample.inputs`) and load
    in a pre-processor (`--data.pre_proc`). Training with `--train.list_ratios` yields an endless mix, which
    the `DataPipeline` streams (never preloads); the mix is seeded with the pipeline's `seed` (the trainer
    passes `--trainer.random_seed`).
    """

    def __init__(self, params: TLP):
        super().__init__(params)
        self._entries: Dict[Tuple[str, Tuple[str, ...]], List[List[ListEntry]]] = {}

    def load_sample(self, path: str) -> Sample:
        """Load the file `path` into a Sample (`inputs` and `targets` dicts matching the specs).

        Defaults to `Sample(inputs=path)`: the path is left for a pre-processor that loads it.
        """
        return Sample(inputs=path)

    def generator(self, mode: PipelineMode, pipeline: DataPipelineParams, seed: Optional[int]) -> ListFileGenerator:
        """A `ListFileGenerator` over `pipeline.lists`, loading with `load_sample`; `seed` seeds a list mix.

        Raises:
            ConfigError: `pipeline` is not a `ListsPipelineParams` or its lists/ratios do not fit.
            DataError: a list file or listed file is missing.
        """
        flag = lists_flag(mode)
        if not isinstance(pipeline, ListsPipelineParams):
            raise ConfigError(
                f"{flag_prefix(flag)} must be a ListsPipelineParams for {type(self).__name__}; got "
                f"{type(pipeline).__name__}. Fix: derive the scenario from ListFileScenario (its "
                "default_trainer_params sets it)."
            )
        validate_lists(pipeline, flag_prefix(flag))
        key = (flag, tuple(pipeline.lists))
        if key not in self._entries:
            self._entries[key] = read_lists(pipeline.lists, flag)
            log.info("%s: %d files in %d list(s)", flag, sum(len(e) for e in self._entries[key]), len(pipeline.lists))
        return ListFileGenerator(
            mode, pipeline, load=self.load_sample, seed=seed, flag=flag, entries=self._entries[key]
        )

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> ListFileGenerator:
        """`generator(mode, pipeline, seed=None)`: a list mix drawn from it is not reproducible."""
        return self.generator(mode, pipeline, None)


# ============================== the scenario ==============================
TSP = TypeVar("TSP", bound=ListFileScenarioParams)


class ListFileScenario(ScenarioBase[TSP]):
    """Base of scenarios whose samples are files named in list files.

    Its runs take `--train.lists`/`--train.list_ratios`, `--val.lists` and `--lav.lists` (see the module
    docstring). Subclasses set `params_cls` (a `ListFileScenarioParams`), `data_cls` (a `ListFileData`),
    `model_cls` and `evaluator_cls` like any scenario.
    """

    params_cls = ListFileScenarioParams

    @classmethod
    def default_trainer_params(cls) -> TrainerParams:
        """The base defaults with `ListsPipelineParams` for `--train` and `--val` (their other values kept)."""
        params = super().default_trainer_params()
        params.train = as_lists_pipeline(params.train)
        params.val = as_lists_pipeline(params.val)
        return params

    def lav_pipelines(self, trainer_params: TrainerParams) -> List[DataPipelineParams]:
        """One evaluation pipeline per `--lav.lists` file, or the validation lists."""
        return lav_list_pipelines(trainer_params)
