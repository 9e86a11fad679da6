"""Processor params, processors and the in-process `ProcessorPipeline` (no worker processes)."""

import itertools
import json
import logging
import pickle
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import List  # paiargparse 1.1.2 reads dataclass fields typed typing.List, not list[...]

import pytest
from paiargparse import PAIArgumentParser, pai_dataclass, pai_meta

from tests.data.procs_for_tests import (
    MIX,
    AddValue,
    AddValueParams,
    FailInGeneratorParams,
    FailOnParams,
    MergePairsParams,
    SplitEvensParams,
    TagModeParams,
    assert_accounted,
    expected_mix,
    make_samples,
    xs,
)
from tfaip_core.data.pipeline import ProcessorPipeline
from tfaip_core.data.processor import (
    DataProcessorParams,
    GeneratingDataProcessor,
    MappingDataProcessor,
    create_processors,
)
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.errors import ConfigError, DataError

# -- params ------------------------------------------------------------------------------------------------


def test_params_default_modes_are_all_modes() -> None:
    params = AddValueParams()
    assert params.modes == ["training", "evaluation", "prediction"]
    assert params.mode_set() == set(PipelineMode)


def test_params_accept_enum_modes_and_store_names() -> None:
    params = AddValueParams(modes={PipelineMode.TRAINING})  # type: ignore[arg-type]
    assert params.modes == ["training"]
    assert params.applies_to(PipelineMode.TRAINING)
    assert not params.applies_to(PipelineMode.PREDICTION)
    assert AddValueParams(modes="Evaluation").modes == ["evaluation"]  # type: ignore[arg-type]


def test_params_reject_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="modes"):
        AddValueParams(modes=["train"])


def test_params_round_trip_through_dict_json_and_pickle() -> None:
    params = FailOnParams(values=[1, 2], modes=[PipelineMode.EVALUATION, "prediction"])  # type: ignore[list-item]
    as_dict = params.to_dict()  # type: ignore[attr-defined]  # added by @pai_dataclass
    assert as_dict["modes"] == ["evaluation", "prediction"]
    restored = DataProcessorParams.from_dict(json.loads(json.dumps(as_dict)))  # type: ignore[attr-defined]
    assert type(restored) is FailOnParams
    assert restored == params
    assert pickle.loads(pickle.dumps(params)) == params


def test_params_become_command_line_flags() -> None:
    @pai_dataclass
    @dataclass
    class Root:
        processors: List[DataProcessorParams] = field(
            default_factory=list, metadata=pai_meta(choices=[AddValueParams, TagModeParams])
        )

    parser = PAIArgumentParser()
    parser.add_root_argument("root", Root)
    args = parser.parse_args(
        [
            "--root.processors",
            "AddValue",
            "TagMode",
            "--root.processors.0.value",
            "7",
            "--root.processors.1.modes",
            "training",
            "prediction",
        ]
    )
    first, second = args.root.processors
    assert isinstance(first, AddValueParams) and first.value == 7 and first.modes == [m.value for m in PipelineMode]
    assert isinstance(second, TagModeParams) and second.modes == ["training", "prediction"]


def test_create_builds_registered_processor_with_params_and_mode() -> None:
    params = AddValueParams(value=3)
    processor = params.create(PipelineMode.EVALUATION)
    assert isinstance(processor, AddValue)
    assert processor.params is params and processor.mode is PipelineMode.EVALUATION
    result = processor.apply(Sample(inputs={"x": 1}))
    assert result is not None and result.inputs == {"x": 4}


def test_explicit_cls_override_and_missing_processor() -> None:
    @pai_dataclass
    @dataclass
    class NoProcessorParams(DataProcessorParams):
        pass

    with pytest.raises(ConfigError, match="has no processor class"):
        NoProcessorParams().create(PipelineMode.TRAINING)

    @pai_dataclass
    @dataclass
    class ExplicitParams(DataProcessorParams):
        @classmethod
        def cls(cls) -> type:
            return AddValue

    assert isinstance(ExplicitParams().create(PipelineMode.TRAINING), AddValue)


def test_create_processors_filters_by_mode() -> None:
    params = [AddValueParams(), TagModeParams(modes=["training"])]
    assert [type(p).__name__ for p in create_processors(params, PipelineMode.TRAINING)] == ["AddValue", "TagMode"]
    assert [type(p).__name__ for p in create_processors(params, PipelineMode.PREDICTION)] == ["AddValue"]


# -- in-process pipeline -----------------------------------------------------------------------------------


def test_in_process_mix_exact_outputs_and_stats() -> None:
    pipeline = ProcessorPipeline(MIX, PipelineMode.EVALUATION, num_processes=1, max_failures=10)
    out = list(pipeline.apply(make_samples(100)))
    assert xs(out) == expected_mix(100)
    stats = pipeline.stats
    assert stats.seen == 100 and stats.produced == len(out) and stats.failed == 3
    assert stats.dropped_by_processor == 20 + 14  # multiples of 5, then odd multiples of 3 among the rest
    assert_accounted(stats)


def test_run_parallel_false_never_starts_processes() -> None:
    pipeline = ProcessorPipeline(MIX, PipelineMode.EVALUATION, num_processes=4, run_parallel=False, max_failures=10)
    assert not pipeline.parallel
    assert xs(pipeline.apply(make_samples(50))) == expected_mix(50)
    assert pipeline.worker_pids == []


def test_modes_filtering_in_process() -> None:
    params = [TagModeParams(tag="train_only", modes=["training"]), TagModeParams(tag="always")]
    pred = list(ProcessorPipeline(params, PipelineMode.PREDICTION).apply(make_samples(3)))
    assert all("train_only" not in s.meta and s.meta["always"] == "prediction" for s in pred)
    train = list(ProcessorPipeline(params, PipelineMode.TRAINING).apply(make_samples(3)))
    assert all(s.meta["train_only"] == "training" for s in train)


