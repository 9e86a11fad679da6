"""Early stopping: a pure decision function (`decide`) and the thin callback that applies it.

Semantics (the model's `Monitor` gives the value and the mode; `EarlyStoppingParams` the rest):

- Epochs without the monitored value (no validation) are skipped: they are no check and do not count.
- Of the validated epochs, only every `frequency`-th one is a check; the others change nothing
  but the count of validated epochs.
- Thresholds, mode max: below `lower_threshold` early stopping has not started (no counting);
  at or above `upper_threshold` training stops at once. Mode min, mirrored: counting starts once
  the value is <= `upper_threshold`; training stops at once when it is <= `lower_threshold`.
  Once started, early stopping stays started even if the value falls back.
- After it started, a check whose value does not beat the best by more than `min_delta` counts as
  one check without improvement; `n_to_go` of them in a row stop training (`n_to_go` -1: never).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from tfaip_core.trainer.callbacks.base import Callback, Logs
from tfaip_core.trainer.early_stopping_params import EarlyStoppingParams
from tfaip_core.trainer.monitor import Monitor
from tfaip_core.util.logging import logger

log = logger("trainer")


@dataclass(frozen=True)
class EarlyStoppingState:
    """What early stopping remembers between epochs; stored in every checkpoint.

    `best`: the best value seen since early stopping started (None before). `wait`: checks in a
    row without improvement. `started`: whether the start threshold was reached (always True
    without one). `validations`: validated epochs seen, which `frequency` is applied to.
    """

    best: Optional[float] = None
    wait: int = 0
    started: bool = False
    validations: int = 0

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable dict (the callback's checkpoint state)."""
        return dataclasses.asdict(self)

    @staticmethod
    def from_dict(state: Dict[str, Any]) -> EarlyStoppingState:
        """The state written by `to_dict`; missing keys take their defaults."""
        best = state.get("best")
        return EarlyStoppingState(
            best=None if best is None else float(best),
            wait=int(state.get("wait", 0)),
            started=bool(state.get("started", False)),
            validations=int(state.get("validations", 0)),
        )


def thresholds(mode: str, params: EarlyStoppingParams) -> Tuple[Optional[float], Optional[float]]:
    """(start threshold, stop threshold) for `mode`: max uses (lower, upper), min the mirror (upper, lower)."""
    if mode == "max":
        return params.lower_threshold, params.upper_threshold
    return params.upper_threshold, params.lower_threshold


def decide(
    state: EarlyStoppingState, value: Optional[float], monitor: Monitor, params: EarlyStoppingParams
) -> Tuple[EarlyStoppingState, bool, str]:
    """One epoch's decision: (new state, whether to stop training now, the reason in words).

    Pure: `state` is not changed and nothing is logged. `value` is the epoch's monitored value
    (None: this epoch was not validated). `monitor` gives the name and the mode; the improvement
    margin is `params.min_delta` (it wins over `monitor.min_delta`). See the module docstring for
    the rules.
    """
    name = monitor.name
    if value is None:
        return state, False, f"no {name} this epoch (not validated); not a check"
    validations = state.validations + 1
    state = dataclasses.replace(state, validations=validations)
    if validations % params.frequency != 0:
        return state, False, f"validation {validations} is not a check (every {params.frequency})"

    start_at, stop_at = thresholds(monitor.mode, params)
    if stop_at is not None and monitor.reached(value, stop_at):
        side = "upper" if monitor.mode == "max" else "lower"
        return state, True, f"{name} = {value:.6g} reached the {side} threshold {stop_at:.6g}"

    if not state.started:
        if start_at is not None and not monitor.reached(value, start_at):
            side = "lower" if monitor.mode == "max" else "upper"
            reason = f"{name} = {value:.6g} has not reached the {side} threshold {start_at:.6g}; not counting"
            return state, False, reason
        state = dataclasses.replace(state, started=True)

    # The params' margin is the one the user set with --early_stopping.min_delta.
    judge = dataclasses.replace(monitor, min_delta=params.min_delta)
    if judge.is_improvement(value, state.best):
        previous = "none" if state.best is None else f"{state.best:.6g}"
        return dataclasses.replace(state, best=value, wait=0), False, f"{name} improved from {previous} to {value:.6g}"

    wait = state.wait + 1
    state = dataclasses.replace(state, wait=wait)
    best = "none" if state.best is None else f"{state.best:.6g}"  # None only if every value so far was NaN
    if params.n_to_go > 0 and wait >= params.n_to_go:
        checks = "check" if wait == 1 else "checks"
        return state, True, f"no improvement of {name} for {wait} {checks} (best {best}, last {value:.6g})"
    limit = f" of {params.n_to_go}" if params.n_to_go > 0 else ""
    return state, False, f"no improvement of {name} ({value:.6g}, best {best}): {wait}{limit} checks"


class EarlyStoppingCallback(Callback):
    """Stops training (`trainer.stop_training`) when `decide` says so, and logs why.

    It runs before the best-model and checkpoint callbacks, and the trainer breaks only after
    all epoch-end callbacks: the stopping epoch is still kept as best model and checkpointed.
    """

    def __init__(self, params: EarlyStoppingParams, monitor: Monitor):
        self.params = params
        self.monitor = monitor
        self.state = EarlyStoppingState()

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        self.state, stop, reason = decide(self.state, self.monitor.value(logs), self.monitor, self.params)
        if stop:
            log.info("Early stopping after epoch %d: %s", epoch + 1, reason)
            self.trainer.stop_training = True
        else:
            log.debug("Early stopping, epoch %d: %s", epoch + 1, reason)

    def get_state(self) -> Dict[str, Any]:
        return self.state.to_dict()

    def set_state(self, state: Dict[str, Any]) -> None:
        self.state = EarlyStoppingState.from_dict(state)
