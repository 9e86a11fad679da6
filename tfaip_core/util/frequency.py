"""The one helper that decides "is it time": every N epochs, every N steps, or every S seconds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Dict, Optional

from tfaip_core.errors import ConfigError


@dataclass
class Frequency:
    """A cadence given in exactly one unit (epochs, steps or seconds).

    Args:
        every_n_epochs: due at the end of every N-th epoch. Defaults to None.
        every_n_steps: due whenever the global step reaches a multiple of N. Defaults to None.
        every_secs: due once S seconds have passed since it was last due. Defaults to None.
        names: flag names used in the error when more than one unit is set.
    """

    every_n_epochs: Optional[int] = None
    every_n_steps: Optional[int] = None
    every_secs: Optional[float] = None
    names: Dict[str, str] = field(default_factory=dict)
    _last_time: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        given = {
            k: v
            for k, v in (
                ("every_n_epochs", self.every_n_epochs),
                ("every_n_steps", self.every_n_steps),
                ("every_secs", self.every_secs),
            )
            if v is not None and v > 0
        }
        if len(given) > 1:
            flags = " and ".join(self.names.get(k, k) for k in given)
            raise ConfigError(f"{flags} conflict: set only one of them. Fix: remove all but one.")

    def steps_until_due(self, step: int) -> Optional[int]:
        """Steps from `step` to the next step-based due point (None if not step-based)."""
        if self.every_n_steps and self.every_n_steps > 0:
            return self.every_n_steps - step % self.every_n_steps
        return None

    def due(self, *, step: int, epoch: int, epoch_end: bool) -> bool:
        """Whether it is time now, after global step `step` (and, if `epoch_end`, after epoch `epoch`, 1-based)."""
        if self.every_n_steps and self.every_n_steps > 0:
            return step > 0 and step % self.every_n_steps == 0
        if self.every_secs and self.every_secs > 0:
            if time.monotonic() - self._last_time >= self.every_secs:
                return True
            return False
        n = self.every_n_epochs or 1
        return epoch_end and epoch % n == 0

    def mark(self) -> None:
        """Record that the event happened now (for the seconds-based cadence)."""
        self._last_time = time.monotonic()
