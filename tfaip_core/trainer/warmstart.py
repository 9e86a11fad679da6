"""Warm start: initialise a fresh model's weights from an exported model or a run's checkpoint.

Variables are matched by NAME: our `variable.path` (e.g. `model/graph/dense_0/kernel`) against the
source's paths after the `--warmstart.rename` rules. Both checkpoints and exports of this framework
track every model variable under its Keras path (`ModelVariables`), so the source is read by path with
`read_model_variables`, without rebuilding its model. Only model weights are read, never optimizer
slots, and Keras RNG states (`seed_generator_state`) are neither loaded nor required.
"""

import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Set, Tuple

import keras
import numpy as np
import tensorflow as tf

from tfaip_core.errors import CheckpointError, ConfigError
from tfaip_core.model.variables import read_model_variables
from tfaip_core.trainer.checkpoint import STATE_FILE, VARIABLES_PREFIX, CheckpointStore
from tfaip_core.trainer.warmstart_params import WarmstartParams
from tfaip_core.util.logging import logger

log = logger("trainer")

_RNG_STATE_NAME = "seed_generator_state"
_MAX_NAMES_IN_ERROR = 8
_FIX = "Fix: use --warmstart.allow_partial, --warmstart.rename FROM->TO or --warmstart.exclude REGEX"


@dataclass
class WarmstartSource:
    """Where the weights come from: the checkpoint prefix to read."""

    path: str  # what the user passed
    kind: str  # "export" or "checkpoint"
    prefix: str  # the checkpoint prefix (`.../variables`) read with tf.train.load_checkpoint


@dataclass
class WarmstartReport:
    """What a warm start did, for logs and tests.

    `loaded` maps our variable paths to the source name they were loaded from (before renaming);
    `skipped` maps our variable paths that kept their initial value to the reason; `unused` maps source
    names (before renaming) that were not loaded into anything to the reason.
    """

    source: WarmstartSource
    loaded: Dict[str, str] = field(default_factory=dict)
    skipped: Dict[str, str] = field(default_factory=dict)
    unused: Dict[str, str] = field(default_factory=dict)


def warmstart(keras_model: keras.Model, params: WarmstartParams) -> WarmstartReport:
    """Load the weights of `params.model` into `keras_model` by variable path and report what happened.

    Our variables and the (renamed) source variables are first filtered by `include`/`exclude`; each
    remaining variable of ours takes the value of the source variable of the same path. A variable of
    ours without a source, a source variable left over, or a shape/dtype mismatch is an error unless
    `allow_partial` is set (then they are skipped and logged). Loading nothing at all is always an error.

    Raises:
        ConfigError: the path does not exist or is no model/checkpoint, a bad rule or regex, or the
            variables do not match (the message names them and the fix).
        CheckpointError: the source cannot be read or its model cannot be rebuilt.
    """
    params.validate()
    source = resolve_source(params.model or "")
    log.info("Warm start from %s (%s %s)", params.model, source.kind, source.prefix)
    values = read_source_variables(source)
    renamed = _apply_renames(values, params.rename)
    include = re.compile(params.include) if params.include else None
    exclude = re.compile(params.exclude) if params.exclude else None

    def selected(name: str) -> bool:
        return (include is None or include.search(name) is not None) and not (exclude and exclude.search(name))

    report = WarmstartReport(source)
    problems: List[str] = []
    used: Set[str] = set()
    assignments: List[Tuple[keras.Variable, np.ndarray]] = []
    for variable in keras_model.variables:
        path = variable.path
        if _is_rng_state(variable):
            report.skipped[path] = "RNG state, not a weight"
            continue
        if not selected(path):
            report.skipped[path] = "filtered out by --warmstart.include/--warmstart.exclude"
            continue
        if path not in renamed:
            report.skipped[path] = "no source variable of that name"
            problems.append(f"{path} (not in the source)")
            continue
        original, value = renamed[path]
        used.add(path)
        ours_shape, theirs_shape = tuple(variable.shape), tuple(value.shape)
        if ours_shape != theirs_shape:
            report.skipped[path] = f"shape {list(ours_shape)} here but {list(theirs_shape)} in the source"
            origin = "" if original == path else f" {original}"
            problems.append(f"{path} (shape {list(ours_shape)} here, {list(theirs_shape)} in the source{origin})")
            continue
        ours_dtype = tf.as_dtype(variable.dtype)
        if ours_dtype != tf.as_dtype(value.dtype) and not (ours_dtype.is_floating and value.dtype.kind == "f"):
            report.skipped[path] = f"dtype {ours_dtype.name} here but {value.dtype} in the source"
            problems.append(f"{path} (dtype {ours_dtype.name} here, {value.dtype} in the source)")
            continue
        assignments.append((variable, value.astype(ours_dtype.as_numpy_dtype, copy=False)))
        report.loaded[path] = original
    for name, (original, _) in renamed.items():
        if name in used:
            continue
        if not selected(name):
            report.unused[original] = "filtered out by --warmstart.include/--warmstart.exclude"
            continue
        report.unused[original] = "no variable of ours has that name" + (f" ({name})" if name != original else "")
        problems.append(f"source {original} (no variable of ours named {name})")

    _log_report(report)
    if problems and not params.allow_partial:
        raise ConfigError(
            f"--warmstart.model {params.model}: {len(problems)} variable(s) do not match: {_shorten(problems)}. {_FIX}."
        )
    if not assignments:
        raise ConfigError(
            f"--warmstart.model {params.model}: no variable matched, nothing to load (ours: "
            f"{_shorten([v.path for v in keras_model.variables])}; the source's: {_shorten(list(renamed))}). "
            "Fix: check the model path, --warmstart.rename FROM->TO and --warmstart.include/--warmstart.exclude."
        )
    # Assign only after every check passed, so a failed warm start leaves the model untouched.
    for variable, value in assignments:
        variable.assign(value)
    log.info("Warm start loaded %d variable(s): %s", len(report.loaded), ", ".join(report.loaded))
    return report


