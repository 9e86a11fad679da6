"""Parameters of early stopping (`--early_stopping.*`)."""

import math
from dataclasses import dataclass, field
from typing import Optional

from paiargparse import pai_dataclass, pai_meta

from tfaip_core.errors import ConfigError


@pai_dataclass
@dataclass
class EarlyStoppingParams:
    """Stop training when the model's monitored value stops improving.

    The monitored value and its mode (min/max) come from the model (`ModelBase.monitor`).
    Thresholds, for mode max (for min read them mirrored): while the value is below
    `lower_threshold` early stopping does not count; once it reaches `upper_threshold`
    training stops at once.
    """

    n_to_go: int = field(
        default=-1,
        metadata=pai_meta(
            help="Stop after this many evaluations without improvement of the monitored value (-1: off). "
            "Defaults to -1."
        ),
    )
    frequency: int = field(
        default=1,
        metadata=pai_meta(help="Check every N validated epochs. Defaults to 1."),
    )
    lower_threshold: Optional[float] = field(
        default=None,
        metadata=pai_meta(
            help="Mode max: early stopping starts only once the value reaches this; mode min: training stops at once "
            "when the value reaches it (None: off). Defaults to None."
        ),
    )
    upper_threshold: Optional[float] = field(
        default=None,
        metadata=pai_meta(
            help="Mode max: training stops at once when the value reaches this; mode min: early stopping starts only "
            "once the value is at or below it (None: off). Defaults to None."
        ),
    )
    min_delta: float = field(
        default=0.0,
        metadata=pai_meta(help="Smallest change that counts as an improvement. Defaults to 0.0."),
    )

    def validate(self) -> None:
        """Raise `ConfigError` naming the first field that cannot work."""
        if self.n_to_go == 0 or self.n_to_go < -1:
            raise ConfigError(
                f"--early_stopping.n_to_go must be -1 (off) or >= 1; got {self.n_to_go}. Fix: pass -1 or a count."
            )
        if self.frequency < 1:
            raise ConfigError(f"--early_stopping.frequency must be >= 1; got {self.frequency}. Fix: pass 1 or more.")
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise ConfigError(
                f"--early_stopping.min_delta must be a finite number >= 0; got {self.min_delta}. Fix: e.g. 0.001."
            )
        for name in ("lower_threshold", "upper_threshold"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise ConfigError(
                    f"--early_stopping.{name} must be a finite number or None; got {value}. Fix: pass a number or None."
                )
        if (
            self.lower_threshold is not None
            and self.upper_threshold is not None
            and self.lower_threshold > self.upper_threshold
        ):
            raise ConfigError(
                f"--early_stopping.lower_threshold ({self.lower_threshold}) must not exceed "
                f"--early_stopping.upper_threshold ({self.upper_threshold})."
            )
