"""Processors used by the data pipeline tests; a module of its own so that spawned workers can import it."""

import multiprocessing
import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, List  # paiargparse 1.1.2 reads dataclass fields typed typing.List, not list[...]

import numpy as np
from paiargparse import pai_dataclass

from tfaip_core.data.pipeline import PipelineStats, ProcessorPipeline
from tfaip_core.data.processor import DataProcessorParams, GeneratingDataProcessor, MappingDataProcessor
from tfaip_core.data.sample import PipelineMode, Sample


def make_samples(n: int, start: int = 0) -> list[Sample]:
    """``n`` samples with ``inputs={'x': i}`` and ``meta={'id': 's<i>'}``."""
    return [Sample(inputs={"x": i}, meta={"id": f"s{i}"}) for i in range(start, start + n)]


def xs(samples: Iterable[Sample]) -> list[int]:
    """The `x` inputs of `samples`, in order."""
    return [s.inputs["x"] for s in samples]


def assert_accounted(stats: PipelineStats) -> None:
    """Every input sample of a finished run is in the output or in a counter."""
    assert stats.in_flight == 0, stats
    assert stats.seen + stats.generated == stats.produced + stats.dropped_by_processor + stats.failed


def expected_mix(n: int) -> list[int]:
    """What `MIX` turns the xs of ``make_samples(n)`` into (FailOn's failures removed)."""
    out = []
    for x in range(n):
        x += 1
        if x % 5 == 0:
            continue
        if x % 2 == 0:
            out += [x * 10, x * 10 + 1]
        elif x % 3 != 0:
            out.append(x)
    return [x for x in out if x not in (41, 60)]


@pai_dataclass(alt="AddValue")
@dataclass
class AddValueParams(DataProcessorParams):
    value: int = 1


class AddValue(MappingDataProcessor[AddValueParams]):
    def apply(self, sample: Sample) -> Sample | None:
        return sample.new_inputs({**sample.inputs, "x": sample.inputs["x"] + self.params.value})


@pai_dataclass(alt="DropMultiples")
@dataclass
class DropMultiplesParams(DataProcessorParams):
    of: int = 5


class DropMultiples(MappingDataProcessor[DropMultiplesParams]):
    def apply(self, sample: Sample) -> Sample | None:
        return None if sample.inputs["x"] % self.params.of == 0 else sample


@pai_dataclass(alt="SplitEvens")
@dataclass
class SplitEvensParams(DataProcessorParams):
    """Even x -> two samples (x*10, x*10+1); x % 3 == 0 (odd) -> nothing; other odd x -> unchanged."""


