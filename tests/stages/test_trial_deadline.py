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
