"""Training data split between workers at its source: disjoint shards that together are the (limited) data."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import List

import numpy as np
import pytest

from tfaip_core.data.generator import ListDataGenerator, shard_size, take_shard
from tfaip_core.data.list_file_params import ListsPipelineParams
from tfaip_core.data.list_reading import ListFileGenerator
from tfaip_core.data.params import DataPipelineParams
from tfaip_core.data.sample import PipelineMode, Sample
from tfaip_core.device.distribution import per_replica_eval_params, per_replica_params
from tfaip_core.errors import ConfigError


@pytest.mark.parametrize("count", [1, 2, 3, 5])
@pytest.mark.parametrize("limit", [-1, 7, 100])
def test_shards_are_disjoint_and_together_the_limited_data(count: int, limit: int) -> None:
    data = list(range(10))
    shards = [list(take_shard(iter(data), index, count, limit)) for index in range(count)]
    expected = data[:limit] if limit > 0 else data
    assert sorted(itertools.chain(*shards)) == expected
    assert [len(s) for s in shards] == [shard_size(len(expected), index, count) for index in range(count)]
    assert shards[0][:2] == expected[: 2 * count : count]  # every count-th, from the shard's index


def test_a_shard_index_outside_the_count_is_a_bug() -> None:
    with pytest.raises(ValueError, match=r"shard index must be in \[0, 2\); got 2"):
        take_shard([], 2, 2)


def test_a_generator_shard_of_in_memory_samples() -> None:
    samples = [Sample(inputs={"i": i}) for i in range(5)]
    generator = ListDataGenerator(PipelineMode.TRAINING, DataPipelineParams(), samples)
    assert [s.inputs["i"] for s in generator.generate_shard(1, 2)] == [1, 3]
    assert [s.inputs["i"] for s in generator.generate_shard(0, 2, limit=3)] == [0, 2]


def test_a_list_file_worker_loads_only_its_own_files(tmp_path: Path) -> None:
    for i in range(6):
        np.save(tmp_path / f"{i}.npy", np.array(i))
    (tmp_path / "train.txt").write_text("".join(f"{i}.npy\n" for i in range(6)))
    loaded: List[str] = []

    def load(path: str) -> Sample:
        loaded.append(Path(path).name)
        return Sample(inputs={"x": np.load(path)})

    params = ListsPipelineParams(lists=[str(tmp_path / "train.txt")])
    generator = ListFileGenerator(PipelineMode.TRAINING, params, load=load)
    samples = list(generator.generate_shard(1, 3))
    assert [int(s.inputs["x"]) for s in samples] == [1, 4]
    assert loaded == ["1.npy", "4.npy"]  # the other workers' files were never opened
    assert samples[0].meta["line"] == 2


def test_the_global_batch_is_split_between_the_replicas() -> None:
    params = DataPipelineParams(batch_size=32, bucket_boundaries=[5], bucket_batch_sizes=[64, 16])
    split = per_replica_params(params, 4, "--train")
    assert (split.batch_size, split.bucket_batch_sizes) == (8, [16, 4])
    assert (params.batch_size, params.bucket_batch_sizes) == (32, [64, 16])  # the user's params stay as given
    assert per_replica_params(params, 1, "--train") is params
    with pytest.raises(ConfigError, match=r"^--train\.bucket_batch_sizes is the global batch .* got 6\. "):
        per_replica_params(
            DataPipelineParams(batch_size=8, bucket_boundaries=[5], bucket_batch_sizes=[8, 6]), 4, "--train"
        )
    assert per_replica_eval_params(DataPipelineParams(batch_size=10), 4).batch_size == 3  # rounded up


@pytest.mark.parametrize("preload", [True, False])
def test_a_pipeline_shard_reads_its_part_and_knows_the_whole(preload: bool) -> None:
    from tests.device.count_scenario import CountData, N
    from tfaip_core.data.data_pipeline import DataPipeline
    from tfaip_core.data.params import DataBaseParams

    params = DataPipelineParams(batch_size=5, limit=40)
    with DataPipeline(CountData(DataBaseParams()), PipelineMode.TRAINING, params, shard=(1, 2), preload=preload) as p:
        indices = [int(i) for inputs, _ in p.dataset() for i in inputs["idx"].numpy()]
    assert indices == list(range(1, 40, 2)) and N > 40
    assert (p.num_samples, p.total_samples) == (20, 40)
