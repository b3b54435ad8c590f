"""Column roles: what each input column becomes, and why. Pure pandas, so `mlops validate` and `mlops plan`
show the same table `featurize` acts on, without importing scikit-learn.

A role is one of ROLES. Columns listed in the spec (`features.numeric`, `categorical`, `datetime`, `drop`)
keep the role given; the rest are inferred from the data, and every column that is not a feature is
listed with the reason (nothing is dropped silently).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ROLES = ("numeric", "categorical", "high-cardinality categorical", "datetime", "text-like", "id-like", "constant",
         "dropped", "target", "id column", "timestamp", "entity key")
FEATURE_ROLES = ("numeric", "categorical", "high-cardinality categorical", "datetime")
# A string column looks like dates when most of its values start as an ISO date does (2024-01-31...).
ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$")
DATE_SHARE = 0.9
ID_NAME = re.compile(r"(^|_)(id|uuid|guid|key)$", re.IGNORECASE)
CODE_NAME = re.compile(r"(^|_)(zip|zipcode|postal|postcode|code)$", re.IGNORECASE)
EPOCH_NAME = re.compile(r"(_at|_ts|_time|_date|timestamp|epoch)$", re.IGNORECASE)
TEXT_WORDS = 3.0  # mean words per value at or above which a many-valued string column is free text
MANY_VALUES = 50  # unique values above which a column that is (almost) one value per row is an id or text


@dataclass(frozen=True)
class ColumnRole:
    """One input column: its role, whether the model uses it, and why."""

    name: str
    role: str
    why: str
    dtype: str = ""

    @property
    def is_feature(self) -> bool:
        """The model reads this column (numeric, categorical of either kind, or datetime)."""
        return self.role in FEATURE_ROLES


def infer_roles(frame: Any, data: dict[str, Any], features: dict[str, Any]) -> list[ColumnRole]:
    """Every column of `frame` with its role: the spec's lists first, then inference from the values."""
    threshold = int((features.get("high_cardinality") or {}).get("threshold", 50))
    reserved = {data.get("target"): ("target", "data.target"), data.get("id_column"): ("id column", "data.id_column: "
                "echoed next to predictions, never a feature"), data.get("timestamp"): ("timestamp", "data.timestamp: "
                "orders and joins rows, never a feature")}
    for key in data.get("entity_keys") or []:
        reserved.setdefault(key, ("entity key", "data.entity_keys: joins feature views, never a feature"))
    numeric, categorical = features.get("numeric"), features.get("categorical")
    dates, dropped = features.get("datetime"), set(features.get("drop") or [])
    derived_inputs = _read_by_derived(features.get("derived") or {})
    roles = []
    for name in frame.columns:
        series = frame[name]
        dtype = str(series.dtype)
        if name in reserved and reserved[name][0]:
            role, why = reserved[name]
        elif name in dropped:
            role, why = "dropped", "features.drop"
        elif dates is not None and name in dates:
            role, why = "datetime", "features.datetime"
        elif numeric is not None and name in numeric:
            role, why = "numeric", "features.numeric"
        elif categorical is not None and name in categorical:
            role, why = _categorical(series, threshold, "features.categorical")
        else:
            role, why = infer_role(series, threshold)
            listed = [f"features.{k}" for k, v in (("numeric", numeric), ("categorical", categorical)) if v is not None]
            if role == "datetime" and dates is not None:
                role, why = "dropped", f"looks like dates ({why}) but is not in features.datetime"
            elif role == "numeric" and numeric is not None:
                role, why = "dropped", "not in features.numeric"
            elif role in ("categorical", "high-cardinality categorical") and categorical is not None:
                role, why = "dropped", "not in features.categorical"
            elif role in FEATURE_ROLES and numeric is not None and categorical is not None:
                role, why = "dropped", f"not in {' or '.join(listed)}"
        if not ColumnRole(name, role, why).is_feature and name in derived_inputs and role not in ("target", "id column"):
            why += f"; read by features.derived.{derived_inputs[name]}"
        roles.append(ColumnRole(str(name), role, why, dtype))
    return roles


