"""One checkpoint format, written atomically: OUTPUT_DIR/checkpoint/ckpt-STEP/{variables.*, state.json}.

A checkpoint directory is first written under a temporary name; `state.json` (epoch, step,
callback states) is written last and the directory is renamed into place, so a crash at any
instant leaves the last complete checkpoint loadable. Only complete checkpoints are listed.

Restoring tells two failures apart. A checkpoint that reads fine but does not fit the model (a
variable missing, extra, or of another shape; state the run needs but the checkpoint lacks) is a
`CheckpointError` at once: the older checkpoints of the run would not fit either, and falling back
would only hide the cause. A corrupt or truncated checkpoint, or one whose `state.json` fails the
schema check, is reported by name and the previous one is tried.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf

from tfaip_core.errors import CheckpointError
from tfaip_core.model.variables import (
    MODEL_KEY,
    ModelVariables,
    read_model_variable_shapes,
)
from tfaip_core.trainer.checkpoint_files import NAME, STATE_FILE, complete_checkpoints
from tfaip_core.util.io import atomic_write_json
from tfaip_core.util.logging import logger

log = logger("checkpoint")
VARIABLES_PREFIX = "variables"
_MAX_LISTED = 3  # variables named in a mismatch message
_READ_ERRORS = (OSError, ValueError, IndexError, KeyError, tf.errors.OpError)
_DATA_FED_OTHERWISE = (
    "the run feeds its training data otherwise than the run that saved it (e.g. --trainer.preload_data, "
    "--train.shuffle_buffer_size, --train.batch_size or the pre-processors changed)"
)

# state.json: every field, its meaning; all are required and nothing else is allowed.
STATE_FIELDS = {
    "epoch": "epochs completed (int >= 0)",
    "step": "optimizer steps completed, the N of ckpt-N (int >= 0)",
    "step_in_epoch": "steps completed in the current epoch (int, 0 <= step_in_epoch <= step)",
    "callbacks": "callback name -> its state (an object of objects)",
}


class InvalidState(CheckpointError):
    """A `state.json` that fails the schema check (treated like a corrupt checkpoint on restore)."""


def validate_state(state: Any, step: Optional[int] = None) -> Dict[str, Any]:
    """The checkpoint state after a schema check, as a new dict of typed values.

    `step`, if given, is the step in the checkpoint's name, which the state must repeat. Nothing of an
    invalid state reaches a log: the error shows values through `repr`, shortened.

    Raises:
        InvalidState: a field is missing, unknown, of the wrong type or out of range.
    """
    if not isinstance(state, dict):
        raise InvalidState(f"must be a JSON object with {', '.join(STATE_FIELDS)}; got {_show(state)}")
    missing = [name for name in STATE_FIELDS if name not in state]
    unknown = [name for name in state if name not in STATE_FIELDS]
    if missing:
        raise InvalidState(f"`{missing[0]}` is missing ({STATE_FIELDS[missing[0]]})")
    if unknown:
        raise InvalidState(f"unknown field {_show(unknown[0])}; the fields are {', '.join(STATE_FIELDS)}")
    typed: Dict[str, Any] = {}
    for name in ("epoch", "step", "step_in_epoch"):
        value = state[name]
        if type(value) is not int or value < 0:  # bool is no int here, nor is 2.0
            raise InvalidState(f"`{name}` must be an int >= 0; got {_show(value)}")
        typed[name] = value
    if typed["step_in_epoch"] > typed["step"]:
        raise InvalidState(
            f"`step_in_epoch` must be <= `step`; got step_in_epoch {typed['step_in_epoch']}, step {typed['step']}"
        )
    if step is not None and typed["step"] != step:
        raise InvalidState(f"`step` must be the step in the checkpoint's name, {step}; got {typed['step']}")
    callbacks = state["callbacks"]
    if not isinstance(callbacks, dict):
        raise InvalidState(f"`callbacks` must be an object of objects; got {_show(callbacks)}")
    for name, value in callbacks.items():
        if not isinstance(value, dict):
            raise InvalidState(f"`callbacks.{name}` must be an object; got {_show(value)}")
    typed["callbacks"] = {str(name): dict(value) for name, value in callbacks.items()}
    return typed


class CheckpointStore:
    """Saves, lists, prunes and restores the checkpoints in one directory."""

    def __init__(self, directory: str, keep_max: int = 5):
        self.directory = directory
        self.keep_max = keep_max

    def save(self, checkpoint: tf.train.Checkpoint, step: int, state: Dict[str, Any]) -> str:
        """Write `checkpoint` (variables) and `state` as `ckpt-STEP`; keep the newest `keep_max`.

        Raises:
            InvalidState: `state` would not pass the check on restore (a bug of the caller).
        """
        state = validate_state(state, step)
        os.makedirs(self.directory, exist_ok=True)
        name = f"ckpt-{step:010d}"
        final = os.path.join(self.directory, name)
        tmp = os.path.join(self.directory, f".tmp-{name}")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        checkpoint.write(os.path.join(tmp, VARIABLES_PREFIX))
        atomic_write_json(os.path.join(tmp, STATE_FILE), state)
        if os.path.exists(final):  # same step saved again (e.g. after a resume): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        self._prune()
        return final

    def complete(self) -> List[str]:
        """Paths of complete checkpoints, oldest first."""
        return complete_checkpoints(self.directory)

    def restore_latest(self, checkpoint: tf.train.Checkpoint) -> Optional[Dict[str, Any]]:
        """Restore the newest checkpoint that loads; return its validated state (None if there is none).

        A corrupt or truncated checkpoint, or one with an invalid `state.json`, is reported by name and
        the previous one is tried. If `checkpoint` tracks a `ModelVariables` under `MODEL_KEY` (the
        trainer's does), the model variables are compared by path and shape before anything is restored.

        Raises:
            CheckpointError: a checkpoint reads fine but does not match the model or the run (at once,
                without trying older ones), or checkpoints exist but none of them loads.
        """
        candidates = self.complete()
        errors = []
        for path in reversed(candidates):
            try:
                state = self._read_state(path)
                self._check_matches(path, checkpoint)
                self._read_variables(path, checkpoint)
            except _Corrupt as e:
                log.error("Checkpoint %s is corrupt or incomplete: %s; trying the previous one", path, e)
                errors.append(f"{path}: {e}")
                continue
            log.info("Restored checkpoint %s (epoch %d, step %d)", path, state["epoch"], state["step"])
            return state
        if errors:
            raise CheckpointError(
                "No checkpoint could be loaded: " + "; ".join(errors) + ". Fix: restore the checkpoint directory "
                "from a backup, or train into a new directory."
            )
        return None

    # ============================== the steps of a restore ==============================
    @staticmethod
    def _read_state(path: str) -> Dict[str, Any]:
        """The validated state.json of checkpoint `path`; raise _Corrupt naming the file."""
        file = os.path.join(path, STATE_FILE)
        try:
            with open(file, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise _Corrupt(f"{STATE_FILE} cannot be read ({_first_line(e)})") from e
        match = NAME.match(os.path.basename(path))
        try:
            return validate_state(data, int(match.group(1)) if match else None)
        except InvalidState as e:
            raise _Corrupt(f"{STATE_FILE} is invalid: {e}") from e

    @staticmethod
    def _check_matches(path: str, checkpoint: tf.train.Checkpoint) -> None:
        """Compare the model variables of checkpoint `path` with those `checkpoint` tracks, by path and shape.

        Raises:
            _Corrupt: the variable files cannot be read.
            CheckpointError: they read fine but do not match (the message names the first variables).
        """
        model_variables = getattr(checkpoint, MODEL_KEY, None)
        if not isinstance(model_variables, ModelVariables):
            return
        prefix = os.path.join(path, VARIABLES_PREFIX)
        try:
            stored = read_model_variable_shapes(prefix)
        except _READ_ERRORS as e:
            raise _Corrupt(_unreadable(prefix, e)) from e
        if stored is None:
            raise CheckpointError(
                f"Checkpoint {path} does not match the model: it holds no model variables by path (written by "
                "another version of tfaip_core). Fix: train into a new directory."
            )
        ours = {name: tuple(int(d) for d in variable.shape) for name, variable in model_variables.by_path.items()}
        problems = [
            f"variable {name} has shape {_shape(stored[name])} in the checkpoint but {_shape(shape)} in the model"
            for name, shape in ours.items()
            if name in stored and stored[name] != shape
        ]
        problems += [
            f"variable {name} (shape {_shape(shape)} in the model) is missing from the checkpoint"
            for name, shape in ours.items()
            if name not in stored
        ]
        problems += [
            f"variable {name} (shape {_shape(shape)}) is in the checkpoint but not in the model"
            for name, shape in stored.items()
            if name not in ours
        ]
        if problems:
            more = f"; and {len(problems) - _MAX_LISTED} more" if len(problems) > _MAX_LISTED else ""
            raise CheckpointError(
                f"Checkpoint {path} does not match the model: {'; '.join(problems[:_MAX_LISTED])}{more}. "
                "Fix: resume with the model flags the run was trained with, or train into a new directory."
            )

    @staticmethod
    def _read_variables(path: str, checkpoint: tf.train.Checkpoint) -> None:
        """Restore the variables of checkpoint `path` into `checkpoint`'s objects.

        Raises:
            _Corrupt: the variable files cannot be read.
            CheckpointError: the checkpoint holds no state for an object of the run (e.g. EMA switched on,
                other optimizer settings): older checkpoints of the run would lack it as well.
        """
        prefix = os.path.join(path, VARIABLES_PREFIX)
        try:
            status = checkpoint.read(prefix)
        except _READ_ERRORS as e:
            mismatch = _mismatch(e)
            if mismatch is None:
                raise _Corrupt(_unreadable(prefix, e)) from e
            raise CheckpointError(
                f"Checkpoint {path} does not match the run: {mismatch}. Fix: resume with the flags the run was "
                "trained with, or train into a new directory."
            ) from e
        try:
            status.assert_existing_objects_matched()
        except AssertionError as e:
            raise CheckpointError(
                f"Checkpoint {path} does not match the run: it holds no state for {_unbound(e)}. Fix: resume with "
                "the flags the run was trained with (model, optimizer, --trainer.calc_ema, devices), or train into "
                "a new directory."
            ) from e

    def _prune(self) -> None:
        complete = self.complete()
        for path in complete[: max(0, len(complete) - self.keep_max)]:
            shutil.rmtree(path, ignore_errors=True)


def _mismatch(error: BaseException) -> Optional[str]:
    """What a read error says about a checkpoint that reads fine but was written for another run; None if it
    does not say that (then the files are corrupt or incomplete).

    The tensors of a checkpoint are read with checksums, so damaged bytes fail as such; a missing key or a data
    position that does not fit the input pipeline means that the run's objects differ from the saved ones.
    """
    text = str(error)
    key = re.search(r"Key (\S+) not found in checkpoint", text)
    if key is not None:
        what = f"it holds no value for {key.group(1)}"
        if key.group(1).startswith("train_iterator/"):
            what += f" (the position in the training data: {_DATA_FED_OTHERWISE})"
        return what
    if "Failed to restore dataset iterator" in text:
        return f"its position in the training data was saved for another input pipeline: {_DATA_FED_OTHERWISE}"
    return None


class _Corrupt(Exception):
    """A checkpoint that cannot be read: the previous one is tried."""


def _unreadable(prefix: str, error: BaseException) -> str:
    """Which variable file failed and why: the index if TensorFlow cannot open it, else the data shards."""
    index = prefix + ".index"
    try:
        tf.train.load_checkpoint(prefix)
    except _READ_ERRORS:
        return f"{os.path.basename(index)} cannot be read ({_first_line(error)})"
    shards = sorted(os.path.basename(p) for p in glob.glob(glob.escape(prefix) + ".data-*")) or ["variables.data-*"]
    return f"{', '.join(shards)} cannot be read ({_first_line(error)})"


def _unbound(error: AssertionError) -> str:
    """The objects TensorFlow found no checkpointed value for, from its message: how many, the first by path."""
    text = str(error)
    variables = re.findall(r"(?:path=|<tf\.Variable ')([^,\s']+)'?,? shape=\(([^)]*)\)", text)
    count = re.search(r"Found (\d+) Python objects", text)
    total = int(count.group(1)) if count else len(variables)
    if not variables:
        return f"{total or 'some'} of the run's objects ({_first_line(error)[:200]})"
    shown = "; ".join(f"variable {name} (shape ({shape}))" for name, shape in variables[:_MAX_LISTED])
    more = f"; and {total - _MAX_LISTED} more" if total > _MAX_LISTED else ""
    return f"{total} of the run's objects: {shown}{more}"


def _first_line(error: BaseException) -> str:
    """The first line of an exception's message (TensorFlow errors span many lines)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _shape(shape: Tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def _show(value: Any, limit: int = 40) -> str:
    """`repr` of a value read from disk, shortened: one line, whatever the file holds."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
