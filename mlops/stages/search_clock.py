"""When a budgeted search stops, as the driver decides it, readable by its trials wherever they run.

A search whose budget covers the whole apply stops before its deadline by what the refit of the best trial
so far will take, an estimate the driver's stopper revises with every result (stages.tune._RefitEstimate).
Tune's end of the experiment asks each trial's actor to stop and waits up to 5 s for a trial in the middle of
a fit (its stop is queued behind the fit): measured on interactions_20k, 4.0 s between the stopper's decision
and Tuner.fit returning, trials fitting on to the deadline they were given at the start. With the stop time
published here, a trial waiting on its fit (stages.trial.by_deadline) gives up at the same moment as the
stopper. The time is kept in Ray's key-value store on the GCS, which every node of the cluster reads (a
few hundred microseconds per read).
"""
from __future__ import annotations

import uuid

NAMESPACE = "mlops"
MOVED_S = 0.05  # the driver writes the stop time again when it moved by more than this


class SearchClock:
    """One search's stop time (wall clock): `publish` from the driver's stopper, `stop_at` from its trials."""

    def __init__(self, key: str | None = None) -> None:
        self.key = key or f"search-stop:{uuid.uuid4().hex}"
        self._published: float | None = None

    def publish(self, stop_at: float) -> None:
        if self._published is not None and abs(stop_at - self._published) <= MOVED_S:
            return
        from ray.experimental.internal_kv import _internal_kv_put

        _internal_kv_put(self.key, repr(stop_at).encode(), overwrite=True, namespace=NAMESPACE)
        self._published = stop_at

    def stop_at(self) -> float | None:
        """The published stop time, None before the first (or where the store cannot be read: a trial then
        keeps to the deadline it was given)."""
        try:
            from ray.experimental.internal_kv import _internal_kv_get

            value = _internal_kv_get(self.key, namespace=NAMESPACE)
        except Exception:  # noqa: BLE001 - a lost read only costs the old behaviour (the given deadline)
            return None
        return float(value) if value else None

    def close(self) -> None:
        try:
            from ray.experimental.internal_kv import _internal_kv_del

            _internal_kv_del(self.key, namespace=NAMESPACE)
        except Exception:  # noqa: BLE001 - a leftover key of a few bytes, in a namespace nothing lists
            pass


def stop_time(deadline: float | None, key: str | None) -> float | None:
    """The earlier of a trial's deadline and its search's published stop time (`key`: the SearchClock's)."""
    if deadline is None or key is None:
        return deadline
    published = SearchClock(key).stop_at()
    return deadline if published is None else min(deadline, published)
