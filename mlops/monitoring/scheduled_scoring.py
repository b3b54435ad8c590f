"""Scheduled scoring: `serving.batch.schedule` scores the batch input with the version `serving.batch.model_alias`
names (the champion), on time, through the one batch path (runtime/batch.py, the plan's batch_predict node).

Each due run scores the input files not scored before into ONE dated output beside `serving.batch.output`
(out/predictions.parquet -> out/predictions-2026-12-05T0600.parquet), with the version used in a
`model_version` column and a sidecar JSON of the same stem. A ledger beside the node cache records each
scored file by path, size and mtime (a file rewritten in place is new again) and the last scheduled time,
so the controller, restarted or not, and any other caller score each file exactly once; runs missed while
nothing ran collapse into one (schedule.last_due). An input that is not files (sklearn:NAME, a SQL source)
is scored whole at every due run."""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlops.files import temp_beside

LEDGER_KIND = "scheduled-scoring"  # the ledger's folder beside the node cache
VERSION_COLUMN = "model_version"


@dataclass
class ScoredOutput:
    """One output a scheduled run wrote."""

    output: str
    sidecar: str
    version: str
    rows: int
    scheduled: float  # the schedule's time this run stands for (epoch seconds)
    files: list[str] = field(default_factory=list)  # the input files it scored (none: a non-file source)
    skipped: int = 0
    nulled: int = 0
    seconds: float = 0.0

    def record(self) -> dict[str, Any]:
        """As the controller keeps and shows it."""
        message = f"scored {self.rows} rows of {len(self.files) or 'the'} input{'s' if len(self.files) != 1 else ''} " \
                  f"with v{self.version} into {self.output}"
        return {"kind": "mlops.batch.scored", "message": message, **asdict(self)}


def scoring_duty(project: Any, state: Any, now: float) -> list[dict]:
    """The controller's duty: run scoring when due; one record per output written. The ledger beside the
    node cache is this duty's memory, so the controller's own `state` is not needed for exactly-once."""
    return [scored.record() for scored in score_due(project, now)]


def ledger_path(project: Any) -> Path:
    """`<store folder>/scheduled-scoring/<name>.json`, beside the node cache."""
    from mlops.monitoring.state_files import state_path

    return state_path(project.spec.tracking.uri, Path(project.base_dir), LEDGER_KIND, project.spec.name)


def score_due(project: Any, now: float | None = None) -> list[ScoredOutput]:
    """Score the new input files if a scheduled time fell since the last run; [] when not due, when there is
    nothing new, or when the spec schedules no batch scoring. Scoring errors are raised (the files stay
    unscored and are tried again at the next scheduled time)."""
    from mlops.monitoring.schedule import last_due
    from mlops.monitoring.state_files import locked, read_state, write_state

    batch = project.spec.serving.batch if project.spec.serving is not None else None
    if batch is None or batch.schedule is None:
        return []
    now = time.time() if now is None else now
    path = ledger_path(project)
    with locked(path):  # held while scoring: a second caller waits, then finds the files recorded
        ledger = read_state(path)
        scheduled = last_due(batch.schedule, ledger.get("last"), now)
        if scheduled is None:
            return []
        ledger["last"] = scheduled  # this slot is used, whatever happens to its files
        files, matched = _new_files(project, ledger.get("files") or {})
        seen = {str(f): _stat(f) for f in files or []}  # as scored: a file rewritten meanwhile is new again
        try:
            scored = [] if files == [] else [_score(project, files, scheduled)]
        finally:
            write_state(path, ledger)
        known = {k: v for k, v in (ledger.get("files") or {}).items() if k in matched}  # forget files gone
        for out in scored:
            for name in out.files:
                known[name] = {**seen[name], "output": out.output, "version": out.version, "at": now}
        write_state(path, {**ledger, "files": known})
    return scored


def _new_files(project: Any, known: dict[str, dict]) -> tuple[list[Path] | None, set[str]]:
    """(the input files not scored as they are now, every file the input matches); None: not a file input."""
    from mlops.errors import DataError
    from mlops.project import batch_input_source
    from mlops.sources.loaders import resolve_files

    source = batch_input_source(project.spec)
    if source.type not in ("csv", "parquet"):
        return None, set()
    try:
        matched = resolve_files(source.path, Path(project.base_dir), "serving.batch.input", f".{source.type}")
    except DataError:  # nothing has arrived yet
        return [], set()
    matched = [p.resolve() for p in matched]
    new = [p for p in matched if not _recorded(known.get(str(p)), p)]
    return new, {str(p) for p in matched}


