"""Column roles: what each input column becomes, and why. Decided from a ColumnSample per column
(mlops.sources.samples): featurize takes it of the whole frame; `mlops validate` and `mlops plan` of the
first rows, read without pandas (or of all rows with pandas, with --check-data), so they show the table
featurize acts on.

A role is one of ROLES. Columns listed in the spec (`features.numeric`, `categorical`, `datetime`, `drop`)
keep the role given; the rest are inferred from the data, and every column that is not a feature is
listed with the reason (nothing is dropped silently).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlops.errors import elide
from mlops.sources.samples import ColumnSample
from mlops.sources.text_values import numbers_as_text, readable_format, text_date_format

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
    """Every column of `frame` (a DataFrame, or a list of ColumnSamples) with its role: the spec's lists
    first, then inference from the values."""
    from mlops.sources.samples import sample_series

    columns = frame if isinstance(frame, list) else [sample_series(frame[name]) for name in frame.columns]
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
    for column in columns:
        name = column.name
        if name in reserved and reserved[name][0]:
            role, why = reserved[name]
        elif name in dropped:
            role, why = "dropped", "features.drop"
        elif dates is not None and name in dates:
            role, why = "datetime", "features.datetime" + _unreadable(column, "dates")
        elif numeric is not None and name in numeric:
            role, why = "numeric", "features.numeric" + _unreadable(column, "numbers")
        elif categorical is not None and name in categorical:
            role, why = _categorical(column, threshold, "features.categorical")
        else:
            role, why = infer_role(column, threshold)
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
        roles.append(ColumnRole(str(name), role, why, column.dtype))
    return roles


def infer_role(column: ColumnSample, threshold: int = 50) -> tuple[str, str]:
    """(role, why) of one column from its values alone."""
    unique, present, name = column.unique, column.present, str(column.name)
    if present == 0:
        return "constant", "no values (every cell is empty)"
    if unique == 1 and column.has_empty_cells:  # 'yes' or blank: whether a cell is filled is what it says
        return "categorical", f"one value ({_short(column.first)}) or empty: a flag, encoded as filled / empty"
    if unique == 1:
        return "constant", f"one value ({_short(column.first)}): carries nothing to learn from"
    if column.kind == "datetime":
        return "datetime", "datetime values"
    if column.kind == "timedelta":
        return "dropped", "durations are not encoded; derive a number from them"
    if column.kind == "bool":
        return "categorical", "true/false values"
    if column.kind in ("int", "float"):
        whole = column.kind == "int"
        if whole and unique == present and unique > MANY_VALUES and ID_NAME.search(name):
            return "id-like", f"whole numbers, one per row, named like an id ({unique} values)"
        if whole and CODE_NAME.search(name):
            role, why = _categorical(column, threshold, None)
            return role, f"whole numbers named like a code: {why}"
        if EPOCH_NAME.search(name) and _epoch_range(column):
            return "numeric", "numbers; looks like epoch seconds: list it in features.datetime for date parts"
        return "numeric", f"numbers ({unique} distinct values)"
    texts = column.texts
    if sum(1 for t in texts if ISO_DATE.match(t)) >= DATE_SHARE * len(texts):
        return "datetime", "ISO dates/times in text"
    layout = text_date_format(texts)
    if layout is not None:
        return "datetime", f"dates written {readable_format(layout)}{_order_note(layout, texts)}"
    if numbers_as_text(texts):
        return "numeric", "numbers written as text (currency signs, thousands commas, % or parentheses): read as numbers"
    if unique > MANY_VALUES and unique >= 0.9 * present:
        words = sum(len(t.split()) for t in texts) / len(texts)
        if words >= TEXT_WORDS:
            return "text-like", f"free text ({words:.1f} words per value): not encoded; derive features from it"
        return "id-like", f"one distinct value per row ({unique} values): an identifier, not a category"
    return _categorical(column, threshold, None)


def _unreadable(column: ColumnSample, kind: str) -> str:
    """For a listed column whose text does not read as `kind` (numbers, or dates): what apply will say."""
    texts = column.texts if column.kind == "text" else []
    if not texts:
        return ""
    if kind == "numbers" and (numbers_as_text(texts, 0.5, decorated=False) or text_date_format(texts) is not None
                              or sum(1 for t in texts if ISO_DATE.match(t)) >= 0.5 * len(texts)):
        return ""  # numbers, or dates (a listed numeric column of dates is read as dates)
    if kind == "dates" and _reads_as_date(texts):
        return ""
    return f", but its values are not {kind} (e.g. {_short(texts[0])}): apply refuses it"


def _reads_as_date(texts: list[str]) -> bool:
    """Could be dates: ISO, day/month/year, or (what pandas also reads, 'Jan 5 2024') text with digits."""
    with_digits = sum(1 for t in texts if any(c.isdigit() for c in t))
    return with_digits >= 0.5 * len(texts) and not numbers_as_text(texts, 0.5, decorated=False)


def _order_note(layout: str, texts: list[str]) -> str:
    """Why the day and month fields are read in this order."""
    if layout.startswith("%d"):
        return " (a first field above 12: day first)"
    if any(int(t.split(layout[2])[1]) > 12 for t in texts if t.count(layout[2]) >= 2 and t.split(layout[2])[1].isdigit()):
        return " (a second field above 12: month first)"
    return " (no field above 12 in the sample: month first, as pandas reads it)"


def _categorical(column: ColumnSample, threshold: int, given: str | None) -> tuple[str, str]:
    unique = column.unique
    source = f"{given}, " if given else ""
    if unique > threshold:
        return ("high-cardinality categorical", f"{source}{unique} values > features.high_cardinality.threshold="
                f"{threshold}: the {threshold - 1} most frequent one-hot, the rest 'infrequent'")
    return "categorical", f"{source}{unique} values"


def _epoch_range(column: ColumnSample) -> bool:
    """Values that read as epoch seconds between 1990 and 2100 (or the same in milliseconds)."""
    low, high = column.low, column.high
    return (6.3e8 <= low and high <= 4.2e9) or (6.3e11 <= low and high <= 4.2e12)


def _read_by_derived(derived: dict[str, str]) -> dict[str, str]:
    from mlops.spec.expressions import column_names

    return {c: name for name, expr in derived.items() for c in column_names(expr)}


def _short(value: Any) -> str:
    return elide(str(value), 20)


def resolve(roles: list[ColumnRole]) -> dict[str, list[str]]:
    """The roles as the feature lists featurize uses: numeric, categorical, datetime (in column order)."""
    return {"numeric": [r.name for r in roles if r.role == "numeric"],
            "categorical": [r.name for r in roles if r.role in ("categorical", "high-cardinality categorical")],
            "high_cardinality": [r.name for r in roles if r.role == "high-cardinality categorical"],
            "datetime": [r.name for r in roles if r.role == "datetime"]}


def sample_columns(source: Any, base_dir: Any, rows: int = 5000) -> list[ColumnSample]:
    """The first `rows` rows of a data source as column samples: csv, parquet and scikit-learn's data sets
    without pandas; any other source through its loader."""
    from mlops.sources import samples
    from mlops.sources.loaders import resolve_files
    from mlops.spec.sources import text_encoding

    kind = getattr(source, "type", None)
    if kind == "csv":
        files = resolve_files(source.path, base_dir, "data.source.path", ".csv")
        return samples.sample_csv(files[0], source.separator, rows, decimal=source.decimal, thousands=source.thousands,
                                  encoding=text_encoding(source.model_dump()))
    if kind == "parquet":
        return samples.sample_parquet(resolve_files(source.path, base_dir, "data.source.path", ".parquet")[0], rows)
    if kind == "sklearn":
        return samples.sample_sklearn(source.name)
    frame = _whole(source, base_dir, rows)
    return [samples.sample_series(frame[name]) for name in frame.columns]


def _whole(source: Any, base_dir: Any, rows: int | None) -> Any:
    """The source read by its loader (pandas), its first `rows` rows (None: all of them)."""
    from mlops.stages.load import read_source

    frame = read_source(source.model_dump(mode="json"), str(base_dir), "data.source")
    return frame if rows is None else frame.head(rows)


def project_roles(project: Any, rows: int = 5000) -> list[ColumnRole]:
    """The roles of the columns of a loaded project's training data, from its first `rows` rows read cheaply."""
    spec = project.spec
    columns = sample_columns(spec.data.source, project.base_dir, rows)
    return infer_roles(columns, spec.data.model_dump(mode="json"), spec.features.model_dump(mode="json"))