# ============================== locating the source ==============================
def resolve_source(path: str) -> WarmstartSource:
    """Find the checkpoint prefix behind a `--warmstart.model` path.

    Accepts an exported model (a directory with `saved_model.pb`, e.g. OUTPUT_DIR/export or /best), a
    run's OUTPUT_DIR or OUTPUT_DIR/checkpoint (the newest complete checkpoint is used) or one
    OUTPUT_DIR/checkpoint/ckpt-N.

    Raises:
        ConfigError: the path does not exist or holds neither an export nor a checkpoint.
        CheckpointError: the checkpoint named is incomplete.
    """
    if not path:
        raise ConfigError("--warmstart.model is empty. Fix: pass an exported model or a run's output directory.")
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.exists(full):
        raise ConfigError(
            f"--warmstart.model {path}: no such file or directory ({full}). "
            "Fix: pass OUTPUT_DIR/export, OUTPUT_DIR/best, OUTPUT_DIR or OUTPUT_DIR/checkpoint of an earlier run."
        )
    if not os.path.isdir(full):
        raise ConfigError(f"--warmstart.model {path} is a file. Fix: pass the directory of the model or of the run.")
    if os.path.isfile(os.path.join(full, "saved_model.pb")):
        source = WarmstartSource(
            path,
            "export",
            prefix=os.path.join(full, "variables", "variables"),
        )
    elif os.path.isfile(os.path.join(full, VARIABLES_PREFIX + ".index")):  # one ckpt-N
        if not os.path.isfile(os.path.join(full, STATE_FILE)):
            raise CheckpointError(
                f"--warmstart.model {path} is an incomplete checkpoint (no {STATE_FILE}). Fix: use a complete one."
            )
        source = WarmstartSource(
            path,
            "checkpoint",
            prefix=os.path.join(full, VARIABLES_PREFIX),
        )
    else:
        # OUTPUT_DIR/checkpoint or OUTPUT_DIR: the newest complete checkpoint.
        store_dir = full if os.path.basename(full) == "checkpoint" else os.path.join(full, "checkpoint")
        complete = CheckpointStore(store_dir).complete()
        if not complete:
            raise ConfigError(
                f"--warmstart.model {path} holds neither an exported model (saved_model.pb) nor complete checkpoints "
                "(checkpoint/ckpt-N). Fix: pass OUTPUT_DIR/export, OUTPUT_DIR/best or the OUTPUT_DIR of an earlier run."
            )
        source = WarmstartSource(
            path,
            "checkpoint",
            prefix=os.path.join(complete[-1], VARIABLES_PREFIX),
        )
    return source


# ============================== reading the source ==============================
def read_source_variables(source: WarmstartSource) -> Dict[str, np.ndarray]:
    """The source model's weights by variable path (RNG states left out), read from `source.prefix`.

    Raises:
        CheckpointError: the file cannot be read or holds no variables by path.
    """
    try:
        values = read_model_variables(source.prefix)
    except (tf.errors.OpError, ValueError, IndexError) as e:
        raise CheckpointError(
            f"--warmstart.model {source.path}: cannot read {source.prefix} ({_first_line(e)})."
        ) from e
    values = {path: value for path, value in values.items() if path.rsplit("/", 1)[-1] != _RNG_STATE_NAME}
    if not values:
        raise CheckpointError(
            f"--warmstart.model {source.path}: {source.prefix} holds no model variables by path. "
            "Fix: warm start from a model exported or trained by this version of tfaip_core."
        )
    return values


# ============================== helpers ==============================
def _apply_renames(values: Dict[str, np.ndarray], rules: List[str]) -> Dict[str, Tuple[str, np.ndarray]]:
    """New name -> (original name, value) after applying each FROM->TO substring rule in order.

    Raises:
        ConfigError: two source variables end up with the same name.
    """
    renamed: Dict[str, Tuple[str, np.ndarray]] = {}
    for original, value in values.items():
        name = _rename(original, rules)
        if name in renamed:
            raise ConfigError(
                f"--warmstart.rename {' '.join(rules)}: the source variables {renamed[name][0]} and {original} "
                f"both become {name}. Fix: make the rules more specific."
            )
        renamed[name] = (original, value)
    return renamed


def _rename(name: str, rules: List[str]) -> str:
    """`name` after each FROM->TO substring rule, in order."""
    for rule in rules:
        old, _, new = rule.partition("->")
        name = name.replace(old, new)
    return name


def _is_rng_state(variable: Any) -> bool:
    """Keras `SeedGenerator` states (dropout etc.) are random-number state, not weights."""
    return variable.path.rsplit("/", 1)[-1] == _RNG_STATE_NAME


def _log_report(report: WarmstartReport) -> None:
    """Log every skipped or unused variable with its reason (the loaded ones are logged after assigning)."""
    for path, reason in report.skipped.items():
        log.info("Warm start skipped %s: %s", path, reason)
    for name, reason in report.unused.items():
        log.info("Warm start did not use the source's %s: %s", name, reason)


def _shorten(names: List[str]) -> str:
    """The first names joined, and how many more there are, to keep error messages readable."""
    if len(names) <= _MAX_NAMES_IN_ERROR:
        return ", ".join(names)
    return ", ".join(names[:_MAX_NAMES_IN_ERROR]) + f" and {len(names) - _MAX_NAMES_IN_ERROR} more (see the log)"


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message (TensorFlow errors span many lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
