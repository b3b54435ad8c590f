"""Explanations of a sample of served traffic, logged, and the features that drive today's predictions
against training's.

`explain_traffic` samples the rows the endpoint served over a window (its prediction log), explains them
with the version that served them (SHAP, mlops.explain.explainer), appends each row's explanation to
`<monitoring dir>/explanations/<date>.jsonl` (request id, row, version, contributions, base value) and
writes the comparison of drivers (mlops.explain.drivers) to `drivers.json` there, with training's
drivers: the same explainer over a sample of the training rows kept with the model (the drift
reference), computed once per version. The controller runs it every `monitoring.explain.every`;
`mlops explain SPEC --traffic` runs it now; `mlops status --drivers` shows the last comparison.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Optional

DRIVERS = "drivers.json"


def explanations_dir(project: Any) -> Path:
    from mlops.serving.traffic_log import monitoring_dir

    return monitoring_dir(project.base_dir, project.spec.name) / "explanations"


def explain_traffic(project: Any, *, window_s: float = 86_400, sample_rows: int = 200, seed: int = 0,
                    now: Optional[float] = None) -> Optional[dict[str, Any]]:
    """Explain up to `sample_rows` rows served over the last `window_s` by the version serving now; log them
    and the drivers comparison; return the comparison (None when nothing was served in the window)."""
    from mlops import stores
    from mlops.explain.drivers import compared, shares
    from mlops.explain.explainer import ModelExplainer, checked_rows
    from mlops.registry import Registry
    from mlops.serving.traffic_log import monitoring_dir, read_prediction_log

    now = time.time() if now is None else now
    spec = project.spec
    keep = spec.monitoring.logs.keep if spec.monitoring is not None else None
    served = read_prediction_log(monitoring_dir(project.base_dir, spec.name), keep_s=keep)
    served = served[served["ts"] >= now - window_s] if len(served) else served
    if not len(served):
        return None
    version = str(served["version"].iloc[-1])  # the version answering now (a rollout's champion at its last row)
    mine = served[served["version"].astype(str) == version]
    sample = mine.sample(min(len(mine), sample_rows), random_state=seed) if len(mine) > sample_rows else mine
    bundle = Registry(stores.absolute(spec.tracking.uri), create=False).load(spec.name, version=version)
    explainer = ModelExplainer(bundle)
    frame = checked_rows(bundle, sample[[c for c in bundle.input_columns if c in sample.columns]].reset_index(drop=True),
                         "the prediction log")
    explained = explainer.explain(frame.iloc[: explainer.row_limit()])
    folder = explanations_dir(project)
    _log_rows(folder / f"{time.strftime('%Y-%m-%d', time.gmtime(now))}.jsonl", sample, explained, version)
    today, training = shares(explained), _training_shares(folder, bundle, explainer, version, sample_rows, seed)
    summary = {"at": now, "version": version, "rows": len(explained.rows), "served_rows": int(len(mine)),
               "window_s": window_s, "method": explained.method, "today": today, "training": training,
               "drivers": compared(today, training or {})}
    from mlops.monitoring.state_files import write_state

    write_state(folder / DRIVERS, summary)
    return summary


def latest_drivers(project: Any) -> Optional[dict[str, Any]]:
    """The last comparison explain_traffic wrote, or None."""
    from mlops.monitoring.state_files import read_state

    return read_state(explanations_dir(project) / DRIVERS) or None


def _training_shares(folder: Path, bundle: Any, explainer: Any, version: str, sample_rows: int,
                     seed: int) -> Optional[dict[str, float]]:
    """Training's drivers for `version` (kept once computed): the explainer over the drift reference's rows,
    the sample of training data kept with the model; None when the model keeps none."""
    from mlops.explain.drivers import shares
    from mlops.monitoring.state_files import read_state, write_state

    path = folder / f"training-v{version}.json"
    kept = read_state(path)
    if kept.get("shares"):
        return kept["shares"]
    reference = getattr(getattr(bundle.monitoring, "reference", None), "frame", None) if bundle.monitoring else None
    if reference is None or not set(bundle.input_columns) <= set(reference.columns) or not len(reference):
        return None
    rows = reference[bundle.input_columns]
    rows = rows.sample(min(len(rows), sample_rows, explainer.row_limit()), random_state=seed).reset_index(drop=True)
    computed = shares(explainer.explain(rows))
    write_state(path, {"version": version, "rows": len(rows), "shares": computed})
    return computed


def _log_rows(path: Path, sample: Any, explained: Any, version: str) -> None:
    """Append one JSON line per explained row: the served request's id and row, and its explanation."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = sample["request_id"].tolist() if "request_id" in sample.columns else [None] * len(sample)
    rows = sample["row"].tolist() if "row" in sample.columns else list(range(len(sample)))
    with open(path, "a") as out:
        for row, request_id, served_row in zip(explained.rows, ids, rows):
            record = {**row.to_dict(), "request_id": request_id, "row": served_row, "version": version}
            out.write(json.dumps(record, default=str) + "\n")
