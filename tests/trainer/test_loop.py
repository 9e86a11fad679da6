"""The training loop fails loudly: monitor keys, evaluator names, model-building flags; best value and meta.

In-process through `tfaip_core.scripts.train.main` on a small slice of the tutorial's digits.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import List, Tuple

import pytest

from tests.conftest import NO_EXPORTS

SMALL = ["--trainer.progress_bar", "false", "--train.limit", "192", "--val.limit", "64", "--trainer.epochs", "1"]


def _train(capsys: pytest.CaptureFixture, scenario: str, out: Path, *flags: str) -> Tuple[int, str]:
    from tfaip_core.scripts.train import main

    status = main([scenario, "--trainer.output_dir", str(out), *SMALL, *flags])
    return status, capsys.readouterr().err


def _metrics(out: Path) -> List[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_mistyped_monitor_is_an_error_naming_the_available_values(tmp_path: Path, capsys) -> None:
    status, err = _train(capsys, "tests.trainer.loop_scenarios:MistypedMonitorScenario", tmp_path / "run")
    assert status == 2, err
    line = [x for x in err.splitlines() if "error:" in x][-1]
    assert "'val_acuracy'" in line and "val_accuracy" in line and "val_loss" in line, line
    assert "Traceback" not in err


def test_evaluator_value_may_not_replace_a_metric(tmp_path: Path, capsys) -> None:
    status, err = _train(capsys, "tests.trainer.loop_scenarios:CollidingEvaluatorScenario", tmp_path / "run")
    assert status == 2, err
    assert "'acc'" in err and "val_acc" in err and "CollidingEvaluator" in err


def test_best_value_is_in_every_metrics_line_after_the_first_validated_epoch(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    status, err = _train(
        capsys, "scenarios.tutorial", out, "--trainer.epochs", "5", "--trainer.val_every_n", "2", *NO_EXPORTS
    )
    assert status == 0, err
    records = _metrics(out)
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    assert "best_val_accuracy" not in records[0] and "val_accuracy" not in records[0]
    validated: List[float] = []
    for record in records[1:]:
        if "val_accuracy" in record:
            validated.append(record["val_accuracy"])
        assert record["best_val_accuracy"] == max(validated), record
    assert [("val_accuracy" in r) for r in records] == [False, True, False, True, True]  # the last is validated


def test_samples_reach_the_evaluator_with_their_meta(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    status, err = _train(
        capsys, "tests.trainer.loop_scenarios:MetaScenario", out, "--val.batch_size", "24", *NO_EXPORTS
    )
    assert status == 0, err
    last = _metrics(out)[-1]
    assert last["val_distinct_ids"] == 64.0  # 64 samples in batches of 24, 24, 16: every id once
    assert last["val_foreign_ids"] == 0.0


@pytest.mark.parametrize(
    "flag, value",
    [
        ("--model.graph.activation", "relux"),
        ("--model.graph.filters", "-3"),  # Keras: "Received filters=-3."
        ("--model.graph.dense", "0"),  # Keras: "Received: units=0"
    ],
)
def test_model_building_errors_name_the_flag(tmp_path: Path, capsys, flag: str, value: str) -> None:
    """Keras' own argument checks, mapped back to the flag (the tutorial's params do not check these)."""
    out = tmp_path / "run"
    status, err = _train(capsys, "scenarios.tutorial", out, "--model.graph", "CNN", flag, value)
    assert status == 2, err
    errors = [x for x in err.splitlines() if "error:" in x]
    assert len(errors) == 1 and flag in errors[0] and value in errors[0], err
    assert "Traceback" not in err
    assert not out.exists()  # a failed start leaves nothing behind


@pytest.mark.parametrize("flag, value", [("--model.graph.dropout", "1.5"), ("--model.num_classes", "0")])
def test_tutorial_params_check_their_ranges(tmp_path: Path, capsys, flag: str, value: str) -> None:
    out = tmp_path / "run"
    status, err = _train(capsys, "scenarios.tutorial", out, flag, value)
    assert status == 2 and flag in err and value in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_run_that_trains_nothing_leaves_export_alone(tmp_path: Path, capsys) -> None:
    from tfaip_core.scripts.resume_training import main as resume

    out = tmp_path / "run"
    status, err = _train(capsys, "scenarios.tutorial", out)
    assert status == 0, err
    saved = out / "export" / "saved_model.pb"
    before = (saved.read_bytes(), os.stat(saved).st_mtime_ns)
    status = resume([str(out)])  # the run is finished: nothing to train
    err = capsys.readouterr().err
    assert status == 0, err
    assert (saved.read_bytes(), os.stat(saved).st_mtime_ns) == before
    assert len(_metrics(out)) == 1


class _Recorder:
    def __init__(self, best_dir: Path):
        self.exports: List[str] = []
        self.run_dir = type("R", (), {"best_dir": str(best_dir)})()

    def export(self, path: str, extra_files: dict) -> None:
        self.exports.append(path)


@pytest.mark.parametrize("recorded, exported", [(0.9, False), (0.8, False), (0.7, True), (None, True)])
def test_best_model_is_replaced_only_by_a_better_value(tmp_path: Path, recorded, exported: bool) -> None:
    from tfaip_core.trainer.callbacks.best_model import BEST_FILE, BestModelCallback
    from tfaip_core.trainer.monitor import BestValue, Monitor

    best_dir = tmp_path / "best"
    if recorded is not None:
        best_dir.mkdir()
        (best_dir / BEST_FILE).write_text(json.dumps({"monitor": "val_accuracy", "value": recorded, "epoch": 9}))
    best = BestValue(Monitor("val_accuracy", "max"))
    assert best.update(3, {"val_accuracy": 0.8})
    callback = BestModelCallback(best, export=True)
    trainer = _Recorder(best_dir)
    callback.set_trainer(trainer)  # type: ignore[arg-type]
    callback.on_epoch_end(2, {"val_accuracy": 0.8})
    assert trainer.exports == ([str(best_dir)] if exported else [])


def test_resuming_from_an_older_checkpoint_keeps_a_better_best_model(tmp_path: Path, capsys) -> None:
    """A crash after best/ was written but before its checkpoint: the replayed epochs must not replace best/."""
    import shutil

    from tfaip_core.scripts.resume_training import main as resume

    out = tmp_path / "run"
    status, err = _train(capsys, "scenarios.tutorial", out, "--trainer.epochs", "2")
    assert status == 0, err
    shutil.rmtree(sorted((out / "checkpoint").iterdir())[-1])  # back to the checkpoint of epoch 1
    record = json.loads((out / "best" / "best.json").read_text())
    record["value"] = 1.0  # what a later, better epoch would have recorded
    (out / "best" / "best.json").write_text(json.dumps(record))
    saved = out / "best" / "saved_model.pb"
    before = (saved.read_bytes(), os.stat(saved).st_mtime_ns)
    status = resume([str(out)])
    err = capsys.readouterr().err
    assert status == 0, err
    assert [r["epoch"] for r in _metrics(out)] == [1, 2]  # epoch 2 was trained again
    assert (saved.read_bytes(), os.stat(saved).st_mtime_ns) == before
    assert "at epoch 2" in err  # the replayed epoch beat the restored best value: the guard is what kept best/
    assert "Kept" in err and "best" in err


def test_fit_releases_its_training_iterator_when_it_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The training iterator (and its tf.data threads) goes when `fit` returns, not when the garbage collector
    reaches the trainer's reference cycles: destroying a tf.data iterator waits for its threads, and at a random
    later moment that wait stalled whatever ran then (seconds per test in the parallel suite)."""
    import weakref

    from tests.conftest import fitted_tutorial_trainer
    from tfaip_core.trainer.trainer import Trainer

    iterators: List[weakref.ref] = []
    restore = Trainer._restore

    def recording_restore(self: Trainer, callbacks: object) -> None:
        restore(self, callbacks)  # type: ignore[arg-type]
        iterators.append(weakref.ref(self._train_iterator))

    monkeypatch.setattr(Trainer, "_restore", recording_restore)
    trainer = fitted_tutorial_trainer(tmp_path / "run", samples=64)
    assert len(iterators) == 1
    assert iterators[0]() is None  # gone although the trainer is still referenced here
    assert trainer.global_step == 64 // trainer.params.train.batch_size  # it trained its steps


