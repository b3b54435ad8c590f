"""The spec's metric on the answers of each served version, from the feedback labels that came back for
them (the prediction log records which version answered each row): what a rollout's metric guard compares."""
from __future__ import annotations

from typing import Any, Optional


def scores_by_version(project: Any, since: float, metric: str) -> Optional[dict[str, tuple[float, int]]]:
    """version -> (`metric` on its labelled answers served since `since`, labelled rows); None without labels."""
    from mlops.models.scores import compute_metrics
    from mlops.monitoring.trigger_evidence import logs_kept_for
    from mlops.serving.traffic_log import monitoring_dir, read_feedback, read_prediction_log

    directory = monitoring_dir(project.base_dir, project.spec.name)
    feedback = read_feedback(directory, logs_kept_for(project))
    feedback = feedback[feedback.key_kind == "request_id"] if len(feedback) else feedback
    if not len(feedback):
        return None
    log = read_prediction_log(directory, logs_kept_for(project))
    if not len(log) or "version" not in log.columns:
        return None
    served = log[log.ts >= since][["request_id", "row", "version", "prediction"]]
    labels = feedback[["key", "row", "label"]].rename(columns={"key": "request_id"})
    joined = served.merge(labels, on=["request_id", "row"])
    task = project.spec.model.task
    out = {}
    for version, rows in joined.groupby(joined.version.astype(str)):
        y_true, y_pred = rows.label, rows.prediction
        if task == "classification":
            y_true, y_pred = y_true.astype(str), y_pred.astype(str)
        values = compute_metrics(task, y_true, y_pred)
        if metric in values:
            out[version] = (float(values[metric]), len(rows))
    return out or None
