"""The one helper that decides whether a monitored value improved (best model, early stopping)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

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


class BestValue:
    """The best value of a `Monitor` so far and its epoch; stateful (its state goes into every checkpoint).

    The loop updates it right after validation, before any callback, so that `best_<name>` is in
    the logs every callback sees (metrics.jsonl, TensorBoard) and `improved` tells the best-model
    export whether this epoch is the new best.
    """

    def __init__(self, monitor: Monitor):
        self.monitor = monitor
        self.value: Optional[float] = None
        self.epoch: Optional[int] = None
        self.improved = False

    @property
    def key(self) -> str:
        """The log key of the best value: `best_<monitor name>`."""
        return f"best_{self.monitor.name}"

    def update(self, epoch: int, logs: Mapping[str, float]) -> bool:
        """Take epoch `epoch`'s (1-based) logs; return whether its value is the new best."""
        current = self.monitor.value(logs)
        self.improved = current is not None and self.monitor.is_improvement(current, self.value)
        if self.improved:
            self.value, self.epoch = current, epoch
        return self.improved

    def get_state(self) -> Dict[str, Any]:
        return {"value": self.value, "epoch": self.epoch}

    def set_state(self, state: Mapping[str, Any]) -> None:
        value, epoch = state.get("value"), state.get("epoch")
        self.value = None if value is None else float(value)
        self.epoch = None if epoch is None else int(epoch)