def test_a_compiled_call_consumes_exactly_the_batches_of_its_updates(tmp_path: Path) -> None:
    """The loop fetches the next update's batch beside the current update; it must not fetch one past its last
    update, or every call would silently skip a batch of the training stream (and the checkpointed iterator
    position would be one batch ahead of the weights)."""
    import numpy as np
    import tensorflow as tf

    from tests.conftest import fitted_tutorial_trainer

    trainer = fitted_tutorial_trainer(tmp_path / "run", samples=64)
    batches = list(trainer._train_dataset.take(7))  # fixed batches: a dataset without shuffling
    dataset = tf.data.Dataset.from_tensors(batches[0])
    for batch in batches[1:]:
        dataset = dataset.concatenate(tf.data.Dataset.from_tensors(batch))
    iterator = iter(dataset)
    done, finite = trainer._train_function(iterator, tf.constant(3))
    assert int(done) == 3 and bool(finite)
    following = next(iterator)
    tf.nest.map_structure(lambda a, b: np.testing.assert_array_equal(a.numpy(), b.numpy()), following, batches[3])
    done, _ = trainer._train_function(iterator, tf.constant(2))  # the next call starts after the one read here
    assert int(done) == 2
    tf.nest.map_structure(lambda a, b: np.testing.assert_array_equal(a.numpy(), b.numpy()), next(iterator), batches[6])
