"""Where monitoring keeps what arrives after training: feedback labels and the online prediction log.

    <spec dir>/.mlops/monitoring/<name>/feedback/*.parquet   labels from `mlops feedback`
    <spec dir>/.mlops/monitoring/<name>/feedback/*.jsonl     labels POSTed to {route}/feedback
    <spec dir>/.mlops/monitoring/<name>/predictions/*.jsonl  one line per served row (online endpoint)

Append-only files, one writer each (a CLI call or one replica), so no locking is needed.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem


def monitoring_dir(base_dir: Path, name: str) -> Path:
    return Path(base_dir) / ".mlops" / "monitoring" / name


def label_columns(frame: Any, target: str, id_column: str | None, where: str) -> tuple[str, str]:
    """(key column, label column) of a feedback table, or a DataError naming what is missing."""
    keys = [c for c in ("request_id", id_column) if c and c in frame.columns]
    labels = [c for c in (target, "label") if c in frame.columns]
    problems = []
    if not keys:
        expected = "'request_id'" + (f" or '{id_column}' (data.id_column)" if id_column else "")
        problems.append(Problem(where, f"no key column: expected {expected}", value=list(map(str, frame.columns))))
    if not labels:
        problems.append(Problem(where, f"no label column: expected '{target}' (data.target) or 'label'",
                                value=list(map(str, frame.columns))))
    if problems:
        raise DataError(problems)
    return keys[0], labels[0]


def add_feedback(directory: Path, frame: Any, target: str, id_column: str | None, where: str) -> int:
    """Store a feedback table (key -> label); returns the rows stored."""
    import pandas as pd

    key, label = label_columns(frame, target, id_column, where)
    if frame[label].isna().any():
        raise DataError(Problem(where, f"{int(frame[label].isna().sum())} rows have no label in column '{label}'"))
    out = pd.DataFrame({"key_kind": "request_id" if key == "request_id" else "id", "key": frame[key].astype(str),
                        "row": frame["row"].astype(int) if "row" in frame.columns else 0, "label": frame[label],
                        "ts": time.time()})
    target_dir = Path(directory) / "feedback"
    target_dir.mkdir(parents=True, exist_ok=True)
    out.to_parquet(target_dir / f"{time.time_ns()}-{uuid.uuid4().hex[:6]}.parquet", index=False)
    return len(out)


def read_feedback(directory: Path) -> Any:
    """Every stored label, oldest first; later labels for the same key win."""
    import pandas as pd

    folder = Path(directory) / "feedback"
    parts = [pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))]
    lines = [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.read_text().splitlines() if line]
    if lines:
        parts.append(pd.DataFrame(lines))
    if not parts:
        return pd.DataFrame(columns=["key_kind", "key", "row", "label", "ts"])
    frame = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable")
    frame["key"], frame["row"] = frame["key"].astype(str), frame["row"].fillna(0).astype(int)
    return frame.drop_duplicates(["key_kind", "key", "row"], keep="last").reset_index(drop=True)


def read_prediction_log(directory: Path) -> Any:
    """Rows served online: request_id, row, ts, version, prediction and the inputs, oldest first."""
    import pandas as pd

    records = []
    for path in sorted((Path(directory) / "predictions").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line:
                records.append(json.loads(line))
    if not records:
        return pd.DataFrame(columns=["request_id", "row", "ts", "version", "prediction"])
    frame = pd.DataFrame.from_records(records)
    inputs = pd.DataFrame.from_records(frame.pop("inputs").tolist())
    return pd.concat([frame, inputs], axis=1).sort_values("ts", kind="stable").reset_index(drop=True)


class PredictionLog:
    """Append-only JSON-lines log of one replica's served rows (buffered; flushed per batch)."""

    def __init__(self, directory: Path):
        folder = Path(directory) / "predictions"
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{time.time_ns()}-{uuid.uuid4().hex[:6]}.jsonl"
        self._fh = open(self.path, "a", buffering=1 << 16)

    def write(self, request_ids: list[str], rows: list[dict[str, Any]], predictions: list[Any], version: str) -> None:
        now = time.time()
        for (request_id, row_index), inputs, prediction in zip(request_ids, rows, predictions):
            self._fh.write(json.dumps({"request_id": request_id, "row": row_index, "ts": now, "version": version,
                                       "prediction": prediction, "inputs": inputs}, default=str) + "\n")
        self._fh.flush()


def append_feedback_lines(directory: Path, items: list[dict[str, Any]]) -> None:
    """Labels POSTed to the endpoint: [{request_id, row, label}] appended as JSON lines."""
    folder = Path(directory) / "feedback"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    with open(folder / "endpoint.jsonl", "a") as fh:
        for item in items:
            fh.write(json.dumps({"key_kind": "request_id", "key": str(item["request_id"]), "row": int(item.get("row", 0)),
                                 "label": item["label"], "ts": now}, default=str) + "\n")
