"""A resumed run whose data goes through pre-processors starts where it stopped: no replay of consumed samples.

In-process on the template scenario (its `Scale` pre-processor runs in this process), seeded, so that the
resumed run can be compared weight for weight with an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from tests.conftest import NO_EXPORTS, cli, read_metrics, train_in_process
from tests.scripts.test_resume import assert_same_weights

SAMPLES = 96  # 3 steps of 32 an epoch
FLAGS = ["--trainer.random_seed", "3", "--data.num_samples", str(SAMPLES), "--data.num_val_samples", "32", *NO_EXPORTS]


@pytest.fixture
def processed(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """The ids of the training samples the `Scale` pre-processor processed (in this process)."""
    from scenarios.template.processors import Scale

    seen: List[str] = []
    original = Scale.apply

    def counting(self: Scale, sample):  # type: ignore[no-untyped-def]
        if str(sample.meta.get("id", "")).startswith("training"):
            seen.append(sample.meta["id"])
        return original(self, sample)

    monkeypatch.setattr(Scale, "apply", counting)
    return seen


@pytest.mark.parametrize("shuffle", ["-1", "40"], ids=["whole-pass", "buffer"])
def test_resume_of_a_processed_stream_skips_the_consumed_samples_unprocessed(
    tmp_path: Path, processed: List[str], shuffle: str
) -> None:
    flags = FLAGS + ["--train.shuffle_buffer_size", shuffle]
    longer, resumed = tmp_path / "longer", tmp_path / "resumed"
    train_in_process(longer, *flags, "--trainer.epochs", "6", scenario="scenarios.template")
    train_in_process(resumed, *flags, "--trainer.epochs", "4", scenario="scenarios.template")
    processed.clear()
    result = cli("tfaip-resume-training", str(resumed), "--trainer.epochs", "6")
    assert result.returncode == 0, result.stderr

    assert_same_weights(longer, resumed)  # the same samples in the same order as without the stop
    assert [r["step"] for r in read_metrics(resumed)] == [3, 6, 9, 12, 15, 18]
    # 2 epochs of samples (plus what the pipeline reads ahead), not the 4 consumed epochs replayed first
    assert 2 * SAMPLES <= len(processed) < 3 * SAMPLES, len(processed)


def test_every_pass_is_a_new_order_of_all_samples(tmp_path: Path, processed: List[str]) -> None:
    train_in_process(tmp_path / "run", *FLAGS, "--trainer.epochs", "3", scenario="scenarios.template")
    passes = [processed[i * SAMPLES : (i + 1) * SAMPLES] for i in range(3)]
    for one in passes:
        assert sorted(one) == sorted(f"training_{i}" for i in range(SAMPLES))  # each sample once a pass
    assert passes[0] != passes[1] != passes[2] and passes[0] != sorted(passes[0])
