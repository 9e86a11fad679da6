"""tfaip-train through its command line: the output directory contract, flags, scenario specs and bad input.

Runs the program in-process (`cli`, `train_in_process`) on a few tiny epochs. Subprocess tests, marked `e2e`:
the README's tutorial run with its defaults (`tutorial_run`: the contract of a full run and its accuracy), and
`python tfaip_core/scripts/train.py ...` (running the script as a file, the IDE path, needs its own interpreter).
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, cli, read_metrics, train_in_process, tutorial_export_accuracy


@pytest.mark.e2e
def test_output_directory_contract(tutorial_run: Path) -> None:
    for name in [
        "train.log",
        "trainer_params.json",
        "metrics.jsonl",
        "checkpoint",
        "best",
        "export",
        "train",
        "validation",
    ]:
        assert (tutorial_run / name).exists(), name
    for model_dir in ["best", "export"]:
        assert (tutorial_run / model_dir / "saved_model.pb").is_file()
        params = json.loads((tutorial_run / model_dir / "trainer_params.json").read_text())
        assert params["scenario"]["scenario_class"] == "scenarios.tutorial.scenario:TutorialScenario"
    params = json.loads((tutorial_run / "trainer_params.json").read_text())
    assert params["current_epoch"] == params["epochs"] == 15
    records = read_metrics(tutorial_run)
    assert [r["epoch"] for r in records] == list(range(1, 16))
    for key in ["step", "lr", "loss", "xent", "acc", "val_loss", "val_xent", "val_acc", "val_accuracy", "time"]:
        assert key in records[-1], key
    assert records[-1]["step"] == 15 * 45  # ceil(1438 / 32) steps an epoch
    assert records[0]["lr"] == pytest.approx(0.001)
    log = (tutorial_run / "train.log").read_text()
    assert "Epoch 15/15" in log and "Exported the model" in log
    checkpoints = sorted(p.name for p in (tutorial_run / "checkpoint").iterdir())
    assert checkpoints[-1] == "ckpt-0000000675" and len(checkpoints) == 5  # keeps the last 5
    for event_dir in ["train", "validation"]:
        assert any(p.name.startswith("events.out.tfevents") for p in (tutorial_run / event_dir).iterdir())


def test_tensorboard_has_every_loss_term_metric_and_lr(small_tutorial_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = {}
    for name in ["train", "validation"]:
        acc = EventAccumulator(str(small_tutorial_run / name), size_guidance={"tensors": 0})
        acc.Reload()
        tags[name] = set(acc.Tags()["tensors"])
    assert {"loss", "xent", "acc", "lr"} <= tags["train"]
    assert {"loss", "xent", "acc", "accuracy"} <= tags["validation"]


@pytest.mark.e2e
def test_tutorial_defaults_reach_95_percent_and_best_holds_the_best_epoch(tutorial_run: Path) -> None:
    records = read_metrics(tutorial_run)
    assert records[-1]["val_accuracy"] >= 0.95
    # best/ is the model of the epoch with the highest val_accuracy (the tutorial's monitor), export/ the last one
    assert tutorial_export_accuracy(tutorial_run / "best") == max(r["val_accuracy"] for r in records)
    assert tutorial_export_accuracy(tutorial_run / "export") == records[-1]["val_accuracy"]


def test_cnn_flags_are_stored(tmp_path: Path) -> None:
    out = tmp_path / "cnn"
    train_in_process(
        out,
        "--model.graph",
        "CNN",
        "--model.graph.filters",
        "8",
        "16",
        "--trainer.epochs",
        "2",
        "--trainer.samples_per_epoch",
        "64",
        "--trainer.export_best",
        "false",
    )
    params = json.loads((out / "trainer_params.json").read_text())
    assert params["epochs"] == 2
    assert params["scenario"]["model"]["graph"]["__cls__"].endswith(":CNNParams")
    assert params["scenario"]["model"]["graph"]["filters"] == [8, 16]
    assert len(read_metrics(out)) == 2


def test_flag_equals_syntax_optimizer_and_schedule(tmp_path: Path) -> None:
    out = tmp_path / "eq"
    train_in_process(
        out,
        "--trainer.epochs=1",
        "--optimizer",
        "Adam",
        "--optimizer.epsilon",
        "1e-7",
        "--learning_rate",
        "ExponentialDecay",
        "--learning_rate.lr=0.01",
        "--model.graph",
        "MLP",
        "--model.graph.nodes",
        "20",
        "10",
        "--train.batch_size",
        "64",
        "--trainer.samples_per_epoch",
        "640",
    )
    params = json.loads((out / "trainer_params.json").read_text())
    assert params["learning_rate"]["lr"] == 0.01 and params["learning_rate"]["__cls__"].endswith(
        "ExponentialDecayParams"
    )
    assert params["optimizer"]["epsilon"] == 1e-7
    assert params["scenario"]["model"]["graph"]["nodes"] == [20, 10]
    assert read_metrics(out)[0]["step"] == 10  # 640 samples / 64


@pytest.mark.parametrize(
    "spec",
    ["scenarios.tutorial.scenario", "scenarios/tutorial/scenario.py", "scenarios.tutorial.scenario:TutorialScenario"],
)
def test_scenario_specs(tmp_path: Path, spec: str) -> None:
    out = tmp_path / "run"
    train_in_process(
        out,
        "--trainer.epochs",
        "1",
        "--trainer.samples_per_epoch",
        "64",
        "--trainer.export_best",
        "false",
        scenario=spec,
    )
    assert (out / "export" / "saved_model.pb").exists()
    assert not (out / "best").exists()


@pytest.mark.e2e
def test_train_script_runs_as_a_plain_file(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    result = _run_file(
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(out),
        "--trainer.epochs",
        "1",
        "--trainer.samples_per_epoch",
        "64",
        "--trainer.progress_bar",
        "false",
    )
    assert result.returncode == 0, result.stderr
    assert (out / "export" / "saved_model.pb").exists()


def _run_file(*args: str):
    import subprocess

    return subprocess.run(
        [sys.executable, str(REPO / "tfaip_core" / "scripts" / "train.py"), *args],
        cwd=str(REPO),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_help_lists_every_flag_with_default() -> None:
    result = cli("tfaip-train", "scenarios.tutorial", "--help")
    assert result.returncode == 0
    text = result.stdout
    for flag in [
        "--trainer.epochs",
        "--trainer.output_dir",
        "--trainer.random_seed",
        "--optimizer",
        "--optimizer.epsilon",
        "--learning_rate",
        "--learning_rate.lr",
        "--model.graph",
        "--model.graph.nodes",
        "--data.dataset",
        "--train.batch_size",
        "--val.batch_size",
        "--device.dist_strategy",
    ]:
        assert re.search(rf"^\s+{re.escape(flag)}\b", text, re.M), flag
    assert "Missing help string" not in text
    assert "Default: 15." in text  # the tutorial's own default epochs


SEVERAL = """
from scenarios.tutorial.scenario import TutorialScenario

