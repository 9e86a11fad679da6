"""`DataPipeline`: one mode of a scenario's data as a batched `tf.data.Dataset`, and `unbatch` back to `Sample`s.

The one way from a `DataBase` (or from raw samples, what a Predictor gets) to the batches a model sees:
generator → pre-processors (optionally in worker processes) → tf.data (shuffle, repeat, pad or bucket, batch,
prefetch). Training builds `(inputs, targets)` only, as fast as possible; evaluation and prediction can ask
for each sample's `meta` too (`with_meta=True`), which then survives batching so that `unbatch` returns the
samples with their meta and without the padding of variable-length tensors.

Example:
    >>> with DataPipeline(data, PipelineMode.EVALUATION, params.val, with_meta=True) as pipeline:
    ...     for inputs, targets, meta in pipeline.dataset():
    ...         samples = unbatch(inputs, targets, model(inputs), meta)
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import os
import traceback
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from tfaip_core.data.generator import shard_size, take_shard
from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import DataError

if TYPE_CHECKING:
    from tfaip_core.data.data_base import DataBase

Specs = Dict[str, tf.TensorSpec]
Element = Tuple[Any, ...]

#: Keys of the `meta` part of a batch: the JSON text of each sample's `Sample.meta`, and the unpadded shape
#: of each variable-length input and target (`"inputs/NAME"`, `"targets/NAME"`).
META_JSON = "json"
META_SHAPES = "shapes"


@contextlib.contextmanager
def _collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (restored after it, also on an error).

    Why: preloading creates objects that all survive (samples, their dicts and arrays), and each full collection
    walks every object alive, so its cost grows with the data: for 60,000 MNIST-sized samples `dataset()` ran 3 of
    them and took 1.12 s, 0.57 s without. Garbage the block makes is collected after it as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class DataPipeline:
    """The batched `tf.data.Dataset` of one mode of `data`, built once, and the worker processes behind it.

    With `preload` the generator's samples are read into memory once (for data that fits): without
    pre-processors in this mode they are then fed from tensors (fast, and the iterator can be
    checkpointed); with pre-processors the cached raw samples go through them on every pass, so random
    augmentation stays random. Infinite generators always stream. `repeat` (training) shuffles with
    `seed` and repeats forever; `seed` also reaches the generator (`DataBase.generator`), e.g. to seed a
    list mix. A streamed training pipeline shuffles each pass by (`seed`, pass number) in Python before the
    pre-processors, so `dataset(start)` can begin anywhere without processing what comes before.

    Elements of `dataset()`:

    * `with_meta=False`: `(inputs, targets)` dicts, as the train step takes them (no string tensors);
    * `with_meta=True`: `(inputs, targets, meta)`; `meta` is opaque, only `unbatch` reads it. Samples
      without `meta["id"]` get their position in the pass (`"0"`, `"1"` ...) as id.

    `targets` is `{}` when `with_targets` is False (data without targets, e.g. prediction).

    Args:
        data: The scenario's data (specs, generator, processors, padding, bucketing length).
        mode: Which generator and which pre-processors.
        params: The pipeline's settings (`--train.*` / `--val.*`): batch size, limit, shuffle buffer,
            prefetch, worker processes, buckets.
        with_targets: Feed `target_specs` (False: `targets` is `{}`). Defaults to True.
        with_meta: Carry each sample's meta and unpadded shapes through batching. Defaults to False.
        repeat: Shuffle and repeat forever (training). Defaults to False.
        seed: Seed of the shuffle and of the generator. Defaults to None (random).
        preload: Read a finite generator into memory once. Defaults to True.
        shard: `(index, count)`: read only shard `index` of `count` of the source (`DataGenerator.generate_shard`;
            a worker's part in multi-worker training). Defaults to (0, 1), everything.
    """

    def __init__(
        self,
        data: DataBase,
        mode: PipelineMode,
        params: DataPipelineParams,
        *,
        with_targets: bool = True,
        with_meta: bool = False,
        repeat: bool = False,
        seed: Optional[int] = None,
        preload: bool = True,
        shard: Tuple[int, int] = (0, 1),
    ) -> None:
        self.data = data
        self.mode = PipelineMode(mode)
        self.params = params
        self.with_targets = with_targets
        self.with_meta = with_meta
        self.repeat = repeat
        self.seed = seed
        self.preload = preload
        self.shard = shard
        #: Samples of one pass of this shard (None: unknown or endless); valid after `dataset()`.
        self.num_samples: Optional[int] = None
        #: Samples of one pass of all shards together (None: unknown or endless); valid after `dataset()`.
        self.total_samples: Optional[int] = None
        #: Whether the dataset is fed from in-memory tensors (its iterator can be checkpointed); after `dataset()`.
        self.from_tensors = False
        self._samples: Optional[Iterable[Sample]] = None  # raw samples given to `from_samples`
        self._processors: Optional[ProcessorPipeline] = None
        self._cached: Optional[List[Sample]] = None  # the preloaded raw samples (a resumed dataset reuses them)
        self._dataset: Optional[tf.data.Dataset] = None
        self._in_specs: Specs = data.input_specs()
        self._tgt_specs: Specs = data.target_specs() if with_targets else {}
        # per sample these are only looked up: converting and checking every sample must cost little
        self._in_checks, self._tgt_checks = _checks(self._in_specs), _checks(self._tgt_specs)
        self._padded: Dict[str, tf.TensorSpec] = {
            f"{part}/{name}": spec
            for part, specs in (("inputs", self._in_specs), ("targets", self._tgt_specs))
            for name, spec in specs.items()
            if spec.shape.rank is not None and not spec.shape.is_fully_defined()
        }

    @classmethod
    def from_samples(
        cls,
        data: DataBase,
        samples: Iterable[Sample],
        params: DataPipelineParams,
        *,
        mode: PipelineMode = PipelineMode.PREDICTION,
        with_targets: bool = False,
    ) -> DataPipeline:
        """Raw `samples` (what a Predictor gets) through the pre-processors of `mode`, batched, with meta.

        A list or tuple may be iterated any number of times; any other iterable is read lazily, once (a
        second pass over the dataset raises a `DataError`).
        """
        pipeline = cls(data, mode, params, with_targets=with_targets, with_meta=True, preload=True)
        pipeline._samples = samples
        return pipeline

    # ------------------------------------------------------------------ public API
    def dataset(self, start: int = 0) -> tf.data.Dataset:
        """The batched dataset (built on the first call; see the class docstring for its elements).

        `start` (training, `resumable` pipelines only): a new dataset that begins at that sample of the endless
        training stream, as if the first `start` samples had been read, without pre-processing them. A resumed
        run thus starts at once, however far the run had got.
        """
        if start:
            if not self.resumable:
                raise ValueError("DataPipeline.dataset(start) needs a resumable (streamed training) pipeline")
            return self._build(start)
        if self._dataset is None:
            self._dataset = self._build()
        return self._dataset

    @property
    def resumable(self) -> bool:
        """Whether `dataset(start)` can begin at a sample without reading the ones before it through the
        pre-processors: training streams (pre-processors or streamed data) without bucketing; valid after
        `dataset()`. Data fed from tensors resumes through tf.data instead (its iterator is checkpointed)."""
        return self.repeat and not self.from_tensors and not self.params.bucket_boundaries

    def close(self) -> None:
        """Stop the data worker processes this pipeline started. Idempotent; the dataset is unusable after it."""
        if self._processors is not None:
            self._processors.close()

    def __enter__(self) -> DataPipeline:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ building
    @_collection_paused()  # preloading creates objects that all live on
    def _build(self, start: int = 0) -> tf.data.Dataset:
        p = self.params
        if self._processors is None:
            self._processors = self.data.pre_processors(self.mode, p)
        processors = self._processors
        raw, size = self._raw_source()
        self.total_samples = size
        self.num_samples = None if size is None else shard_size(size, *self.shard)
        cached: Optional[List[Sample]] = None
        if self.preload and size is not None:
            cached = self._cached if start and self._cached is not None else list(raw())
            self._cached = cached
            if not cached and self._samples is None:
                raise DataError(f"The {self.mode.value} data is empty. Fix: check the data source and --limit flags.")
            self.num_samples = len(cached)
        memory = self._in_memory(cached) if cached and not processors.processor_params else None
        if self.resumable:  # a training stream (not from tensors): shuffled and repeated by _training_order
            return self._finish(self._stream(lambda: processors.apply(self._training_order(cached, raw, start))))
        if memory is not None:
            elements, stacked = memory
            if stacked is not None and self.repeat and not p.bucket_boundaries:
                return self._gathered_batches(stacked)
            if stacked is not None:
                dataset = tf.data.Dataset.from_tensor_slices(stacked)
            else:
                dataset = tf.data.Dataset.from_generator(lambda: iter(elements), output_signature=self._signature())
        else:
            source = (lambda: iter(cached)) if cached is not None else raw
            dataset = self._stream(lambda: processors.apply(source()))
        if self.repeat:
            buffer = p.shuffle_buffer_size
            if buffer < 0:
                buffer = self.num_samples if (self.from_tensors and self.num_samples) else 1000
            if buffer > 1:
                dataset = dataset.shuffle(buffer, seed=self.seed, reshuffle_each_iteration=True)
            dataset = dataset.repeat()
        return self._finish(dataset)

    def _finish(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        return self._prefetched(self._batch(dataset))

    def _prefetched(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        if self.params.prefetch != 0:
            dataset = dataset.prefetch(tf.data.AUTOTUNE if self.params.prefetch < 0 else self.params.prefetch)
        return dataset

    def _gathered_batches(self, stacked: Any) -> tf.data.Dataset:
        """Endless training batches of the in-memory tensors: shuffled indices, each batch gathered at once.

        Why not `shuffle` over the samples: a shuffle buffer of the whole data copies every sample into it at
        the start of each pass, and a checkpoint of the iterator would hold all of them (47 MB for MNIST);
        shuffling the indices (as Keras does for arrays) keeps the data where it is and gathers a batch in one op.

        With the whole data as the shuffle buffer (the default, -1) or no shuffling, the stream of batches is
        computed, not buffered: batch `b` holds the samples at stream positions `b*B ... b*B+B-1`, position
        `p` being sample `index_shuffle(p % n)` of pass `p // n`'s permutation, seeded by (seed, pass). That is
        one op per batch instead of one shuffle-buffer step per sample (in isolation 113 instead of 193 µs of CPU
        per batch of 16), and the iterator's state is a batch counter (at 60,000 samples the shuffled indices
        made each checkpoint 13.9 MB). A smaller buffer shuffles the indices through a tf.data shuffle buffer.
        """
        p, n = self.params, len(tf.nest.flatten(stacked)[0])
        buffer = n if p.shuffle_buffer_size < 0 else min(p.shuffle_buffer_size, n)
        tensors = tf.data.Dataset.from_tensors(stacked).repeat()  # held once, not captured in the graph

        def gather(rows: tf.Tensor, data: Any) -> Any:
            return tf.nest.map_structure(lambda column: tf.gather(column, rows), data)

        if 1 < buffer < n or (buffer > 1 and p.batch_size > n):  # (a batch of more than n spans > 2 passes)
            indices = tf.data.Dataset.range(n).shuffle(buffer, seed=self.seed, reshuffle_each_iteration=True)
            indices = indices.repeat().batch(p.batch_size, drop_remainder=True)  # endless: every batch is full
            return self._prefetched(tf.data.Dataset.zip((indices, tensors)).map(gather))

        size, shuffled = p.batch_size, buffer > 1
        base_seed = tf.constant(
            self.seed if self.seed is not None else np.random.default_rng().integers(2**31), tf.int64
        )

        def batch_rows(number: tf.Tensor, data: Any) -> Any:
            positions = number * size + tf.range(size, dtype=tf.int64)
            rows = positions % n
            if shuffled:  # each position's place in its pass's permutation (seed: base, pass)
                passes = positions // n
                first, last = passes[0], tf.constant(n - 1, tf.int64)  # a batch spans at most two passes
                this_pass = tf.random.experimental.index_shuffle(rows, tf.stack([base_seed, first]), last)
                next_pass = tf.random.experimental.index_shuffle(rows, tf.stack([base_seed, first + 1]), last)
                rows = tf.where(passes == first, this_pass, next_pass)
            return gather(rows, data)

        numbers = tf.data.Dataset.range(np.iinfo(np.int64).max // size)  # endless: every batch is full
        return self._prefetched(tf.data.Dataset.zip((numbers, tensors)).map(batch_rows))

    def _training_order(
        self, cached: Optional[List[Sample]], raw: Callable[[], Iterator[Sample]], start: int
    ) -> Iterator[Sample]:
        """The endless training stream of raw samples from sample `start` on: pass after pass, each shuffled.

        Pass k is shuffled with the seed (`seed`, k) (random without a seed): the whole pass when the data is
        preloaded and the shuffle buffer is -1, else through a buffer of `--train.shuffle_buffer_size` (1000
        for -1). The order of a pass depends only on its number, so a resumed run starts at pass
        `start // n` and skips `start % n` raw samples of it before any pre-processing.
        """
        n, buffer = self.num_samples, self.params.shuffle_buffer_size
        if buffer < 0:
            buffer = n if cached is not None and n else 1000
        first_pass, skip = (start // n, start % n) if n else (0, start)
        for number in itertools.count(first_pass):
            rng = np.random.default_rng(None if self.seed is None else [self.seed, number])
            if cached is not None and buffer >= len(cached):
                samples: Iterator[Sample] = (cached[i] for i in rng.permutation(len(cached)))
            else:
                samples = _buffer_shuffled(iter(cached) if cached is not None else raw(), buffer, rng)
            if skip:
                samples, skip = itertools.islice(samples, skip, None), 0
            empty = True
            for sample in samples:
                empty = False
                yield sample
            if empty and not n:
                return  # an empty endless source: nothing to repeat

    def _raw_source(self) -> Tuple[Callable[[], Iterator[Sample]], Optional[int]]:
        """One pass of raw samples (`limit` and `shard` applied, ids added with meta), and the size of all shards."""
        limit, (index, count) = self.params.limit, self.shard
        if self._samples is None:
            generator = self.data.generator(self.mode, self.params, self.seed)
            size = generator.size()
            source: Callable[[], Iterable[Sample]] = lambda: generator.generate_shard(index, count, limit)  # noqa: E731
        else:
            if isinstance(self._samples, Sequence):
                given: Iterable[Sample] = self._samples
                size, read = len(self._samples), lambda: given
            else:
                size, read = None, _once(iter(self._samples))
            source = lambda: take_shard(read(), index, count, limit)  # noqa: E731
        if size is not None and limit > 0:
            size = min(size, limit)

        def one_pass() -> Iterator[Sample]:
            samples: Iterable[Sample] = _guarded(source, self.mode)
            return _with_ids(samples) if self.with_meta else iter(samples)

        return one_pass, size

    def _signature(self) -> Element:
        if not self.with_meta:
            return self._in_specs, self._tgt_specs
        shapes = {key: tf.TensorSpec([spec.shape.rank], tf.int32) for key, spec in self._variable_specs().items()}
        return self._in_specs, self._tgt_specs, {META_JSON: tf.TensorSpec([], tf.string), META_SHAPES: shapes}

    def _variable_specs(self) -> Dict[str, tf.TensorSpec]:
        """The inputs and targets that are padded per batch, keyed `inputs/NAME` / `targets/NAME`."""
        return self._padded

    def _element(self, sample: Sample) -> Element:
        inputs = _select(sample, sample.inputs, self._in_checks, "inputs")
        targets = _select(sample, sample.targets, self._tgt_checks, "targets") if self.with_targets else {}
        if not self.with_meta:
            return inputs, targets
        parts = {"inputs": inputs, "targets": targets}
        shapes = {}
        for key in self._variable_specs():
            part, name = key.split("/", 1)
            shapes[key] = np.asarray(parts[part][name].shape, dtype=np.int32)
        return inputs, targets, {META_JSON: _meta_json(sample), META_SHAPES: shapes}

    def _stream(self, samples: Callable[[], Iterator[Sample]]) -> tf.data.Dataset:
        return tf.data.Dataset.from_generator(
            lambda: (self._element(s) for s in samples()), output_signature=self._signature()
        )

    def _in_memory(self, samples: List[Sample]) -> Tuple[List[Element], Any]:
        """The elements of in-memory samples, and them stacked into arrays when all their shapes agree (then
        fed from tensors: sets `from_tensors`), else None."""
        elements = [self._element(s) for s in samples]
        leaves = [tf.nest.flatten(e) for e in elements]
        if all(len({np.shape(leaf[j]) for leaf in leaves}) == 1 for j in range(len(leaves[0]))):
            self.from_tensors = True
            columns = zip(*leaves)  # stacked leaf by leaf (no structure check per element: they are ours)
            return elements, tf.nest.pack_sequence_as(elements[0], [np.stack(column) for column in columns])
        return elements, None

    def _batch(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        p = self.params
        pads = self.data.padding_values()
        signature = self._signature()

        def padding(specs: Specs) -> Dict[str, Any]:
            return {k: tf.constant(pads.get(k, 0), dtype=s.dtype) for k, s in specs.items()}

        shapes = tf.nest.map_structure(lambda spec: spec.shape, signature)
        values: Tuple[Any, ...] = (padding(self._in_specs), padding(self._tgt_specs))
        if self.with_meta:
            meta = signature[2]
            values += ({META_JSON: tf.constant("", tf.string), META_SHAPES: padding(meta[META_SHAPES])},)
        if p.bucket_boundaries:
            return dataset.bucket_by_sequence_length(
                element_length_func=lambda inputs, targets, *meta: self.data.element_length(inputs, targets),
                bucket_boundaries=p.bucket_boundaries,
                bucket_batch_sizes=p.batch_sizes(),
                padded_shapes=shapes,
                padding_values=values,
                drop_remainder=p.batch_drop_remainder,
            )
        return dataset.padded_batch(
            p.batch_size, padded_shapes=shapes, padding_values=values, drop_remainder=p.batch_drop_remainder
        )


# ---------------------------------------------------------------------- un-batching
def unbatch(inputs: Any, targets: Any, outputs: Any, meta: Any = None, first_id: Optional[int] = None) -> List[Sample]:
    """One batch (numpy arrays or tf tensors) → one `Sample` per row.

    With the `meta` of a `with_meta` pipeline, each sample gets back its `Sample.meta` (as JSON restores
    it: tuples become lists, dict keys strings) and its variable-length inputs and targets their exact
    original shapes (the padding stripped). `outputs` are split by row only. Without `meta` every part is
    split by row only, and each sample's meta is empty, or `{"id": str(position)}` numbered from `first_id`.
    For a batch of a `tf.distribute` strategy, call it once per local replica result.
    """
    np_in, np_tgt, np_out, np_meta = (_numpy(part) for part in (inputs, targets, outputs, meta))
    size = _rows(np_in, np_tgt, np_out, np_meta)
    shapes: Dict[str, np.ndarray] = np_meta[META_SHAPES] if np_meta else {}
    if np_meta:
        metas: List[Dict[str, Any]] = [json.loads(_text(m)) for m in np_meta[META_JSON]]
    elif first_id is not None:
        metas = [{"id": str(position)} for position in range(first_id, first_id + size)]
    else:
        metas = [{} for _ in range(size)]
    # split column by column (C-level slicing), then zip into samples: un-batching a large batch of a small
    # model must cost little next to the model itself (positional arguments: keywords cost 0.3 µs a sample)
    rows = zip(
        _split(np_in, size, shapes, "inputs"),
        _split(np_tgt, size, shapes, "targets"),
        _split(np_out, size, {}, "outputs"),
        metas,
    )
    return list(itertools.starmap(Sample, rows))  # Sample(inputs, targets, outputs, meta)


def _numpy(structure: Any) -> Any:
    if structure is None:
        return None
    if isinstance(structure, dict):  # the usual case, without tf.nest's per-container cost
        return {key: _numpy(value) for key, value in structure.items()}
    if isinstance(structure, (tf.Tensor, np.ndarray)):
        return structure.numpy() if hasattr(structure, "numpy") else structure
    return tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else np.asarray(t), structure)


def _rows(*parts: Any) -> int:
    meta = parts[-1]
    if meta:
        return len(meta[META_JSON])
    for part in parts:
        leaves = tf.nest.flatten(part) if part is not None else []
        if leaves:
            return len(leaves[0])
    return 0


def _split(values: Any, size: int, shapes: Dict[str, np.ndarray], part: str) -> List[Any]:
    """The rows of one part of a batch (a dict of arrays, or any structure), padding stripped where known."""
    if values is None:
        return [None] * size
    if not isinstance(values, dict):
        return [tf.nest.map_structure(lambda a: a[i], values) for i in range(size)]  # noqa: B023
    rows: List[Dict[str, Any]] = []
    for name, array in values.items():
        column = list(array)  # one view per row
        shape = shapes.get(f"{part}/{name}")
        if shape is not None:
            column = [row[tuple(slice(0, int(d)) for d in dims)] for row, dims in zip(column, shape)]
        if not rows:
            rows = [{name: value} for value in column]
        else:
            for row, value in zip(rows, column):  # filled column by column: cheaper than a dict(zip()) per row
                row[name] = value
    return rows or [{} for _ in range(size)]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


# ---------------------------------------------------------------------- samples → elements
def _select(sample: Sample, values: Any, specs: Dict[str, Check], what: str) -> Dict[str, np.ndarray]:
    if not isinstance(values, dict):
        raise DataError(f"Sample {sample.id or ''} has {what} of type {type(values).__name__}; expected a dict.")
    missing = [k for k in specs if k not in values]
    if missing:
        raise DataError(
            f"Sample {sample.id or ''} lacks {what} {missing}; the data declares {sorted(specs)}. "
            "Fix: produce every declared tensor in the generator or a processor."
        )
    selected = {}
    for name, (spec, dtype, dims) in specs.items():
        try:
            value = np.asarray(values[name], dtype=dtype)
        except (TypeError, ValueError) as e:
            raise DataError(
                f"The {_declared(sample, what, name)} cannot be read as {spec.dtype.name} ({e}); "
                f"{what[:-1]}_specs() declares {_spec_text(spec)}."
            ) from None
        shape = value.shape
        if dims is not None and (len(dims) != len(shape) or any(d is not None and d != n for d, n in zip(dims, shape))):
            raise DataError(
                f"The {_declared(sample, what, name)} has shape {list(shape)}, but {what[:-1]}_specs() declares "
                f"{_spec_text(spec)}. Fix: make the generator (or a processor) produce that shape, or correct the spec."
            )
        selected[name] = value
    return selected


# a spec, its numpy dtype and its dimensions (None: any shape; a None dimension: any size)
Check = Tuple[tf.TensorSpec, Any, Optional[Tuple[Optional[int], ...]]]


def _checks(specs: Specs) -> Dict[str, Check]:
    return {
        name: (spec, spec.dtype.as_numpy_dtype, None if spec.shape.rank is None else tuple(spec.shape.as_list()))
        for name, spec in specs.items()
    }


def _declared(sample: Sample, what: str, name: str) -> str:
    return f"{what[:-1]} {name!r} of sample {sample.id or '(no id)'}"


def _spec_text(spec: tf.TensorSpec) -> str:
    if spec.shape.rank is None:
        return f"any shape, {spec.dtype.name}"
    return f"shape {[d for d in spec.shape.as_list()]} {spec.dtype.name}"


def _guarded(source: Callable[[], Iterable[Sample]], mode: PipelineMode) -> Iterator[Sample]:
    """The samples of `source()`; an exception of the scenario's generator becomes one `DataError` line.

    Why: a traceback from inside tf.data hides which generator failed, where, and after which sample.
    """
    count, last = 0, None
    try:
        for sample in source():
            count, last = count + 1, sample
            yield sample
    except (DataError, GeneratorExit):
        raise
    except Exception as e:
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f"{os.sep}tfaip_core{os.sep}" not in f.filename]
        where = f" at {frames[-1].filename} line {frames[-1].lineno}" if frames else ""
        after = f"after {count} samples" + (f" (the last: {last.id})" if last is not None and last.id else "")
        raise DataError(
            f"The {mode.value} data generator raised {type(e).__name__}: {' '.join(str(e).split())}{where}, {after}. "
            "Fix: correct the generator (DataBase.create_generator)."
        ) from e


def _meta_json(sample: Sample) -> str:
    try:
        return _META_ENCODER.encode(sample.meta)  # one encoder: json.dumps(default=) builds one per call
    except (TypeError, ValueError) as e:
        raise DataError(
            f"Sample {sample.id or ''} has meta that cannot be carried through the pipeline ({e}). "
            "Fix: keep Sample.meta to JSON values (str, numbers, bools, None, lists, dicts with str keys)."
        ) from e


def _json_value(value: Any) -> Any:
    """numpy scalars and arrays as their Python values; anything else is not JSON."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_META_ENCODER = json.JSONEncoder(default=_json_value)


