"""Data processors: the per-sample transformations of a data pipeline, and their parameters.

A processor comes in two parts:

* a *params* dataclass (subclass of `DataProcessorParams`) that holds the configuration. It is a
  paiargparse dataclass, so its fields become command-line flags and it round-trips through
  ``to_dict()``/``from_dict()``; it must be picklable because it is what gets sent to worker
  processes.
* a *processor* class (subclass of `MappingDataProcessor` or `GeneratingDataProcessor`) that does the
  work. It is built from its params with ``params.create(mode)`` -- once per process -- and reads its
  configuration from ``self.params`` and the pipeline mode from ``self.mode``.

Example:
    >>> @pai_dataclass(alt="Normalize")
    ... @dataclass
    ... class NormalizeParams(DataProcessorParams):
    ...     scale: float = 1 / 255
    ...
    >>> class Normalize(MappingDataProcessor[NormalizeParams]):
    ...     def apply(self, sample: Sample) -> Sample | None:
    ...         return sample.new_inputs({"img": sample.inputs["img"] * self.params.scale})

Declaring ``MappingDataProcessor[NormalizeParams]`` registers `Normalize` as the processor that
``NormalizeParams.create()`` builds. If the processor lives in another module than its params, or to be
explicit, override the classmethod ``NormalizeParams.cls()`` to return the processor class (or override
``create()`` altogether).

Modules that define params dataclasses must not use ``from __future__ import annotations`` and must type
list fields as ``typing.List[...]``: paiargparse 1.1.2 reads the field types at runtime and understands
neither string annotations nor ``list[...]``.

`apply_processors` runs a list of processors over a stream of samples; it is the single implementation
used both in-process and inside worker processes (see `tfaip_core.data.pipeline`).
"""

import abc
import dataclasses
import traceback
import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, List, TypeVar  # paiargparse 1.1.2 reads fields typed typing.List, not list[...]

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError

ALL_MODES: tuple[str, ...] = tuple(m.value for m in PipelineMode)


def _normalize_modes(modes: Iterable[object], owner: str) -> list[str]:
    """Return the mode names in `modes` (strings or `PipelineMode`s) as canonical lower-case values."""
    if isinstance(modes, (str, PipelineMode)):
        # A bare string would otherwise be iterated character by character.
        modes = [modes]
    names: list[str] = []
    for mode in modes:
        value = mode.value if isinstance(mode, PipelineMode) else str(mode).strip().lower()
        if value not in ALL_MODES:
            raise ConfigError(
                f"`{owner}.modes` must only contain {', '.join(ALL_MODES)}; got {mode!r}. "
                f"Fix: use the mode names, e.g. modes=['training']."
            )
        if value not in names:
            names.append(value)
    return names


@pai_dataclass
@dataclass
class DataProcessorParams:
    """Base of all processor parameters: which pipeline modes the processor applies in, and how to build it.

    Subclasses add their own fields and are decorated with ``@pai_dataclass`` and ``@dataclass``. Keep
    field values picklable (numbers, strings, lists, nested paiargparse dataclasses): the params, not the
    processors, are sent to worker processes.
    """

    modes: List[str] = field(
        default_factory=lambda: list(ALL_MODES),
        metadata=pai_meta(
            help="Pipeline modes in which this processor runs. Defaults to all: training, evaluation, prediction.",
            choices=list(ALL_MODES),
        ),
    )

    def __post_init__(self) -> None:
        # Store plain strings so that to_dict()/JSON never contain enum objects.
        self.modes = _normalize_modes(self.modes, type(self).__name__)

    def mode_set(self) -> frozenset[PipelineMode]:
        """The modes this processor runs in, as `PipelineMode` members."""
        return frozenset(PipelineMode(m) for m in _normalize_modes(self.modes, type(self).__name__))

    def applies_to(self, mode: PipelineMode) -> bool:
        """Whether the processor runs in pipeline mode `mode`."""
        return PipelineMode(mode) in self.mode_set()

    @classmethod
    def cls(cls) -> type["DataProcessorBase"]:
        """The processor class that `create` instantiates.

        The default looks up the processor declared as ``SomeProcessor(MappingDataProcessor[cls])`` (or for
        a base class of `cls`). Override to return the class explicitly.
        """
        for klass in cls.__mro__:
            if klass is DataProcessorParams:
                break
            candidates = _PROCESSOR_REGISTRY.get(klass)
            if not candidates:
                continue
            if len(candidates) > 1:
                names = ", ".join(sorted(c.__qualname__ for c in candidates))
                raise ConfigError(
                    f"`{cls.__name__}` is the params class of several processors ({names}). "
                    f"Fix: override the classmethod `{cls.__name__}.cls()` to return the one to build."
                )
            return candidates[0]
        raise ConfigError(
            f"`{cls.__name__}` has no processor class. Fix: declare `class MyProcessor(MappingDataProcessor"
            f"[{cls.__name__}])` in the module that defines `{cls.__name__}`, or override the classmethod "
            f"`{cls.__name__}.cls()`."
        )

    def create(self, mode: PipelineMode) -> "DataProcessorBase":
        """Build the processor for pipeline mode `mode` (called once per process)."""
        processor_cls = type(self).cls()
        if not (isinstance(processor_cls, type) and issubclass(processor_cls, DataProcessorBase)):
            raise ConfigError(
                f"`{type(self).__name__}.cls()` must return a subclass of MappingDataProcessor or "
                f"GeneratingDataProcessor; got {processor_cls!r}."
            )
        return processor_cls(params=self, mode=PipelineMode(mode))


