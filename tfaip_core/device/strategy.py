"""Turn `DeviceParams` into a `tf.distribute` strategy: visible devices, their memory, logical CPUs, the strategy.

Why all device settings live here: TensorFlow accepts them only before its runtime initialises its devices
(the first tensor does that), so they are applied in one place, first, and a setting that comes too late
is an error rather than silently ignored.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple

import tensorflow as tf

from tfaip_core.device.params import DeviceParams
from tfaip_core.errors import ConfigError
from tfaip_core.util.logging import logger, silenced_native_stderr

log = logger("device")
# One strategy per kind and devices for the life of the process: a second MirroredStrategy over the same devices
# numbers its collective operations from the start again and collides with the first one's (a shape mismatch
# error on the next run in the same process), and TensorFlow allows one MultiWorkerMirroredStrategy per process.
_STRATEGIES: Dict[Tuple[str, Tuple[str, ...]], tf.distribute.Strategy] = {}


def create_strategy(params: DeviceParams) -> tf.distribute.Strategy:
    """Configure the visible devices and return the strategy the trainer runs its steps in.

    Raises:
        ConfigError: a GPU that does not exist, or a device setting TensorFlow no longer accepts in this
            process (its devices were initialised with another configuration).
    """
    params.validate()
    gpus = _select_gpus(params)
    if params.cpu_replicas:
        split_cpu(params.cpu_replicas)
    tf.config.set_soft_device_placement(params.soft_device_placement)
    devices = _compute_devices(params, gpus)
    key = (params.dist_strategy, tuple(devices))
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = _new_strategy(params.dist_strategy, devices)
    log.info(
        "Devices: %d GPU(s)%s; strategy %s with %d replica(s) in sync",
        len(gpus),
        f", {params.cpu_replicas} logical CPUs" if params.cpu_replicas else "",
        type(strategy).__name__,
        strategy.num_replicas_in_sync,
    )
    return strategy


def _new_strategy(kind: str, devices: List[str]) -> tf.distribute.Strategy:
    if kind == "mirror":
        return tf.distribute.MirroredStrategy(devices)
    if kind == "central_storage":
        return tf.distribute.experimental.CentralStorageStrategy(compute_devices=devices)
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _select_gpus(params: DeviceParams) -> List[tf.config.PhysicalDevice]:
    """Make the GPUs of `--device.gpus` the visible ones (none if not asked) and set their memory."""
    with silenced_native_stderr():  # CUDA probing logs an error on machines without a GPU
        gpus = tf.config.list_physical_devices("GPU")
    params.check_gpus(len(gpus))
    indices = params.gpu_indices()
    selected = gpus if indices is None else [gpus[i] for i in indices]
    if gpus:
        _configure("--device.gpus", tf.config.set_visible_devices, selected, "GPU")
    for gpu in selected:
        if params.gpu_memory:
            limit = [tf.config.LogicalDeviceConfiguration(memory_limit=params.gpu_memory)]
            _configure("--device.gpu_memory", tf.config.set_logical_device_configuration, gpu, limit)
        else:
            _configure("memory growth", tf.config.experimental.set_memory_growth, gpu, True)
    return selected


def split_cpu(replicas: int) -> None:
    """Split the (first) CPU into `replicas` logical devices; fine if this process already has exactly that.

    Raises:
        ConfigError: TensorFlow's devices are initialised with another number of logical CPUs.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)
    except RuntimeError:  # the runtime is initialised: acceptable only if the split is already the one asked for
        have = len(tf.config.list_logical_devices("CPU"))
        if have != replicas:
            raise ConfigError(
                f"--device.cpu_replicas {replicas}: TensorFlow in this process already runs with {have} logical "
                "CPU device(s), and devices can be split only before its first operation. Fix: start a new process "
                "(tfaip-train does), or in your own program create the strategy before any other TensorFlow work."
            ) from None


def _compute_devices(params: DeviceParams, gpus: List[tf.config.PhysicalDevice]) -> List[str]:
    """The devices a single-machine strategy mirrors over: the selected GPUs, else the logical CPUs."""
    if gpus:
        return [f"/gpu:{i}" for i in range(len(gpus))]
    return [f"/cpu:{i}" for i in range(max(1, params.cpu_replicas))]


def _configure(what: str, apply: Callable[..., None], *args: Any) -> None:
    """Apply one device setting; TensorFlow refusing it (devices already initialised) keeps the existing one."""
    try:
        apply(*args)
    except RuntimeError as e:
        log.warning("%s cannot be applied in this process (%s); the devices keep their configuration", what, e)
