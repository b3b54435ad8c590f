"""evaluate: score the trained pipeline on the test split and draw the plots logged with the run: metrics
with bootstrap intervals, permutation importance beside the estimator's own, and a bounded sample of the
test rows (so a model card and a version comparison can be made later on the same rows)."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

from mlops.models.scores import predict_with_proba

TEST_ROWS = 2000  # test rows kept with the run (evaluation/test_rows.parquet): what `mlops report --compare` scores
TARGET_COLUMN = "__target__"  # the label's column in that file (the target's own name may be an input elsewhere)


@dataclass
class Evaluation:
    metrics: dict[str, float]
    metric: str
    plots: dict[str, bytes] = field(default_factory=dict)  # file name -> PNG
    artifacts: dict[str, bytes] = field(default_factory=dict)  # artifact path -> content (tables, test rows)

    @property
    def score(self) -> float:
        """The value of the spec's metric (the one that picks the champion)."""
        return self.metrics[self.metric]


def run(trained: Any, split: Any, params: dict[str, Any]) -> Evaluation:
    """Every metric of the task on the test split, their intervals, importance, and the plots for the run."""
    from mlops.models.intervals import bootstrap
    from mlops.stages import plots as draw

    model = trained.model
    task = params["task"]
    proba, classes = None, getattr(model, "classes_", None)
    if task == "classification":
        y_pred, proba = predict_with_proba(model, split.X_test)
    else:
        y_pred = model.predict(split.X_test)
    intervals = bootstrap(task, split.y_test, y_pred, proba, classes)
    metrics = {name: v["value"] for name, v in intervals.items()}
    plots = {}
    if task == "classification":
        plots["confusion_matrix.png"] = draw.confusion_matrix(split.y_test, y_pred, list(model.classes_))
    else:
        plots["residuals.png"] = draw.residuals(split.y_test, y_pred)
    artifacts = {"evaluation/metrics_intervals.json": json.dumps(intervals, indent=2).encode()}
    plots.update(_importance(trained, split, params, artifacts))
    artifacts["evaluation/test_rows.parquet"] = _test_rows(split)
    artifacts["evaluation/code_versions.json"] = json.dumps(code_versions(), indent=2).encode()
    return Evaluation(metrics, params["metric"], plots, artifacts)


def _importance(trained: Any, split: Any, params: dict[str, Any], artifacts: dict[str, bytes]) -> dict[str, bytes]:
    """Permutation importance of the input columns (table + plot) and the model's own importance plot."""
    from mlops.explain.importance import permutation
    from mlops.stages import plots as draw

    columns = [c["name"] for c in trained.meta.get("input_schema") or []] or None
    table = permutation(trained.model, split.X_test, split.y_test, params["metric"], columns=columns)
    if table is None:
        return {}
    artifacts["importance/importance.json"] = json.dumps(table.to_dict(), indent=2).encode()
    artifacts["importance/importance.csv"] = table.to_csv().encode()
    plots = {"permutation_importance.png": draw.permutation_importance(table)}
    own = {c["feature"]: c["own"] for c in table.columns if c["own"] is not None}
    if own:
        top = dict(sorted(own.items(), key=lambda p: -p[1])[:20])
        plots["feature_importance.png"] = draw.feature_importance(top)
    return plots


def _test_rows(split: Any) -> bytes:
    """Up to TEST_ROWS test rows with their label, as parquet bytes."""
    frame = split.X_test.head(TEST_ROWS).copy()
    frame[TARGET_COLUMN] = list(split.y_test[:TEST_ROWS]) if not hasattr(split.y_test, "iloc") else split.y_test.iloc[:TEST_ROWS].to_numpy()
    buf = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buf, index=False)
    return buf.getvalue()


def code_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model's behaviour depends on, where installed (lineage)."""
    import platform
    from importlib import metadata

    found = {"python": platform.python_version()}
    for package in ("mlops", "scikit-learn", "numpy", "pandas", "torch", "lightgbm", "xgboost", "mlflow", "ray"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found
