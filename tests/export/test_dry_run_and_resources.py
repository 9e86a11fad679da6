"""`--trainer.dry_run` (one small epoch, every export, beside the real run) and resources carried in an export."""

from __future__ import annotations

import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import cli, train_in_process
from tfaip_core.errors import ConfigError
from tfaip_core.export.params import ExportParams, resource_meta
from tfaip_core.export.resources import copy_resources, relocate, resolve_resources


def test_dry_run_writes_every_export_beside_the_run_in_under_a_minute(tmp_path: Path) -> None:
    start = time.monotonic()
    train_in_process(tmp_path / "run", "--trainer.dry_run", "true")
    seconds = time.monotonic() - start
    print(f"dry run of the tutorial: {seconds:.1f} s")
    assert seconds < 60
    dry = tmp_path / "run-dryrun"
    assert not (tmp_path / "run").exists()
    params = json.loads((dry / "trainer_params.json").read_text())
    assert (params["dry_run"], params["epochs"], params["train"]["limit"], params["val"]["limit"]) == (False, 1, 64, 64)
    metrics = [json.loads(line) for line in (dry / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics] == [2]  # 64 samples in batches of 32
    for name in ("best/saved_model.pb", "export/saved_model.pb", "export/model.tflite", "export/trainable/model.json"):
        assert (dry / name).is_file(), name
    with zipfile.ZipFile(dry / "export.zip") as archive:
        assert "model.tflite" in archive.namelist() and "train.log" in archive.namelist()
    # a second dry run replaces the first
    train_in_process(tmp_path / "run", "--trainer.dry_run", "true")


def test_dry_run_cannot_resume(small_tutorial_run: Path) -> None:
    result = cli("tfaip-resume-training", str(small_tutorial_run), "--trainer.dry_run", "true")
    assert result.returncode == 2
    assert "--trainer.dry_run starts a new small run and cannot resume" in result.stderr


@pytest.mark.parametrize(
    "flags, message",
    [
        (("tflite", "fp16"), "--export.tflite must be one of none, float32, dynamic, int8; got 'fp16'"),
        (("representative_samples", 0), "--export.representative_samples must be >= 1; got 0"),
    ],
)
def test_export_params_are_checked(flags: tuple, message: str) -> None:
    params = ExportParams()
    setattr(params, *flags)
    with pytest.raises(ConfigError, match=message):
        params.validate()


@dataclass
class _Data:
    codec: str = field(default="", metadata=resource_meta(help="codec file"))
    other: str = field(default="not a resource")


@dataclass
class _Scenario:
    data: _Data = field(default_factory=_Data)


def test_resources_are_copied_into_the_export_and_found_again(tmp_path: Path) -> None:
    (tmp_path / "codec.txt").write_text("abc\n")
    scenario = _Scenario(_Data(codec=str(tmp_path / "codec.txt")))
    export = tmp_path / "export"
    export.mkdir()
    copied = copy_resources(scenario, str(export))
    assert copied == {"data.codec": "resources/data.codec/codec.txt"}
    params = {"scenario": {"data": {"codec": str(tmp_path / "codec.txt"), "other": "not a resource"}}}
    relocate(params, copied)
    assert params["scenario"]["data"] == {"codec": "resources/data.codec/codec.txt", "other": "not a resource"}
    (tmp_path / "codec.txt").unlink()  # the export no longer needs the original
    moved = tmp_path / "moved"
    export.rename(moved)
    loaded = _Scenario(_Data(codec=params["scenario"]["data"]["codec"]))
    resolve_resources(loaded, str(moved))
    assert Path(loaded.data.codec).read_text() == "abc\n"
    assert loaded.data.other == "not a resource"


def test_missing_resources_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="resource data.codec must name an existing file"):
        copy_resources(_Scenario(_Data(codec=str(tmp_path / "missing"))), str(tmp_path))
    with pytest.raises(ConfigError, match="resource data.codec must exist inside the model directory"):
        resolve_resources(_Scenario(_Data(codec="resources/data.codec/x.txt")), str(tmp_path))
