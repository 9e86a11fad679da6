"""`StepsPerCall`: how many training steps one compiled call runs (`--trainer.steps_per_execution`, 0: automatic).

Each compiled call has a fixed cost besides its steps (the call, the loop's set-up, reading back its result):
about 1-2 ms on 2 CPU cores. With a small model that is a large share of a call of 16 steps: the tutorial MLP
at batch size 16 ran 1,226 µs a step in calls of 16 steps and 1,098 µs in calls of 64 (Keras' `fit` gains alike:
1,222 → 1,119 µs). A long call, on the other hand, delays what happens between calls (the progress bar,
Ctrl-C, a step-based checkpoint waits for its step, never more). So the automatic choice measures the time of
a step and runs calls of about `TARGET_SECONDS`.
"""

from __future__ import annotations

import math
import statistics
from typing import List

from tfaip_core.util.logging import logger

log = logger("trainer")

INITIAL = 16  # steps per call until the time of a step is known
TARGET_SECONDS = 0.2  # the length of a call the automatic choice aims at
MOST = 1024
MEASURED_CALLS = 5  # calls timed for the choice, after the first (which traces the function)


class StepsPerCall:
    """The steps of the next compiled call: `fixed` if given (> 0), else chosen once from measured calls.

    Args:
        fixed: `--trainer.steps_per_execution` (0: automatic).
        steps_per_epoch: An epoch's steps (no call runs more).
        tune: Whether the automatic choice may change the initial 16 (off while profiling, which starts and stops
            at call boundaries, and on several workers, which must run the same calls).
    """

    def __init__(self, fixed: int, steps_per_epoch: int, tune: bool = True) -> None:
        self.value = fixed if fixed > 0 else min(INITIAL, steps_per_epoch)
        self._steps_per_epoch = steps_per_epoch
        self._tuning = fixed <= 0 and tune
        self._calls = 0
        self._step_seconds: List[float] = []

    def record(self, steps: int, seconds: float) -> None:
        """A call ran `steps` steps in `seconds` (wall time, its result read back)."""
        if not self._tuning or steps <= 0:
            return
        self._calls += 1
        if self._calls == 1:
            return  # the first call traces the function
        self._step_seconds.append(seconds / steps)
        if len(self._step_seconds) < MEASURED_CALLS:
            return
        self._tuning = False
        step = statistics.median(self._step_seconds)
        chosen = 2 ** int(math.floor(math.log2(max(1.0, TARGET_SECONDS / step)))) if step > 0 else MOST
        chosen = max(1, min(MOST, self._steps_per_epoch, chosen))
        if chosen != self.value:
            log.info(
                "Steps per compiled call: %d (a step takes %.2f ms; calls of about %.1f s; "
                "--trainer.steps_per_execution sets it)",
                chosen,
                step * 1e3,
                TARGET_SECONDS,
            )
        self.value = chosen
