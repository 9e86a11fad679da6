"""`Callback` with Keras hook names, and `CallbackList` that calls them in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional

if TYPE_CHECKING:
    from tfaip_core.trainer.trainer import Trainer

Logs = Dict[str, float]
BatchLogs = Mapping[str, float]  # the running values during an epoch, read from the device on first access


class LazyLogs(Mapping[str, float]):
    """The running loss and metrics after a compiled call, fetched from the device only if a callback reads them.

    Why: reading the metrics is a host synchronisation (and a few small ops) after every compiled call; with
    the progress bar off (or between its redraws) no callback needs them, and the loop runs on uninterrupted.
    """

    def __init__(self, read: Callable[[], Logs]):
        self._read = read
        self._values: Optional[Logs] = None

    def _logs(self) -> Logs:
        if self._values is None:
            self._values = self._read()
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._logs()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._logs())

    def __len__(self) -> int:
        return len(self._logs())

    def __repr__(self) -> str:
        return f"LazyLogs({self._logs()!r})"


class Callback:
    """Something that happens at fixed points of training.

    Hooks are those of Keras (`on_train_begin`, `on_epoch_begin`, `on_train_batch_end`,
    `on_epoch_end`, `on_train_end`), plus `close`, which runs at the end of `fit` even after an
    error. A stateful callback returns its state from `get_state` (JSON-serialisable) and takes it
    back in `set_state`; the state goes into every checkpoint so that a resumed run continues where
    it stopped.
    """

    trainer: Trainer

    def set_trainer(self, trainer: Trainer) -> None:
        self.trainer = trainer

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        pass

    def on_train_batch_end(self, step: int, logs: Optional[BatchLogs] = None) -> None:
        """Called after each compiled call (every `steps_per_execution` steps); `step` counts in the epoch.

        `logs` holds the epoch's running loss and metrics; they are read from the device when first accessed
        (so a callback that does not need them costs no synchronisation).
        """

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        pass

    def on_train_end(self, logs: Optional[Logs] = None) -> None:
        pass

    def close(self) -> None:
        """Release what the callback opened (files, writers). Called once at the end, also after an error."""

    def get_state(self) -> Dict[str, Any]:
        return {}

    def set_state(self, state: Dict[str, Any]) -> None:
        pass


class CallbackList(Callback):
    """Calls each hook on every callback, in the order given."""

    def __init__(self, callbacks: List[Callback]):
        self.callbacks = callbacks

    def set_trainer(self, trainer: Trainer) -> None:
        for c in self.callbacks:
            c.set_trainer(trainer)

    def on_train_begin(self, logs: Optional[Logs] = None) -> None:
        for c in self.callbacks:
            c.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: Optional[Logs] = None) -> None:
        for c in self.callbacks:
            c.on_epoch_begin(epoch, logs)

    def on_train_batch_end(self, step: int, logs: Optional[BatchLogs] = None) -> None:
        for c in self.callbacks:
            c.on_train_batch_end(step, logs)

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        for c in self.callbacks:
            c.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: Optional[Logs] = None) -> None:
        for c in self.callbacks:
            c.on_train_end(logs)

    def close(self) -> None:
        """Close every callback, even when one of them fails (the first error is raised after all ran)."""
        error: Optional[BaseException] = None
        for c in self.callbacks:
            try:
                c.close()
            except Exception as e:  # noqa: BLE001 - close the others first
                error = error or e
        if error is not None:
            raise error

    def get_state(self) -> Dict[str, Any]:
        """States of the stateful callbacks, keyed by class name."""
        return {type(c).__name__: s for c in self.callbacks if (s := c.get_state())}

    def set_state(self, state: Dict[str, Any]) -> None:
        for c in self.callbacks:
            if type(c).__name__ in state:
                c.set_state(state[type(c).__name__])
