"""`DeviceParams`: which combinations are refused (and how), GPU selection against the GPUs a machine has."""

from __future__ import annotations

import re

import pytest

from tfaip_core.device.params import DeviceParams
from tfaip_core.errors import ConfigError


@pytest.mark.parametrize(
    "params, pattern",
    [
        (DeviceParams(gpus=["x"]), r"--device\.gpus must be distinct GPU indices >= 0 or 'all'; got x\."),
        (DeviceParams(gpus=["all", "0"]), r"--device\.gpus must be .*; got all 0\."),
        (DeviceParams(gpus=["1", "1"]), r"--device\.gpus must be .*; got 1 1\. Fix: e\.g\. --device\.gpus 0 1"),
        (DeviceParams(dist_strategy="ps"), r"--device\.dist_strategy must be one of default, mirror, central_storage"),
        (DeviceParams(gpu_memory=-1, gpus=["0"]), r"--device\.gpu_memory must be a number of MB >= 0"),
        (DeviceParams(gpu_memory=1024), r"--device\.gpu_memory 1024 has no effect without a GPU"),
        (DeviceParams(cpu_replicas=-2), r"--device\.cpu_replicas must be >= 0"),
        (DeviceParams(cpu_replicas=2), r"--device\.cpu_replicas 2 takes effect only with .* mirror or central_storage"),
        (
            DeviceParams(cpu_replicas=2, dist_strategy="multi_worker"),
            r"takes effect only with --device\.dist_strategy mirror or central_storage; got multi_worker",
        ),
        (
            DeviceParams(cpu_replicas=2, dist_strategy="mirror", gpus=["0"]),
            r"--device\.cpu_replicas splits the CPU for a machine without GPUs",
        ),
    ],
)
def test_settings_that_cannot_take_effect_are_refused(params: DeviceParams, pattern: str) -> None:
    with pytest.raises(ConfigError) as info:
        params.validate()
    message = str(info.value)
    assert re.search(pattern, message) and "Fix: " in message, message


@pytest.mark.parametrize(
    "params",
    [
        DeviceParams(),
        DeviceParams(gpus=["all"], gpu_memory=2048, dist_strategy="mirror"),
        DeviceParams(dist_strategy="central_storage", cpu_replicas=4),
        DeviceParams(gpus=[0, 1], dist_strategy="multi_worker"),  # as a params file stores them: integers
    ],
)
def test_valid_settings_pass(params: DeviceParams) -> None:
    params.validate()


@pytest.mark.parametrize("gpus, indices", [([], []), (["all"], None), (["0", "2"], [0, 2]), ([1], [1]), ([" 3 "], [3])])
def test_gpu_indices(gpus: list, indices: object) -> None:
    assert DeviceParams(gpus=gpus).gpu_indices() == indices


@pytest.mark.parametrize(
    "gpus, available, message",
    [
        (["all"], 0, "--device.gpus all: this machine has no GPU (visible to TensorFlow). Fix: drop --device.gpus"),
        (["0", "2"], 2, "--device.gpus 0 2: this machine has GPUs 0-1 (visible to TensorFlow); got index 2. "),
        (["1"], 1, "--device.gpus 1: this machine has GPU 0 (visible to TensorFlow); got index 1. Fix: pass indices"),
    ],
)
def test_a_gpu_the_machine_lacks_is_named_with_those_it_has(gpus: list, available: int, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        DeviceParams(gpus=gpus).check_gpus(available)
    assert str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("gpus, available", [(["all"], 2), (["0", "1"], 2), ([], 0)])
def test_gpus_the_machine_has_pass(gpus: list, available: int) -> None:
    DeviceParams(gpus=gpus).check_gpus(available)