def _recorded(entry: dict | None, path: Path) -> bool:
    """The ledger holds this file as it is now (same size and mtime)."""
    return entry is not None and all(entry.get(k) == v for k, v in _stat(path).items())


def _stat(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _score(project: Any, files: list[Path] | None, scheduled: float) -> ScoredOutput:
    """Score `files` (None: the whole non-file input) through the batch_predict node into a dated output."""
    import shutil
    import tempfile

    from mlops.plan.compile import batch_node
    from mlops.runtime.batch import score_batch

    node = batch_node(project)
    output = dated_output(Path(node.params["output"]), scheduled, project.spec.serving.batch.schedule)
    params = {**node.params, "output": str(output)}
    inbox = None
    if files is not None:  # the one batch path reads a path/glob/folder: a folder of links names exactly these files
        inbox = Path(tempfile.mkdtemp(prefix=".inbox-", dir=ledger_path(project).parent))
        for i, f in enumerate(files):
            (inbox / f"{i:06d}-{f.name}").symlink_to(f)
        params["input"] = {**params["input"], "path": str(inbox)}
    try:
        result = score_batch(project, replace(node, params=params))
    finally:
        if inbox is not None:
            shutil.rmtree(inbox, ignore_errors=True)
    written = Path(result.output)
    add_version_column(written, str(result.version))
    scored = ScoredOutput(str(written), str(written.with_suffix(".json")), str(result.version), result.rows,
                          scheduled, [str(f) for f in files or []], result.skipped, result.nulled,
                          round(result.seconds, 3))
    _write_sidecar(project, scored, params)
    return scored


def dated_output(output: Path, scheduled: float, schedule: Any) -> Path:
    """out/predictions.parquet -> out/predictions-2026-12-05T0600.parquet (UTC); with seconds when the
    schedule runs more often than once a minute (every 30s, a 6-field cron)."""
    seconds = (schedule.every is not None and schedule.every % 60 != 0) or \
        (schedule.cron is not None and len(schedule.cron.split()) > 5)
    stamp = datetime.fromtimestamp(scheduled, tz=timezone.utc).strftime("%Y-%m-%dT%H%M" + ("%S" if seconds else ""))
    return output.with_name(f"{output.stem}-{stamp}{output.suffix}")


def add_version_column(path: Path, version: str) -> None:
    """Append a `model_version` column to a written output, atomically (read and rewritten batch by batch)."""
    import os

    import pyarrow as pa

    tmp = temp_beside(path)
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(path)
        pcsv.write_csv(table.append_column(VERSION_COLUMN, pa.array([version] * table.num_rows)), tmp)
    else:
        import pyarrow.parquet as pq

        source = pq.ParquetFile(path)
        schema = source.schema_arrow.append(pa.field(VERSION_COLUMN, pa.string()))
        with pq.ParquetWriter(tmp, schema) as writer:
            for batch in source.iter_batches():
                column = pa.array([version] * batch.num_rows, pa.string())
                writer.write_batch(pa.RecordBatch.from_arrays([*batch.columns, column], schema=schema))
    os.replace(tmp, path)


def _write_sidecar(project: Any, scored: ScoredOutput, params: dict[str, Any]) -> None:
    """The version used and what was scored, beside the output (same stem, .json)."""
    spec = project.spec
    body = {"model": spec.name, "alias": params.get("model_alias", "champion"), "version": scored.version,
            "scheduled": datetime.fromtimestamp(scored.scheduled, tz=timezone.utc).isoformat(),
            "scored_at": datetime.now(tz=timezone.utc).isoformat(), "rows": scored.rows, "skipped": scored.skipped,
            "nulled": scored.nulled, "inputs": scored.files, "output": scored.output,
            "schedule": spec.serving.batch.schedule.describe()}
    Path(scored.sidecar).write_text(json.dumps(body, indent=1))
