"""Where monitoring keeps what arrives after training: feedback labels and the online prediction log.

    <spec dir>/.mlops/monitoring/<name>/feedback/*.parquet   labels from `mlops feedback`
    <spec dir>/.mlops/monitoring/<name>/feedback/*.jsonl     labels POSTed to {route}/feedback
    <spec dir>/.mlops/monitoring/<name>/predictions/*.jsonl  one line per served row (online endpoint)

Append-only files, one writer each (a CLI call, or one replica process), each record batch written by
one `os.write` on an O_APPEND descriptor, so no locking is needed and lines never interleave. A line a
crash cut short (the last of its file) is skipped with a warning, never a reason for every later
`mlops monitor` to fail.
"""
from __future__ import annotations

import json
import os
import time
import uuid
import warnings
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
    lines = [record for p in sorted(folder.glob("*.jsonl")) for record in read_json_lines(p)]
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

    records = [record for path in sorted((Path(directory) / "predictions").glob("*.jsonl"))
               for record in read_json_lines(path)]
    if not records:
        return pd.DataFrame(columns=["request_id", "row", "ts", "version", "prediction"])
    frame = pd.DataFrame.from_records(records)
    inputs = pd.DataFrame.from_records(frame.pop("inputs").tolist())
    return pd.concat([frame, inputs], axis=1).sort_values("ts", kind="stable").reset_index(drop=True)


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file; a torn or garbled line is skipped with a warning naming it."""
    records = []
    for number, line in enumerate(Path(path).read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            warnings.warn(f"{path}:{number}: skipped a line that is not a whole JSON record (a write cut short)",
                          stacklevel=2)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def append_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records as JSON lines with one write on an O_APPEND descriptor: whole lines or nothing more."""
    data = "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        view = memoryview(data)
        while view:  # a regular file takes it in one write; a short write (disk full) is finished or raises
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def writer_file(folder: Path, prefix: str) -> Path:
    """This process's own file in `folder`: one writer per file."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{prefix}-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:6]}.jsonl"


class PredictionLog:
    """Append-only JSON-lines log of one replica's served rows (one write per batch of rows)."""

    def __init__(self, directory: Path):
        self.path = writer_file(Path(directory) / "predictions", "replica")

    def write(self, request_ids: list[tuple[str, int]], rows: list[dict[str, Any]], predictions: list[Any], version: str) -> None:
        now = time.time()
        append_lines(self.path, [{"request_id": request_id, "row": row_index, "ts": now, "version": version,
                                  "prediction": prediction, "inputs": inputs}
                                 for (request_id, row_index), inputs, prediction in zip(request_ids, rows, predictions)])


_FEEDBACK_FILES: dict[str, Path] = {}  # directory -> this process's feedback file


def append_feedback_lines(directory: Path, items: list[dict[str, Any]]) -> None:
    """Labels POSTed to the endpoint: [{request_id, row, label}] appended to this replica's own file."""
    key = str(directory)
    if key not in _FEEDBACK_FILES:
        _FEEDBACK_FILES[key] = writer_file(Path(directory) / "feedback", "endpoint")
    now = time.time()
    append_lines(_FEEDBACK_FILES[key], [{"key_kind": "request_id", "key": str(item["request_id"]),
                                         "row": int(item.get("row", 0)), "label": item["label"], "ts": now}
                                        for item in items])
