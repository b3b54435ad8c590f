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
