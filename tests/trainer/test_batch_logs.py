"""The running values after each compiled call are read from the device only when a callback reads them."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pytest

from tfaip_core.trainer.callbacks.base import BatchLogs, Callback, LazyLogs
from tfaip_core.trainer.step import TrainStep


def test_lazy_logs_read_once_and_only_when_accessed() -> None:
    reads: List[int] = []

    def read() -> dict:
        reads.append(1)
        return {"loss": 0.5, "acc": 0.25}

    untouched = LazyLogs(read)
    assert reads == []
    del untouched
    logs = LazyLogs(read)
    assert logs["loss"] == 0.5 and logs.get("missing", 7.0) == 7.0 and dict(logs) == {"loss": 0.5, "acc": 0.25}
    assert len(logs) == 2 and reads == [1]


class _Recorder(Callback):
    def __init__(self, read: bool):
        self.read = read
        self.losses: List[float] = []
        self.calls = 0

    def on_train_batch_end(self, step: int, logs: Optional[BatchLogs] = None) -> None:
        self.calls += 1
        if self.read:
            self.losses.append(logs["loss"])


@pytest.mark.parametrize("read", [False, True], ids=["unread", "read"])
def test_the_loop_synchronises_metrics_only_for_callbacks_that_read_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: bool
) -> None:
    from scenarios.tutorial.scenario import TutorialScenario

    reads: List[int] = []
    original = TrainStep.metric_logs
    monkeypatch.setattr(TrainStep, "metric_logs", lambda self: reads.append(1) or original(self))
    params = TutorialScenario.default_trainer_params()
    params.output_dir = str(tmp_path / "run")
    params.epochs, params.progress_bar, params.steps_per_execution = 1, False, 2
    params.train.limit, params.train.batch_size, params.val.limit = 128, 16, 32
    params.export_best = params.export_final = False
    trainer = TutorialScenario(params.scenario).create_trainer(params)
    recorder = _Recorder(read)
    trainer.extra_callbacks.append(recorder)
    logs = trainer.fit()
    assert recorder.calls == 4  # 8 steps, 2 per compiled call
    # the epoch's values and the validation's: 2 reads; a reading callback adds one per compiled call
    assert len(reads) == 2 + (4 if read else 0)
    if read:
        assert recorder.losses[-1] == logs["loss"]  # the last call's running mean is the epoch's loss


def test_progress_bar_reads_the_loss_at_a_bounded_rate(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from types import SimpleNamespace

    from tfaip_core.trainer.callbacks import progress

    clock = [100.0]
    monkeypatch.setattr(progress, "_is_terminal", lambda: True)
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    bar = progress.ProgressCallback(show_bar=True)
    bar.set_trainer(SimpleNamespace(steps_per_epoch=10, params=SimpleNamespace(epochs=1)))  # type: ignore[arg-type]
    bar.on_epoch_begin(0)
    reads: List[int] = []
    for step in range(1, 11):
        clock[0] += 0.06  # a compiled call every 60 ms: the bar redraws after 0.24 s (4th, 8th) and at the end
        bar.on_train_batch_end(step, LazyLogs(lambda s=step: reads.append(s) or {"loss": 1.0 / s}))
    assert reads == [4, 8, 10]
    assert "10/10" in capsys.readouterr().out
