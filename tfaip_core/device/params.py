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
        if self.dist_strategy not in STRATEGIES:
            raise ConfigError(
                f"--device.dist_strategy must be one of {', '.join(STRATEGIES)}; got {self.dist_strategy!r}."
            )
