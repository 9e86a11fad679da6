"""Device and distribution parameters (`--device.*`)."""

from dataclasses import dataclass, field
from typing import List, Optional

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError

STRATEGIES = ("default", "mirror", "central_storage", "multi_worker")
ALL_GPUS = "all"


@pai_dataclass
@dataclass
class DeviceParams:
    """Which devices to use and how to distribute the training steps over them (see docs/distributed.md)."""

    gpus: List[str] = field(
        default_factory=list,
        metadata=pai_meta(
            help="GPU indices to use, e.g. 0 1, or 'all' for every visible GPU (empty: no GPU, train on the CPU). "
            "Defaults to []."
        ),
    )
    gpu_memory: int = field(
        default=0,
        metadata=pai_meta(
            help="Memory in MB each selected GPU may use (0: grow as needed instead of taking all). Defaults to 0."
        ),
    )
    dist_strategy: str = field(
        default="default",
        metadata=pai_meta(
            help="tf.distribute strategy: default (one device), mirror (all selected GPUs, or the logical CPUs of "
            "--device.cpu_replicas), central_storage (like mirror, variables on the CPU), multi_worker "
            "(MultiWorkerMirroredStrategy over the machines of TF_CONFIG). Defaults to default.",
            choices=list(STRATEGIES),
        ),
    )
    cpu_replicas: int = field(
        default=0,
        metadata=pai_meta(
            help="Split the CPU into N logical devices, one replica each, for mirror or central_storage without "
            "GPUs (for testing distribution on a CPU; 0: the CPU is one device). Defaults to 0."
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
        self.gpu_indices()
        if self.gpu_memory < 0:
            raise ConfigError(
                f"--device.gpu_memory must be a number of MB >= 0 (0: grow as needed); got {self.gpu_memory}. "
                "Fix: e.g. --device.gpu_memory 4096."
            )
        if self.gpu_memory and not self.gpus:
            raise ConfigError(
                f"--device.gpu_memory {self.gpu_memory} has no effect without a GPU; got no --device.gpus. "
                "Fix: select GPUs with --device.gpus 0 (or all), or drop --device.gpu_memory."
            )
        if self.cpu_replicas < 0:
            raise ConfigError(
                f"--device.cpu_replicas must be >= 0 (0: off); got {self.cpu_replicas}. Fix: e.g. "
                "--device.cpu_replicas 2."
            )
        if self.cpu_replicas and self.dist_strategy not in ("mirror", "central_storage"):
            raise ConfigError(
                f"--device.cpu_replicas {self.cpu_replicas} takes effect only with --device.dist_strategy mirror or "
                f"central_storage; got {self.dist_strategy}. Fix: add --device.dist_strategy mirror, or drop "
                "--device.cpu_replicas."
            )
        if self.cpu_replicas and self.gpus:
            raise ConfigError(
                f"--device.cpu_replicas splits the CPU for a machine without GPUs; got it with --device.gpus "
                f"{' '.join(self.gpus)}. Fix: drop one of them."
            )

    def gpu_indices(self) -> Optional[List[int]]:
        """The selected GPU indices; None for `all`; [] for none.

        Raises:
            ConfigError: an entry is neither `all` (alone) nor an integer >= 0, or an index repeats.
        """
        values = [str(v).strip() for v in self.gpus]
        if values == [ALL_GPUS]:
            return None
        if any(not v.isdigit() for v in values) or len(set(map(int, values))) != len(values):
            raise ConfigError(
                f"--device.gpus must be distinct GPU indices >= 0 or 'all'; got {' '.join(values)}. "
                "Fix: e.g. --device.gpus 0 1, or --device.gpus all."
            )
        return [int(v) for v in values]

    def check_gpus(self, available: int) -> None:
        """Raise `ConfigError` if `--device.gpus` names a GPU this machine does not have.

        Called with the number of GPUs TensorFlow sees when the strategy is created (this module stays free of
        TensorFlow), so that `--device.gpus 3` on a machine with fewer GPUs fails instead of silently using the CPU.
        """
        indices = self.gpu_indices()
        if indices is None and available == 0:
            raise ConfigError(
                "--device.gpus all: this machine has no GPU (visible to TensorFlow). "
                "Fix: drop --device.gpus to train on the CPU."
            )
        missing = [i for i in indices or [] if i >= available]
        if missing:
            have = f"GPUs 0-{available - 1}" if available > 1 else "GPU 0" if available == 1 else "no GPU"
            raise ConfigError(
                f"--device.gpus {' '.join(map(str, self.gpus))}: this machine has {have} (visible to TensorFlow); "
                f"got index {missing[0]}. Fix: "
                + ("drop --device.gpus to train on the CPU." if available == 0 else f"pass indices < {available}.")
            )
