"""Turn `DeviceParams` into a `tf.distribute` strategy."""

from __future__ import annotations

import tensorflow as tf

from tfaip_core.device.params import DeviceParams
from tfaip_core.util.logging import logger, silenced_native_stderr

log = logger("device")


def create_strategy(params: DeviceParams) -> tf.distribute.Strategy:
    """Configure the visible devices and return the strategy the trainer runs its steps in."""
    params.validate()
    with silenced_native_stderr():  # CUDA probing logs an error on machines without a GPU
        gpus = tf.config.list_physical_devices("GPU")
    params.check_gpus(len(gpus))
    if params.gpus:
        selected = [gpus[i] for i in params.gpus]
        tf.config.set_visible_devices(selected, "GPU")
        gpus = selected
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: keep the existing configuration
            pass
    tf.config.set_soft_device_placement(params.soft_device_placement)
    if params.dist_strategy == "mirror":
        strategy: tf.distribute.Strategy = tf.distribute.MirroredStrategy()
    elif params.dist_strategy == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    log.info(
        "Devices: %d GPU(s); strategy %s with %d replica(s)",
        len(gpus),
        type(strategy).__name__,
        strategy.num_replicas_in_sync,
    )
    return strategy
