"""Which worker of a cluster this process is, read from `TF_CONFIG` without TensorFlow.

Why without TensorFlow: the run directory (its lock and policy) is set up before anything heavy is
imported, and only the chief owns it. The rule is TensorFlow's: the `chief` task, or worker 0 when
the cluster has no chief.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Mapping, Optional

from tfaip_core.device.params import DeviceParams
from tfaip_core.errors import ConfigError

FIX = (
    'Fix: set TF_CONFIG to e.g. {"cluster": {"worker": ["host1:port", "host2:port"]}, '
    '"task": {"type": "worker", "index": 0}}.'
)


def is_chief(device: DeviceParams, environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether this process writes the run directory: True except for non-chief multi-worker tasks.

    Args:
        device: the run's device params; only `dist_strategy == "multi_worker"` reads `TF_CONFIG`.
        environ: the environment to read `TF_CONFIG` from. Defaults to `os.environ`.

    Raises:
        ConfigError: `TF_CONFIG` is not valid JSON or does not describe this task in its cluster.
    """
    if device.dist_strategy != "multi_worker":
        return True
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return True  # without TF_CONFIG the multi-worker strategy runs this process alone
    cluster, task_type, index = _task(raw)
    if not cluster:
        return True
    return task_type == "chief" or (task_type == "worker" and index == 0 and "chief" not in cluster)


def _task(raw: str) -> tuple[Dict[str, Any], Optional[str], int]:
    """(cluster, task type, task index) of `TF_CONFIG`, validated."""
    try:
        config = json.loads(raw)
    except ValueError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}). {FIX}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"TF_CONFIG must be a JSON object; got {type(config).__name__}. {FIX}")
    cluster = config.get("cluster", {})
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise ConfigError(f"TF_CONFIG: cluster must map task types to lists of addresses; got {cluster!r}. {FIX}")
    if not cluster:
        return cluster, None, 0
    task = config.get("task")
    if not isinstance(task, dict):
        raise ConfigError(f"TF_CONFIG: task must be an object with type and index; got {task!r}. {FIX}")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type == "evaluator":  # a side-car evaluator is not part of the cluster spec
        return cluster, task_type, 0
    if not isinstance(task_type, str) or task_type not in cluster:
        raise ConfigError(
            f"TF_CONFIG: task.type must be one of the cluster's task types ({', '.join(cluster)}); "
            f"got {task_type!r}. {FIX}"
        )
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task_type]):
        raise ConfigError(
            f"TF_CONFIG: task.index must be an integer in [0, {len(cluster[task_type])}) for {task_type!r}; "
            f"got {index!r}. {FIX}"
        )
    return cluster, task_type, index
