"""What both batch executors share: the output frame of a scored batch, the input's column check (the
input contract's, mlops.stages.batch_rows), the join of feature views onto input rows, and the writer
that replaces the output file atomically."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mlops.errors import DataError, Problem
from mlops.models.scores import labels_from_proba
from mlops.files import temp_beside


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
        out["prediction"] = labels_from_proba(classes, proba)
        if include_proba:
            for i, cls in enumerate(classes):
                out[f"proba_{cls}"] = proba[:, i]
    else:
        out["prediction"] = bundle.predict(X)
    detector = bundle.monitoring.outliers if bundle.monitoring is not None else None
    if detector is not None:  # the model was trained with validation.outliers
        out["outlier_score"], out["is_outlier"] = detector.score(X)
    return pd.DataFrame(out, index=frame.index)


def feature_join(params: dict[str, Any]):
    """The join of the plan's feature views onto input rows, or None when the spec has no views."""
    if not params.get("feature_views"):
        return None
    from mlops.feature_store.batch_join import BatchFeatureJoin

    return BatchFeatureJoin(params["feature_views"], params.get("timestamp"), params["base_dir"])


def check_input(contract: Any, columns: list[str], join: Any) -> None:
    """The input's columns, plus what the feature views add to them, as the input contract takes them: every
    input the model does not impute, and no column it does not know (mlops.stages.batch_rows)."""
    from mlops.stages.batch_rows import check_columns

    check_columns(contract, columns + (join.supplied(columns) if join is not None else []))


def _unwritable(path: Path, exc: OSError) -> DataError:
    return DataError(Problem("serving.batch.output", f"cannot write the output: {exc.strerror or exc}", value=str(path),
                             hint="the previous output, if any, is left as it was"))


class OutputWriter:
    """Appends Arrow tables to one parquet or csv file, atomically: the tables go to a temp file beside
    the output, which replaces the output only when every batch is written. A crash or an error leaves
    the previous output whole (never a valid but short file that a later apply would call up to date)."""

    def __init__(self, path: Path):
        self.path, self._out = path, None
        self.tmp = temp_beside(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where a folder should be, no permission, a read-only disk
            raise _unwritable(path, exc) from None

    def __enter__(self) -> "OutputWriter":
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            if self._out is not None:
                self._out.close()
            if kind is None and self._out is not None:
                os.replace(self.tmp, self.path)
        except OSError as error:  # disk full at the last write, the target replaced by a folder, ...
            self.tmp.unlink(missing_ok=True)
            raise _unwritable(self.path, error) from None
        if kind is not None or self._out is None:
            self.tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not isinstance(exc, DataError):
                raise _unwritable(self.path, exc) from None

    def write(self, table: Any) -> None:
        """Append `table` to the temp file (opened on the first table, with its schema)."""
        if self._out is None:
            if self.path.suffix == ".csv":
                import pyarrow.csv as pcsv

                self._out = pcsv.CSVWriter(str(self.tmp), table.schema)
            else:
                import pyarrow.parquet as pq

                self._out = pq.ParquetWriter(self.tmp, table.schema)
        self._out.write_table(table)


def output_path(params: dict[str, Any]) -> Path:
    """Where batch scoring writes (a relative output is relative to the project)."""
    out = Path(params["output"])
    return out if out.is_absolute() else Path(params["base_dir"]) / out
