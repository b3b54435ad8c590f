"""Traffic numbers per live version, for rollout decisions: requests, model errors, latency, a sample of the
predictions and (for a shadow) agreement with the champion on the same rows. Counted under the routing
table's epoch that picked the version, so a step's numbers are that step's alone.

Replicas count into a `VersionDelta` (plain dicts, no I/O) and ship it with their traffic delta; the monitor
merges deltas into `VersionStats` and answers `summary(epoch)` under /stats' `versions`.
"""
from __future__ import annotations

import random
from typing import Any, Optional

from mlops.serving.window import empty_histogram, latency_bin, percentile

SAMPLE = 2000  # numeric predictions kept per version and epoch (a reservoir): enough for a KS distance
EPOCHS_KEPT = 4


def _counts() -> dict[str, Any]:
    return {"requests": 0, "errors": 0, "rows": 0, "latency": {}, "classes": {}, "values": [], "seen_values": 0,
            "shadow_rows": 0, "agree_rows": 0, "abs_diff": 0.0}


def _add_latency(histogram: dict[int, int], ms: float) -> None:
    index = latency_bin(ms)
    histogram[index] = histogram.get(index, 0) + 1


def _add_predictions(counts: dict[str, Any], predictions: Any, categorical: bool) -> None:
    """Class counts (exact), or a reservoir sample of numbers (bounded)."""
    if categorical:
        classes = counts["classes"]
        for value in predictions:
            key = str(value)
            classes[key] = classes.get(key, 0) + 1
        return
    values = counts["values"]
    for value in predictions:
        counts["seen_values"] += 1
        if len(values) < SAMPLE:
            values.append(float(value))
        else:
            slot = random.randrange(counts["seen_values"])
            if slot < SAMPLE:
                values[slot] = float(value)


class VersionDelta:
    """One replica's per-version numbers since its last flush: (epoch, version) -> counts."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, str], dict[str, Any]] = {}

    def _at(self, epoch: int, version: str) -> dict[str, Any]:
        key = (epoch, version)
        if key not in self.entries:
            self.entries[key] = _counts()
        return self.entries[key]

    def answered(self, epoch: int, version: str, ms: float) -> None:
        """One request answered by `version`, in `ms`."""
        counts = self._at(epoch, version)
        counts["requests"] += 1
        _add_latency(counts["latency"], ms)

    def failed(self, epoch: int, version: str) -> None:
        """One request `version` failed to answer (the model raised: a 500)."""
        self._at(epoch, version)["errors"] += 1

    def predicted(self, epoch: int, version: str, predictions: Any, categorical: bool) -> None:
        """The predictions of one model call of `version` (answered, or scored in shadow)."""
        counts = self._at(epoch, version)
        counts["rows"] += len(predictions)
        _add_predictions(counts, predictions, categorical)

    def shadowed(self, epoch: int, version: str, requests: int, rows: int, agree: int, abs_diff: float, ms: float) -> None:
        """A shadow call of `version` on the rows of `requests` the champion answered: how many answers
        agreed, the summed absolute difference (numbers) and the call's time (each request's latency)."""
        counts = self._at(epoch, version)
        counts["requests"] += requests
        counts["shadow_rows"] += rows
        counts["agree_rows"] += agree
        counts["abs_diff"] += abs_diff
        for _ in range(requests):
            _add_latency(counts["latency"], ms)

    def empty(self) -> bool:
        """Nothing counted since the last flush."""
        return not self.entries


class VersionStats:
    """The monitor's merge of every replica's VersionDelta, for the last EPOCHS_KEPT epochs."""

    def __init__(self) -> None:
        self.epochs: dict[int, dict[str, dict[str, Any]]] = {}

    def add(self, delta: Optional[VersionDelta]) -> None:
        """Merge one replica's delta."""
        if delta is None:
            return
        for (epoch, version), part in delta.entries.items():
            counts = self.epochs.setdefault(epoch, {}).setdefault(version, _counts())
            for key in ("requests", "errors", "rows", "shadow_rows", "agree_rows", "abs_diff"):
                counts[key] += part[key]
            for key in ("latency", "classes"):
                for index, n in part[key].items():
                    counts[key][index] = counts[key].get(index, 0) + n
            counts["seen_values"] += part["seen_values"]
            counts["values"] = (counts["values"] + part["values"])[-SAMPLE:]
        for old in sorted(self.epochs)[:-EPOCHS_KEPT]:
            del self.epochs[old]

    def summary(self, epoch: Optional[int] = None) -> dict[str, Any]:
        """Per version, for `epoch` (default: the newest seen): requests, errors, error rate, p50/p99 latency,
        the prediction distribution (class counts or a numeric sample) and, for a shadow, agreement."""
        if not self.epochs:
            return {"epoch": epoch, "by_version": {}}
        epoch = max(self.epochs) if epoch is None else epoch
        return {"epoch": epoch, "by_version": {v: version_summary(c) for v, c in self.epochs.get(epoch, {}).items()}}


def version_summary(counts: dict[str, Any]) -> dict[str, Any]:
    """One version's numbers, as /stats answers them."""
    histogram = empty_histogram()
    for index, n in counts["latency"].items():
        histogram[int(index)] += n
    answered = counts["requests"] + counts["errors"]
    out = {"requests": answered, "errors": counts["errors"], "rows": counts["rows"],
           "error_rate": counts["errors"] / answered if answered else 0.0,
           "latency_p50_ms": percentile(histogram, 50), "latency_p99_ms": percentile(histogram, 99),
           "classes": dict(counts["classes"]) or None, "values": list(counts["values"]) or None}
    if counts["shadow_rows"]:
        out.update(shadow_rows=counts["shadow_rows"], agreement=counts["agree_rows"] / counts["shadow_rows"],
                   mean_abs_diff=counts["abs_diff"] / counts["shadow_rows"])
    return out
