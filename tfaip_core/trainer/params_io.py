"""Read params JSON files (a run's trainer_params.json, an exported model's, or a hand-written one)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List

from tfaip_core.errors import ConfigError
from tfaip_core.trainer.params import TrainerParams


def load_trainer_params(path: str) -> TrainerParams:
    """The `TrainerParams` stored in `path`.

    Raises:
        ConfigError: the file is missing, is not JSON, or names classes that cannot be imported.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"Params file {path} does not exist.")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(
            f"Params file {path} is not valid JSON ({e}). Fix: restore it or pass another file."
        ) from None
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # scenario packages are found from the working directory, as by tfaip-train
    try:
        return TrainerParams.from_dict(data)  # type: ignore[attr-defined]
    except (ImportError, AttributeError) as e:
        raise ConfigError(
            f"Params file {path} names a class that cannot be imported ({e}). "
            "Fix: run from the directory that contains the scenario package."
        ) from None
    except (TypeError, ValueError, KeyError) as e:
        raise ConfigError(f"Params file {path} does not hold trainer params ({type(e).__name__}: {e}).") from None


def flatten(data: Any, prefix: str = "") -> Dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a.b": 1}` (lists stay values)."""
    if not isinstance(data, dict):
        return {prefix: data}
    flat: Dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


# Changing these would not fit the checkpoint of a resumed run (other variables or slots) or its directory.
_FIXED_ON_RESUME = (
    "scenario.model",
    "scenario.scenario_class",
    "scenario.__cls__",
    "optimizer.__cls__",
    "output_dir",
    "no_train_scope",
    "preload_data",
)


def refused_resume_changes(stored: TrainerParams, requested: TrainerParams) -> List[str]:
    """The fields a resumed run may not change (dotted names), with the stored and requested values."""
    before, after = flatten(stored.to_dict()), flatten(requested.to_dict())  # type: ignore[attr-defined]
    refused = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) == after.get(key):
            continue
        if key.startswith(_FIXED_ON_RESUME) or (key == "calc_ema" and (before.get(key) == 0) != (after.get(key) == 0)):
            refused.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    if len(refused) > 3:  # one line: the first changes name the culprit well enough
        refused = refused[:3] + [f"and {len(refused) - 3} more"]
    return refused