def infer_role(series: Any, threshold: int = 50) -> tuple[str, str]:
    """(role, why) of one column from its values alone."""
    import pandas as pd

    present = series.dropna()
    unique = int(present.nunique())
    if len(present) == 0:
        return "constant", "no values (every cell is empty)"
    if unique == 1:
        return "constant", f"one value ({_short(present.iloc[0])}): carries nothing to learn from"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime", "datetime values"
    if pd.api.types.is_timedelta64_dtype(series):
        return "dropped", "durations are not encoded; derive a number from them"
    if pd.api.types.is_bool_dtype(series):
        return "categorical", "true/false values"
    if pd.api.types.is_numeric_dtype(series):
        one_per_row = unique == len(present) and unique > MANY_VALUES
        if one_per_row and pd.api.types.is_integer_dtype(series) and ID_NAME.search(str(series.name)):
            return "id-like", f"whole numbers, one per row, named like an id ({unique} values)"
        if pd.api.types.is_integer_dtype(series) and CODE_NAME.search(str(series.name)):
            role, why = _categorical(series, threshold, None)
            return role, f"whole numbers named like a code: {why}"
        if EPOCH_NAME.search(str(series.name)) and _epoch_range(present):
            return "numeric", "numbers; looks like epoch seconds: list it in features.datetime for date parts"
        return "numeric", f"numbers ({unique} distinct values)"
    text = present.astype(str)
    dated = text.head(1000)
    if dated.str.match(ISO_DATE).mean() >= DATE_SHARE:
        return "datetime", "ISO dates/times in text"
    if unique > MANY_VALUES and unique >= 0.9 * len(present):
        words = float(text.head(1000).str.split().str.len().mean())
        if words >= TEXT_WORDS:
            return "text-like", f"free text ({words:.1f} words per value): not encoded; derive features from it"
        return "id-like", f"one distinct value per row ({unique} values): an identifier, not a category"
    return _categorical(series, threshold, None)


def _categorical(series: Any, threshold: int, given: str | None) -> tuple[str, str]:
    unique = int(series.dropna().nunique())
    source = f"{given}, " if given else ""
    if unique > threshold:
        return ("high-cardinality categorical", f"{source}{unique} values > features.high_cardinality.threshold="
                f"{threshold}: the {threshold - 1} most frequent one-hot, the rest 'infrequent'")
    return "categorical", f"{source}{unique} values"


def _epoch_range(present: Any) -> bool:
    """Values that read as epoch seconds between 1990 and 2100 (or the same in milliseconds)."""
    low, high = float(present.min()), float(present.max())
    return (6.3e8 <= low and high <= 4.2e9) or (6.3e11 <= low and high <= 4.2e12)


def _read_by_derived(derived: dict[str, str]) -> dict[str, str]:
    from mlops.spec.expressions import column_names

    return {c: name for name, expr in derived.items() for c in column_names(expr)}


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 20 else text[:17] + "..."


def resolve(roles: list[ColumnRole]) -> dict[str, list[str]]:
    """The roles as the feature lists featurize uses: numeric, categorical, datetime (in column order)."""
    return {"numeric": [r.name for r in roles if r.role == "numeric"],
            "categorical": [r.name for r in roles if r.role in ("categorical", "high-cardinality categorical")],
            "high_cardinality": [r.name for r in roles if r.role == "high-cardinality categorical"],
            "datetime": [r.name for r in roles if r.role == "datetime"]}


def sample_frame(source: Any, base_dir: Any, rows: int = 5000) -> Any:
    """The first `rows` rows of a data source (csv and parquet read only that much), for the roles table."""
    import pandas as pd

    from mlops.sources.loaders import resolve_files

    kind = getattr(source, "type", None)
    if kind == "csv":
        files = resolve_files(source.path, base_dir, "data.source.path", ".csv")
        frame = pd.read_csv(files[0], sep=source.separator, nrows=rows, skipinitialspace=True)
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame
    if kind == "parquet":
        import pyarrow.parquet as pq

        files = resolve_files(source.path, base_dir, "data.source.path", ".parquet")
        batch = next(pq.ParquetFile(files[0]).iter_batches(batch_size=rows), None)
        return batch.to_pandas() if batch is not None else pd.DataFrame()
    from mlops.stages.load import read_source

    return read_source(source.model_dump(mode="json"), str(base_dir), "data.source").head(rows)


def project_roles(project: Any, rows: int = 5000) -> list[ColumnRole]:
    """The roles of the columns of a loaded project's training data (its first `rows` rows)."""
    spec = project.spec
    frame = sample_frame(spec.data.source, project.base_dir, rows)
    return infer_roles(frame, spec.data.model_dump(mode="json"), spec.features.model_dump(mode="json"))
