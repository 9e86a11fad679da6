"""Stop requests wait for a safe point inside the loop, act at once outside it, and never twice."""

from __future__ import annotations

import pytest

from tfaip_core.util import stop


class _Stop(KeyboardInterrupt):
    pass


@pytest.fixture(autouse=True)
def _fresh() -> None:
    stop.reset()


def test_outside_the_loop_a_request_raises_at_once() -> None:
    with pytest.raises(_Stop):
        stop.request_stop(_Stop())


def test_inside_the_loop_a_request_waits_for_check_stop() -> None:
    reached = []
    with pytest.raises(_Stop):
        with stop.deferred_stops():
            stop.request_stop(_Stop())  # e.g. while TensorFlow traces a function: nothing raised there
            reached.append("after the request")
            stop.check_stop()
            reached.append("after check_stop")
    assert reached == ["after the request"]


def test_a_pending_request_is_raised_when_the_loop_ends() -> None:
    with pytest.raises(_Stop):
        with stop.deferred_stops():
            stop.request_stop(_Stop())
    stop.check_stop()  # nothing left pending


def test_a_second_request_while_one_is_pending_raises_at_once() -> None:
    with stop.deferred_stops():
        stop.request_stop(_Stop())
        with pytest.raises(KeyboardInterrupt) as raised:
            stop.request_stop(KeyboardInterrupt())
        assert type(raised.value) is KeyboardInterrupt


def test_requests_after_a_raised_stop_are_ignored_until_reset() -> None:
    with pytest.raises(_Stop):
        stop.request_stop(_Stop())
    stop.request_stop(_Stop())  # during the clean-up: ignored
    stop.reset()
    with pytest.raises(_Stop):
        stop.request_stop(_Stop())
