"""The search's out-of-fold predictions, kept for a stacking ensemble of its best trials.

A trial predicts rows its fits never trained on: with k-fold cross-validation every training row once, with a
hold-out the hold-out's rows. That is what a stacking ensemble learns its combination from (stacking over folds,
blending over a hold-out). Without them the refit computes them again, one fit per member and fold (on digits
11 of the refit's 17.7 s; FLAML and auto-sklearn also reuse their search's predictions). So, when
`model.ensemble.method` is `stacking`, each trial that finishes sends its predictions to a store (a Ray actor,
so trials on any node of a cluster reach it) that keeps the best few; the tune node's outcome carries them,
and the refit hands its members' ones to the stacking (mlops.models.stacking), which computes only those it
lacks.

The predictions are float32, one row per training row in the split's order (NaN for a row the trial did not
predict), with one column per class of the training labels in sorted order (a fold that lacked a class gives it
0), or one value per row for regression. A digest of the labels travels with them: the refit uses them only for
the same rows in the same order.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

KEPT_PER_MEMBER = 3   # trials kept per ensemble member: members skip repeated configurations and other scalings
MAX_BYTES = 64 << 20  # one trial's predictions larger than this are not kept (the refit computes them instead)


@dataclass(frozen=True)
class Kept:
    """One trial's out-of-fold predictions and the digest of the labels they were made for."""

    labels: str
    values: Any


def wanted(params: dict[str, Any]) -> bool:
    """Whether the search keeps its trials' predictions: for a stacking ensemble."""
    return (params["model"].get("ensemble") or {}).get("method") == "stacking"


def labels_digest(y: Any) -> str:
    """The labels' identity, in order (values and dtype alike for a pandas Series or a numpy array)."""
    import hashlib

    import numpy as np
    import pandas as pd

    hashed = pd.util.hash_pandas_object(pd.Series(np.asarray(y)), index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


class Store:
    """The driver's side: a named actor that keeps the best `keep` trials' predictions for one search."""

    def __init__(self, keep: int, greater_is_better: bool) -> None:
        self.name = f"mlops-out-of-fold-{uuid.uuid4().hex}"  # one per search: applies may run side by side
        self._actor = _actor_class().options(name=self.name, num_cpus=0).remote(keep, greater_is_better)

    def take(self) -> dict[str, Kept]:
        """Every kept trial's predictions by trial id; the store ends."""
        import ray

        try:
            return ray.get(self._actor.take.remote())
        finally:
            ray.kill(self._actor)

    def close(self) -> None:
        import ray

        ray.kill(self._actor)


def start(params: dict[str, Any]) -> Store | None:
    """A store for this search's predictions, None when it keeps none (see `wanted`)."""
    from mlops.metrics import METRICS

    if not wanted(params):
        return None
    keep = KEPT_PER_MEMBER * int(params["model"]["ensemble"]["top_k"])
    return Store(keep, METRICS[params["metric"]].greater_is_better)


def _actor_class() -> Any:
    import ray

    @ray.remote
    class OutOfFoldStore:
        def __init__(self, keep: int, greater_is_better: bool) -> None:
            self.keep, self.sign = keep, 1.0 if greater_is_better else -1.0
            self.kept: dict[str, tuple[float, Kept]] = {}

        def put(self, trial_id: str, score: float, kept: Kept) -> None:
            self.kept[trial_id] = (self.sign * score, kept)
            if len(self.kept) > self.keep:
                worst = min(self.kept, key=lambda key: self.kept[key][0])
                del self.kept[worst]

        def take(self) -> dict[str, Kept]:
            return {trial_id: kept for trial_id, (_, kept) in self.kept.items()}

    return OutOfFoldStore


class Collector:
    """A trial's side: its folds' (or its hold-out's) predictions, put together, sent to the store when it ends."""

    def __init__(self, store: str, y: Any, task: str) -> None:
        import numpy as np

        self.store, self.labels = store, labels_digest(y)
        self.classes = np.unique(np.asarray(y)) if task == "classification" else None
        shape = (len(y),) if self.classes is None else (len(y), len(self.classes))
        self.values = np.full(shape, np.nan, dtype=np.float32)
        self.filled = np.zeros(len(y), dtype=bool)
        self.usable = self.values.nbytes <= MAX_BYTES

    def add(self, rows: Any, values: Any, classes: Any = None) -> None:
        """One fold's predictions for its validation `rows`: probabilities over `classes` (the fold's
        fitted classes), or values; None (a classifier without probabilities) makes the trial's unusable."""
        import numpy as np

        if values is None or not self.usable:
            self.usable = False
            return
        if self.classes is None:
            self.values[rows] = values
        else:
            full = np.zeros((len(rows), len(self.classes)), dtype=np.float32)
            full[:, np.searchsorted(self.classes, np.asarray(classes))] = values
            self.values[rows] = full
        self.filled[rows] = True

    def send(self, trial_id: str, score: float) -> None:
        """To the store, after the trial's last fit (waits for the store to have them: the trial's last report
        may end the search)."""
        import ray

        if self.usable and self.filled.any():
            ray.get(ray.get_actor(self.store).put.remote(trial_id, float(score), Kept(self.labels, self.values)))


def for_members(kept: dict[str, Kept], member_ids: list[str], y: Any) -> list[Any] | None:
    """The members' kept predictions, in member order (None for one without), when they were made for labels
    `y`; None when no member has any."""
    if not kept:
        return None
    digest = labels_digest(y)
    given = [kept[m].values if m in kept and kept[m].labels == digest else None for m in member_ids]
    return given if any(v is not None for v in given) else None
