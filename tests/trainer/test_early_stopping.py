"""Early stopping: the pure decision on scripted values, the checkpoint state, and the real CLI (in-process)."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from tests.conftest import cli, read_metrics, train_in_process
from tfaip_core.trainer.callbacks.early_stopping import EarlyStoppingCallback, EarlyStoppingState, decide
from tfaip_core.trainer.early_stopping_params import EarlyStoppingParams
from tfaip_core.trainer.monitor import Monitor

NAN = math.nan
ACC = Monitor("val_accuracy", "max")
LOSS = Monitor("val_loss", "min")


@dataclass
class Case:
    """Scripted monitored values (one per epoch, None: not validated) and the expected outcome.

    `stop` is the 1-based epoch at which training must stop (None: it never stops on these values);
    `reason` a regular expression the stopping reason must match. Both are worked out by hand in
    the comment of each case.
    """

    monitor: Monitor
    values: List[Optional[float]]
    stop: Optional[int]
    reason: str = ""
    params: Dict[str, Any] = field(default_factory=dict)


CASES = {
    # best .5, .6 ↑, .6 equal → wait 1, .55 → wait 2 = n_to_go.
    "max_n_to_go": Case(
        ACC, [0.5, 0.6, 0.6, 0.55, 0.7], 4, r"no improvement of val_accuracy for 2 checks", {"n_to_go": 2}
    ),
    # best 1.0, .8 ↓ (better), .9 wait 1, .8 equal wait 2, .85 wait 3 = n_to_go.
    "min_n_to_go": Case(
        LOSS, [1.0, 0.8, 0.9, 0.8, 0.85, 0.7], 5, r"for 3 checks \(best 0\.8, last 0\.85\)", {"n_to_go": 3}
    ),
    # margin .05: .54 is no gain over .5 (w1), .56 is (best .56), .6 is not (w1), .62 is (best .62),
    # .63 is not (w1), .6 is not (w2 = n_to_go).
    "min_delta": Case(
        ACC, [0.5, 0.54, 0.56, 0.6, 0.62, 0.63, 0.6], 7, r"best 0\.62", {"n_to_go": 2, "min_delta": 0.05}
    ),
    # Without the margin every rise is a gain (best .63 at epoch 6); then .6 w1, .6 w2.
    "no_min_delta": Case(ACC, [0.5, 0.54, 0.56, 0.6, 0.62, 0.63, 0.6, 0.6], 8, r"best 0\.63", {"n_to_go": 2}),
    # Checks at validations 2, 4, 6 only: .9 best, .4 w1, .4 w2. (With frequency 1: epoch 4.)
    "frequency_2": Case(ACC, [0.5, 0.9, 0.4, 0.4, 0.4, 0.4, 0.4], 6, r"for 2 checks", {"n_to_go": 2, "frequency": 2}),
    # Validations at odd epochs; checks at validations 2 (ep 3: .9), 4 (ep 7: .4 w1), 6 (ep 10: .4 w2).
    "frequency_2_with_gaps": Case(
        ACC, [0.5, None, 0.9, None, 0.4, None, 0.4, None, 0.4, 0.4], 10, r"for 2 checks", {"n_to_go": 2, "frequency": 2}
    ),
    # A long plateau below the lower threshold is never counted.
    "max_lower_plateau": Case(ACC, [0.5] * 40, None, params={"n_to_go": 1, "lower_threshold": 0.8}),
    # Starts at .85 (epoch 4, best), .85 w1, .84 w2.
    "max_lower_starts": Case(
        ACC, [0.5, 0.5, 0.5, 0.85, 0.85, 0.84], 6, r"best 0\.85", {"n_to_go": 2, "lower_threshold": 0.8}
    ),
    # Once started it keeps counting when the value falls back below the lower threshold.
    "max_lower_stays_started": Case(ACC, [0.85, 0.5, 0.5], 3, r"for 2 checks", {"n_to_go": 2, "lower_threshold": 0.8}),
    # Stops at the first value >= upper (inclusive), without any n_to_go.
    "max_upper": Case(
        ACC,
        [0.5, 0.89, 0.9, 0.95],
        3,
        r"val_accuracy = 0\.9 reached the upper threshold 0\.9",
        {"upper_threshold": 0.9},
    ),
    # Below lower nothing counts (n_to_go 1 would stop at epoch 2 otherwise); upper stops even before the start.
    "max_upper_before_start": Case(
        ACC,
        [0.3, 0.3, 0.95],
        3,
        r"reached the upper threshold",
        {"n_to_go": 1, "lower_threshold": 0.5, "upper_threshold": 0.9},
    ),
    # Thresholds only: no counting, so a plateau below upper never stops.
    "max_upper_only_plateau": Case(ACC, [0.5] * 30, None, params={"upper_threshold": 0.9}),
    # Mode min, mirrored: above upper (.5) no counting.
    "min_above_upper_plateau": Case(
        LOSS, [0.9] * 30, None, params={"n_to_go": 1, "lower_threshold": 0.1, "upper_threshold": 0.5}
    ),
    # Starts at .5 (<= upper, epoch 3, best), .5 w1, .6 w2.
    "min_upper_starts": Case(
        LOSS,
        [0.9, 0.9, 0.5, 0.5, 0.6],
        5,
        r"for 2 checks \(best 0\.5",
        {"n_to_go": 2, "lower_threshold": 0.1, "upper_threshold": 0.5},
    ),
    # Stops at once at the first value <= lower (inclusive).
    "min_lower_stops": Case(
        LOSS,
        [0.9, 0.3, 0.11, 0.1],
        4,
        r"val_loss = 0\.1 reached the lower threshold 0\.1",
        {"n_to_go": 5, "lower_threshold": 0.1},
    ),
    # Epochs without a value are no check: .5 best, .4 w1 (ep 4), .4 w2 (ep 6).
    "none_skipped": Case(ACC, [0.5, None, None, 0.4, None, 0.4, None], 6, r"for 2 checks", {"n_to_go": 2}),
    # Only None: nothing happens.
    "only_none": Case(ACC, [None] * 10, None, params={"n_to_go": 1, "upper_threshold": 0.5}),
    # NaN is never an improvement: w1, .5 best, w1, w2.
    "nan_counts": Case(ACC, [NAN, 0.5, NAN, NAN], 4, r"best 0\.5, last nan", {"n_to_go": 2}),
}


def first_stop(case: Case) -> Tuple[Optional[int], str]:
    """Feed the values one epoch at a time; the 1-based epoch of the first stop and its reason."""
    params = EarlyStoppingParams(**case.params)
    params.validate()
    state = EarlyStoppingState()
    for epoch, value in enumerate(case.values, start=1):
        state, stop, reason = decide(state, value, case.monitor, params)
        assert isinstance(reason, str) and reason
        if stop:
            return epoch, reason
    return None, ""


@pytest.mark.parametrize("name", list(CASES))
def test_decision_table(name: str) -> None:
    case = CASES[name]
    epoch, reason = first_stop(case)
    assert epoch == case.stop, reason
    if case.stop is not None:
        assert re.search(case.reason, reason), reason


def test_decide_is_pure() -> None:
    params = EarlyStoppingParams(n_to_go=2, min_delta=0.1)
    monitor = Monitor("val_accuracy", "max")
    state = EarlyStoppingState(best=0.5, wait=1, started=True, validations=3)
    new, stop, _ = decide(state, 0.55, monitor, params)
    assert stop and new == EarlyStoppingState(best=0.5, wait=2, started=True, validations=4)
    assert state == EarlyStoppingState(best=0.5, wait=1, started=True, validations=3)
    assert monitor.min_delta == 0.0  # the params' margin is used without changing the model's monitor


class FakeTrainer:
    stop_training = False


def fed(callback: EarlyStoppingCallback, values: List[Optional[float]], first_epoch: int) -> Iterator[int]:
    """Run `on_epoch_end` for the values; yield each epoch (1-based) at which the callback stopped training."""
    for epoch, value in enumerate(values, start=first_epoch):
        logs = {"loss": 1.0} if value is None else {"loss": 1.0, "val_accuracy": value}
        callback.on_epoch_end(epoch, logs)
        if callback.trainer.stop_training:
            yield epoch + 1
            return


def new_callback(params: EarlyStoppingParams) -> EarlyStoppingCallback:
    callback = EarlyStoppingCallback(params, Monitor("val_accuracy", "max"))
    callback.set_trainer(FakeTrainer())  # type: ignore[arg-type]
    return callback


def test_state_round_trip_continues_identically() -> None:
    # Checks at validations 2, 4, 6, 8 (every 2nd): .7 starts (>= .6) and is best, .75 best, .7 w1, .7 w2.
    params = EarlyStoppingParams(n_to_go=2, frequency=2, lower_threshold=0.6)
    values: List[Optional[float]] = [0.5, 0.7, 0.8, 0.75, None, 0.7, 0.7, 0.7, 0.7]
    split = 5  # after 5 epochs = 4 validations; the restored count must make validation 5 no check

    original = new_callback(params)
    assert list(fed(original, values[:split], 0)) == []
    saved = json.loads(json.dumps(original.get_state()))
    assert saved == {"best": 0.75, "wait": 0, "started": True, "validations": 4}

    resumed = new_callback(params)
    resumed.set_state(saved)
    assert list(fed(resumed, values[split:], split)) == [9]
    assert list(fed(original, values[split:], split)) == [9]
    assert resumed.get_state() == original.get_state() == {"best": 0.75, "wait": 2, "started": True, "validations": 8}

    uninterrupted = new_callback(params)
    assert list(fed(uninterrupted, values, 0)) == [9]


class Collect(logging.Handler):
    """Keeps the records it gets (the framework's logger may not propagate to pytest's handlers)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_callback_logs_the_reason() -> None:
    trainer_log = logging.getLogger("tfaip_core.trainer")
    collect, old_level = Collect(), trainer_log.level
    trainer_log.addHandler(collect)
    trainer_log.setLevel(logging.DEBUG)
    try:
        callback = new_callback(EarlyStoppingParams(upper_threshold=0.9))
        assert list(fed(callback, [0.5, None, 0.95], 0)) == [3]
    finally:
        trainer_log.removeHandler(collect)
        trainer_log.setLevel(old_level)
    infos = [r.getMessage() for r in collect.records if r.levelno == logging.INFO]
    assert infos == ["Early stopping after epoch 3: val_accuracy = 0.95 reached the upper threshold 0.9"]
    debugs = [r.getMessage() for r in collect.records if r.levelno == logging.DEBUG]
    assert len(debugs) == 2 and "not validated" in debugs[1]


