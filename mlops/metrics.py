"""Metric names the spec may use, which task each fits, and which direction is better."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    task: str
    greater_is_better: bool
    needs_proba: bool = False


METRICS = {
    m.name: m
    for m in [
        Metric("accuracy", "classification", True),
        Metric("balanced_accuracy", "classification", True),
        Metric("f1_macro", "classification", True),
        Metric("f1_weighted", "classification", True),
        Metric("precision_macro", "classification", True),
        Metric("recall_macro", "classification", True),
        Metric("roc_auc", "classification", True, needs_proba=True),
        Metric("log_loss", "classification", False, needs_proba=True),
        Metric("rmse", "regression", False),
        Metric("mae", "regression", False),
        Metric("r2", "regression", True),
        Metric("mape", "regression", False),
    ]
}


def metrics_for(task: str) -> list[str]:
    """Metric names valid for a task."""
    return [m.name for m in METRICS.values() if m.task == task]


def better(metric: str, a: float, b: float, min_improvement: float = 0.0) -> bool:
    """True when score `a` beats `b` on `metric` by at least `min_improvement`."""
    if METRICS[metric].greater_is_better:
        return a >= b + min_improvement if min_improvement else a > b
    return a <= b - min_improvement if min_improvement else a < b


def promotes(metric: str, challenger: float, champion: float) -> bool:
    """The apply-time gate: a new version takes the champion alias when it scores at least as well as the
    champion on the same rows (a tie promotes: the newer model saw the newer data). NaN never promotes."""
    return better(metric, challenger, champion) or challenger == champion
