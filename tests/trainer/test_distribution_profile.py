"""`--trainer.profile`: a TensorBoard trace of the chosen steps in OUTPUT_DIR/train; without the extra, how to get
it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.conftest import cli, train_in_process
from tfaip_core.trainer.callbacks import profile

FLAGS = ("--trainer.epochs", "1", "--trainer.samples_per_epoch", "160", "--val.limit", "32")
NO_EXPORT = ("--trainer.export_best", "false", "--trainer.export_final", "false")


@pytest.mark.skipif(
    importlib.util.find_spec(profile.PLUGIN) is None,
    reason="tensorboard-plugin-profile (the profile extra) is not installed: pip install 'tfaip_core[profile]'",
)
def test_the_profile_of_the_chosen_steps_is_a_trace_file_in_the_train_log_directory(tmp_path: Path) -> None:
    out = tmp_path / "run"
    flags = ("--trainer.profile", "true", "--trainer.profile_steps", "2", "4", "--trainer.steps_per_execution", "1")
    result = train_in_process(out, *FLAGS, *NO_EXPORT, *flags)
    traces = list((out / "train" / "plugins" / "profile").glob("*/*.xplane.pb"))
    assert len(traces) == 1 and traces[0].stat().st_size > 0, traces
    assert "Profiling from global step 2 into" in result.stderr
    assert "Profile of global steps 2-4 written to" in result.stderr


def test_without_the_profile_extra_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(profile, "PLUGIN", "tensorboard_plugin_profile_not_installed")
    out = tmp_path / "run"
    result = cli(
        "tfaip-train", "scenarios.tutorial", "--trainer.output_dir", str(out), *FLAGS, "--trainer.profile", "true"
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("tfaip-train: error: ")]
    assert errors == [
        "tfaip-train: error: --trainer.profile true needs TensorBoard's profile plugin, which is not installed. "
        "Fix: pip install 'tfaip_core[profile]' (or pip install tensorboard-plugin-profile), or drop --trainer.profile."
    ]
    assert not out.exists()  # a failed start leaves nothing


@pytest.mark.parametrize("steps", [["3"], ["4", "2"], ["2", "2"], ["-1", "2"]])
def test_profile_steps_must_be_first_and_last(tmp_path: Path, steps: list) -> None:
    result = cli(
        "tfaip-train",
        "scenarios.tutorial",
        "--trainer.output_dir",
        str(tmp_path / "run"),
        "--trainer.profile_steps",
        *steps,
    )
    assert result.returncode == 2
    assert "--trainer.profile_steps must be two global steps FIRST LAST with 0 <= FIRST < LAST" in result.stderr
