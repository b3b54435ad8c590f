"""Where monitoring keeps what arrives after training: feedback labels and the online prediction log.

    <spec dir>/.mlops/monitoring/<name>/feedback/*.parquet   labels from `mlops feedback`
    <spec dir>/.mlops/monitoring/<name>/feedback/*.jsonl     labels POSTed to {route}/feedback
    <spec dir>/.mlops/monitoring/<name>/predictions/*.jsonl  one line per served row (online endpoint)

Append-only files, one writer each (a CLI call, or one replica process), each record batch written by
one `os.write` on an O_APPEND descriptor, so no locking is needed and lines never interleave. A line a
crash cut short (the last of its file) is skipped with a warning, never a reason for every later
`mlops monitor` to fail.

The logs hold served inputs (and labels): files are written 0600 and their folders 0700, readable by
the user who serves and nobody else.

A writer starts a new file once its file reaches `monitoring.logs.rotate_mb`; files untouched for longer
than `monitoring.logs.keep` are deleted (by writers when they rotate, and by readers). Readers keep what
they parsed of each file in `.read/<file>.<offset>.parquet` and parse only the bytes after that offset,
so a monitor that runs every few minutes reads each line once.
"""
from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.errors import DataError, Problem
from mlops.files import temp_beside

if TYPE_CHECKING:
    from mlops.spec.monitoring import LogsSpec


def monitoring_dir(base_dir: Path, name: str) -> Path:
    """Where an endpoint's prediction log and feedback live, beside its spec."""
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


def read_feedback(directory: Path, keep_s: float | None = None) -> Any:
    """Every stored label, oldest first; later labels for the same key win. Labels POSTed to the endpoint
    older than `keep_s` are gone (tables added with `mlops feedback` are the user's and kept)."""
    import pandas as pd

    folder = Path(directory) / "feedback"
    parts = [pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))]
    parts += [frame for frame in read_log_folder(folder, keep_s, _plain_frame) if len(frame)]
    if not parts:
        return pd.DataFrame(columns=["key_kind", "key", "row", "label", "ts"])
    frame = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable")
    frame["key"], frame["row"] = frame["key"].astype(str), frame["row"].fillna(0).astype(int)
    return frame.drop_duplicates(["key_kind", "key", "row"], keep="last").reset_index(drop=True)


def read_prediction_log(directory: Path, keep_s: float | None = None) -> Any:
    """Rows served online: request_id, row, ts, version, prediction and the inputs, oldest first."""
    import pandas as pd

    frames = [frame for frame in read_log_folder(Path(directory) / "predictions", keep_s, _served_frame) if len(frame)]
    if not frames:
        return pd.DataFrame(columns=["request_id", "row", "ts", "version", "prediction"])
    return pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable").reset_index(drop=True)


def _plain_frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame.from_records(records)


def _served_frame(records: list[dict[str, Any]]) -> Any:
    """Prediction-log records with their `inputs` as columns of their own."""
    import pandas as pd

    frame = pd.DataFrame.from_records(records)
    if "inputs" not in frame.columns:
        return frame
    inputs = pd.DataFrame.from_records(frame.pop("inputs").tolist(), index=frame.index)
    return pd.concat([frame, inputs], axis=1)


def parse_json_lines(data: bytes, path: Path, first_line: int = 1) -> list[dict[str, Any]]:
    """The records of whole JSON lines; a garbled line is skipped with a warning naming it."""
    records = []
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=first_line):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            warnings.warn(f"{path}:{number}: skipped a line that is not a whole JSON record (a write cut short)",
                          stacklevel=3)
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


READ_CACHE = ".read"  # beside the logs: what readers already parsed, as parquet, named by file and offset