def whole_data_roles(project: Any) -> list[ColumnRole]:
    """`mlops validate --check-data`: every row of the training data and of the batch input read as apply
    reads them (a file that does not parse is a DataError naming it), the roles decided on all rows as
    featurize will decide them, and featurize's refusals made now (no rows, a target without values,
    no feature column left)."""
    from mlops.errors import Collector, DataError
    from mlops.project import batch_input_source
    from mlops.stages.load import read_source

    spec, problems = project.spec, Collector()
    frame = _whole(spec.data.source, project.base_dir, None)
    if spec.serving is not None and spec.serving.batch is not None:
        read_source(batch_input_source(spec).model_dump(mode="json"), str(project.base_dir), "serving.batch.input")
    if len(frame) == 0:
        problems.add("data.source", "data has no rows")
    elif spec.data.target in frame.columns and frame[spec.data.target].isna().all():
        problems.add("data.target", "target column has no values", value=spec.data.target)
    roles = infer_roles(frame, spec.data.model_dump(mode="json"), spec.features.model_dump(mode="json"))
    if len(frame) and not any(r.is_feature for r in roles) and not spec.features.derived and not spec.features.views:
        problems.add("features", "no feature columns remain", hint="check features.drop and the data's columns")
    problems.raise_if_any(DataError)
    return roles
