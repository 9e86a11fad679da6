"""Processors inside a scenario's data: tf.data output, worker processes, bucketing, the CLI (in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli, read_metrics, train_in_process
from tests.data.seq_scenario import SeqScenario, expected_lengths
from tfaip_core import PipelineMode
from tfaip_core.data.data_pipeline import DataPipeline


@pytest.mark.timeout(120)
@pytest.mark.parametrize("processes", [1, 2])
def test_processed_samples_reach_tf_data_in_order(processes: int) -> None:
    params = SeqScenario.default_trainer_params()
    params.val.num_processes = processes
    params.val.batch_size = 1
    data = SeqScenario(params.scenario).create_data()
    with DataPipeline(data, PipelineMode.EVALUATION, params.val) as pipeline:
        lengths = [int(inputs["seq"].shape[1]) for inputs, _ in pipeline.dataset()]
        assert lengths == expected_lengths(200, PipelineMode.EVALUATION)  # mapped, dropped and split, order kept
        assert pipeline.num_samples == 200  # one pass reads 200 raw samples


@pytest.mark.timeout(120)
def test_bucketing_puts_samples_of_similar_length_together() -> None:
    params = SeqScenario.default_trainer_params()
    params.train.bucket_boundaries = [6, 12]
    params.train.bucket_batch_sizes = [8, 4, 2]
    data = SeqScenario(params.scenario).create_data()
    buckets_seen = set()
    with DataPipeline(data, PipelineMode.TRAINING, params.train, repeat=True, seed=1) as pipeline:
        # short samples (< 6) are rare: 200 batches hold several batches of them whatever the shuffle order (60 did
        # not after another test had set TensorFlow's global seed)
        for inputs, targets in pipeline.dataset().take(200):
            lengths = inputs["length"].numpy()
            buckets = {0 if n < 6 else 1 if n < 12 else 2 for n in lengths}
            assert len(buckets) == 1, lengths  # every sample of a batch lies in one length range
            bucket = buckets.pop()
            buckets_seen.add(bucket)
            assert len(lengths) <= [8, 4, 2][bucket] and targets["label"].shape[0] == len(lengths)
            assert inputs["seq"].shape[1] == lengths.max()  # padded to the batch's longest sample only
    assert buckets_seen == {0, 1, 2}


@pytest.mark.timeout(300)
def test_cli_trains_with_processors_in_worker_processes_and_buckets(tmp_path: Path) -> None:
    out = tmp_path / "seq"
    train_in_process(
        out,
        "--train.num_processes",
        "2",
        "--val.num_processes",
        "2",
        "--train.bucket_boundaries",
        "8",
        "16",
        "--train.bucket_batch_sizes",
        "16",
        "8",
        "4",
        "--trainer.samples_per_epoch",
        "128",
        "--trainer.epochs",
        "2",
        "--data.pre_proc.processors.2.scale",
        "0.2",
        scenario="tests.data.seq_scenario",
    )
    params = json.loads((out / "trainer_params.json").read_text())
    assert params["scenario"]["data"]["pre_proc"]["processors"][2]["scale"] == 0.2
    assert params["train"]["bucket_boundaries"] == [8, 16]
    assert len(read_metrics(out)) == 2 and "val_loss" in read_metrics(out)[-1]
    assert (out / "export" / "saved_model.pb").exists()


@pytest.mark.timeout(300)
def test_an_infinite_training_generator_needs_samples_per_epoch(tmp_path: Path) -> None:
    out = tmp_path / "infinite"
    train_in_process(
        out,
        "--data.infinite",
        "true",
        "--trainer.samples_per_epoch",
        "64",
        "--trainer.epochs",
        "2",
        scenario="tests.data.seq_scenario",
    )
    assert [r["step"] for r in read_metrics(out)] == [4, 8]  # 64 samples / batch 16 per epoch
    result = cli(
        "tfaip-train",
        "tests.data.seq_scenario",
        "--trainer.output_dir",
        str(tmp_path / "no"),
        "--data.infinite",
        "true",
    )
    assert result.returncode == 2
    assert "has no known size" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "no").exists()  # a usage error leaves no half-started run behind