P = TypeVar("P", bound=DataProcessorParams)

# params class -> processor classes that declared it via `Processor[Params]`.
_PROCESSOR_REGISTRY: dict[type, list[type]] = {}


class DataProcessorBase(abc.ABC, Generic[P]):
    """Common base of mapping and generating processors; holds `params` and `mode`.

    Subclasses that override ``__init__`` (e.g. to load a vocabulary once per process) must call
    ``super().__init__(params, mode)``.
    """

    def __init__(self, params: P, mode: PipelineMode) -> None:
        self.params: P = params
        self.mode: PipelineMode = PipelineMode(mode)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if not (isinstance(origin, type) and issubclass(origin, DataProcessorBase)):
                continue
            for arg in typing.get_args(base):
                if isinstance(arg, type) and issubclass(arg, DataProcessorParams):
                    registered = _PROCESSOR_REGISTRY.setdefault(arg, [])
                    # Re-executing a module (e.g. importlib.reload) defines a new class with the same name.
                    key = (cls.__module__, cls.__qualname__)
                    registered[:] = [c for c in registered if (c.__module__, c.__qualname__) != key]
                    registered.append(cls)

    @property
    def name(self) -> str:
        """The processor's name in log and error messages."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.name}(mode={self.mode.value}, params={self.params!r})"


class MappingDataProcessor(DataProcessorBase[P], abc.ABC):
    """A processor that maps one sample to one sample, or drops it."""

    @abc.abstractmethod
    def apply(self, sample: Sample) -> Sample | None:
        """Return the processed sample, or None to drop it from the stream.

        Raising skips the sample; the pipeline counts and logs it (see `ProcessorPipeline`).
        """


class GeneratingDataProcessor(DataProcessorBase[P], abc.ABC):
    """A processor that turns a stream of samples into any number of samples (split, filter, merge)."""

    @abc.abstractmethod
    def generate(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        """Lazily yield output samples computed from `samples`.

        Consume `samples` lazily (a ``for`` loop): the input may be infinite. In a parallel pipeline this is
        called once per input sample, with a one-sample stream; in-process it sees the whole stream, so
        processors that combine several samples must run with ``run_parallel=False``.
        """


@dataclass(frozen=True)
class FailureRecord:
    """Why one sample was skipped: who it was, which processor raised, and the error."""

    sample: str
    processor: str
    error: str
    traceback: str = ""


@dataclass
class ChainCounters:
    """Per-sample outcome counts of `apply_processors` (merged into the pipeline's stats)."""

    dropped_by_processor: int = 0
    failed: int = 0
    generated: int = 0

    def add(self, other: "ChainCounters") -> None:
        """Add the counts of `other` to these (subclasses' extra fields are left alone)."""
        for f in dataclasses.fields(ChainCounters):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def describe_sample(sample: Sample | None, index: int | None) -> str:
    """Identity of a sample for log messages: its id if set, else its input position and meta."""
    where = f"input #{index}" if index is not None else "input #?"
    if sample is None:
        return where
    sample_id = sample.id
    if sample_id is not None:
        return f"{sample_id!r} ({where})"
    meta = repr(sample.meta) if sample.meta else ""
    if len(meta) > 80:
        meta = meta[:77] + "..."
    return f"{where}, meta={meta}" if meta else where


def _failure(
    processor: DataProcessorBase, sample: Sample | None, index: int | None, error: BaseException
) -> FailureRecord:
    return FailureRecord(
        sample=describe_sample(sample, index),
        processor=processor.name,
        error=f"{type(error).__name__}: {error}",
        traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )


# Position of the input sample a sample was computed from (None: emitted before any input was read).
IndexedSample = tuple[int | None, Sample]
FailureCallback = Callable[[FailureRecord], None]


def _mapping_stage(
    processor: MappingDataProcessor,
    stream: Iterator[IndexedSample],
    counters: ChainCounters,
    on_failure: FailureCallback,
) -> Iterator[IndexedSample]:
    apply = processor.apply
    for index, sample in stream:
        try:
            result = apply(sample)
            if result is not None and not isinstance(result, Sample):
                raise TypeError(f"{processor.name}.apply() must return a Sample or None; got {type(result).__name__}")
        except Exception as error:  # any processor error only skips this sample
            counters.failed += 1
            on_failure(_failure(processor, sample, index, error))
            continue
        if result is None:
            counters.dropped_by_processor += 1
            continue
        yield index, result


class _UpstreamError(Exception):
    """Wraps an error raised upstream of a generating processor so it is not mistaken for the processor's."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _TrackedInput:
    """The iterator a generating processor reads from; attributes its outputs to the input last pulled.

    Accounting rule: each pulled input is "pending" until the processor emits its first output after the
    pull. A pending input that is followed by another pull (or by the end of the stream) was consumed
    without output and counts as dropped; every further output counts as generated. For processors that
    handle samples one at a time this is exact; for ones that merge samples it still balances.
    """

    def __init__(self, upstream: Iterator[IndexedSample], counters: ChainCounters) -> None:
        self._upstream = upstream
        self._counters = counters
        self.pending = False
        self.exhausted = False
        self.pulls = 0
        self.index: int | None = None
        self.sample: Sample | None = None

    def __iter__(self) -> "_TrackedInput":
        return self

    def __next__(self) -> Sample:
        if self.exhausted:
            raise StopIteration
        try:
            index, sample = next(self._upstream)
        except StopIteration:
            self.exhausted = True
            raise
        except Exception as error:
            raise _UpstreamError(error) from error
        if self.pending:
            self._counters.dropped_by_processor += 1
        self.pending = True
        self.pulls += 1
        self.index, self.sample = index, sample
        return sample

    def emitted(self) -> None:
        if self.pending:
            self.pending = False
        else:
            self._counters.generated += 1

    def finish(self) -> None:
        if self.pending:
            self.pending = False
            self._counters.dropped_by_processor += 1


def _generating_stage(
    processor: GeneratingDataProcessor,
    stream: Iterator[IndexedSample],
    counters: ChainCounters,
    on_failure: FailureCallback,
) -> Iterator[IndexedSample]:
    tracked = _TrackedInput(stream, counters)
    pulls_at_last_failure = -1
    while True:
        try:
            for result in processor.generate(tracked):
                if not isinstance(result, Sample):
                    raise TypeError(f"{processor.name}.generate() must yield Samples; got {type(result).__name__}")
                tracked.emitted()
                yield tracked.index, result
            tracked.finish()
            return
        except _UpstreamError as wrapped:
            raise wrapped.error from None
        except Exception as error:
            if tracked.pulls == pulls_at_last_failure:
                # Restarting would raise again without consuming anything: an endless loop.
                raise DataError(
                    f"Generating processor {processor.name} raised twice without consuming input "
                    f"({type(error).__name__}: {error}); it cannot be restarted on the remaining samples. "
                    f"Fix: make generate() robust to its own state or to this input."
                ) from error
            pulls_at_last_failure = tracked.pulls
            counters.failed += 1
            if tracked.pending:
                tracked.pending = False  # the pending input is the one that failed
            else:
                counters.generated += 1  # an output it was about to produce failed instead
            on_failure(_failure(processor, tracked.sample, tracked.index, error))
            if tracked.exhausted:
                return


def apply_processors(
    processors: list[DataProcessorBase],
    samples: Iterator[IndexedSample],
    counters: ChainCounters,
    on_failure: FailureCallback,
) -> Iterator[IndexedSample]:
    """Lazily run `processors` in order over ``(input_index, sample)`` pairs.

    A processor that raises for a sample skips that sample: `counters.failed` is incremented and
    `on_failure` is called with a `FailureRecord` (it may raise to stop the run). A generating processor
    that raises is restarted on the rest of its input; whatever it had buffered is lost. Every input
    sample ends up either in the output or in a counter, so that
    ``inputs + generated == outputs + dropped_by_processor + failed``.

    Output pairs carry the index of the input sample they were computed from.
    """
    stream: Iterator[IndexedSample] = iter(samples)
    for processor in processors:
        if isinstance(processor, MappingDataProcessor):
            stream = _mapping_stage(processor, stream, counters, on_failure)
        elif isinstance(processor, GeneratingDataProcessor):
            stream = _generating_stage(processor, stream, counters, on_failure)
        else:
            raise ConfigError(
                f"Processors must subclass MappingDataProcessor or GeneratingDataProcessor; got "
                f"{type(processor).__name__}."
            )
    return stream


def create_processors(params: Iterable[DataProcessorParams], mode: PipelineMode) -> list[DataProcessorBase]:
    """Build the processors of `params` that apply in `mode`, in order."""
    processors = []
    for p in params:
        if p.applies_to(mode):
            processor = p.create(mode)
            if not isinstance(processor, DataProcessorBase):
                raise ConfigError(
                    f"`{type(p).__name__}.create()` must return a MappingDataProcessor or "
                    f"GeneratingDataProcessor; got {type(processor).__name__}."
                )
            processors.append(processor)
    return processors
