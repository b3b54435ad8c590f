"""A trial's fit that is still running at the search's deadline is left behind, not awaited."""
from __future__ import annotations

import threading
import time

import pytest

from mlops.stages.trial import OutOfTime, by_deadline


def test_a_fit_past_the_deadline_is_left_at_the_deadline():
    release = threading.Event()
    start = time.monotonic()
    with pytest.raises(OutOfTime):
        by_deadline(time.time() + 0.3, release.wait, 30)  # a "fit" that would take 30 s
    assert time.monotonic() - start < 5  # left at the deadline, far from the fit's own 30 s
    release.set()


def test_a_fit_within_the_deadline_returns_its_value_or_its_error():
    assert by_deadline(time.time() + 30, lambda a, b: a + b, 1, 2) == 3
    assert by_deadline(None, lambda: "no budget") == "no budget"
    with pytest.raises(ZeroDivisionError):
        by_deadline(time.time() + 30, lambda: 1 / 0)


def test_no_fit_starts_after_the_deadline():
    started = []
    with pytest.raises(OutOfTime):
        by_deadline(time.time() - 1, lambda: started.append(1))
    assert started == []


# As Ray's worker does: SIGTERM raises SystemExit. A trial the budget stopped gets it after Tune's grace, and
# when it lands inside a finalizer (a weakref callback), Python prints it as an "Exception ignored" traceback.
TERMINATED_IN_A_FINALIZER = """
import os, signal, sys
from mlops.stages.trial import _quiet_termination

def like_ray(signum, frame):
    raise SystemExit(1)

signal.signal(signal.SIGTERM, like_ray)
if sys.argv[1] == "trial":
    _quiet_termination()

class Doomed:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(100_000):  # the handler runs here, inside the finalizer
            pass

class Broken:
    def __del__(self):
        raise ValueError("a finalizer's own error")

Doomed()
Broken()
"""


@pytest.mark.parametrize("process", ["trial", "other"])
def test_a_trial_ended_by_the_budget_prints_no_traceback_but_other_finalizer_errors_still_show(process):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", TERMINATED_IN_A_FINALIZER, process], capture_output=True, text=True,
                          timeout=60)
    assert "a finalizer's own error" in done.stderr  # never hidden
    assert ("SystemExit" in done.stderr) == (process == "other"), done.stderr


def test_a_fit_is_left_when_its_search_publishes_an_earlier_stop(ray_local):
    """The stopper of a search whose budget covers the apply stops it before the trials' deadline (by the
    refit's estimate): the trials read that stop time and leave their fits then, so Tune's end of the
    experiment does not wait for them (it waited 4 s on interactions_20k)."""
    from mlops.stages.search_clock import SearchClock

    clock = SearchClock()
    release = threading.Event()
    try:
        start = time.monotonic()
        clock.publish(time.time() + 0.4)
        with pytest.raises(OutOfTime):
            by_deadline(time.time() + 30, release.wait, 30, stop_key=clock.key)
        assert 0.3 < time.monotonic() - start < 3  # left at the published stop, not the 30 s deadline
        clock.publish(time.time() + 30)  # moved later: a fit that ends on its own returns its value
        assert by_deadline(time.time() + 30, lambda: "done", stop_key=clock.key) == "done"
        clock.publish(time.time() - 1)  # already past: no fit starts
        started = []
        with pytest.raises(OutOfTime):
            by_deadline(time.time() + 30, lambda: started.append(1), stop_key=clock.key)
        assert started == []
    finally:
        release.set()
        clock.close()
    assert SearchClock(clock.key).stop_at() is None  # closed: nothing left in Ray's store


def test_a_trial_whose_search_published_nothing_keeps_to_its_deadline(ray_local):
    from mlops.stages.search_clock import SearchClock, stop_time

    key = SearchClock().key
    deadline = time.time() + 30
    assert stop_time(deadline, key) == deadline
    assert stop_time(deadline, None) == deadline
    assert stop_time(None, key) is None
