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
    if params.get("task") == "classification":
        frame[target] = whole_labels(frame[target])
    for name in features.get("datetime") or []:
        if name not in frame.columns:
            raise DataError(Problem("features.datetime", "column not in the data", value=name,
                                    hint=did_you_mean(name, [str(c) for c in frame.columns])))
    roles = infer_roles(frame, data, features)
    lists = resolve(roles)
    for name in features["numeric"] or []:
        if name in frame.columns:
            check_listed_numbers(frame[name], name)
    for name in features.get("datetime") or []:
        check_listed_dates(frame[name], name)
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


def _text_sample(series: Any, rows: int = 5000) -> Any:
    """Up to `rows` present values of a text column (None for a column of numbers, dates or booleans)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
        return None
    return series.dropna().iloc[:rows]


def _examples(values: Any) -> str:
    return ", ".join(repr(str(v)) for v in list(dict.fromkeys(values))[:3])


def check_listed_numbers(series: Any, name: str) -> None:
    """A column the spec lists as numeric must read as numbers (as written, or as people write them:
    '$1,200', '5.5%') or as dates; text that is neither would become empty cells, and the model would learn
    from nothing, so it is refused naming the column and its values."""
    import numpy as np

    from mlops.models.datetime_parts import epoch_seconds
    from mlops.sources.text_values import parse_number_texts

    sample = _text_sample(series)
    if sample is None or sample.empty:
        return
    numbers, dates = ~np.isnan(parse_number_texts(sample)), ~np.isnan(epoch_seconds(sample))
    if max(numbers.mean(), dates.mean()) >= 0.5:
        return
    raise DataError(Problem("features.numeric", f"column holds text that is not numbers ({(~numbers).mean():.0%} of its "
                                                f"values, e.g. {_examples(sample[~numbers])})", value=name,
                            hint="list it in features.categorical, or fix its values"))


def check_listed_dates(series: Any, name: str) -> None:
    """A column the spec lists in features.datetime must mostly read as dates or times (the rest become
    empty cells, imputed); one that does not is refused naming the column and its values."""
    import numpy as np

    from mlops.models.datetime_parts import epoch_seconds
    from mlops.sources.text_values import text_date_format

    sample = _text_sample(series)
    if sample is None or sample.empty:
        return
    texts = [str(v).strip() for v in sample]
    dates = ~np.isnan(epoch_seconds(sample, text_date_format(texts)))
    if dates.mean() >= 0.5:
        return
    raise DataError(Problem("features.datetime", f"column holds values that are not dates or times ({(~dates).mean():.0%} "
                                                 f"of them, e.g. {_examples(sample[~dates])})", value=name,
                            hint="ISO 8601 ('2024-01-31 18:30'), day/month/year or month/day/year text, datetimes, "
                                 "or epoch seconds"))


def whole_labels(labels: Any) -> Any:
    """Class labels read as floats only because some rows had none ('1', '0' and a blank: pandas reads
    1.0, 0.0, NaN) as the whole numbers they are, once those rows are gone: classes 0 and 1, predictions 0
    and 1, columns proba_0 and proba_1, not 0.0 and proba_0.0."""
    import numpy as np
    import pandas as pd

    if pd.api.types.is_float_dtype(labels) and len(labels) and np.all(np.mod(labels.to_numpy(), 1) == 0):
        return labels.astype("int64")
    return labels
