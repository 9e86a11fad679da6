"""The model archive: written deterministically, opened by `model_directory` like a model directory."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tfaip_core.errors import CheckpointError, ConfigError
from tfaip_core.export.archive import model_directory, write_model_archive


def _fake_export(root: Path) -> Path:
    """A directory shaped like an export (the archive code never parses the SavedModel)."""
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"graph")
    (root / "variables" / "variables.index").write_bytes(b"index")
    (root / "trainer_params.json").write_text('{"epochs": 1}\n')
    return root


def test_directory_is_yielded_unchanged(tmp_path: Path) -> None:
    with model_directory(str(tmp_path)) as directory:
        assert directory == str(tmp_path)
    assert tmp_path.is_dir()  # never removed


def test_archive_round_trip_and_temporary_directory_removed(tmp_path: Path) -> None:
    export = _fake_export(tmp_path / "export")
    (tmp_path / "train.log").write_text("log line\n")
    archive = tmp_path / "model.zip"
    write_model_archive(
        str(archive),
        str(export),
        {"train.log": str(tmp_path / "train.log"), "metrics.jsonl": str(tmp_path / "missing.jsonl")},
    )
    with zipfile.ZipFile(archive) as z:
        assert z.namelist() == ["saved_model.pb", "train.log", "trainer_params.json", "variables/variables.index"]
    with model_directory(str(archive)) as directory:
        assert directory != str(export)
        assert Path(directory, "saved_model.pb").read_bytes() == b"graph"
        assert Path(directory, "variables", "variables.index").read_bytes() == b"index"
        assert Path(directory, "train.log").read_text() == "log line\n"
        assert not Path(directory, "metrics.jsonl").exists()
        extracted = directory
    assert not os.path.exists(extracted)


def test_temporary_directory_removed_on_error(tmp_path: Path) -> None:
    export = _fake_export(tmp_path / "export")
    write_model_archive(str(tmp_path / "m.zip"), str(export))
    with pytest.raises(RuntimeError, match="inside"):
        with model_directory(str(tmp_path / "m.zip")) as directory:
            raise RuntimeError("inside")
    assert not os.path.exists(directory)


def test_archive_bytes_identical_for_identical_files(tmp_path: Path) -> None:
    export = _fake_export(tmp_path / "export")
    write_model_archive(str(tmp_path / "a.zip"), str(export))
    os.utime(export / "saved_model.pb", (1_000_000_000, 1_000_000_000))  # another mtime must not matter
    write_model_archive(str(tmp_path / "b.zip"), str(export))
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    (export / "saved_model.pb").write_bytes(b"graph2")
    write_model_archive(str(tmp_path / "c.zip"), str(export))
    assert (tmp_path / "a.zip").read_bytes() != (tmp_path / "c.zip").read_bytes()


def test_zipped_export_folder_opens_at_the_folder(tmp_path: Path) -> None:
    _fake_export(tmp_path / "export")
    with zipfile.ZipFile(tmp_path / "folder.zip", "w") as z:
        z.write(tmp_path / "export" / "saved_model.pb", "export/saved_model.pb")
    with model_directory(str(tmp_path / "folder.zip")) as directory:
        assert os.path.basename(directory) == "export"
        assert Path(directory, "saved_model.pb").read_bytes() == b"graph"


@pytest.mark.parametrize("name", ["missing", "model.tar", "file.zip.txt"])
def test_neither_directory_nor_zip_is_a_config_error_naming_it(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name != "missing":
        path.write_text("x")
    with pytest.raises(ConfigError, match=rf"model path must be .*got '{path}'.* Fix: "):
        with model_directory(str(path)):
            pass


def test_corrupt_archive_is_a_checkpoint_error(tmp_path: Path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="readable zip file; got .*bad.zip"):
        with model_directory(str(tmp_path / "bad.zip")):
            pass


@pytest.mark.parametrize("entry", ["../evil.txt", "/abs.txt", "a/../../evil.txt"])
def test_entries_leaving_the_archive_are_refused(tmp_path: Path, entry: str) -> None:
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as z:
        z.writestr(entry, "x")
    with pytest.raises(CheckpointError, match="must stay inside the archive"):
        with model_directory(str(tmp_path / "evil.zip")):
            pass
    assert not (tmp_path / "evil.txt").exists()


def test_archive_needs_a_saved_model_and_unique_names(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="needs an exported SavedModel"):
        write_model_archive(str(tmp_path / "m.zip"), str(tmp_path / "empty"))
    export = _fake_export(tmp_path / "export")
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(ConfigError, match="'trainer_params.json' must be unique"):
        write_model_archive(str(tmp_path / "m.zip"), str(export), {"trainer_params.json": str(tmp_path / "other.json")})
    assert not (tmp_path / "m.zip").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
