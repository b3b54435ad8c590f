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
    version: str | None = None  # the model version that scored


def output_frame(bundle: Any, frame: Any, id_column: str | None, include_proba: bool):
    """Predictions for one batch: id column (if any), prediction, proba_<class> columns and, when the model
    has an outlier detector, outlier_score and is_outlier."""
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
    detector = bundle.monitoring.outliers if bundle.monitoring is not None else None
    if detector is not None:  # the model was trained with validation.outliers
        out["outlier_score"], out["is_outlier"] = detector.score(X)
    return pd.DataFrame(out, index=frame.index)


def check_columns(bundle: Any, columns: list[str]) -> None:
    missing = [c for c in bundle.input_columns if c not in columns]
    if missing:
        raise DataError(Problem("serving.batch.input", f"input lacks columns the model needs: {missing}",
                                hint=f"the model was trained on {bundle.input_columns}"))


def _batches(source: dict[str, Any], base_dir: Path, batch_size: int) -> Iterator[Any]:
    """Stream the input as pyarrow RecordBatches or DataFrames of about batch_size rows, in file order."""
    from mlops.sources.loaders import resolve_files

    field = "serving.batch.input"
    if source["type"] == "parquet":
        import pyarrow.parquet as pq

        for path in resolve_files(source["path"], base_dir, f"{field}.path", ".parquet"):
            yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size)
    elif source["type"] == "csv":
        import pandas as pd

        for path in resolve_files(source["path"], base_dir, f"{field}.path", ".csv"):
            yield from pd.read_csv(path, sep=source.get("separator", ","), chunksize=batch_size, skipinitialspace=True)
    else:
        from mlops.stages.load import read_source

        frame = read_source(source, str(base_dir), field)
        for start in range(0, len(frame), batch_size):
            yield frame.iloc[start : start + batch_size]


def _columns(batch: Any) -> list[str]:
    return list(batch.schema.names) if hasattr(batch, "schema") and hasattr(batch, "num_rows") else list(batch.columns)


def _score_to_arrow(bundle: Any, batch: Any, id_column: str | None, include_proba: bool):
    """Worker-thread body: conversion, prediction and Arrow encoding all run off the main thread."""
    import pyarrow as pa

    frame = batch.to_pandas() if hasattr(batch, "to_pandas") else batch
    return pa.Table.from_pandas(output_frame(bundle, frame, id_column, include_proba), preserve_index=False)


class OutputWriter:
    """Appends Arrow tables to one parquet or csv file, atomically: the tables go to a temp file beside
    the output, which replaces the output only when every batch is written. A crash or an error leaves
    the previous output whole (never a valid but short file that a later apply would call up to date)."""

    def __init__(self, path: Path):
        self.path, self._out = path, None
        path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")

    def __enter__(self) -> "OutputWriter":
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if self._out is not None:
            self._out.close()
        if kind is None and self._out is not None:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)

    def write(self, table: Any) -> None:
        if self._out is None:
            if self.path.suffix == ".csv":
                import pyarrow.csv as pcsv

                self._out = pcsv.CSVWriter(str(self.tmp), table.schema)
            else:
                import pyarrow.parquet as pq

                self._out = pq.ParquetWriter(self.tmp, table.schema)
        self._out.write_table(table)


def run_local(bundle: Any, params: dict[str, Any], threads: int | None = None) -> int:
    """Thread-pool executor: a bounded window of in-flight batches, written in input order."""
    threads = threads or max(1, os.cpu_count() or 1)
    rows, window, checked = 0, deque(), False

    def drain_one() -> int:
        table = window.popleft().result()
        writer.write(table)
        return table.num_rows

    with OutputWriter(_output_path(params)) as writer:
        with ThreadPoolExecutor(threads) as pool:
            for batch in _batches(params["input"], Path(params["base_dir"]), params["batch_size"]):
                if not checked:
                    check_columns(bundle, _columns(batch))
                    checked = True
                window.append(pool.submit(_score_to_arrow, bundle, batch, params["id_column"], params["include_proba"]))
                if len(window) > threads:
                    rows += drain_one()
            while window:
                rows += drain_one()
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