def prune(folder: Path, keep_s: float | None) -> None:
    """Delete log files untouched for longer than `keep_s` (and what readers kept of them)."""
    if not keep_s or not folder.is_dir():
        return
    cutoff = time.time() - keep_s
    for path in folder.glob("*.jsonl"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another reader or writer pruned it first
            pass
    live = {p.stem for p in folder.glob("*.jsonl")}
    for kept in (folder / READ_CACHE).glob("*.parquet"):
        if kept.name.split(".")[0] not in live:
            kept.unlink(missing_ok=True)


def read_log_folder(folder: Path, keep_s: float | None, to_frame: Any) -> list[Any]:
    """One frame per log file in `folder` (after pruning), each read incrementally."""
    prune(folder, keep_s)
    return [_read_incrementally(path, folder / READ_CACHE, to_frame) for path in sorted(folder.glob("*.jsonl"))]


def _read_incrementally(path: Path, cache: Path, to_frame: Any) -> Any:
    """The records of one log file: what an earlier read kept (parquet), plus the lines written since."""
    import pandas as pd

    kept = sorted(cache.glob(f"{path.stem}.*.parquet"), key=lambda p: int(p.name.split(".")[1]))
    offset, frame = 0, None
    if kept:
        try:
            frame, offset = pd.read_parquet(kept[-1]), int(kept[-1].name.split(".")[1])
        except Exception:  # a damaged cache entry: read the file from the start again
            frame, offset = None, 0
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            data = fh.read()
    except FileNotFoundError:  # pruned meanwhile
        return pd.DataFrame()
    whole = data.rfind(b"\n") + 1  # lines are written whole; a tail without its newline was cut short
    if whole < len(data):
        warnings.warn(f"{path}: skipped its last line, which is not a whole JSON record (a write cut short)",
                      stacklevel=3)
    if whole:
        fresh = to_frame(parse_json_lines(data[:whole], path))
        frame = fresh if frame is None else pd.concat([frame, fresh], ignore_index=True)
        _keep(frame, cache, path.stem, offset + whole, kept)
    return frame if frame is not None else pd.DataFrame()


def _keep(frame: Any, cache: Path, stem: str, offset: int, older: list[Path]) -> None:
    """Write what was parsed so far (atomically); the next read starts at `offset`. Best effort: a frame
    parquet cannot hold (mixed types in a column) is simply parsed again next time."""
    cache.mkdir(exist_ok=True)
    target = cache / f"{stem}.{offset}.parquet"
    temporary = temp_beside(target)
    try:
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, target)
    except Exception:
        temporary.unlink(missing_ok=True)
        return
    for path in older:
        if path != target:
            path.unlink(missing_ok=True)


def append_lines(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records as JSON lines with one write on an O_APPEND descriptor: whole lines or nothing more."""
    data = "".join(json.dumps(r, default=str) + "\n" for r in records).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # served inputs: the owner's only
    try:
        view = memoryview(data)
        while view:  # a regular file takes it in one write; a short write (disk full) is finished or raises
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def private_folder(folder: Path) -> None:
    """Create `folder` and its parent (the endpoint's monitoring folder) as 0700; tighten them if an
    older mlops made them readable by others."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for path in (folder.parent, folder):
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)


def writer_file(folder: Path, prefix: str) -> Path:
    """This process's own file in `folder`: one writer per file."""
    private_folder(folder)
    return folder / f"{prefix}-{time.time_ns()}-{os.getpid()}-{uuid.uuid4().hex[:6]}.jsonl"


class RotatingLog:
    """One writer's JSON-lines files in `folder`, as `monitoring.logs` says: a new file once the current one
    reaches `rotate_mb`, and files untouched for longer than `keep` deleted when it rotates."""

    def __init__(self, folder: Path, prefix: str, logs: LogsSpec):
        self.folder, self.prefix = Path(folder), prefix
        self.rotate_bytes, self.keep_s = int(logs.rotate_mb * 2**20), logs.keep
        self.path, self.size = writer_file(self.folder, prefix), 0

    def append(self, records: list[dict[str, Any]]) -> None:
        """Append records as JSON lines, rotating (and pruning) first when the file is full."""
        if self.size >= self.rotate_bytes:
            self.path, self.size = writer_file(self.folder, self.prefix), 0
            prune(self.folder, self.keep_s)
        append_lines(self.path, records)
        self.size = self.path.stat().st_size


class PredictionLog:
    """Append-only JSON-lines log of one replica's served rows (one write per batch of rows)."""

    def __init__(self, directory: Path, logs: LogsSpec):
        self.log = RotatingLog(Path(directory) / "predictions", "replica", logs)

    @property
    def path(self) -> Path:
        """The file written now."""
        return self.log.path

    def write(self, request_ids: list[tuple[str, int]], rows: list[dict[str, Any]], predictions: list[Any], version: str) -> None:
        """One record per served row: request id and row index, time, version, prediction and inputs."""
        now = time.time()
        self.log.append([{"request_id": request_id, "row": row_index, "ts": now, "version": version,
                          "prediction": prediction, "inputs": inputs}
                         for (request_id, row_index), inputs, prediction in zip(request_ids, rows, predictions)])


class FeedbackLog:
    """Labels POSTed to the endpoint: [{request_id, row, label}] appended to this replica's own files."""

    def __init__(self, directory: Path, logs: LogsSpec):
        self.log = RotatingLog(Path(directory) / "feedback", "endpoint", logs)

    def write(self, items: list[dict[str, Any]]) -> None:
        """One record per label, keyed by request id and row."""
        now = time.time()
        self.log.append([{"key_kind": "request_id", "key": str(item["request_id"]), "row": int(item.get("row", 0)),
                          "label": item["label"], "ts": now} for item in items])
