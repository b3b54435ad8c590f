"""The metric table pinned (killing mutants of mlops/metrics.py that every other fast test let through):
which task each metric fits, which direction is better and which needs probabilities. A metric moved to
the wrong task would be accepted by the spec for the wrong models; a flipped direction would promote the
worse model; a wrong `needs_proba` would score monitoring windows wrongly."""
from __future__ import annotations

import pytest

from mlops.metrics import METRICS, Metric, better, metrics_for, promotes

CLASSIFICATION = {"accuracy": True, "balanced_accuracy": True, "f1_macro": True, "f1_weighted": True,
                  "precision_macro": True, "recall_macro": True, "roc_auc": True, "log_loss": False}
REGRESSION = {"rmse": False, "mae": False, "r2": True, "mape": False}


def test_each_task_lists_exactly_its_metrics():
    assert metrics_for("classification") == list(CLASSIFICATION)
    assert metrics_for("regression") == list(REGRESSION)
    assert metrics_for("ranking") == []
    assert set(METRICS) == set(CLASSIFICATION) | set(REGRESSION)


@pytest.mark.parametrize("name, greater_is_better", [*CLASSIFICATION.items(), *REGRESSION.items()])
def test_each_metric_has_its_name_task_and_direction(name, greater_is_better):
    metric = METRICS[name]
    assert metric.name == name
    assert metric.task == ("classification" if name in CLASSIFICATION else "regression")
    assert metric.greater_is_better is greater_is_better


def test_only_roc_auc_and_log_loss_need_probabilities():
    assert {name for name, m in METRICS.items() if m.needs_proba} == {"roc_auc", "log_loss"}
    assert Metric("x", "classification", True).needs_proba is False  # the default


@pytest.mark.parametrize("metric", sorted(METRICS))
def test_the_gate_answers_a_bool_in_both_directions(metric):
    up = METRICS[metric].greater_is_better
    assert better(metric, 0.8, 0.6) is up and better(metric, 0.6, 0.8) is (not up)
    assert better(metric, 0.8, 0.6, 0.1) is up and better(metric, 0.6, 0.8, 0.1) is (not up)
    assert promotes(metric, 0.7, 0.7) is True
    assert promotes(metric, 0.8, 0.6) is up
