"""The one helper that decides whether a monitored value improved (best model, early stopping)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Optional

from tfaip_core.errors import ConfigError


@dataclass
class Monitor:
    """A value to watch in the epoch logs (`name`) and which direction is better (`mode`)."""

    name: str
    mode: str = "min"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ConfigError(f"Monitor mode must be 'min' or 'max'; got {self.mode!r}.")

    def worst(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def is_improvement(self, current: float, best: Optional[float]) -> bool:
        """Whether `current` beats `best` by more than `min_delta` (any finite value beats None)."""
        if current is None or math.isnan(current):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return current < best - self.min_delta
        return current > best + self.min_delta

    def reached(self, current: float, threshold: float) -> bool:
        """Whether `current` is at least as good as `threshold`."""
        return current <= threshold if self.mode == "min" else current >= threshold

    def value(self, logs: Mapping[str, float]) -> Optional[float]:
        """The monitored value in `logs`, or None when this epoch has none (e.g. no validation)."""
        value = logs.get(self.name)
        return None if value is None else float(value)