def _with_ids(samples: Iterable[Sample]) -> Iterator[Sample]:
    """The samples, each with `meta["id"]` (its position in the pass where the source set none)."""
    for index, sample in enumerate(samples):
        if not isinstance(sample.meta, dict):
            raise DataError(
                f"Sample #{index} has meta of type {type(sample.meta).__name__}; expected a dict. "
                "Fix: set Sample.meta to a dict."
            )
        yield sample if "id" in sample.meta else sample.new_meta({**sample.meta, "id": str(index)})


def _buffer_shuffled(samples: Iterator[Sample], buffer: int, rng: np.random.Generator) -> Iterator[Sample]:
    """`samples` through a shuffle buffer of `buffer` samples (as tf.data's shuffle; <= 1: in order)."""
    if buffer <= 1:
        yield from samples
        return
    pool: List[Sample] = list(itertools.islice(samples, buffer))
    for sample in samples:
        i = int(rng.integers(len(pool)))
        yield pool[i]
        pool[i] = sample
    for i in rng.permutation(len(pool)):
        yield pool[i]


def _once(samples: Iterator[Sample]) -> Callable[[], Iterator[Sample]]:
    """A source that yields a one-pass iterator once and refuses a second pass."""
    used = False

    def source() -> Iterator[Sample]:
        nonlocal used
        if used:
            raise DataError(
                "The samples given to DataPipeline.from_samples were an iterator that is used up; its dataset can "
                "be iterated once. Fix: pass a list to iterate it again."
            )
        used = True
        return samples

    return source
