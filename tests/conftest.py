"""Shared test helpers: the command-line programs in this process (fast) or in a subprocess (e2e), one tutorial run.

Most tests run a program in-process with `cli(prog, *argv)` / `train_in_process(dir, *flags)`: its `main(argv)` is
called here with stdout/stderr captured, which saves the 5-10 s start of a fresh TensorFlow process. What a
process exit would release is released after each call (log handlers, working directory, environment,
`sys.path`, modules imported from a test's directory). Tests where the process is the point (SIGKILL, Ctrl-C,
running a script as a file, a model loaded by a program that never imports tfaip_core, the README's command
itself) use `run(name, *args)` / `train(dir, *flags)` and are marked `e2e`, as are the documentation pages' command
sessions (tests/test_docs_commands.py: a reader's whole session, several trainings each); `tox -e fast` leaves
the `e2e` tests out, and the full suite runs them first (`pytest_collection_modifyitems`).

What stays shared between in-process runs, and why that is acceptable (documented, not cleaned):
- `tf.config.experimental.enable_op_determinism()` once any run sets `--trainer.random_seed`: CPU kernels are
  deterministic anyway; it only makes unseeded runs deterministic too, which no test relies on either way.
- Keras' and NumPy's global random state: an unseeded run gets different (still random) initial weights than in
  a fresh process; a test that compares two runs weight for weight seeds both.
- Keras' name counters (the trainer calls `keras.utils.clear_session()` when it sets up, so variable paths are
  those of a fresh process); TensorFlow's function caches; paiargparse's strict-boolean patch (set on import).

The autouse fixture `_isolated` checks, after every test, that no test or program leaked state the next test
could see, and cleans up: see its docstring.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Dict, Iterator, List, Optional, Sequence, Set

import pytest

if TYPE_CHECKING:
    from tfaip_core.trainer.trainer import Trainer

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# program name -> module whose `main(argv) -> int` it runs (setup.cfg's console_scripts)
PROGRAMS: Dict[str, str] = {
    "tfaip-train": "tfaip_core.scripts.train",
    "tfaip-resume-training": "tfaip_core.scripts.resume_training",
    "tfaip-train-from-params": "tfaip_core.scripts.train_from_params",
    "tfaip-benchmark-input-pipeline": "tfaip_core.scripts.benchmark_input_pipeline",
    "tfaip-export": "tfaip_core.scripts.export",
    "tfaip-lav": "tfaip_core.scripts.lav",
    "tfaip-predict": "tfaip_core.scripts.predict",
}


# ============================== in-process ==============================
@dataclass(frozen=True)
class Result:
    """Exit status and text output of one program run (the fields of `subprocess.CompletedProcess` tests read)."""

    returncode: int
    stdout: str
    stderr: str


def cli(
    prog: str,
    *argv: str,
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
    path: Sequence[Path] = (),
) -> Result:
    """Run the program `prog` (`tfaip-train` ...) in this process as `main(argv)`, its output captured.

    Behaves like `run(prog, *argv)` as far as a test can tell: the working directory is `cwd` (default the
    repository), `env` is added to the environment and `path` to `sys.path` (PYTHONPATH) during the call; the
    framework's log lines reach the captured stderr (the console handler writes to the current `sys.stderr`).
    Afterwards what a process exit would release is released: log handlers and the logger level the run set,
    working directory, environment, `sys.path`, and modules imported from directories the run added to it.
    Python warnings are collected by pytest instead of being printed to stderr.
    """
    module = importlib.import_module(PROGRAMS[prog])
    stdout, stderr = io.StringIO(), io.StringIO()
    with _process_like(cwd or REPO, env or {}, [str(p) for p in path]):
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            returncode = module.main(list(argv))
    return Result(returncode, stdout.getvalue(), stderr.getvalue())


def train_in_process(output_dir: Path, *flags: str, scenario: str = "scenarios.tutorial", **kwargs: object) -> Result:
    """`tfaip-train scenario --trainer.output_dir DIR --trainer.progress_bar false FLAGS` in this process.

    Asserts success and returns the `Result`; keyword arguments go to `cli` (cwd, env, path).
    """
    result = cli("tfaip-train", *_train_args(output_dir, scenario, flags), **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, f"tfaip-train failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


@contextlib.contextmanager
def _process_like(cwd: Path, env: Dict[str, str], path: List[str]) -> Iterator[None]:
    framework = logging.getLogger("tfaip_core")
    handlers, level, propagate = list(framework.handlers), framework.level, framework.propagate
    old_cwd, old_env, old_path = os.getcwd(), dict(os.environ), list(sys.path)
    old_modules = set(sys.modules)
    os.chdir(cwd)
    os.environ.update(env)
    sys.path[:0] = [p for p in path if p not in sys.path]
    try:
        yield
    finally:
        _close_handlers_except(framework, handlers)
        framework.setLevel(level)
        framework.propagate = propagate
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
        added = [p for p in sys.path if p not in old_path]
        sys.path[:] = old_path
        _forget_modules_from(added, exclude=old_modules)


def _close_handlers_except(log: logging.Logger, keep: List[logging.Handler]) -> None:
    for handler in [h for h in log.handlers if h not in keep]:
        log.removeHandler(handler)
        handler.close()


def _forget_modules_from(directories: List[str], exclude: set) -> None:
    """Remove from `sys.modules` the modules imported from `directories` (a later run may import others there).

    Never the repository's own modules (tfaip_core, scenarios, tests): a directory holding the repository is skipped.
    """
    repo = os.path.join(str(REPO), "")
    roots = [root for root in (os.path.join(os.path.abspath(d), "") for d in directories) if not repo.startswith(root)]
    for name in [n for n in sys.modules if n not in exclude]:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if any(os.path.abspath(file).startswith(root) for root in roots):
            del sys.modules[name]


# ============================== subprocesses (e2e) ==============================
def script(name: str) -> List[str]:
    """The console script `name` installed beside this Python, else its module run with `-m`."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return [str(candidate)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", PROGRAMS[name]]


