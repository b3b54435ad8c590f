"""The plan's why-changed reasons quote long values by their ends: two paths that differ only in the file name
still read as different."""
from __future__ import annotations

from mlops.runtime.incremental import _changes


def test_two_long_paths_that_differ_at_the_end_read_as_different():
    old = "/data/exports/2026/customer-churn-monthly-snapshots/region-north/part-0001.csv"
    reasons = _changes({"source": {"path": old}}, {"source": {"path": old.replace("0001", "0002")}})
    assert len(reasons) == 1 and reasons[0].startswith("source.path: '/data/exports/"), reasons
    before, after = reasons[0].split(" -> ")
    assert before.endswith("part-0001.csv'") and after.endswith("part-0002.csv'") and "..." in after, reasons
