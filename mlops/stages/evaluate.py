"""evaluate: score the trained pipeline on the test split and draw the plots logged with the run."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.models.scores import compute_metrics, predict_with_proba


@dataclass
class Evaluation:
    metrics: dict[str, float]
    metric: str
    plots: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG

    @property
    def score(self) -> float:
        """The value of the spec's metric (the one that picks the champion)."""
        return self.metrics[self.metric]


def run(trained: Any, split: Any, params: dict[str, Any]) -> Evaluation:
    """Every metric of the task on the test split, and the plots for the run."""
    model = trained.model
    task = params["task"]
    if task == "classification":
        y_pred, proba = predict_with_proba(model, split.X_test)
        metrics = compute_metrics(task, split.y_test, y_pred, proba, getattr(model, "classes_", None))
    else:
        y_pred = model.predict(split.X_test)
        metrics = compute_metrics(task, split.y_test, y_pred)
    plots = {}
    from mlops.stages import plots as draw

    if task == "classification":
        plots["confusion_matrix.png"] = draw.confusion_matrix(split.y_test, y_pred, list(model.classes_))
    else:
        plots["residuals.png"] = draw.residuals(split.y_test, y_pred)
    importance = draw.feature_importance_values(model, split.X_test, split.y_test)
    if importance:
        plots["feature_importance.png"] = draw.feature_importance(importance)
    return Evaluation(metrics, params["metric"], plots)