class A(TutorialScenario):
    pass

class B(TutorialScenario):
    pass
"""


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--trainer.epoch", "3"], r"unknown flag --trainer\.epoch \(closest valid flags: --trainer\.epochs"),
        (["--trainer.epochs", "three"], r"--trainer\.epochs: invalid value 'three'; expected an integer"),
        (["--learning_rate.lr", "fast"], r"--learning_rate\.lr: invalid value 'fast'; expected a number"),
        (
            ["--trainer.progress_bar", "maybe"],
            r"--trainer\.progress_bar: invalid value 'maybe'; expected true or false",
        ),
        (["--optimizer", "Adamm"], r"--optimizer: unknown choice 'Adamm'; valid choices: Adam, .*SGD"),
        (["--model.graph", "RNN"], r"--model\.graph: unknown choice 'RNN'; valid choices: MLP, CNN"),
        (["--data.dataset", "cifar"], r"--data\.dataset: invalid choice: 'cifar'"),
        (["SCENARIO=nosuch.module"], r"Scenario 'nosuch\.module' cannot be imported: no module named 'nosuch'"),
        (["SCENARIO=tfaip_core.errors"], r"defines no ScenarioBase subclass"),
        (["SCENARIO=several_scenarios"], r"ambiguous.*several_scenarios:A, several_scenarios:B"),
        (["SCENARIO=scenarios.tutorial:Nope"], r"has no scenario class 'Nope'"),
        (["NO_OUTPUT_DIR"], r"--trainer\.output_dir is required"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path: Path, args: list, pattern: str) -> None:
    (tmp_path / "several_scenarios.py").write_text(textwrap.dedent(SEVERAL))
    out = tmp_path / "out"
    scenario = "scenarios.tutorial"
    flags = ["--trainer.output_dir", str(out)]
    rest = []
    for a in args:
        if a.startswith("SCENARIO="):
            scenario = a.split("=", 1)[1]
        elif a == "NO_OUTPUT_DIR":
            flags = []
        else:
            rest.append(a)
    result = cli("tfaip-train", scenario, *flags, *rest, cwd=tmp_path, path=[tmp_path])
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tfaip-train: error: ")
    assert re.search(pattern, lines[0]), lines[0]
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_missing_scenario_argument_prints_usage() -> None:
    result = cli("tfaip-train")
    assert result.returncode == 2
    assert "usage: tfaip-train SCENARIO" in result.stdout


def test_log_level_from_environment(tmp_path: Path) -> None:
    out = tmp_path / "quiet"
    result = train_in_process(
        out, "--trainer.epochs", "1", "--trainer.samples_per_epoch", "64", env={"TFAIP_LOG_LEVEL": "warning"}
    )
    assert "INFO" not in result.stderr
    assert "Epoch 1/1:" in (out / "train.log").read_text()  # the level quiets the console, not the log


@pytest.mark.parametrize(
    "flags",
    [
        ["--trainer.force_eager", "true"],
        ["--device.dist_strategy", "mirror", "--trainer.calc_ema", "0.9", "--trainer.train_accum_steps", "2"],
    ],
    ids=["eager", "mirrored"],
)
def test_eager_and_mirrored_strategy_train(tmp_path: Path, flags: list) -> None:
    out = tmp_path / "run"
    result = train_in_process(out, *flags, "--trainer.epochs", "2", "--trainer.samples_per_epoch", "128")
    records = read_metrics(out)
    assert len(records) == 2 and records[-1]["loss"] < records[0]["loss"] * 1.5
    if "mirror" in flags:
        assert "MirroredStrategy" in result.stderr


def test_pipeline_limit_and_drop_remainder(tmp_path: Path) -> None:
    out = tmp_path / "limit"
    train_in_process(
        out,
        "--train.limit",
        "100",
        "--val.limit",
        "50",
        "--trainer.epochs",
        "1",
        "--train.batch_drop_remainder",
        "true",
        "--train.shuffle_buffer_size",
        "10",
        "--trainer.export_best",
        "false",
    )
    record = read_metrics(out)[0]
    assert record["step"] == 3  # floor(100 / 32): the incomplete batch is dropped
    assert "Training: 100 samples a pass" in (out / "train.log").read_text()
