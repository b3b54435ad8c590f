"""batch_predict: score a csv/parquet input with a registered model; rows in = rows out, order kept.

Two executors, chosen by `serving.batch.executor` (auto picks by cluster):
- local: stream record batches through a thread pool in this process (tree and BLAS code release the
  GIL), so a 2-core machine pays no distributed overhead (~4 s fixed for Ray Data here);
- ray_data: Ray Data `map_batches` over an actor pool, for clusters where the data and CPUs are spread.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from mlops.errors import DataError, Problem


@dataclass
class BatchResult:
    rows: int
    output: str
    executor: str
    seconds: float


def output_frame(bundle: Any, frame: Any, id_column: str | None, include_proba: bool):
    """Predictions for one batch: id column (if any), prediction, and proba_<class> columns."""
    import pandas as pd

    out = {}
    if id_column and id_column in frame.columns:
        out[id_column] = frame[id_column].to_numpy()
    X = frame[bundle.input_columns]
    proba = bundle.predict_proba(X) if bundle.task == "classification" else None
    if proba is not None:
        classes = bundle.model.classes_
        out["prediction"] = classes[proba.argmax(axis=1)]
        if include_proba:
            for i, cls in enumerate(classes):
                out[f"proba_{cls}"] = proba[:, i]
    else:
        out["prediction"] = bundle.predict(X)
    return pd.DataFrame(out, index=frame.index)


def check_columns(bundle: Any, columns: list[str]) -> None:
    missing = [c for c in bundle.input_columns if c not in columns]
    if missing:
        raise DataError(Problem("serving.batch.input", f"input lacks columns the model needs: {missing}",
                                hint=f"the model was trained on {bundle.input_columns}"))


def _frames(source: dict[str, Any], base_dir: Path, batch_size: int) -> Iterator[Any]:
    """Stream the input as DataFrames of about batch_size rows, in file order."""
    from mlops.sources.loaders import resolve_files

    field = "serving.batch.input"
    if source["type"] == "parquet":
        import pyarrow.parquet as pq

        for path in resolve_files(source["path"], base_dir, f"{field}.path", ".parquet"):
            for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
                yield batch.to_pandas()
    elif source["type"] == "csv":
        import pandas as pd

        for path in resolve_files(source["path"], base_dir, f"{field}.path", ".csv"):
            yield from pd.read_csv(path, sep=source.get("separator", ","), chunksize=batch_size, skipinitialspace=True)
    else:
        from mlops.stages.load import read_source

        frame = read_source(source, str(base_dir), field)
        for start in range(0, len(frame), batch_size):
            yield frame.iloc[start : start + batch_size]


class _Writer:
    """Appends prediction frames to one parquet or csv file."""

    def __init__(self, path: Path):
        self.path, self._pq, self._first = path, None, True
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()

    def write(self, frame: Any) -> None:
        if self.path.suffix == ".csv":
            frame.to_csv(self.path, mode="a", header=self._first, index=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._pq is None:
                self._pq = pq.ParquetWriter(self.path, table.schema)
            self._pq.write_table(table)
        self._first = False

    def close(self) -> None:
        if self._pq is not None:
            self._pq.close()


def run_local(bundle: Any, params: dict[str, Any], threads: int | None = None) -> int:
    """Thread-pool executor: a bounded window of in-flight batches, written in input order."""
    base_dir = Path(params["base_dir"])
    writer = _Writer(_output_path(params))
    threads = threads or max(1, os.cpu_count() or 1)
    rows, window = 0, deque()
    checked = False
    try:
        with ThreadPoolExecutor(threads) as pool:
            for frame in _frames(params["input"], base_dir, params["batch_size"] // threads or 1):
                if not checked:
                    check_columns(bundle, list(frame.columns))
                    checked = True
                window.append(pool.submit(output_frame, bundle, frame, params["id_column"], params["include_proba"]))
                if len(window) >= 2 * threads:
                    done = window.popleft().result()
                    writer.write(done)
                    rows += len(done)
            while window:
                done = window.popleft().result()
                writer.write(done)
                rows += len(done)
    finally:
        writer.close()
    if not checked:
        raise DataError(Problem("serving.batch.input", "input has no rows"))
    return rows


def _output_path(params: dict[str, Any]) -> Path:
    out = Path(params["output"])
    return out if out.is_absolute() else Path(params["base_dir"]) / out


def run(bundle: Any, params: dict[str, Any], executor: str) -> BatchResult:
    """Score the input with the chosen executor ('local' or 'ray_data')."""
    import time

    start = time.perf_counter()
    if executor == "ray_data":
        from mlops.stages.batch_ray_data import run_ray_data

        rows = run_ray_data(bundle, params)
    else:
        rows = run_local(bundle, params)
    return BatchResult(rows, str(_output_path(params)), executor, time.perf_counter() - start)
