"""The steps of a compiled call: fixed by the flag, or chosen from the measured time of a step."""

from __future__ import annotations

from pathlib import Path

from tfaip_core.trainer.steps_per_call import StepsPerCall


def _tuned(step_seconds: float, steps_per_epoch: int = 10_000, calls: int = 6) -> StepsPerCall:
    choice = StepsPerCall(0, steps_per_epoch)
    choice.record(16, 30.0)  # the first call traces: its time says nothing about a step
    for _ in range(calls - 1):
        choice.record(choice.value, step_seconds * choice.value)
    return choice


def test_automatic_calls_take_about_a_fifth_of_a_second() -> None:
    assert StepsPerCall(0, 10_000).value == 16 and StepsPerCall(0, 7).value == 7  # until measured
    assert _tuned(0.001).value == 128  # 0.2 s / 1 ms = 200: the power of two below
    assert _tuned(0.009).value == 16
    assert _tuned(0.5).value == 1  # a slow step: a call each, the progress bar and Ctrl-C stay prompt
    assert _tuned(0.000001).value == 1024  # at most 1024
    assert _tuned(0.001, steps_per_epoch=100).value == 100  # never more than an epoch


def test_the_choice_waits_for_five_calls_after_the_first() -> None:
    assert _tuned(0.001, calls=5).value == 16  # the traced call and four: not yet
    choice = _tuned(0.001)
    choice.record(128, 100.0)  # chosen once: a slow call later does not change it
    assert choice.value == 128


def test_a_fixed_value_or_profiling_is_not_tuned() -> None:
    fixed = StepsPerCall(4, 10_000)
    for _ in range(10):
        fixed.record(4, 0.001)
    assert fixed.value == 4
    profiled = StepsPerCall(0, 10_000, tune=False)
    for _ in range(10):
        profiled.record(16, 0.016)
    assert profiled.value == 16


def test_training_runs_longer_calls_for_a_small_model(tmp_path: Path) -> None:
    """Through tfaip-train: the tutorial's MLP takes about a millisecond a step, so after its first calls it runs
    the epoch's 96 steps in calls of more than 16, says so, and still trains every step."""
    import re

    from tests.conftest import NO_EXPORTS, read_metrics, train_in_process

    out = tmp_path / "run"
    flags = ("--trainer.epochs", "1", "--trainer.samples_per_epoch", str(96 * 32), *NO_EXPORTS)
    result = train_in_process(out, *flags)
    chosen = re.findall(r"Steps per compiled call: (\d+) \(a step takes", result.stderr)
    assert len(chosen) == 1 and 16 < int(chosen[0]) <= 96, result.stderr[-2000:]
    assert [row["step"] for row in read_metrics(out)] == [96]
