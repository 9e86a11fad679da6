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
* `--lav.lists FILE ...` the lists for a final "load and validate" run; empty means the validation
  lists (`lav_lists(trainer_params)` resolves it).

Every listed file is checked before training starts; a missing list file or listed file is a
`DataError` naming the list file and line number.

A scenario subclasses `ListFileScenario` (its params `ListFileScenarioParams`, its data `ListFileData`)
and implements `ListFileData.load_sample(path)`, or leaves the path in `Sample.inputs` for a
pre-processor that loads it.

This module defines paiargparse dataclasses: it must not use `from __future__ import annotations`.
"""

import copy
import dataclasses
import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
import tensorflow as tf
from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.data_base import DataBase
from tfaip_core.data.generator import DataGenerator
from tfaip_core.data.params import DataBaseParams, DataPipelineParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError
from tfaip_core.evaluator.params import EvaluatorBaseParams
from tfaip_core.model.params import ModelBaseParams
from tfaip_core.scenario.params import ScenarioBaseParams
from tfaip_core.scenario.scenario_base import ScenarioBase
from tfaip_core.trainer.params import TrainerParams
from tfaip_core.util.logging import logger

log = logger("data")

#: How many missing files an error message names before it only counts the rest.
MAX_MISSING_SHOWN = 5
#: List indices drawn at once when mixing lists (the draw order does not depend on it).
_DRAW_BLOCK = 1024


# ============================== parameters ==============================
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
            "(one ratio > 0 per list; the mix is endless, so --trainer.samples_per_epoch is required). Empty: "
            "concatenate the lists, each entry once an epoch. Ignored for validation. Defaults to [] (concatenate)."
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
class LavParams:
    """The lists of a final "load and validate" run (`--lav.lists`); the other settings are those of `--val.*`."""

    lists: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="List files to load and validate after training (same format as --val.lists). "
            "Defaults to [] (the validation lists)."
        ),
    )


@pai_dataclass
@dataclass
class ListFileDataParams(DataBaseParams):
    """Data parameters of a list-file scenario (`--data.*`, and `--lav.lists`); scenarios subclass it."""

    lav: LavParams = field(
        default_factory=LavParams,
        metadata=pai_meta(mode="flat", fix_dc=True, help="The lists to load and validate (--lav.lists)."),
    )


@pai_dataclass
@dataclass
class ListFileScenarioParams(ScenarioBaseParams):
    """Scenario parameters whose data part is a `ListFileDataParams`; scenarios narrow the field types further."""

    data: ListFileDataParams = field(
        default_factory=ListFileDataParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The data.")
    )
    model: ModelBaseParams = field(
        default_factory=ModelBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The model.")
    )
    evaluator: EvaluatorBaseParams = field(
        default_factory=EvaluatorBaseParams, metadata=pai_meta(mode="flat", fix_dc=True, help="The evaluator.")
    )


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
    bad = [r for r in ratios if not (np.isfinite(r) and r > 0)]
    if bad:
        raise ConfigError(f"{flag}.list_ratios must all be > 0; got {ratios}. Fix: drop lists you do not want.")


def lav_lists(trainer_params: TrainerParams) -> List[str]:
    """The list files of the "load and validate" run: `--lav.lists`, or else the validation lists (`--val.lists`)."""
    lav = getattr(getattr(trainer_params.scenario.data, "lav", None), "lists", None)
    if lav:
        return list(lav)
    return list(getattr(trainer_params.val, "lists", None) or [])


def lav_pipeline_params(trainer_params: TrainerParams) -> ListsPipelineParams:
    """The validation pipeline (`--val.*`) reading the LAV lists instead; pass it with `PipelineMode.EVALUATION`."""
    pipeline = as_lists_pipeline(copy.deepcopy(trainer_params.val))
    pipeline.lists = lav_lists(trainer_params)
    pipeline.list_ratios = []
    return pipeline


def as_lists_pipeline(pipeline: DataPipelineParams) -> ListsPipelineParams:
    """`pipeline` as `ListsPipelineParams`, keeping the values of all its `DataPipelineParams` fields."""
    if isinstance(pipeline, ListsPipelineParams):
        return pipeline
    values = {f.name: getattr(pipeline, f.name) for f in dataclasses.fields(DataPipelineParams)}
    return ListsPipelineParams(**values)


# ============================== reading list files ==============================
@dataclass(frozen=True)
class ListEntry:
    """One sample path of a list file: the resolved `path`, the `list_file` as given, and its 1-based `line`."""

    path: str
    list_file: str
    line: int


def read_list_file(list_file: str, flag: str = "lists") -> List[ListEntry]:
    """The entries of one list file (paths resolved, existence not checked).

    Raises:
        DataError: the list file does not exist or cannot be read; `flag` names where it was given.
    """
    expanded = os.path.expanduser(list_file)
    if not os.path.isfile(expanded):
        raise DataError(
            f"{flag}: list file {list_file!r} does not exist (working directory {os.getcwd()}). "
            "Fix: correct the path; list files are relative to the working directory."
        )
    base = os.path.dirname(os.path.abspath(expanded))
    entries: List[ListEntry] = []
    try:
        with open(expanded, encoding="utf-8-sig") as f:
            for number, raw in enumerate(f, start=1):
                text = raw.strip()
                if not text or text.startswith("#"):
                    continue
                path = os.path.normpath(os.path.join(base, os.path.expanduser(text)))
                entries.append(ListEntry(path=path, list_file=list_file, line=number))
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{flag}: list file {list_file!r} cannot be read ({e}). Fix: pass a UTF-8 text file.") from e
    return entries


def read_lists(list_files: Sequence[str], flag: str = "lists") -> List[List[ListEntry]]:
    """The entries of each list file, after checking that every listed file exists.

    Raises:
        DataError: a list file is missing, or listed files are missing (the first `MAX_MISSING_SHOWN`
            are named with their list file and line), or the lists name no file at all.
    """
    lists = [read_list_file(list_file, flag) for list_file in list_files]
    missing = [entry for entries in lists for entry in entries if not os.path.exists(entry.path)]
    if missing:
        shown = "; ".join(f"{e.list_file} line {e.line}: {e.path}" for e in missing[:MAX_MISSING_SHOWN])
        more = f"; and {len(missing) - MAX_MISSING_SHOWN} more" if len(missing) > MAX_MISSING_SHOWN else ""
        total = sum(len(entries) for entries in lists)
        raise DataError(
            f"{flag}: {len(missing)} of {total} listed files do not exist: {shown}{more}. "
            "Fix: correct the list files or create the files (relative paths are relative to the list file's "
            "directory)."
        )
    if not any(lists):
        raise DataError(f"{flag}: the list files {list(list_files)} name no files. Fix: add one path per line.")
    return lists


# ============================== the generator ==============================
def _path_sample(path: str) -> Sample:
    return Sample(inputs=path)


def lists_flag(mode: PipelineMode) -> str:
    """The flag that names the lists of `mode` in messages: `--train.lists` or `--val.lists`."""
    return "--train.lists" if PipelineMode(mode) == PipelineMode.TRAINING else "--val.lists"


def _prefix(flag: str) -> str:
    """`--train.lists` -> `--train`."""
    return flag[: -len(".lists")] if flag.endswith(".lists") else flag


class ListFileGenerator(DataGenerator[ListsPipelineParams]):
    """Yields one sample per listed file: in list order, or as an endless weighted mix of the lists.

    Each sample is `load(path)` with `meta["id"]` (the resolved path), `meta["list"]` (the list file as
    given) and `meta["line"]` added, unless `load` set them. Without `load` the sample's `inputs` is the
    path, for a pre-processor that loads it.

    In TRAINING mode with several lists and `list_ratios` the generator is infinite (`size()` is None):
    every sample is drawn from list i with probability ratio_i / sum(ratios); each list is walked in a
    random order that is reshuffled whenever the list is used up. `seed` makes that reproducible.
    Otherwise it yields every entry once, list after list, and `size()` is the number of entries.
    """

    def __init__(
        self,
        mode: PipelineMode,
        params: ListsPipelineParams,
        *,
        load: Optional[Callable[[str], Sample]] = None,
        seed: Optional[int] = None,
        flag: Optional[str] = None,
        entries: Optional[Sequence[Sequence[ListEntry]]] = None,
    ):
        """Read and check the lists of `params` (or take the already read `entries` of them).

        `flag` names the lists in error messages (defaults to `--train.lists` or `--val.lists` by `mode`).

        Raises:
            ConfigError: no lists, or ratios that do not fit the lists.
            DataError: a list file or listed file is missing.
        """
        super().__init__(mode, params)
        flag = flag or lists_flag(mode)
        validate_lists(params, _prefix(flag))
        self.flag = flag
        self.load = load or _path_sample
        self.seed = seed
        self.entries: List[List[ListEntry]] = (
            [list(e) for e in entries] if entries is not None else read_lists(params.lists, flag)
        )
        self.mixing = params.mixes(mode)
        if self.mixing:
            empty = [params.lists[i] for i, e in enumerate(self.entries) if not e]
            if empty:
                raise DataError(
                    f"{flag}: cannot mix list files that name no files: {empty}. Fix: drop them or add paths."
                )

    def size(self) -> Optional[int]:
        """Number of entries of all lists; None when mixing (the mix is endless)."""
        return None if self.mixing else sum(len(e) for e in self.entries)

    def generate(self) -> Iterator[Sample]:
        """Yield the loaded samples (see the class docstring for the order)."""
        for entry in self.iter_entries():
            yield self.load_entry(entry)

    def iter_entries(self) -> Iterator[ListEntry]:
        """The entries in the order `generate` yields them (without loading)."""
        if self.mixing:
            return self._mixed_entries()
        return itertools.chain.from_iterable(self.entries)

    def load_entry(self, entry: ListEntry) -> Sample:
        """Load one entry and add its `id`, `list` and `line` to the sample's meta.

        Raises:
            DataError: `load` failed; the message names the list file, line and path.
        """
        try:
            sample = self.load(entry.path)
        except DataError as e:
            raise DataError(f"{entry.list_file} line {entry.line}: {entry.path}: {e}") from e
        except Exception as e:
            raise DataError(
                f"{entry.list_file} line {entry.line}: loading {entry.path} failed ({type(e).__name__}: {e})."
            ) from e
        if not isinstance(sample, Sample):
            raise DataError(
                f"{entry.list_file} line {entry.line}: load_sample({entry.path!r}) returned "
                f"{type(sample).__name__}; expected a Sample."
            )
        meta = {"id": entry.path, "list": entry.list_file, "line": entry.line}
        meta.update(sample.meta or {})
        return sample.new_meta(meta)

    def _mixed_entries(self) -> Iterator[ListEntry]:
        rng = np.random.default_rng(self.seed)
        probabilities = np.asarray(self.params.list_ratios, dtype=np.float64)
        probabilities /= probabilities.sum()
        orders = [rng.permutation(len(e)) for e in self.entries]
        positions = [0] * len(self.entries)
        while True:
            for i in rng.choice(len(self.entries), size=_DRAW_BLOCK, p=probabilities):
                if positions[i] == len(orders[i]):
                    orders[i] = rng.permutation(len(self.entries[i]))
                    positions[i] = 0
                yield self.entries[i][orders[i][positions[i]]]
                positions[i] += 1


# ============================== the data ==============================
TLP = TypeVar("TLP", bound=ListFileDataParams)


class ListFileData(DataBase[TLP]):
    """Data whose samples are files named in list files; scenarios implement `load_sample` and the specs.

    `create_generator` reads `pipeline.lists` (a `ListsPipelineParams`) and checks every listed file once
    (cached per list set). `load_sample(path)` runs in the main process; to load in worker processes,
    keep the default (the path in `Sample.inputs`) and load in a pre-processor (`--data.pre_proc`).
    Training with `--train.list_ratios` yields an endless mix, which `DataBase.create_dataset` streams
    (never preloads); the mix is seeded with the `seed` that `create_dataset` receives (the trainer's
    `--trainer.random_seed`).
    """

    def __init__(self, params: TLP):
        super().__init__(params)
        self.seed: Optional[int] = None
        self._entries: Dict[Tuple[str, Tuple[str, ...]], List[List[ListEntry]]] = {}

    def load_sample(self, path: str) -> Sample:
        """Load the file `path` into a Sample (`inputs` and `targets` dicts matching the specs).

        Defaults to `Sample(inputs=path)`: the path is left for a pre-processor that loads it.
        """
        return Sample(inputs=path)

    def create_generator(self, mode: PipelineMode, pipeline: DataPipelineParams) -> ListFileGenerator:
        """A `ListFileGenerator` over `pipeline.lists`, loading with `load_sample`.

        Raises:
            ConfigError: `pipeline` is not a `ListsPipelineParams` or its lists/ratios do not fit.
            DataError: a list file or listed file is missing.
        """
        flag = lists_flag(mode)
        if not isinstance(pipeline, ListsPipelineParams):
            raise ConfigError(
                f"{_prefix(flag)} must be a ListsPipelineParams for {type(self).__name__}; got "
                f"{type(pipeline).__name__}. Fix: derive the scenario from ListFileScenario (its "
                "default_trainer_params sets it)."
            )
        validate_lists(pipeline, _prefix(flag))
        key = (flag, tuple(pipeline.lists))
        if key not in self._entries:
            self._entries[key] = read_lists(pipeline.lists, flag)
            log.info("%s: %d files in %d list(s)", flag, sum(len(e) for e in self._entries[key]), len(pipeline.lists))
        return ListFileGenerator(
            mode, pipeline, load=self.load_sample, seed=self.seed, flag=flag, entries=self._entries[key]
        )

    def create_dataset(
        self, mode: PipelineMode, pipeline: DataPipelineParams, **kwargs: Any
    ) -> Tuple[tf.data.Dataset, Optional[int]]:
        """`DataBase.create_dataset`, remembering its `seed` for the list mix.

        The lists are read and every listed file is checked here, before any training step. An endless
        mix is streamed, not preloaded.
        """
        self.seed = kwargs.get("seed")
        return super().create_dataset(mode, pipeline, **kwargs)


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
