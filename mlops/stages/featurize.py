"""featurize: decide each column's role (numeric, categorical, datetime, or not a feature, and why), and
record the input schema."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlops.detectors.column_profile import column_schema
from mlops.errors import DataError, Problem, did_you_mean
from mlops.spec.expressions import column_names
from mlops.stages.column_roles import infer_roles, resolve

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
    datetime: list[str] = field(default_factory=list)  # date/time inputs (also in numeric: they become parts)
    high_cardinality: list[str] = field(default_factory=list)  # categorical inputs with a bounded encoding
    ignored: list[str] = field(default_factory=list)  # columns of the data that are no input: accepted, ignored
    roles: list[dict[str, Any]] = field(default_factory=list)  # every column's role and why (column_roles)


def run(loaded: Any, params: dict[str, Any]) -> FeatureSet:
    """The rows with a target, with each column's role resolved (given in the spec or inferred: see
    mlops.stages.column_roles) and the input schema requests must follow."""
    frame = loaded.frame
    data, features = params["data"], params["features"]
    target = data["target"]
    if frame[target].isna().all():
        raise DataError(Problem("data.target", "target column has no values", value=target))
    frame = frame[frame[target].notna()].reset_index(drop=True)
    for name in features.get("datetime") or []:
        if name not in frame.columns:
            raise DataError(Problem("features.datetime", "column not in the data", value=name,
                                    hint=did_you_mean(name, [str(c) for c in frame.columns])))
    roles = infer_roles(frame, data, features)
    lists = resolve(roles)
    numeric = [c for c in (features["numeric"] if features["numeric"] is not None else lists["numeric"])]
    categorical = lists["categorical"] if features["categorical"] is None else list(features["categorical"])
    dates = lists["datetime"]
    derived = features.get("derived") or {}
    used_by_derived = sorted({c for expr in derived.values() for c in column_names(expr)} - set(derived))
    raw_inputs = list(dict.fromkeys([*numeric, *dates, *categorical, *used_by_derived]))
    # Dates go through the numeric branch, whose first step turns them into numeric parts.
    numeric = [*numeric, *dates, *derived]
    if not numeric and not categorical:
        raise DataError(Problem("features", "no feature columns remain", hint="check features.drop and the data's columns"))
    schema = [column_schema(frame[c], c in categorical, MAX_CATEGORIES_RECORDED, datetime=c in dates) for c in raw_inputs]
    reserved = {target, data.get("id_column")}
    ignored = [r.name for r in roles if r.name not in raw_inputs and r.name not in reserved]
    return FeatureSet(frame, target, numeric, categorical, raw_inputs, data.get("id_column"), schema, loaded.fingerprint,
                      datetime=dates, high_cardinality=[c for c in lists["high_cardinality"] if c in categorical],
                      ignored=ignored, roles=[asdict(r) for r in roles])
