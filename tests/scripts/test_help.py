"""`--help` a user can read: one usage line, every choice flag with its choices, default and help, no internal
fields; a flag of an unselected choice names its choice. The rendering itself never imports TensorFlow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, cli


def _entry(text: str, flag: str) -> str:
    """The help entry of `flag`: its line and the indented lines below it, as one line."""
    match = re.search(rf"^  {re.escape(flag)} .+\n((?:      .*\n)+)", text, re.M)
    assert match, f"{flag} not in the help"
    return " ".join(match.group(1).split())


def test_help_shows_one_usage_line_and_every_choice_flag_with_choices_default_and_help() -> None:
    result = cli("tfaip-train", "scenarios.tutorial", "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert [line for line in text.splitlines() if "usage:" in line] == [
        "usage: tfaip-train SCENARIO --trainer.output_dir DIR [flags] [--print_params]"
    ]
    assert re.fullmatch(
        r"The optimizer: --optimizer NAME\. Choices: Adam, .*SGD.*\. Default: Adam\.", _entry(text, "--optimizer")
    )
    assert re.fullmatch(
        r"The learning-rate schedule: .* Choices: Constant, .*WarmupCosineDecay.*\. Default: Constant\.",
        _entry(text, "--learning_rate"),
    )
    assert _entry(text, "--model.graph") == "The network: MLP or CNN. Choices: MLP, CNN. Default: MLP."
    assert _entry(text, "--data.dataset").endswith("Choices: digits, mnist, fashion_mnist. Default: digits.")
    assert _entry(text, "--trainer.epochs") == "Number of epochs to train. Default: 15."  # the scenario's default
    assert _entry(text, "--model.graph.nodes") == "Units of each hidden layer. Default: 128 64."
    for internal in ("--trainer.current_epoch", "--scenario.scenario_class", "--trainer TRAINER"):
        assert internal not in text
    assert "Missing help string" not in text and "Defaults to" not in text


def test_a_choice_before_help_lists_the_flags_of_that_choice() -> None:
    default = cli("tfaip-train", "scenarios.tutorial", "--help").stdout
    chosen = cli("tfaip-train", "scenarios.tutorial", "--learning_rate", "WarmupCosineDecay", "--help").stdout
    assert "  --learning_rate.warmup_epochs" not in default
    assert "--learning_rate.warmup_epochs FLOAT" in chosen
    assert _entry(chosen, "--learning_rate").endswith("Default: WarmupCosineDecay.")


def test_a_flag_of_an_unselected_choice_names_the_choice_and_how_to_select_it(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["scenarios.tutorial", "--trainer.output_dir", str(out), "--learning_rate.warmup_epochs", "1"]
    result = cli("tfaip-train", *args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "tfaip-train: error: --learning_rate.warmup_epochs is a flag of --learning_rate WarmupCosineDecay or "
        "WarmupConstantCosineDecay or WarmupDecay, but --learning_rate is Constant. Fix: select that choice before "
        "it, e.g. --learning_rate WarmupCosineDecay --learning_rate.warmup_epochs VALUE."
    ]
    assert not out.exists()


def test_rendering_the_help_does_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "from scenarios.tutorial.params import TutorialScenarioParams\n"
        "from tfaip_core.scripts.cli import parse_params\n"
        "from tfaip_core.scripts.flag_help import render_help\n"
        "from tfaip_core.scripts.train import USAGE\n"
        "from tfaip_core.trainer.params import TrainerParams\n"
        "default = TrainerParams(scenario=TutorialScenarioParams())\n"
        "params = parse_params('tfaip-train', ['--model.graph', 'CNN'], default)\n"
        "text = render_help(USAGE, params)\n"
        "assert '--model.graph.filters' in text, text\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_resume_and_train_from_params_help_show_the_stored_values(small_tutorial_run: Path) -> None:
    before = sorted(p.name for p in small_tutorial_run.iterdir())
    resume = cli("tfaip-resume-training", str(small_tutorial_run), "--help")
    again = cli("tfaip-train-from-params", str(small_tutorial_run / "trainer_params.json"), "--help")
    assert resume.returncode == again.returncode == 0, resume.stderr + again.stderr
    assert resume.stdout.startswith("usage: tfaip-resume-training DIR [flags]\n")
    assert again.stdout.startswith("usage: tfaip-train-from-params FILE [flags] [--print_params]\n")
    for text in (resume.stdout, again.stdout):
        assert _entry(text, "--trainer.epochs") == "Number of epochs to train. Default: 3."  # the stored value
        assert _entry(text, "--trainer.random_seed").endswith("Default: 1.")
    assert sorted(p.name for p in small_tutorial_run.iterdir()) == before
