"""Stop requests (Ctrl-C, SIGTERM) that take effect at safe points of the training loop.

A signal handler that raises at once can land inside TensorFlow's C++ code (tracing a function,
writing an export) and turn into a `RuntimeError` with a traceback instead of a clean stop. So the
command-line programs route SIGINT and SIGTERM through `request_stop`: inside `deferred_stops()`
(the training loop) the stop is recorded and raised at the loop's next `check_stop()` (after each
compiled call, each validation batch, each epoch); outside it, it is raised at once. A second
request while one is pending is raised at once, so an impatient second Ctrl-C still works; once a
stop has been raised, further requests are ignored so that they do not cut the clean-up short.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Optional

_depth = 0
_pending: Optional[BaseException] = None
_raised = False


def reset() -> None:
    """Forget earlier requests (at the start of a program run)."""
    global _pending, _raised
    _pending, _raised = None, False


def request_stop(error: BaseException) -> None:
    """Called from a signal handler: raise `error` now, or at the next `check_stop()` inside the loop."""
    global _pending
    if _raised:
        return
    if _depth == 0 or _pending is not None:
        _raise(error)
    _pending = error


def check_stop() -> None:
    """Raise the pending stop request, if any (call at points where stopping is safe)."""
    if _pending is not None:
        _raise(_pending)


def _raise(error: BaseException) -> None:
    global _pending, _raised
    _pending, _raised = None, True
    raise error


@contextlib.contextmanager
def deferred_stops() -> Iterator[None]:
    """Inside the block stop requests wait for `check_stop()`; a request still pending at its end is raised."""
    global _depth
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _pending is not None:
            _raise(_pending)