# ============================== through the real command line ==============================
FAST = ["--trainer.samples_per_epoch", "256", "--trainer.export_best", "false", "--trainer.export_final", "false"]


def test_cli_upper_threshold_stops_at_first_epoch_reaching_it(tmp_path: Path) -> None:
    out = tmp_path / "upper"
    train_in_process(
        out, "--trainer.epochs", "30", "--early_stopping.upper_threshold", "0.9", "--trainer.random_seed", "1", *FAST
    )
    records = read_metrics(out)
    reached = [r["epoch"] for r in records if r["val_accuracy"] >= 0.9]
    assert reached, records[-1]
    assert len(records) == reached[0] < 30
    log = (out / "train.log").read_text()
    assert f"Early stopping after epoch {reached[0]}: val_accuracy = " in log
    assert "reached the upper threshold 0.9" in log
    # The stopping epoch went through the checkpoint callback too.
    assert json.loads((out / "trainer_params.json").read_text())["current_epoch"] == reached[0]


def test_cli_n_to_go_stops_without_improvement(tmp_path: Path) -> None:
    out = tmp_path / "n_to_go"
    # lr must be > 0; 1e-12 leaves the weights (and so val_accuracy) unchanged.
    train_in_process(
        out, "--trainer.epochs", "10", "--early_stopping.n_to_go", "1", "--learning_rate.lr", "1e-12", *FAST
    )
    records = read_metrics(out)
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[0]["val_accuracy"] == records[1]["val_accuracy"]
    log = (out / "train.log").read_text()
    assert "Early stopping after epoch 2: no improvement of val_accuracy for 1 check " in log


def test_cli_rejects_n_to_go_zero(tmp_path: Path) -> None:
    out = tmp_path / "bad"
    result = cli("tfaip-train", "scenarios.tutorial", "--trainer.output_dir", str(out), "--early_stopping.n_to_go", "0")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tfaip-train: error: ") and "--early_stopping.n_to_go" in lines[0], lines[0]
    assert not out.exists()
