"""No data worker process outlives a failed `tfaip-train` run (in-process: the workers are this process's children)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Set

import pytest

from tests.conftest import spawned_children


@pytest.mark.timeout(300)
def test_no_worker_outlives_a_run_that_fails_in_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tfaip_core.data.pipeline import ProcessorPipeline
    from tfaip_core.scripts.train import main

    started: Set[int] = set()
    ensure_pool = ProcessorPipeline._ensure_pool

    def recording(self: ProcessorPipeline):  # type: ignore[no-untyped-def]
        pool = ensure_pool(self)
        started.update(pool.pids)
        return pool

    monkeypatch.setattr(ProcessorPipeline, "_ensure_pool", recording)
    before = spawned_children()
    status = main(
        [
            "scenarios.tutorial",
            "--trainer.output_dir",
            str(tmp_path / "run"),
            "--trainer.progress_bar",
            "false",
            "--train.limit",
            "64",
            "--val.limit",
            "32",
            "--train.num_processes",
            "2",
            # NaN images (through tanh, which keeps NaN): the first step has a non-finite loss, a TrainingError
            "--data.pre_proc.processors",
            "tests.data.nan_procs:NanImageParams",
            "--model.graph.activation",
            "tanh",
        ]
    )
    err = capsys.readouterr().err
    assert status == 1 and "Non-finite loss" in err, err
    assert len(started) == 2  # the training processors really ran in 2 worker processes
    left = started & spawned_children()
    deadline = time.monotonic() + 2
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = started & spawned_children()
    assert left == set(), "data workers outlived the failed run"
    assert spawned_children() - before == set()
