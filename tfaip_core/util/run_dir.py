"""`RunDirectory`: the one owner of a run's output directory — every path, every write, the lock and the policy.

Why one owner: a run must never touch files it did not write. So the run directory records, in a
manifest (`DIR/.tfaip_run.json`), each top-level entry the framework created there; a failed start
removes only what this run created, `--trainer.overwrite` removes only what the manifest lists, and
an entry that exists but is not the framework's is never written into (a clear error instead). One
process at a time: `open()` takes an exclusive `flock` on `DIR/.tfaip.lock` until `close()`; the OS
releases it when the holder dies, so a killed run never blocks the next one.

Only the chief worker writes to the run directory; on other workers `path` is a private scratch
directory (removed by `close()`), so code that writes needs no chief checks. Pure Python, no TensorFlow.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import stat
import tempfile
import time
from types import TracebackType
from typing import IO, Any, Callable, List, Optional, Sequence, Set, Type, TypeVar

from tfaip_core.errors import ConfigError
from tfaip_core.util.io import append_line as append_line_nofollow
from tfaip_core.util.io import atomic_write_text, is_link
from tfaip_core.util.io import open_append as open_append_nofollow
from tfaip_core.util.logging import logger

log = logger("run_dir")
T = TypeVar("T")

LOCK_FILE = ".tfaip.lock"
MANIFEST_FILE = ".tfaip_run.json"
MANIFEST_FORMAT = 1
PARAMS_FILE = "trainer_params.json"
LOG_FILE = "train.log"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_DIR = "checkpoint"
BEST_DIR = "best"
EXPORT_DIR = "export"
TENSORBOARD_DIRS = ("train", "validation")
# A SavedModel is written to NAME.tmp and the previous one moved to NAME.old while it is replaced.
MODEL_DIR_COMPANIONS = (".tmp", ".old")
# The presence of either one means the directory holds a run.
RUN_MARKERS = (PARAMS_FILE, CHECKPOINT_DIR)


def standard_entries() -> List[str]:
    """The top-level names a training run writes (models with their replacement companions)."""
    names = [PARAMS_FILE, LOG_FILE, METRICS_FILE, CHECKPOINT_DIR, *TENSORBOARD_DIRS]
    for model_dir in (BEST_DIR, EXPORT_DIR):
        names += [model_dir] + [model_dir + suffix for suffix in MODEL_DIR_COMPANIONS]
    return names


class RunDirectory:
    """The output directory of one run: its paths, its writes, its lock and what it owns.

    Example:

        with RunDirectory("runs/a") as run_dir:   # or .open(resume=..., overwrite=...) / .close()
            run_dir.write_json(run_dir.params_file, params)
            run_dir.append_line(run_dir.metrics_file, json.dumps(record))

    Using a standard path (`params_file`, `log_file`, `metrics_file`, `checkpoint_dir`, `best_dir`,
    `export_dir`, `tensorboard_dir(name)`, `file(name)`) claims its top-level entry for this run:
    it is recorded in the manifest if this run creates it; if it already exists and is not the
    framework's, a `ConfigError` names it (nothing is written into a user's file or folder).

    Args:
        output_dir: the directory the user named (made absolute).
        chief: whether this worker writes the run directory. Defaults to True.
    """

    def __init__(self, output_dir: str, chief: bool = True) -> None:
        self.output_dir = os.path.abspath(output_dir)
        self.chief = chief
        self.path = self.output_dir if chief else ""
        self._opened = False
        self._lock_fd: Optional[int] = None
        self._lock_created = False
        self._manifest_created = False
        self._created_dirs: List[str] = []  # the output directory and the parents open() created, deepest first
        self._owned: List[str] = []  # the manifest: top-level entries written by the framework
        self._created: List[str] = []  # the entries this run created (a subset of _owned)
        self._preexisting: Set[str] = set()

    # ============================== standard paths ==============================
    @property
    def params_file(self) -> str:
        return self._claim(PARAMS_FILE)

    @property
    def log_file(self) -> str:
        return self._claim(LOG_FILE)

    @property
    def metrics_file(self) -> str:
        return self._claim(METRICS_FILE)

    @property
    def checkpoint_dir(self) -> str:
        """Where this worker writes checkpoints (the scratch directory on non-chief workers)."""
        return self._claim(CHECKPOINT_DIR)

    @property
    def restore_checkpoint_dir(self) -> str:
        """Where every worker reads the checkpoints to resume from: the chief's, also on other workers."""
        return os.path.join(self.output_dir, CHECKPOINT_DIR)

    @property
    def best_dir(self) -> str:
        return self._claim_model_dir(BEST_DIR)

    @property
    def export_dir(self) -> str:
        return self._claim_model_dir(EXPORT_DIR)

    def tensorboard_dir(self, name: str) -> str:
        """TensorBoard event files of `name` ("train", "validation", "lav_..."): `DIR/name`."""
        return self._claim(name)

    def file(self, name: str) -> str:
        """Any other file or folder at the top level of the run directory, owned by this run."""
        return self._claim(name)

    # ============================== writes ==============================
    def write_json(self, path: str, data: Any) -> None:
        """Write `data` as indented JSON to `path` atomically (temporary file + rename); never through a link."""
        self.write_text(path, json.dumps(data, indent=2) + "\n")

    def write_text(self, path: str, text: str) -> None:
        """Write `text` to `path` atomically (temporary file + rename); never through a link."""
        self._check_writable(path)
        atomic_write_text(path, text)

    def append_line(self, path: str, line: str) -> None:
        """Append one line (no line break inside) to `path` and flush it to disk; never through a link."""
        if "\n" in line.rstrip("\n") or "\r" in line:
            raise ValueError(f"append_line writes one line; got a line break inside {line[:80]!r}")
        self._check_writable(path)
        self._no_link(path, lambda: append_line_nofollow(path, line))

    def open_append(self, path: str) -> IO[str]:
        """`path` opened for appending text (e.g. the log file); never through a link."""
        self._check_writable(path)
        return self._no_link(path, lambda: open_append_nofollow(path))

    # ============================== lifecycle ==============================
    def open(self, *, resume: bool, overwrite: bool, has_checkpoint: Optional[Callable[[str], bool]] = None) -> None:
        """Take the lock and apply the run-directory policy (on the chief; elsewhere make the scratch directory).

        A fresh run (`resume` False) refuses a directory that holds a run unless `overwrite`, which
        removes that run's entries as listed in its manifest (and refuses a run without one).
        `resume` continues the run found there (a run from before manifests existed is adopted); a
        directory without a run is then treated like a fresh one (as `__enter__` and an embedded
        `Trainer` use it). Either way, an existing entry at a name the run writes that is not the
        framework's is refused.

        With `has_checkpoint` (a test of the directory), a fresh run treats a run that stopped before its
        first checkpoint and export (killed, or out of memory) as no run: it replaces that run's files, as
        its manifest lists them, except `train.log`, which it appends to. Re-running the same command then
        just works, and the log of the failed attempt stays.

        Raises:
            ConfigError: the directory cannot be made or written, is in use by another process (its PID
                is named), holds a run and neither `resume` nor `overwrite` is set, holds a run without
                a trustworthy manifest and `overwrite` is set, or holds someone else's entries or links
                at the names the run writes.
        """
        if self._opened:
            raise RuntimeError(f"RunDirectory {self.output_dir} is already open")
        if not self.chief:
            self.path = tempfile.mkdtemp(prefix="tfaip-worker-")
            self._opened = True
            return
        self._make_directory()
        self._lock()
        try:
            self._preexisting = set(os.listdir(self.path)) - ({LOCK_FILE} if self._lock_created else set())
            self._apply_policy(resume, overwrite, has_checkpoint)
        except BaseException:
            self._rollback_open()
            raise
        self._opened = True

    def remove_created(self) -> None:
        """A failed start: remove what this run created (entries, manifest, lock file, the directory) — nothing else.

        An entry that existed before `open()` is never removed; the directory (and parents `open()`
        made) only if this run created it and nothing else is left in it.
        """
        if not self.chief or not self._opened:
            return
        for name in reversed(self._created):
            if name not in self._preexisting:  # never true (a claim refuses them); kept as the last safeguard
                _remove_entry(os.path.join(self.path, name))
        if self._created:
            log.info("Removed what this run created in %s: %s", self.path, ", ".join(self._created))
        self._owned = [name for name in self._owned if name not in self._created]
        self._created = []
        manifest = os.path.join(self.path, MANIFEST_FILE)
        if self._manifest_created:
            _remove_entry(manifest)
            self._manifest_created = False
        elif os.path.lexists(manifest):
            self._save_manifest()
        self._rollback_open()

    def close(self) -> None:
        """Release the lock (the lock file stays); on non-chief workers remove the scratch directory. Idempotent."""
        if not self.chief and self.path:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = ""
        self._unlock()
        self._opened = False

    def __enter__(self) -> RunDirectory:
        """Open (if not yet) with `resume=True, overwrite=False`: continue a run found there, else start one."""
        if not self._opened:
            self.open(resume=True, overwrite=False)
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.close()

    @property
    def created(self) -> List[str]:
        """Top-level entries this run created so far (what `remove_created` would remove)."""
        return list(self._created)

    @property
    def owned(self) -> List[str]:
        """Top-level entries the framework wrote in this directory (the manifest)."""
        return list(self._owned)

    # ============================== the policy ==============================
    def _apply_policy(self, resume: bool, overwrite: bool, has_checkpoint: Optional[Callable[[str], bool]]) -> None:
        manifest = self._read_manifest()
        links = [n for n in standard_entries() if is_link(os.path.join(self.path, n))]
        if links:
            raise ConfigError(
                f"{self._where(links)} a symbolic link; tfaip never writes through a link in a run directory. "
                "Fix: replace it by the real file or folder, or choose another --trainer.output_dir."
            )
        holds_run = any(os.path.lexists(os.path.join(self.path, n)) for n in RUN_MARKERS) or any(
            os.path.lexists(os.path.join(self.path, n)) for n in (manifest or [])
        )
        if resume:
            if manifest is not None:
                self._owned = manifest
            elif holds_run:  # a run written before manifests existed: its standard entries are its own
                self._owned = [n for n in standard_entries() if os.path.lexists(os.path.join(self.path, n))]
                log.info("Recording the files of the run in %s in %s", self.path, MANIFEST_FILE)
                self._save_manifest()
        elif holds_run and manifest is not None and not overwrite and self._never_checkpointed(has_checkpoint):
            self._remove_previous_run(manifest, keep=[LOG_FILE])
        elif holds_run and not overwrite:
            raise ConfigError(
                f"--trainer.output_dir {self.output_dir} already holds a run. Fix: continue it with "
                f"`tfaip-resume-training {self.output_dir}`, choose a new directory, or pass --trainer.overwrite true "
                "to replace it."
            )
        elif overwrite and manifest is not None:
            self._remove_previous_run(manifest)
        elif holds_run:
            raise ConfigError(
                f"--trainer.output_dir {self.output_dir} holds a run without a record of the files it wrote "
                f"({MANIFEST_FILE}), so --trainer.overwrite cannot tell them from yours. Fix: remove the old run's "
                "files yourself, or choose a new --trainer.output_dir."
            )
        foreign = [
            n for n in standard_entries() if n not in self._owned and os.path.lexists(os.path.join(self.path, n))
        ]
        if foreign:
            raise ConfigError(
                f"{self._where(foreign)} not written by a tfaip run, and the run would write there. "
                "Fix: move it away, or choose another --trainer.output_dir."
            )

    def _never_checkpointed(self, has_checkpoint: Optional[Callable[[str], bool]]) -> bool:
        """Whether the run here stopped before its first checkpoint and before any exported model."""
        if has_checkpoint is None or has_checkpoint(self.path):
            return False
        return not any(os.path.lexists(os.path.join(self.path, n)) for n in (BEST_DIR, EXPORT_DIR))

    def _remove_previous_run(self, manifest: List[str], keep: Sequence[str] = ()) -> None:
        removed = [n for n in manifest if os.path.lexists(os.path.join(self.path, n)) and n not in keep]
        if keep:
            log.info(
                "%s holds a run that stopped before its first checkpoint: starting again (%s removed, %s kept)",
                self.path,
                ", ".join(removed) or "nothing",
                ", ".join(keep),
            )
        else:
            log.info(
                "--trainer.overwrite: removing the previous run's %s in %s (other files stay)",
                ", ".join(removed) or "(nothing left)",
                self.path,
            )
        for name in removed:
            _remove_entry(os.path.join(self.path, name))
        self._owned = [n for n in manifest if n in keep and os.path.lexists(os.path.join(self.path, n))]
        self._preexisting -= set(removed)
        self._save_manifest()

    def _read_manifest(self) -> Optional[List[str]]:
        """The entries of the manifest, validated (None when there is none)."""
        path = os.path.join(self.path, MANIFEST_FILE)
        if not os.path.lexists(path):
            return None
        problem = None
        try:
            if is_link(path):
                raise OSError(errno.ELOOP, "a symbolic link")
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            problem = f"unreadable ({e})"
        else:
            entries = data.get("entries") if isinstance(data, dict) else None
            if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
                problem = (
                    f'not a manifest of format {MANIFEST_FORMAT} ({{"format": {MANIFEST_FORMAT}, "entries": [...]}})'
                )
            elif not isinstance(entries, list) or not all(isinstance(n, str) and _plain_name(n) for n in entries):
                problem = "its entries must be a list of plain file names in the directory"
            else:
                return list(dict.fromkeys(entries))
        raise ConfigError(
            f"{path} is {problem}, so the files of the run in {self.output_dir} are unknown. "
            "Fix: restore the file, or remove the run's files yourself and start again."
        )

    def _save_manifest(self) -> None:
        path = os.path.join(self.path, MANIFEST_FILE)
        if not os.path.lexists(path):
            self._manifest_created = True
        self._check_writable(path, claim=False)
        atomic_write_text(path, json.dumps({"format": MANIFEST_FORMAT, "entries": self._owned}, indent=2) + "\n")

    # ============================== ownership ==============================
    def _claim(self, name: str) -> str:
        """`DIR/name`, recorded as this run's (an existing entry must already be the framework's)."""
        if not self._opened:
            raise RuntimeError(f"RunDirectory {self.output_dir} is not open: call open() first")
        if not _plain_name(name):
            raise ValueError(f"a run-directory entry is a plain name; got {name!r}")
        path = os.path.join(self.path, name)
        if not self.chief or name in self._owned:
            return path
        if os.path.lexists(path):
            raise ConfigError(
                f"{self._where([name])} not written by a tfaip run, and the run would write there. "
                "Fix: move it away, or choose another --trainer.output_dir."
            )
        self._owned.append(name)
        self._created.append(name)
        self._save_manifest()
        return path

    def _claim_model_dir(self, name: str) -> str:
        for suffix in MODEL_DIR_COMPANIONS:
            self._claim(name + suffix)
        return self._claim(name)

    def _check_writable(self, path: str, claim: bool = True) -> None:
        """`path` must lie in the run directory, below its claimed top-level entry, with no link on the way."""
        if not self._opened and claim:
            raise RuntimeError(f"RunDirectory {self.output_dir} is not open: call open() first")
        relative = os.path.relpath(os.path.abspath(path), self.path)
        parts = relative.split(os.sep)
        if relative.startswith(os.pardir) or os.path.isabs(relative) or relative == os.curdir:
            raise ValueError(f"{path} is not inside the run directory {self.path}")
        if claim:
            self._claim(parts[0])
        current = self.path
        for part in parts:
            current = os.path.join(current, part)
            if is_link(current):
                raise ConfigError(
                    f"{current} is a symbolic link; tfaip never writes through a link in a run directory. "
                    "Fix: replace it by a real file or folder, or choose another --trainer.output_dir."
                )

    def _no_link(self, path: str, write: Callable[[], T]) -> T:
        """Run `write`; a link put at `path` since the check (O_NOFOLLOW refuses it) is the same error."""
        try:
            return write()
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise ConfigError(
                    f"{path} is a symbolic link; tfaip never writes through a link in a run directory. "
                    "Fix: replace it by a real file, or choose another --trainer.output_dir."
                ) from None
            raise

    def _where(self, names: List[str]) -> str:
        listed = ", ".join(os.path.join(self.output_dir, n) for n in names)
        return f"{listed} {'is' if len(names) == 1 else 'are'}"

    # ============================== directory and lock ==============================
    def _make_directory(self) -> None:
        flag = f"--trainer.output_dir {self.output_dir}"
        if os.path.lexists(self.output_dir) and not os.path.isdir(self.output_dir):
            raise ConfigError(f"{flag} is a file, not a directory. Fix: choose a directory (a new or empty one).")
        missing = []
        current = self.output_dir
        while not os.path.lexists(current):
            missing.append(current)
            current = os.path.dirname(current)
        if not os.path.isdir(current):
            raise ConfigError(f"{flag} cannot be created: {current} is a file. Fix: choose another directory.")
        try:
            for directory in reversed(missing):
                os.mkdir(directory)
                self._created_dirs.insert(0, directory)
        except OSError as e:
            self._remove_created_dirs()
            raise ConfigError(f"{flag} cannot be created ({e.strerror}). Fix: choose another directory.") from None
        if not os.access(self.output_dir, os.W_OK | os.X_OK):
            raise ConfigError(f"{flag} is not writable. Fix: choose a directory you can write to.")

    def _lock(self) -> None:
        """Take `DIR/.tfaip.lock` (flock, exclusive, non-blocking) and write this process's PID into it."""
        path = os.path.join(self.path, LOCK_FILE)
        flags = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
        for _ in range(10):  # another process may remove the lock file after a failed start: take the new one
            created = True
            try:
                fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                created = False
                try:
                    fd = os.open(path, flags)
                except FileNotFoundError:
                    continue
                except OSError as e:
                    self._remove_created_dirs()
                    raise ConfigError(
                        f"{path} cannot be opened ({e.strerror}). Fix: it must be a regular file; remove it."
                    ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                holder = _read_pid(fd)
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise ConfigError(
                        f"--trainer.output_dir {self.output_dir} is in use by another tfaip process "
                        f"(PID {holder}, lock {path}). Fix: wait until it ends or stop it, or choose another "
                        "--trainer.output_dir."
                    ) from None
                self._remove_created_dirs()
                raise ConfigError(
                    f"{path} cannot be locked ({e.strerror}). Fix: use a local file system for --trainer.output_dir."
                ) from None
            try:
                same = os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # removed (and maybe re-created) while we waited: that lock protects nothing
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._lock_fd, self._lock_created = fd, created
            return
        raise ConfigError(f"{path} keeps changing; another process is starting in it. Fix: try again.")

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the flock
            self._lock_fd = None

    def _rollback_open(self) -> None:
        """Undo what `open()` made (lock file, directories) when it was this run's; release the lock."""
        if self._lock_created and self._lock_fd is not None:
            _remove_entry(os.path.join(self.path, LOCK_FILE))  # while we hold it: see the inode check in _lock
            self._lock_created = False
        self._unlock()
        self._remove_created_dirs()

    def _remove_created_dirs(self) -> None:
        for directory in self._created_dirs:
            try:
                os.rmdir(directory)  # only when empty
            except OSError:
                break
        self._created_dirs = []


def _plain_name(name: str) -> bool:
    """A single path component that is not one of the run directory's own bookkeeping files."""
    return (
        bool(name)
        and name not in (os.curdir, os.pardir, LOCK_FILE, MANIFEST_FILE)
        and os.sep not in name
        and (os.altsep is None or os.altsep not in name)
        and "\0" not in name
    )


def _remove_entry(path: str) -> None:
    """Remove a file, link or folder; a link is removed itself, never what it points to."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def _read_pid(fd: int) -> str:
    """The PID the lock holder wrote (it may not have written it yet: wait a moment)."""
    for _ in range(20):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
        time.sleep(0.01)
    return "unknown"
