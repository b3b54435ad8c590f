"""Schema inference at train time: what every input column looked like in the training data.

The profile travels inside the model bundle (monitoring/profile.json) and is the contract new batches
are checked against. Explicit rules from `validation.schema` override what was inferred.
"""
from __future__ import annotations

from typing import Any

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)


def column_kind(series: Any) -> str:
    """A column's kind as the input schema records it: boolean, integer, number or string."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    return "string"


def column_schema(series: Any, categorical: bool, max_categories: int = 1000, datetime: bool = False) -> dict[str, Any]:
    """What a column is: name, dtype kind, whether it had nulls, and the categorical domain. The model's
    input schema (recorded with each version) is this, for every input column. A date/time column's kind
    is "datetime": requests send an ISO 8601 string or an epoch number, which the model's pipeline reads."""
    kind = "datetime" if datetime else column_kind(series)
    schema: dict[str, Any] = {"name": str(series.name), "type": kind, "nullable": bool(series.isna().any()),
                              "categorical": categorical}
    if categorical:
        values = series.dropna().unique()
        schema["categories"] = sorted(str(v) if kind == "string" else (v.item() if hasattr(v, "item") else v)
                                      for v in values)[:max_categories]
    return schema


def column_profile(series: Any, categorical: bool, max_categories: int = 1000, datetime: bool = False) -> dict[str, Any]:
    """The column's schema plus what the data contract checks: null fraction, numeric range and quantiles."""
    profile = column_schema(series, categorical, max_categories, datetime)
    profile["null_fraction"] = float(series.isna().mean()) if len(series) else 0.0
    present = series.dropna()
    if not categorical and profile["type"] in ("number", "integer") and len(present):
        qs = present.quantile(list(QUANTILES))
        profile.update(min=float(present.min()), max=float(present.max()), mean=float(present.mean()),
                       std=float(present.std(ddof=0)), quantiles={str(q): float(v) for q, v in zip(QUANTILES, qs)})
    return profile


def infer_profile(frame: Any, inputs: list[str], categorical: list[str], rules: dict[str, dict] | None = None,
                  datetime: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """The data profile of the training inputs, with explicit `validation.schema` rules applied on top."""
    columns = []
    for name in inputs:
        column = column_profile(frame[name], name in categorical, datetime=name in datetime)
        rule = {k: v for k, v in ((rules or {}).get(name) or {}).items() if v is not None}
        if rule:
            column["rule"] = rule  # explicit limits are hard limits: no margin, no tolerance
        columns.append(column)
    return {"rows": int(len(frame)), "columns": columns}
