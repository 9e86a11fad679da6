"""`is_chief` from TF_CONFIG: the chief task, or worker 0 without a chief; malformed TF_CONFIG is a ConfigError."""

from __future__ import annotations

import json
import re
from typing import Optional

import pytest

from tfaip_core.device.cluster import is_chief
from tfaip_core.device.params import DeviceParams
from tfaip_core.errors import ConfigError

MULTI = DeviceParams(dist_strategy="multi_worker")
WORKERS = {"worker": ["a:1", "b:1", "c:1"]}
WITH_CHIEF = {"chief": ["c:0"], "worker": ["a:1", "b:1"]}


def tf_config(cluster: dict, task_type: Optional[str] = None, index: int = 0) -> dict:
    config: dict = {"cluster": cluster}
    if task_type is not None:
        config["task"] = {"type": task_type, "index": index}
    return {"TF_CONFIG": json.dumps(config)}


@pytest.mark.parametrize(
    "environ, chief",
    [
        ({}, True),  # no TF_CONFIG: this process runs alone
        ({"TF_CONFIG": ""}, True),
        (tf_config({}), True),  # an empty cluster: alone as well
        (tf_config(WORKERS, "worker", 0), True),
        (tf_config(WORKERS, "worker", 1), False),
        (tf_config(WORKERS, "worker", 2), False),
        (tf_config(WITH_CHIEF, "chief", 0), True),
        (tf_config(WITH_CHIEF, "worker", 0), False),  # worker 0 is not the chief when there is one
        (tf_config(WITH_CHIEF, "worker", 1), False),
        (tf_config(WITH_CHIEF, "evaluator", 0), False),
    ],
)
def test_multi_worker_chief_is_read_from_tf_config(environ: dict, chief: bool) -> None:
    assert is_chief(MULTI, environ) is chief


@pytest.mark.parametrize("strategy", ["default", "mirror"])
def test_other_strategies_are_always_chief_even_with_a_tf_config(strategy: str) -> None:
    assert is_chief(DeviceParams(dist_strategy=strategy), tf_config(WORKERS, "worker", 1)) is True
    assert is_chief(DeviceParams(dist_strategy=strategy), {"TF_CONFIG": "{not json"}) is True


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", tf_config(WORKERS, "worker", 1)["TF_CONFIG"])
    assert is_chief(MULTI) is False
    monkeypatch.setenv("TF_CONFIG", tf_config(WORKERS, "worker", 0)["TF_CONFIG"])
    assert is_chief(MULTI) is True


@pytest.mark.parametrize(
    "raw, pattern",
    [
        ("{not json", r"TF_CONFIG is not valid JSON"),
        ("[1, 2]", r"TF_CONFIG must be a JSON object; got list"),
        (json.dumps({"cluster": ["a:1"]}), r"TF_CONFIG: cluster must map task types to lists"),
        (json.dumps({"cluster": WORKERS}), r"TF_CONFIG: task must be an object with type and index; got None"),
        (json.dumps({"cluster": WORKERS, "task": {"type": "ps", "index": 0}}), r"task\.type must be one of .*worker"),
        (json.dumps({"cluster": WORKERS, "task": {"type": "worker", "index": 3}}), r"task\.index must be .*\[0, 3\)"),
        (json.dumps({"cluster": WORKERS, "task": {"type": "worker", "index": "0"}}), r"task\.index .* got '0'"),
        (json.dumps({"cluster": WORKERS, "task": {"type": "worker", "index": True}}), r"task\.index .* got True"),
    ],
)
def test_malformed_tf_config_is_a_config_error_naming_it(raw: str, pattern: str) -> None:
    with pytest.raises(ConfigError) as info:
        is_chief(MULTI, {"TF_CONFIG": raw})
    message = str(info.value)
    assert re.search(pattern, message), message
    assert "Fix: set TF_CONFIG" in message and "\n" not in message
