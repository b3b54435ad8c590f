"""What role inference reads of each column (ColumnSample), taken cheaply: the first rows of a CSV file with
the csv module, the first batch of a parquet file with pyarrow, scikit-learn's bundled data sets from the
committed table (mlops/sources/sklearn_columns.py). `mlops validate` and `mlops plan` so show the roles
table without pandas; featurize takes the same summary of the whole frame (`sample_series`) and decides
with the same code (mlops.stages.column_roles).

A CSV column gets the dtype pandas' reader would give it (int64, float64, bool, else object), with its
default missing-value markers.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mlops.errors import DataError, Problem
from mlops.sources.remote import open_file, readable

TEXTS = 1000  # values of a text column that the date and word checks read
# pandas.read_csv's default missing-value markers (na_values), and its true/false words.
MISSING = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
           "NA", "NULL", "NaN", "None", "n/a", "nan", "null"}
BOOLS = {"True": True, "TRUE": True, "true": True, "False": False, "FALSE": False, "false": False}


@dataclass(frozen=True)
class ColumnSample:
    """One column as role inference sees it: dtype (pandas' name), kind, counts, range, a few values."""

    name: Any
    dtype: str
    kind: str  # bool, int, float, datetime, timedelta or text
    present: int  # values that are not missing
    unique: int  # distinct values that are not missing
    low: float | None = None  # range of a numeric column's values
    high: float | None = None
    first: Any = None  # the first value that is not missing
    texts: tuple[str, ...] = ()  # a text column's first TEXTS values, as text
    rows: int | None = None  # cells, missing ones included (None: not known)

    @property
    def has_empty_cells(self) -> bool:
        return self.rows is not None and self.present < self.rows


def sample_values(name: Any, dtype: str, kind: str, values: Iterable[Any]) -> ColumnSample:
    """The sample of a column from its values (None and NaN are missing)."""
    values = list(values)
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    numeric = kind in ("int", "float") and present
    return ColumnSample(name, dtype, kind, len(present), len(set(present)),
                        float(min(present)) if numeric else None, float(max(present)) if numeric else None,
                        present[0] if present else None,
                        tuple(str(v) for v in present[:TEXTS]) if kind == "text" else (), len(values))


def sample_series(series: Any) -> ColumnSample:
    """The sample of a pandas Series (all of it: featurize decides on the whole frame)."""
    import numpy as np
    from pandas.api import types

    present = series.dropna()
    if types.is_datetime64_any_dtype(series):
        kind = "datetime"
    elif types.is_timedelta64_dtype(series):
        kind = "timedelta"
    elif types.is_bool_dtype(series):
        kind = "bool"
    elif types.is_numeric_dtype(series):
        kind = "int" if types.is_integer_dtype(series) else "float"
    else:
        kind = "text"
    numeric = kind in ("int", "float") and len(present)
    first = present.iloc[0] if len(present) else None
    return ColumnSample(series.name, str(series.dtype), kind, int(len(present)), int(present.nunique()),
                        float(present.min()) if numeric else None, float(present.max()) if numeric else None,
                        first.item() if isinstance(first, np.generic) else first,
                        tuple(present.head(TEXTS).astype(str)) if kind == "text" else (), int(len(series)))


def sample_csv(file: Path, separator: str, rows: int, field: str = "data.source.path", decimal: str = ".",
               thousands: str | None = None, encoding: str = "utf-8-sig") -> list[ColumnSample]:
    """The first `rows` rows of a CSV file, each column typed as pandas.read_csv would type it (with the
    source's decimal mark and thousands separator); a DataError naming `field` when they do not parse."""
    try:
        with open_file(file, "rt", newline="", encoding=encoding) as fh:
            reader = csv.reader(fh, delimiter=separator, skipinitialspace=True)
            header = [h.strip() for h in next(reader, [])]
            cells: list[list[str]] = [[] for _ in header]
            for count, row in enumerate(r for r in reader if r):
                if count >= rows:
                    break
                for i, column in enumerate(cells):
                    column.append(row[i] if i < len(row) else "")
    except UnicodeDecodeError as exc:
        from mlops.sources.loaders import not_in_encoding

        raise not_in_encoding(exc, file, field, encoding) from None
    except (OSError, csv.Error) as exc:
        raise DataError(Problem(field, f"cannot read CSV: {exc}", value=str(file))) from None
    if decimal != "." or thousands:
        cells = [[_plain_marks(c, decimal, thousands) for c in column] for column in cells]
    return [_typed(name, column) for name, column in zip(_unique_names(header), cells)]


def _plain_marks(cell: str, decimal: str, thousands: str | None) -> str:
    """A cell of a file with other number marks ('1.234,5') as Python reads numbers ('1234.5'), when it is one;
    any other cell as it is."""
    text = cell.strip()
    if thousands:
        text = text.replace(thousands, "")
    if decimal != ".":
        if "." in text:
            return cell
        text = text.replace(decimal, ".")
    try:
        float(text)
    except ValueError:
        return cell
    return text


def _unique_names(header: list[str]) -> list[str]:
    """Repeated names as pandas renames them: a, a.1, a.2."""
    seen: dict[str, int] = {}
    names = []
    for name in header:
        count = seen.get(name, 0)
        seen[name] = count + 1
        names.append(name if count == 0 else f"{name}.{count}")
    return names


def _typed(name: str, cells: list[str]) -> ColumnSample:
    """A CSV column's cells as the values pandas would read: ints, floats, bools, else strings."""
    values = [None if c in MISSING else c for c in cells]
    given = [v for v in values if v is not None]
    for parse in (int, float):
        try:
            parsed = [None if v is None else _number(v, parse) for v in values]
        except ValueError:
            continue
        whole = parse is int and len(given) == len(values)  # a missing cell makes pandas read floats
        if whole:
            return sample_values(name, "int64", "int", parsed)
        return sample_values(name, "float64", "float", [None if v is None else float(v) for v in parsed])
    if given and all(v in BOOLS for v in given):
        if len(given) == len(values):
            return sample_values(name, "bool", "bool", [BOOLS[v] for v in given])
        return sample_values(name, "object", "text", [None if v is None else BOOLS[v] for v in values])
    return sample_values(name, "object", "text", values)


def _number(text: str, parse: Any) -> Any:
    if "_" in text:  # Python reads 1_000; pandas does not
        raise ValueError(text)
    return parse(text)


def sample_parquet(file: Path, rows: int, field: str = "data.source.path") -> list[ColumnSample]:
    """The first `rows` rows of a parquet file (its first batch), with the dtypes pandas would give them; a
    DataError naming `field` when they do not read."""
    import pyarrow.parquet as pq

    try:
        with readable(file) as source:
            batch = next(pq.ParquetFile(source).iter_batches(batch_size=rows), None)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise DataError(Problem(field, f"cannot read parquet: {exc}", value=str(file))) from None
    if batch is None:
        return []
    return [sample_values(field.name, *_arrow_dtype(field.type, column.null_count), column.to_pylist())
            for field, column in zip(batch.schema, batch.columns)]


def _arrow_dtype(arrow_type: Any, nulls: int) -> tuple[str, str]:
    """(pandas dtype name, kind) of an arrow column, as to_pandas() converts it."""
    import pyarrow as pa

    if pa.types.is_boolean(arrow_type):
        return ("bool", "bool") if not nulls else ("object", "text")
    if pa.types.is_integer(arrow_type):
        return (str(arrow_type), "int") if not nulls else ("float64", "float")
    if pa.types.is_floating(arrow_type):
        return {"halffloat": "float16", "float": "float32"}.get(str(arrow_type), "float64"), "float"
    if pa.types.is_timestamp(arrow_type):
        zone = f", {arrow_type.tz}" if arrow_type.tz else ""
        return f"datetime64[{arrow_type.unit}{zone}]", "datetime"
    if pa.types.is_duration(arrow_type):
        return f"timedelta64[{arrow_type.unit}]", "timedelta"
    return ("category" if pa.types.is_dictionary(arrow_type) else "object"), "text"


def sample_sklearn(name: str) -> list[ColumnSample]:
    """A bundled scikit-learn data set's columns, from the committed table (no import of scikit-learn)."""
    from mlops.sources.sklearn_columns import SKLEARN_DATASETS

    return [ColumnSample(*column) for column in SKLEARN_DATASETS[name][1]]
