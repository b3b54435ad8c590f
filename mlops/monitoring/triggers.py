"""Retraining triggers: each evaluator looks at the evidence gathered once per `mlops monitor` and says
whether it fires, and why. Registered in mlops.builtin_types (plugins add theirs the same way)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mlops.durations import format_duration
from mlops.plugins import triggers


@dataclass
class Evidence:
    """What the triggers judge: the champion, the data that arrived since it was trained, labels."""

    spec: Any
    champion: Any  # Bundle
    champion_version: Any  # registry ModelVersion
    trained_at: float  # unix time the champion was registered
    new_rows: Any  # DataFrame: every row of retraining.data the champion has not seen, oldest first
    labelled: Any  # DataFrame: inputs + target of recent labelled rows (new data and feedback), oldest first
    drift: Any = None  # DriftReport of new_rows vs the champion's reference (computed when a trigger needs it)
    now: float = field(default_factory=time.time)


@dataclass
class TriggerResult:
    on: str
    fired: bool
    reason: str
    value: float | None = None  # the measured quantity (drift share, metric, rows, age in seconds)


def drift_fired(cfg: Any, ev: Evidence) -> TriggerResult:
    """Fires when the share of drifted features in the new rows reaches min_drifted_features."""
    if ev.drift is None:
        from mlops.spec.validation import effective_validation

        if effective_validation(ev.spec).drift is None:
            return TriggerResult("drift", False, "validation.drift is null: no drift check to fire on")
        return TriggerResult("drift", False, "no new rows to test for drift")
    share = ev.drift.drift_share
    names = ", ".join(ev.drift.drifted_features[:5]) or "none"
    fired = share >= cfg.min_drifted_features
    return TriggerResult("drift", fired, f"{share:.0%} of features drifted ({names}) on {ev.drift.n_new} new rows; "
                                         f"fires at >= {cfg.min_drifted_features:.0%}", share)


def metric_drop_fired(cfg: Any, ev: Evidence) -> TriggerResult:
    """Fires when the champion's metric on the latest labelled rows is below `below` (or above `above`)."""
    from mlops.errors import ScoreError
    from mlops.monitoring.scoring import score

    metric = cfg.metric or ev.spec.model.metric
    rows = ev.labelled.tail(cfg.last_n_rows)
    if len(rows) < cfg.min_labels:
        return TriggerResult("metric_drop", False, f"{len(rows)} labelled rows since the champion was trained; "
                                                   f"needs {cfg.min_labels}")
    try:
        value = score(ev.champion, rows, ev.spec.data.target, metric)
    except ScoreError as exc:  # one trigger that cannot judge does not stop the others
        return TriggerResult("metric_drop", False, f"not judged: {exc}")
    bound, fired = (cfg.below, value < cfg.below) if cfg.below is not None else (cfg.above, value > cfg.above)
    side = "below" if cfg.below is not None else "above"
    return TriggerResult("metric_drop", fired, f"champion {metric}={value:.4f} on the latest {len(rows)} labelled rows; "
                                               f"fires {side} {bound}", value)


def new_data_fired(cfg: Any, ev: Evidence) -> TriggerResult:
    """Fires when at least min_rows new rows arrived since the champion was trained."""
    n = len(ev.new_rows)
    return TriggerResult("new_data", n >= cfg.min_rows, f"{n} new rows since the champion was trained; fires at >= {cfg.min_rows}", n)


def schedule_fired(cfg: Any, ev: Evidence) -> TriggerResult:
    """Fires when the last (re)training is at least `every` seconds old."""
    age = ev.now - ev.trained_at
    # trained_at is the champion's registration or the last retrain attempt, whichever is later.
    return TriggerResult("schedule", age >= cfg.every, f"last (re)training {_human(age)} ago (champion "
                                                       f"v{ev.champion_version.version}); fires every {format_duration(cfg.every)}", age)


def evaluate(trigger_specs: list[Any], ev: Evidence) -> list[TriggerResult]:
    """Every configured trigger, judged once."""
    return [triggers.get(t.on).load()(t, ev) for t in trigger_specs]


def _human(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