def test_failures_are_skipped_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    pipeline = ProcessorPipeline([FailOnParams(values=[3, 7])], PipelineMode.EVALUATION, max_failures=2)
    with caplog.at_level(logging.WARNING, logger="tfaip_core.data"):
        out = xs(pipeline.apply(make_samples(10)))
    assert out == [0, 1, 2, 4, 5, 6, 8, 9]
    assert pipeline.stats.failed == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "tfaip_core.data"]
    assert any("'s3'" in m and "FailOn" in m and "ValueError: bad value 3" in m for m in messages)
    assert any("'s7'" in m for m in messages)


def test_failures_over_absolute_limit_raise_data_error() -> None:
    pipeline = ProcessorPipeline([FailOnParams(values=[3, 7, 8])], PipelineMode.EVALUATION, max_failures=2)
    with pytest.raises(DataError, match=r"3 of 9 .*max_failures=2.*'s8'.*bad value 8"):
        list(pipeline.apply(make_samples(20)))


def test_failures_over_fraction_raise_data_error() -> None:
    bad = list(range(0, 1000, 40))  # 2.5 %
    pipeline = ProcessorPipeline([FailOnParams(values=bad)], PipelineMode.EVALUATION, max_failures=0.01)
    with pytest.raises(DataError, match="Too many samples failed"):
        list(pipeline.apply(make_samples(1000)))
    # One early failure is within 1 % of the minimum of 100 samples; the second is not.
    assert pipeline.stats.failed == 2 and pipeline.stats.seen == 41


def test_fraction_tolerates_sparse_failures() -> None:
    pipeline = ProcessorPipeline([FailOnParams(values=[5, 500])], PipelineMode.EVALUATION, max_failures=0.01)
    assert len(list(pipeline.apply(make_samples(1000)))) == 998


def test_generating_processor_failure_restarts_on_rest_of_stream() -> None:
    params = [FailInGeneratorParams(values=[2, 5]), SplitEvensParams()]
    pipeline = ProcessorPipeline(params, PipelineMode.EVALUATION, max_failures=5)
    assert xs(pipeline.apply(make_samples(8))) == [0, 1, 1, 40, 41, 60, 61, 7]
    assert pipeline.stats.failed == 2
    assert_accounted(pipeline.stats)


def test_generating_processor_sees_whole_stream_in_process() -> None:
    pipeline = ProcessorPipeline([MergePairsParams()], PipelineMode.EVALUATION, run_parallel=False)
    assert xs(pipeline.apply(make_samples(7))) == [1, 5, 9, 6]
    assert pipeline.stats.dropped_by_processor == 3
    assert_accounted(pipeline.stats)


def test_infinite_input_is_consumed_lazily_in_process() -> None:
    pulled = itertools.count()

    def forever() -> Iterator[Sample]:
        for i in itertools.count():
            next(pulled)
            yield Sample(inputs={"x": i})

    out = list(itertools.islice(ProcessorPipeline(MIX[:3], PipelineMode.TRAINING).apply(forever()), 10))
    assert len(out) == 10
    assert next(pulled) < 20


def test_source_errors_propagate_unchanged() -> None:
    def broken() -> Iterator[Sample]:
        yield Sample(inputs={"x": 1})
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        list(ProcessorPipeline([SplitEvensParams()], PipelineMode.EVALUATION).apply(broken()))


def test_processor_returning_wrong_type_fails_the_sample() -> None:
    @pai_dataclass
    @dataclass
    class WrongParams(DataProcessorParams):
        pass

    class Wrong(MappingDataProcessor[WrongParams]):
        def apply(self, sample: Sample) -> Sample | None:
            return sample.inputs  # type: ignore[return-value]

    pipeline = ProcessorPipeline([WrongParams()], PipelineMode.EVALUATION, max_failures=0)
    with pytest.raises(DataError, match="must return a Sample or None"):
        list(pipeline.apply(make_samples(3)))


def test_generator_failing_without_consuming_raises() -> None:
    @pai_dataclass
    @dataclass
    class BrokenGenParams(DataProcessorParams):
        pass

    class BrokenGen(GeneratingDataProcessor[BrokenGenParams]):
        def generate(self, samples: Iterable[Sample]) -> Iterator[Sample]:
            raise RuntimeError("always")
            yield  # pragma: no cover

    pipeline = ProcessorPipeline([BrokenGenParams()], PipelineMode.EVALUATION, max_failures=10)
    with pytest.raises(DataError, match="raised twice without consuming input"):
        list(pipeline.apply(make_samples(3)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_processes": -1}, "num_processes"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"max_failures": 1.5}, "fraction"),
        ({"max_failures": -1}, "count"),
        ({"max_failures": True}, "max_failures"),
        ({"worker_timeout": 0}, "worker_timeout"),
    ],
)
def test_invalid_arguments_raise_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ProcessorPipeline([AddValueParams()], PipelineMode.EVALUATION, **kwargs)


def test_processor_instances_are_rejected() -> None:
    with pytest.raises(ConfigError, match="params dataclasses"):
        ProcessorPipeline([AddValueParams().create(PipelineMode.TRAINING)], PipelineMode.TRAINING)  # type: ignore


def test_apply_after_close_raises() -> None:
    pipeline = ProcessorPipeline([AddValueParams()], PipelineMode.EVALUATION)
    with pipeline:
        assert xs(pipeline.apply(make_samples(2))) == [1, 2]
    with pytest.raises(ConfigError, match="after close"):
        pipeline.apply(make_samples(2))
