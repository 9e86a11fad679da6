"""LAV during training through the CLI (in-process) on the tutorial: two lists, evaluator vs metric, the files
and TensorBoard directories it writes, its checkpoint state, `--trainer.overwrite`, and validation switched off."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, Set

import numpy as np
import pytest

from tests.conftest import cli, read_metrics, train_in_process
from tests.lav.digit_files import plain_predictions, validation_digits, write_npz_list

FAST = ["--trainer.samples_per_epoch", "320", "--trainer.random_seed", "1", "--trainer.export_best", "false"]


def tensorboard_tags(directory: Path) -> Dict[str, Set[str]]:
    """The tags of a TensorBoard directory by plugin (scalars, images, text, pr_curves)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(directory), size_guidance={"tensors": 0})
    acc.Reload()
    tags: Dict[str, Set[str]] = {}
    for tag in acc.Tags()["tensors"]:
        tags.setdefault(acc.SummaryMetadata(tag).plugin_data.plugin_name, set()).add(tag)
    return tags


@pytest.fixture(scope="module")
def lav_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs of the tutorial with LAV after each on two lists of validation digits (60 and 40 files)."""
    root = tmp_path_factory.mktemp("lav")
    a, _ = write_npz_list(root / "data", "a", range(0, 60))
    b, _ = write_npz_list(root / "data", "b", range(60, 100))
    output = root / "run"
    train_in_process(
        output, "--trainer.epochs", "2", *FAST, "--trainer.lav_every_n", "1", "--lav.lists", str(a), str(b)
    )
    return output


def test_lav_on_two_lists_evaluator_accuracy_equals_the_model_metric_and_the_export(lav_run: Path) -> None:
    records = read_metrics(lav_run)
    assert [r["epoch"] for r in records] == [1, 2]
    for record in records:
        for label, size in (("l0", 60), ("l1", 40)):
            evaluator, metric = record[f"lav_{label}_accuracy"], record[f"lav_{label}_acc"]
            # the same count of right answers: python float (evaluator) vs keras float32 (metric)
            assert round(evaluator * size) == round(metric * size)
            assert math.isclose(evaluator, metric, abs_tol=1e-6)
    # independent: the final export (EMA off, the weights LAV saw after the last epoch) on the same files
    images, labels = validation_digits()
    for label, indices in (("l0", slice(0, 60)), ("l1", slice(60, 100))):
        predicted = plain_predictions(lav_run / "export", images[indices])["class"]
        assert records[-1][f"lav_{label}_accuracy"] == float(np.mean(predicted == labels[indices]))
    # the two lists differ, so a mix-up of lists would show
    assert {records[-1]["lav_l0_accuracy"], records[-1]["lav_l1_accuracy"]} != {records[-1]["val_accuracy"]}


def test_lav_writes_json_per_run_tensorboard_per_list_and_its_state_per_list(lav_run: Path) -> None:
    results = sorted(p.name for p in (lav_run / "lav").iterdir())
    assert results == ["l0_epoch_0001.json", "l0_epoch_0002.json", "l1_epoch_0001.json", "l1_epoch_0002.json"]
    last = json.loads((lav_run / "lav" / "l1_epoch_0002.json").read_text())
    records = read_metrics(lav_run)
    assert last["label"] == "l1" and last["epoch"] == 2 and last["samples"] == 40
    assert last["metrics"]["accuracy"] == records[-1]["lav_l1_accuracy"]
    for label in ("l0", "l1"):
        tags = tensorboard_tags(lav_run / f"lav_{label}")
        assert tags["scalars"] == {"acc", "accuracy"} and tags["text"] == {"predictions"}
        assert tags["images"] == {"digits"}
        assert tags["pr_curves"] == {f"class_{c}/pr_curves" for c in range(10)}
    # the validation writes the model's extra outputs too
    assert "digits" in tensorboard_tags(lav_run / "validation")["images"]
    train_tags = tensorboard_tags(lav_run / "train")["scalars"]
    assert "loss" in train_tags and not [t for t in train_tags if t.startswith("lav_")]  # lav_* only under lav_lN/
    checkpoints = sorted((lav_run / "checkpoint").glob("ckpt-*"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((checkpoints[-1] / "state.json").read_text())
    lists = state["callbacks"]["LavCallback"]["lists"]
    assert lists["l0"]["epoch"] == 2 and lists["l1"]["epoch"] == 2
    assert lists["l0"]["metrics"]["accuracy"] == records[-1]["lav_l0_accuracy"]
    assert lists["l1"]["metrics"]["accuracy"] == records[-1]["lav_l1_accuracy"]


def test_lav_runs_after_the_first_every_nth_and_the_last_epoch(tmp_path: Path) -> None:
    output = tmp_path / "run"
    train_in_process(
        output,
        "--trainer.epochs",
        "5",
        "--train.limit",
        "64",
        "--val.limit",
        "20",
        "--trainer.lav_every_n",
        "3",
        "--trainer.export_final",
        "false",
        *FAST,
    )
    lav_epochs = [r["epoch"] for r in read_metrics(output) if "lav_l0_accuracy" in r]
    assert lav_epochs == [1, 3, 5]
    # without --lav.lists, LAV runs on the validation data: the same samples and weights as validation
    for record in read_metrics(output):
        if "lav_l0_accuracy" in record:
            assert record["lav_l0_accuracy"] == record["val_accuracy"]


def test_overwrite_removes_the_lav_results_of_the_previous_run(tmp_path: Path) -> None:
    output = tmp_path / "run"
    tiny = ["--trainer.epochs", "1", "--train.limit", "64", "--val.limit", "20", "--trainer.export_final", "false"]
    train_in_process(output, *tiny, *FAST, "--trainer.lav_every_n", "1")
    assert (output / "lav").is_dir() and (output / "lav_l0").is_dir()
    manifest = json.loads((output / ".tfaip_run.json").read_text())["entries"]
    assert {"lav", "lav_l0"} <= set(manifest)
    (output / "notes.txt").write_text("mine")
    train_in_process(output, *tiny, *FAST, "--trainer.overwrite", "true")
    assert not (output / "lav").exists() and not (output / "lav_l0").exists()
    assert (output / "notes.txt").read_text() == "mine"


def test_without_validation_best_is_the_last_model_and_the_log_says_so(tmp_path: Path) -> None:
    output = tmp_path / "run"
    result = train_in_process(
        output,
        "--trainer.epochs",
        "2",
        "--train.limit",
        "64",
        "--val.limit",
        "20",
        "--trainer.val_every_n",
        "0",
        "--trainer.random_seed",
        "1",
    )
    records = read_metrics(output)
    assert not any(key.startswith("val_") for r in records for key in r)
    assert "Validation is off (--trainer.val_every_n 0)" in result.stderr
    best = json.loads((output / "best" / "best.json").read_text())
    assert best["epoch"] == 2 and best["value"] is None and "validation is off" in best["reason"]
    images, _ = validation_digits()
    np.testing.assert_array_equal(
        plain_predictions(output / "best", images)["probs"], plain_predictions(output / "export", images)["probs"]
    )


def error_lines(stderr: str, prog: str = "tfaip-train") -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith(f"{prog}: error:")]


def test_lav_lists_for_a_scenario_that_reads_no_lists_is_an_error(tmp_path: Path) -> None:
    output = tmp_path / "run"
    result = cli(
        "tfaip-train",
        "scenarios.minimal",
        "--trainer.output_dir",
        str(output),
        "--trainer.epochs",
        "1",
        "--trainer.lav_every_n",
        "1",
        "--lav.lists",
        "x.lst",
    )
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert "--lav.lists: the scenario MinimalScenario reads no list files" in line and "Fix: drop --lav.lists" in line
    assert not output.exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--trainer.lav_every_n", "-1"], r"--trainer\.lav_every_n must be >= 0; got -1"),
        (["--trainer.val_every_n", "-2"], r"--trainer\.val_every_n must be >= 0; got -2"),
        (["--lav.batch_size", "0"], r"--lav\.batch_size must be -1 \(the validation batch size\) or >= 1; got 0"),
    ],
)
def test_bad_lav_flags_are_one_line_errors(tmp_path: Path, flags: List[str], message: str) -> None:
    import re

    result = cli("tfaip-train", "scenarios.tutorial", "--trainer.output_dir", str(tmp_path / "run"), *flags)
    assert result.returncode == 2
    (line,) = error_lines(result.stderr)
    assert re.search(message, line), line
