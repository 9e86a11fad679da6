"""Reading list files (one sample path per line) and `ListFileGenerator`, the samples of a list-file pipeline.

Pure Python (no TensorFlow): the data layer of list-file scenarios. The format and flags are described in
`tfaip_core/scenario/list_file.py` and docs/data.md.
"""

import itertools
import os
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Sequence

import numpy as np

from tfaip_core.data.generator import DataGenerator, take_shard
from tfaip_core.data.list_file_params import ListsPipelineParams, validate_lists
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import DataError

#: How many missing files an error message names before it only counts the rest.
MAX_MISSING_SHOWN = 5
#: List indices drawn at once when mixing lists (the draw order does not depend on it).
_DRAW_BLOCK = 1024


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


def flag_prefix(flag: str) -> str:
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
        validate_lists(params, flag_prefix(flag))
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

    def generate_shard(self, index: int = 0, count: int = 1, limit: int = -1) -> Iterator[Sample]:
        """The loaded samples of shard `index` of `count` (see `DataGenerator.generate_shard`).

        Only the shard's files are loaded: the entries are split before loading. A list mix seeded alike on every
        worker (`--trainer.random_seed`) is drawn the same there and split the same way: its shards are disjoint.
        """
        for entry in take_shard(self.iter_entries(), index, count, limit):
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