def run(
    name: str, *args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run a tfaip program like a user would, in a new process; return the completed process (text output)."""
    full_env = dict(os.environ)
    full_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if env:
        full_env.update(env)
    return subprocess.run(
        script(name) + list(args),
        cwd=str(cwd or REPO),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def train(output_dir: Path, *flags: str, scenario: str = "scenarios.tutorial", **kwargs) -> subprocess.CompletedProcess:
    """`tfaip-train scenario --trainer.output_dir DIR --trainer.progress_bar false FLAGS` in a new process, asserting
    success. Only for e2e tests; others use `train_in_process`."""
    result = run("tfaip-train", *_train_args(output_dir, scenario, flags), **kwargs)
    assert result.returncode == 0, f"tfaip-train failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result


def read_metrics(output_dir: Path) -> List[dict]:
    with open(output_dir / "metrics.jsonl", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tutorial_export_accuracy(export_dir: Path) -> float:
    """Accuracy of an exported tutorial model on the tutorial's validation split, computed with plain TensorFlow."""
    import numpy as np
    import tensorflow as tf

    from scenarios.tutorial.data import load_split
    from scenarios.tutorial.params import TutorialDataParams
    from tfaip_core import PipelineMode

    images, labels = load_split(TutorialDataParams(), PipelineMode.EVALUATION)
    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    predicted = serve(img=tf.constant(images))["class"].numpy()
    return float(np.mean(predicted == labels))


@pytest.fixture(scope="session")
def tutorial_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial trained once with its defaults in a new process (what README command 1 does)."""
    output_dir = tmp_path_factory.mktemp("tutorial") / "run"
    train(output_dir)
    return output_dir


# for runs whose test does not look at best/ or export/: the two SavedModel exports are ~40% of a tiny run
NO_EXPORTS = ("--trainer.export_best", "false", "--trainer.export_final", "false")
SMALL_RUN_FLAGS = ("--trainer.epochs", "3", "--trainer.samples_per_epoch", "320", "--trainer.random_seed", "1")


@pytest.fixture(scope="session")
def small_tutorial_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tutorial MLP (default architecture) trained in this process for 3 epochs of 10 steps, seeded.

    A cheap source of a finished run: 3 checkpoints, `best/` and `export/`, metrics and TensorBoard files.
    Tests must not change it.
    """
    output_dir = tmp_path_factory.mktemp("small_tutorial") / "run"
    train_in_process(output_dir, *SMALL_RUN_FLAGS)
    return output_dir


def fitted_tutorial_trainer(output_dir: Path, samples: int = 64) -> Trainer:
    """A tutorial `Trainer` after `fit()`: one epoch of `samples` samples, no exports, no progress bar. For tests
    that need the trainer object itself (its model, exporter or state) rather than the command line."""
    from scenarios.tutorial.scenario import TutorialScenario

    params = TutorialScenario.default_trainer_params()
    params.output_dir = str(output_dir)
    params.epochs, params.samples_per_epoch, params.progress_bar = 1, samples, False
    params.export_best = params.export_final = False
    trainer = TutorialScenario(params.scenario).create_trainer(params)
    trainer.fit()
    return trainer


# ============================== order and garbage collection ==============================
def pytest_collection_finish(session: pytest.Session) -> None:
    """Hide what collection imported (TensorFlow, Keras, the test modules: some 400,000 objects) from the garbage
    collector (`gc.freeze`): every full collection during the tests would walk them all again (about 0.2 s each,
    in every worker). They live as long as the process anyway; garbage made by the tests is still collected."""
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    """The long `e2e` tests first, the rest in collection order: with `-n 2` the workers then share the long ones at
    the start and finish together on short tests, instead of one worker still running a 30-second test while the
    other is idle."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("e2e") else 1)


# ============================== isolation between tests ==============================
def _children() -> Dict[int, str]:
    import psutil

    found = {}
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            command = " ".join(child.cmdline())
            # multiprocessing's resource tracker lives as long as this process, by design
            if child.status() != psutil.STATUS_ZOMBIE and "multiprocessing.resource_tracker" not in command:
                found[child.pid] = command[:200]
    return found


def _eager() -> bool:
    if "tensorflow" not in sys.modules:
        return False
    return bool(sys.modules["tensorflow"].config.functions_run_eagerly())


@pytest.fixture(autouse=True)
def _isolated() -> Iterator[None]:
    """Every test leaves the process as it found it.

    Fails the test (after restoring) when it leaves behind: a changed working directory, a changed SIGINT
    handler, TensorFlow switched to eager functions, or a child process still alive 5 s after the test (an
    orphaned data worker or program). Cleans up silently: handlers added to the `tfaip_core` logger (a run's
    `train.log` handler would otherwise receive the next test's lines), the logger's level and propagation,
    environment variables, `sys.path` and the modules imported from directories a test added to it.
    """
    framework = logging.getLogger("tfaip_core")
    handlers, level, propagate = list(framework.handlers), framework.level, framework.propagate
    cwd, env, path, modules = os.getcwd(), dict(os.environ), list(sys.path), set(sys.modules)
    sigint, eager, children = signal.getsignal(signal.SIGINT), _eager(), set(_children())
    yield
    problems = []
    _close_handlers_except(framework, handlers)
    framework.setLevel(level)
    framework.propagate = propagate
    if os.environ != env:
        os.environ.clear()
        os.environ.update(env)
    added = [p for p in sys.path if p not in path]
    sys.path[:] = path
    _forget_modules_from(added, exclude=modules)
    if os.getcwd() != cwd:
        problems.append(f"the working directory changed to {os.getcwd()}")
        os.chdir(cwd)
    if signal.getsignal(signal.SIGINT) is not sigint:
        problems.append(f"the SIGINT handler changed to {signal.getsignal(signal.SIGINT)!r}")
        signal.signal(signal.SIGINT, sigint)
    if _eager() != eager:
        problems.append("tf.config.run_functions_eagerly was left switched")
        sys.modules["tensorflow"].config.run_functions_eagerly(eager)
    deadline = time.monotonic() + 5
    while (left := {p: c for p, c in _children().items() if p not in children}) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        problems.append(f"child processes outlived the test: {left}")
    assert not problems, "the test leaked state: " + "; ".join(problems)


def _train_args(output_dir: Path, scenario: str, flags: Sequence[str]) -> List[str]:
    return [scenario, "--trainer.output_dir", str(output_dir), "--trainer.progress_bar", "false", *flags]


def spawned_children() -> Set[int]:
    """Pids of this process's live multiprocessing workers (not the resource tracker, which lives until exit)."""
    import psutil

    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "spawn_main" in " ".join(child.cmdline()):
                found.add(child.pid)
        except psutil.Error:
            pass
    return found
