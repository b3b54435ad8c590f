"""Retraining triggers and alert judging on hand-made evidence: no Ray, no store, milliseconds."""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from mlops.models.bundle import Bundle
from mlops.monitoring import alerts, triggers
from mlops.spec.monitoring import Alert
from mlops.spec.triggers import DriftTrigger, MetricDropTrigger, NewDataTrigger, ScheduleTrigger
from mlops.spec.validation import ValidationSpec


def _champion() -> Bundle:
    X = pd.DataFrame({"a": np.linspace(0, 1, 40)})
    model = LogisticRegression().fit(X, (X["a"] > 0.5).map({True: "yes", False: "no"}))
    return Bundle(model, {"task": "classification", "classes": ["no", "yes"], "input_schema": [{"name": "a"}]})


def _evidence(**kw) -> triggers.Evidence:
    spec = SimpleNamespace(data=SimpleNamespace(target="y"), model=SimpleNamespace(metric="accuracy"),
                           validation=kw.pop("validation", None))
    defaults = dict(spec=spec, champion=_champion(), champion_version=SimpleNamespace(version="3"),
                    trained_at=time.time() - 3600, new_rows=pd.DataFrame({"a": []}), labelled=pd.DataFrame(columns=["a", "y"]))
    return triggers.Evidence(**{**defaults, **kw})


def test_new_data_fires_at_its_threshold():
    ev = _evidence(new_rows=pd.DataFrame({"a": range(100)}))
    assert triggers.new_data_fired(NewDataTrigger(min_rows=100), ev).fired
    assert not triggers.new_data_fired(NewDataTrigger(min_rows=101), ev).fired


def test_schedule_fires_by_the_champions_age():
    ev = _evidence(trained_at=time.time() - 2 * 86400)
    assert triggers.schedule_fired(ScheduleTrigger(every="1d"), ev).fired
    assert not triggers.schedule_fired(ScheduleTrigger(every="7d"), ev).fired


def test_metric_drop_fires_on_wrong_labels_and_waits_for_enough_of_them():
    wrong = pd.DataFrame({"a": np.linspace(0, 1, 30), "y": ["no" if v > 0.5 else "yes" for v in np.linspace(0, 1, 30)]})
    fired = triggers.metric_drop_fired(MetricDropTrigger(below=0.5, min_labels=20), _evidence(labelled=wrong))
    assert fired.fired and "accuracy=" in fired.reason
    waiting = triggers.metric_drop_fired(MetricDropTrigger(below=0.5, min_labels=50), _evidence(labelled=wrong))
    assert not waiting.fired and "needs 50" in waiting.reason


def test_a_metric_that_cannot_be_scored_does_not_fire_and_says_why():
    one_class = pd.DataFrame({"a": [0.9] * 30, "y": ["yes"] * 30})
    result = triggers.metric_drop_fired(MetricDropTrigger(metric="roc_auc", below=0.9, min_labels=10), _evidence(labelled=one_class))
    assert not result.fired and result.reason.startswith("not judged")


def test_drift_trigger_with_drift_switched_off_says_so():
    ev = _evidence(validation=ValidationSpec(drift=None))
    assert "validation.drift is null" in triggers.drift_fired(DriftTrigger(), ev).reason
    assert "no new rows" in triggers.drift_fired(DriftTrigger(), _evidence()).reason


def test_alerts_fire_on_their_own_windows_and_sides():
    rules = [Alert(metric="error_rate", above=0.01, window="5m"), Alert(metric="requests", below=10, window="1h"),
             Alert(metric="drift_share", above=0.5)]
    windows = []

    def stats_for(window_s: float) -> dict:
        windows.append(window_s)
        return {"error_rate": 0.02, "requests": 50 if window_s == 3600 else 5, "drift": {"drift_share": 0.25}}

    results = alerts.judge(rules, stats_for)
    assert [r.fired for r in results] == [True, False, False]
    assert windows == [300, 3600, 300]  # drift_share is the last check's, whatever the window
    events = alerts.events_of("iris", "2", results, rules)
    assert len(events) == 1 and events[0].condition == "above 0.01" and events[0].value == 0.02


def test_an_alert_without_traffic_does_not_fire():
    (result,) = alerts.judge([Alert(metric="latency_p99_ms", above=100)], lambda window: {})
    assert not result.fired and result.reason.startswith("no data")