class SplitEvens(GeneratingDataProcessor[SplitEvensParams]):
    def generate(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            x = sample.inputs["x"]
            if x % 2 == 0:
                yield sample.new_inputs({"x": x * 10})
                yield sample.new_inputs({"x": x * 10 + 1})
            elif x % 3 != 0:
                yield sample


@pai_dataclass(alt="FailOn")
@dataclass
class FailOnParams(DataProcessorParams):
    values: List[int] = field(default_factory=list)


class FailOn(MappingDataProcessor[FailOnParams]):
    def apply(self, sample: Sample) -> Sample | None:
        if sample.inputs["x"] in self.params.values:
            raise ValueError(f"bad value {sample.inputs['x']}")
        return sample


@pai_dataclass(alt="FailInGenerator")
@dataclass
class FailInGeneratorParams(DataProcessorParams):
    values: List[int] = field(default_factory=list)


class FailInGenerator(GeneratingDataProcessor[FailInGeneratorParams]):
    def generate(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            if sample.inputs["x"] in self.params.values:
                raise RuntimeError(f"generator cannot handle {sample.inputs['x']}")
            yield sample


@pai_dataclass(alt="Sleep")
@dataclass
class SleepParams(DataProcessorParams):
    """Sleep ``seconds * (x % period)`` per sample: uneven delays."""

    seconds: float = 0.001
    period: int = 7


class Sleep(MappingDataProcessor[SleepParams]):
    def apply(self, sample: Sample) -> Sample | None:
        time.sleep(self.params.seconds * (sample.inputs["x"] % self.params.period))
        return sample


@pai_dataclass(alt="TagMode")
@dataclass
class TagModeParams(DataProcessorParams):
    tag: str = "tagged"


class TagMode(MappingDataProcessor[TagModeParams]):
    def apply(self, sample: Sample) -> Sample | None:
        return sample.new_meta({**sample.meta, self.params.tag: self.mode.value})


@pai_dataclass(alt="MergePairs")
@dataclass
class MergePairsParams(DataProcessorParams):
    """Sums consecutive pairs of samples (needs the whole stream: in-process only)."""


class MergePairs(GeneratingDataProcessor[MergePairsParams]):
    def generate(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        held: Sample | None = None
        for sample in samples:
            if held is None:
                held = sample
            else:
                yield held.new_inputs({"x": held.inputs["x"] + sample.inputs["x"]})
                held = None
        if held is not None:
            yield held


@pai_dataclass(alt="ExitOn")
@dataclass
class ExitOnParams(DataProcessorParams):
    """On the given values: ``os._exit(3)`` (how="exit"), hang (how="hang") or SIGKILL itself (how="kill")."""

    values: List[int] = field(default_factory=list)
    how: str = "exit"


class ExitOn(MappingDataProcessor[ExitOnParams]):
    def apply(self, sample: Sample) -> Sample | None:
        if sample.inputs["x"] in self.params.values:
            if self.params.how == "exit":
                os._exit(3)
            if self.params.how == "hang":
                time.sleep(3600)
            os.kill(os.getpid(), signal.SIGKILL)
        return sample


@pai_dataclass(alt="MakeImage")
@dataclass
class MakeImageParams(DataProcessorParams):
    """Replaces the input by a float32 image of ``size``x``size`` (64 KiB for 128) and scales it."""

    size: int = 128


class MakeImage(MappingDataProcessor[MakeImageParams]):
    def apply(self, sample: Sample) -> Sample | None:
        img = np.full((self.params.size, self.params.size), sample.inputs["x"] % 255, dtype=np.float32)
        return sample.new_inputs({"x": sample.inputs["x"], "img": img / 255.0})


@pai_dataclass(alt="BuiltOnce")
@dataclass
class BuiltOnceParams(DataProcessorParams):
    """Records the pid and build time of the processor in each sample's meta."""


class BuiltOnce(MappingDataProcessor[BuiltOnceParams]):
    def __init__(self, params: BuiltOnceParams, mode: PipelineMode) -> None:
        super().__init__(params, mode)
        self.built = (os.getpid(), time.time_ns())

    def apply(self, sample: Sample) -> Sample | None:
        return sample.new_meta({**sample.meta, "built": self.built})


# A mix of mapping, dropping, generating and failing processors.
MIX = [AddValueParams(value=1), DropMultiplesParams(of=5), SplitEvensParams(), FailOnParams(values=[41, 60])]


@pai_dataclass(alt="BrokenInit")
@dataclass
class BrokenInitParams(DataProcessorParams):
    pass


class BrokenInit(MappingDataProcessor[BrokenInitParams]):
    def __init__(self, params: BrokenInitParams, mode: PipelineMode) -> None:
        super().__init__(params, mode)
        raise FileNotFoundError("vocabulary.txt not found")

    def apply(self, sample: Sample) -> Sample | None:
        return sample


def run_in_daemon(results: Any) -> None:
    """Target of a daemonic test process: run pipelines there and report (outputs, children) to `results`."""
    try:
        params = [AddValueParams(value=1), DropMultiplesParams(of=5), SplitEvensParams()]
        report: dict[str, Any] = {"daemon": multiprocessing.current_process().daemon}
        configurations: list[tuple[str, dict[str, Any]]] = [
            ("sequential", {"num_processes": 1}),
            ("run_parallel_false", {"num_processes": 2, "run_parallel": False}),
            ("parallel_requested", {"num_processes": 2}),
        ]
        for name, kwargs in configurations:
            pipeline = ProcessorPipeline(params, PipelineMode.EVALUATION, **kwargs)
            report[name] = xs(pipeline.apply(make_samples(30)))
            report[name + "_children"] = len(multiprocessing.active_children())
            pipeline.close()
        results.put(report)
    except BaseException as error:  # reported to the test
        results.put({"error": repr(error)})
