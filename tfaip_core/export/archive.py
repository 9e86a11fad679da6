"""The model archive: one `.zip` holding an exported model with the run's logs, and opening any model path.

An archive is a model directory zipped: its root is the SavedModel (`saved_model.pb`, `variables/`,
`trainer_params.json`) with `model.tflite`, `model.json`, `metrics.jsonl` and `train.log` beside it when the
run wrote them, so extracting it gives a directory every program that reads a model directory opens as is.
It is written deterministically (sorted entries, fixed timestamps), so identical files give identical bytes.
This module imports no TensorFlow: opening an archive must stay cheap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import zipfile
from typing import Dict, Iterator, List, Tuple

from tfaip_core.errors import CheckpointError, ConfigError

ARCHIVE_SUFFIX = ".zip"
SAVED_MODEL_FILE = "saved_model.pb"
# zip cannot store times before 1980; a fixed time makes archives of identical files identical
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def model_directory(path: str) -> Iterator[str]:
    """Yield a model directory for `path`: a directory as it is, a `.zip` model archive extracted.

    The extracted copy lives in a temporary directory that is removed when the context exits, so
    callers open every model path the same way and never care which kind they were given.

    Example:
        with model_directory("run/model.zip") as directory:
            model = tf.saved_model.load(directory)

    Raises:
        ConfigError: `path` is neither a directory nor a `.zip` file.
        CheckpointError: the archive is corrupt or holds an entry outside its root.
    """
    if os.path.isdir(path):
        yield path
        return
    if not (os.path.isfile(path) and path.endswith(ARCHIVE_SUFFIX)):
        what = "does not exist" if not os.path.lexists(path) else "is not a directory or a .zip file"
        raise ConfigError(
            f"model path must be a model directory or a {ARCHIVE_SUFFIX} model archive; got {path!r}, which {what}. "
            f"Fix: pass an export directory (e.g. OUTPUT_DIR/export) or the archive written by --export.archive."
        )
    with tempfile.TemporaryDirectory(prefix="tfaip-model-") as tmp:
        extract_archive(path, tmp)
        yield _model_root(tmp)


def extract_archive(path: str, target: str) -> None:
    """Extract the model archive `path` into the directory `target`, refusing entries that leave it.

    Raises:
        CheckpointError: `path` is not a readable zip file, or an entry is absolute or climbs out with `..`.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                parts = name.replace("\\", "/").split("/")
                if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise CheckpointError(
                        f"model archive entries must stay inside the archive; got {name!r} in {path!r}. "
                        f"Fix: write the archive with --export.archive or tfaip-export --format archive."
                    )
            archive.extractall(target)
    except zipfile.BadZipFile as e:
        raise CheckpointError(
            f"model archive must be a readable zip file; got {path!r} ({e}). Fix: write it again with --export.archive."
        ) from e


def _model_root(extracted: str) -> str:
    """The directory holding `saved_model.pb`: the archive's root, or its only folder (a zipped export folder)."""
    if os.path.exists(os.path.join(extracted, SAVED_MODEL_FILE)):
        return extracted
    entries = os.listdir(extracted)
    if len(entries) == 1 and os.path.exists(os.path.join(extracted, entries[0], SAVED_MODEL_FILE)):
        return os.path.join(extracted, entries[0])
    return extracted


def archive_entries(model_dir: str, extra_files: Dict[str, str]) -> List[Tuple[str, str]]:
    """(name in the archive, file on disk) of every file of `model_dir` plus `extra_files` (name -> file), sorted.

    Extra files that do not exist are left out (a run without a log has no `train.log`).

    Raises:
        ConfigError: an extra file's name clashes with a file of the model directory.
    """
    entries: Dict[str, str] = {}
    for root, dirs, files in os.walk(model_dir):
        dirs.sort()
        for name in files:
            full = os.path.join(root, name)
            entries[os.path.relpath(full, model_dir).replace(os.sep, "/")] = full
    for name, source in extra_files.items():
        if not os.path.isfile(source):
            continue
        if name in entries:
            raise ConfigError(
                f"model archive entry {name!r} must be unique; got it in {model_dir!r} and as {source!r}. "
                f"Fix: rename one of them."
            )
        entries[name] = source
    return sorted(entries.items())


def write_model_archive(path: str, model_dir: str, extra_files: Dict[str, str] | None = None) -> None:
    """Write `model_dir` (its files at the archive's root) and `extra_files` into the zip `path`, atomically.

    Deterministic: entries sorted, every timestamp 1980-01-01 and mode 0644, so two archives of identical files
    are identical bytes. Written to a temporary file beside `path` and renamed, so a crash leaves the old archive
    or the new one, never half of one.

    Raises:
        ConfigError: `model_dir` is not a SavedModel directory, or an extra file clashes with one of it.
    """
    if not os.path.exists(os.path.join(model_dir, SAVED_MODEL_FILE)):
        raise ConfigError(
            f"model archive needs an exported SavedModel; got {model_dir!r} without {SAVED_MODEL_FILE}. "
            f"Fix: export the model first (--trainer.export_final true or tfaip-export)."
        )
    entries = archive_entries(model_dir, extra_files or {})
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=ARCHIVE_SUFFIX, dir=directory)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, source in entries:
                info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(source, "rb") as f, archive.open(info, "w") as out:
                    shutil.copyfileobj(f, out)
        os.chmod(tmp, 0o644 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process umask, read without changing it (thread-safe), 0o022 if /proc is not there."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
