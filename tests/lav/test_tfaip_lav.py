"""`tfaip-lav` through the CLI (in-process) on exports of the tutorial."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List

import numpy as np

from tests.conftest import cli, read_metrics
from tests.lav.digit_files import plain_predictions, validation_digits, write_npz_list


def lav(*args: str, cwd: Path) -> dict:
    """Run tfaip-lav (asserting success) and return the JSON results it wrote."""
    result = cli("tfaip-lav", *args, "--lav.results_file", "results.json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads((cwd / "results.json").read_text())


def test_lav_on_best_reproduces_the_best_epochs_validation_accuracy(small_tutorial_run: Path, tmp_path: Path) -> None:
    records = read_metrics(small_tutorial_run)
    best = max(records, key=lambda r: r["val_accuracy"])
    results = lav("--export_dir", str(small_tutorial_run / "best"), cwd=tmp_path)
    (only,) = results["results"]
    assert only["label"] == "l0" and only["samples"] == 359 and results["lists"] == ["validation data"]
    assert only["metrics"]["accuracy"] == best["val_accuracy"]  # both: right answers / 359 in Python
    assert results["model"] == str(small_tutorial_run / "best")


def test_batch_size_1_and_5_give_the_same_results(small_tutorial_run: Path, tmp_path: Path) -> None:
    export = str(small_tutorial_run / "export")
    one = lav("--export_dir", export, "--lav.batch_size", "1", "--val.limit", "23", cwd=tmp_path)["results"][0]
    five = lav("--export_dir", export, "--lav.batch_size", "5", "--val.limit", "23", cwd=tmp_path)["results"][0]
    assert one["samples"] == five["samples"] == 23
    assert one["metrics"] == five["metrics"]
    images, labels = validation_digits()
    predicted = plain_predictions(small_tutorial_run / "export", images[:23])["class"]
    assert one["metrics"]["accuracy"] == float(np.mean(predicted == labels[:23]))


def test_lav_lists_of_digit_files_print_a_table_and_samples(small_tutorial_run: Path, tmp_path: Path) -> None:
    a, _ = write_npz_list(tmp_path / "data", "a", range(0, 6))
    b, _ = write_npz_list(tmp_path / "data", "b", range(6, 10))
    export = str(small_tutorial_run / "export")
    result = cli(
        "tfaip-lav", "--export_dir", export, "--lav.lists", str(a), str(b), "--lav.print_samples", "true", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    lines: List[str] = result.stdout.splitlines()
    printed = [line for line in lines if line.startswith(("l0 ", "l1 "))]
    assert len(printed) == 10 and printed[0] == f"l0 {tmp_path / 'data' / 'a_0.npz'}:"
    assert sum(line.startswith("gt=") for line in lines) == 10  # the tutorial's print_evaluate, once a sample
    images, labels = validation_digits()
    right = plain_predictions(small_tutorial_run / "export", images[:10])["class"] == labels[:10]
    header = lines.index(next(line for line in lines if line.startswith("metric")))
    assert lines[header].split() == ["metric", "l0", "(6", "samples)", "l1", "(4", "samples)"]
    row = lines[header + 2].split()  # acc, accuracy
    assert row[0] == "accuracy" and [float(v) for v in row[1:]] == [
        as_printed(np.mean(right[:6])),
        as_printed(np.mean(right[6:])),
    ]
    results = json.loads((tmp_path / "lav_results.json").read_text())  # the default results file
    assert results["lists"] == [str(a), str(b)]


def as_printed(value: float) -> float:
    """A value as the table prints it (6 significant digits)."""
    return float(f"{value:.6g}")


def test_errors_are_one_line(small_tutorial_run: Path, tmp_path: Path) -> None:
    for args, expected in [
        ([], "usage: tfaip-lav"),
        (["--val.limit", "3"], "tfaip-lav: error: --export_dir is required"),
        (["--export_dir", str(tmp_path / "none")], "tfaip-lav: error: model path must be a model directory"),
        (["--export_dir", str(tmp_path)], "is not an exported tfaip model: it has no trainer_params.json"),
        (["--export_dir", "a", "b"], "--export_dir takes one model directory; got 2"),
        (
            ["--export_dir", str(small_tutorial_run / "best"), "--lav.bogus", "1"],
            "tfaip-lav: error: unknown flag --lav.bogus",
        ),
    ]:
        result = cli("tfaip-lav", *args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert expected in (result.stdout if not args else result.stderr), (args, result.stderr)
