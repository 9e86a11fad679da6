"""Device and distribution parameters (`--device.*`)."""

from dataclasses import dataclass, field
from typing import List

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError

STRATEGIES = ("default", "mirror", "multi_worker")


@pai_dataclass
@dataclass
class DeviceParams:
    """Which devices to use and how to distribute over them."""

    gpus: List[int] = field(
        default_factory=list,
        metadata=pai_meta(help="GPU indices to use (empty: all visible GPUs, or the CPU if none). Defaults to []."),
    )
    dist_strategy: str = field(
        default="default",
        metadata=pai_meta(
            help="tf.distribute strategy: default (one device), mirror (all local devices), multi_worker "
            "(MultiWorkerMirroredStrategy configured by TF_CONFIG). Defaults to default.",
            choices=list(STRATEGIES),
        ),
    )
    soft_device_placement: bool = field(
        default=True, metadata=pai_meta(help="Let TensorFlow place ops where a kernel exists. Defaults to True.")
    )

    def validate(self) -> None:
        """Raise `ConfigError` for values that cannot work on any machine (see `check_gpus` for this one)."""
        if self.dist_strategy not in STRATEGIES:
            raise ConfigError(
                f"--device.dist_strategy must be one of {', '.join(STRATEGIES)}; got {self.dist_strategy!r}. "
                "Fix: choose one of them."
            )
        if any(i < 0 for i in self.gpus) or len(set(self.gpus)) != len(self.gpus):
            raise ConfigError(
                f"--device.gpus must be distinct GPU indices >= 0; got {self.gpus}. Fix: e.g. --device.gpus 0 1."
            )

    def check_gpus(self, available: int) -> None:
        """Raise `ConfigError` if `--device.gpus` names a GPU this machine does not have.

        Called with the number of GPUs TensorFlow sees when the strategy is created (this module stays free of
        TensorFlow), so that `--device.gpus 3` on a machine with fewer GPUs fails instead of silently using the CPU.
        """
        missing = [i for i in self.gpus if i >= available]
        if missing:
            have = f"GPUs 0-{available - 1}" if available > 1 else "GPU 0" if available == 1 else "no GPU"
            raise ConfigError(
                f"--device.gpus {' '.join(map(str, self.gpus))}: this machine has {have} (visible to TensorFlow); "
                f"got index {missing[0]}. Fix: "
                + ("drop --device.gpus to train on the CPU." if available == 0 else f"pass indices < {available}.")
            )
