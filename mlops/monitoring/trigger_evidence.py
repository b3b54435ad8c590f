"""Gather what `mlops monitor` judges: new rows since the champion (or the last retrain attempt),
labelled rows from new data and feedback, and the drift of the new rows."""
from __future__ import annotations

from typing import Any

from mlops import tracking_tags
from mlops.errors import DataError, Problem


def read_new_data(project: Any) -> Any:
    """Every row of retraining.data (empty when no file has arrived yet), ordered by data.timestamp if set."""
    import pandas as pd

    from mlops.stages.load import read_source

    spec = project.spec
    source = spec.retraining.data.source.model_dump(mode="json")
    try:
        frame = read_source(source, str(project.base_dir), "retraining.data.source")
    except DataError as exc:
        if all(p.message == "no such file" for p in exc.problems):
            return pd.DataFrame()
        raise
    if spec.data.timestamp and spec.data.timestamp in frame.columns:
        from mlops.models.datetime_parts import time_order

        frame = frame.iloc[time_order(frame[spec.data.timestamp])].reset_index(drop=True)
    return frame


def logs_kept_for(project: Any) -> float | None:
    """How long the endpoint's logs are kept: monitoring.logs.keep as the endpoint was applied with (the
    replicas prune by it too), or as the spec says when it was never applied; None without an endpoint."""
    spec = project.spec
    if spec.serving is None or spec.serving.online is None:
        return None  # no endpoint writes logs; the tables `mlops feedback` adds are kept
    from mlops.plan.endpoint import EndpointSettings, endpoint_settings
    from mlops.runtime.applied import applied_deploy_node

    node = applied_deploy_node(project)
    return (EndpointSettings.of(node) if node is not None else endpoint_settings(spec)).logs.keep


def labelled_rows(project: Any, new: Any, champion: Any) -> Any:
    """New rows with a target, plus rows labelled through feedback (by id_column or by request id).

    `_ts` is when feedback arrived (0 for labels in the data itself), `_pos` the row's position in the
    new data (NaN for served rows), so callers can tell what is recent.
    """
    import pandas as pd

    from mlops.serving.traffic_log import monitoring_dir, read_feedback, read_prediction_log

    spec = project.spec
    target, id_column = spec.data.target, spec.data.id_column
    inputs = champion.input_columns
    parts = []
    new = new.assign(_pos=range(len(new))) if len(new) else new
    if len(new) and target in new.columns:
        rows = new[new[target].notna()].copy()
        rows["_ts"] = 0.0  # labelled in the data itself: as recent as the row (see _pos)
        parts.append(rows)
    directory = monitoring_dir(project.base_dir, spec.name)
    keep_s = logs_kept_for(project)
    feedback = read_feedback(directory, keep_s)
    if len(feedback):
        by_id = feedback[feedback.key_kind == "id"]
        if len(by_id) and id_column and len(new) and id_column in new.columns:
            keyed = new.assign(_key=new[id_column].astype(str)).drop(columns=[target], errors="ignore")
            # Feedback columns get private names: the data may well have its own 'ts' or 'label' column.
            labels = by_id[["key", "label", "ts"]].rename(columns={"key": "_key", "label": "_label", "ts": "_ts"})
            joined = keyed.merge(labels, on="_key")
            parts.append(joined.rename(columns={"_label": target})[[*inputs, target, "_ts", "_pos", id_column]])
        by_request = feedback[feedback.key_kind == "request_id"]
        if len(by_request):
            log = read_prediction_log(directory, keep_s)
            if len(log):
                labels = by_request[["key", "row", "label", "ts"]].rename(
                    columns={"key": "request_id", "label": "_label", "ts": "_ts"})
                joined = log.drop(columns=[target], errors="ignore").merge(labels, on=["request_id", "row"])
                served = joined.rename(columns={"_label": target})[[*inputs, target, "_ts"]]
                parts.append(served.assign(_pos=float("nan")))  # served rows have no place in the new data
    if not parts:
        return pd.DataFrame(columns=[*inputs, target, "_ts", "_pos"])
    frame = pd.concat(parts, ignore_index=True)
    if id_column and id_column in frame.columns:  # a row labelled twice: the latest label wins
        has_id = frame[id_column].notna()
        deduped = frame[has_id].sort_values("_ts", kind="stable").drop_duplicates(id_column, keep="last")
        frame = pd.concat([deduped, frame[~has_id]])
    # Oldest first: rows of the new data in file order, then feedback in arrival order.
    return frame.sort_values(["_ts", "_pos"], kind="stable", na_position="last").reset_index(drop=True)


def champion_state(registry: Any, name: str) -> tuple[Any, Any, float, int]:
    """(champion bundle, its version, when it or the last retrain attempt happened, rows already judged)."""
    from mlops.registry import CHAMPION

    version = registry.by_alias(name, CHAMPION)
    bundle = registry.load(name, version=version.version)
    created = registry.client.get_model_version(name, version.version).creation_timestamp / 1000.0
    seen = int(version.tags.get(tracking_tags.ROWS_SEEN, 0))
    attempt = registry.last_retrain(name)
    # A challenger that lost was still trained on these rows: judge only what arrived after it.
    return bundle, version, max(created, attempt.get("at", 0.0)), max(seen, int(attempt.get("rows_seen", 0)))


def drift_of(bundle: Any, frame: Any, spec: Any) -> Any:
    """Drift of `frame` against the champion's reference sample (None when there is nothing to test)."""
    from mlops.detectors.builtin import run_drift
    from mlops.spec.validation import effective_validation

    cfg = effective_validation(spec).drift
    if cfg is None or bundle.monitoring is None or len(frame) == 0:  # `validation.drift: null`: no drift check
        return None
    reference = bundle.monitoring.reference
    missing = [c for c in reference.columns if c not in frame.columns]
    if missing:
        raise DataError(Problem("retraining.data.source", f"new data lacks columns the model takes: {missing}"))
    try:
        return run_drift(reference, frame, cfg)
    except ValueError as exc:  # e.g. ks on a model without numeric inputs
        raise DataError(Problem("validation.drift.detector", str(exc), value=cfg.detector)) from None


def recent_labelled(labelled: Any, rows_seen: int, since: float) -> Any:
    """Labelled rows the champion has not been judged on: unseen new rows, or feedback after `since`."""
    if not len(labelled):
        return labelled
    from_data = (labelled["_ts"] == 0) & (labelled["_pos"] >= rows_seen)
    from_feedback = (labelled["_ts"] > 0) & (labelled["_ts"] >= since)
    return labelled[from_data | from_feedback].reset_index(drop=True)
