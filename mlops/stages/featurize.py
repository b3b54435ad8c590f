"""featurize: decide which columns are numeric or categorical features, and record the input schema."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops.detectors.column_profile import column_schema
from mlops.errors import DataError, Problem
from mlops.spec.expressions import column_names

MAX_CATEGORIES_RECORDED = 1000


@dataclass
class FeatureSet:
    """The data plus the resolved feature lists and the schema requests must follow."""

    frame: Any
    target: str
    numeric: list[str]
    categorical: list[str]
    raw_inputs: list[str]  # columns a caller must send (derived ones are computed)
    id_column: str | None
    input_schema: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)


def _categorical_like(series: Any) -> bool:
    """Inferred categoricals: strings, booleans, categories; not datetimes, not identifier-like columns."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series):
        return False
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return False
    unique = series.nunique(dropna=True)
    return not (unique > 50 and unique >= 0.9 * series.notna().sum())  # one value per row: an id, not a category


def run(loaded: Any, params: dict[str, Any]) -> FeatureSet:
    """The rows with a target, with numeric and categorical features resolved (given or inferred)."""
    import pandas as pd

    frame = loaded.frame
    data, features = params["data"], params["features"]
    target = data["target"]
    if frame[target].isna().all():
        raise DataError(Problem("data.target", "target column has no values", value=target))
    frame = frame[frame[target].notna()].reset_index(drop=True)
    reserved = {target, data.get("id_column"), data.get("timestamp"), *data.get("entity_keys", []), *features["drop"]} - {None}
    candidates = [c for c in frame.columns if c not in reserved]
    numeric, categorical = features["numeric"], features["categorical"]
    if numeric is None:
        numeric = [c for c in candidates if c not in (categorical or [])
                   and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])]
    if categorical is None:
        categorical = [c for c in candidates if c not in numeric and _categorical_like(frame[c])]
    derived = features.get("derived") or {}
    used_by_derived = sorted({c for expr in derived.values() for c in column_names(expr)} - set(derived))
    raw_inputs = list(dict.fromkeys([*numeric, *categorical, *used_by_derived]))
    numeric = [*numeric, *derived]
    if not numeric and not categorical:
        raise DataError(Problem("features", "no feature columns remain", hint="check features.drop and the data's columns"))
    schema = [column_schema(frame[c], c in categorical, MAX_CATEGORIES_RECORDED) for c in raw_inputs]
    return FeatureSet(frame, target, numeric, categorical, raw_inputs, data.get("id_column"), schema, loaded.fingerprint)
