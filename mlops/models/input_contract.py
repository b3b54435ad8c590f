"""The input contract: what every path that scores rows does with them, decided here once.

Online (/predict, /invocations as JSON or CSV, /v2/.../infer), batch scoring (`mlops predict --batch`, the
batch_predict node of apply) and `mlops check` judge rows against the input schema recorded with the
model, and give the same answer with the same message:

- a **missing column** is imputed when the column had missing values in training (the model was fitted
  with them); otherwise it is refused, naming the column (even where a null would be imputed: a feature
  left out is more likely a mistake than a missing value);
- a **null** (None, NaN, an empty CSV cell) is imputed where the model imputes the column (found by
  scoring a row with it missing) or the column had missing values in training; refused elsewhere;
- an **unseen category** is accepted: the fitted encoder treats it as unknown (or infrequent);
- a **bad cell** (`"big"` for a number, `true` for a date) is refused, naming the row and the column;
- an **extra column** is accepted and ignored when it is a column of the training data the model does not
  read (features.drop, the id, the target, free text, constants) or an entity key; any other is refused.

Values arrive typed (JSON, a DataFrame's cells: `read`) or as text (a CSV cell: `read_text`, then `read`).
Pure Python and pandas (for whole frames): no scikit-learn, no HTTP.
"""
from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

FLOAT32_MAX = 3.4028234663852886e38  # tree models compute in float32: a larger magnitude is no value they take
NUMERIC = ("number", "integer")
# The cells pandas.read_csv reads as missing by default, so a CSV sent online reads as the same file scored in batch.
NA_TEXTS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                      "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
MISSING_VALUE = "value is missing and the model does not impute this column"
WHAT = {"number": "a number", "integer": "a number", "boolean": "true or false", "string": "text",
        "datetime": "a date/time (ISO 8601 text or epoch seconds)"}


class Refused(ValueError):
    """A value or a column the contract refuses: the kind of problem and the message every path gives."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.message = kind, message


def shown(value: Any) -> str:
    """A value as messages quote it: repr, numpy scalars as Python's, at most 60 characters."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, TypeError):
            pass
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def is_null(value: Any) -> bool:
    """None, NaN (how pandas and numpy write a missing value), NaT and pandas' NA."""
    if value is None:
        return True
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        return False
    if kind is float:
        return value != value
    if isinstance(value, (list, dict, tuple)):
        return False
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pandas.NA: neither equal nor unequal to itself
        return True


def _bad(kind: str, value: Any, why: str = "") -> Refused:
    return Refused("bad_value", f"value {shown(value)} is not {why or WHAT[kind]}")


def read_number(value: Any) -> float:
    """A number: any int or float but a bool, finite, within float32's range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _bad("number", value)
    try:
        number = float(value)
    except OverflowError:  # an integer past float's range
        raise Refused("bad_value", f"value {shown(value)} is larger than a model takes (±3.4e38)") from None
    if not math.isfinite(number):
        raise _bad("number", value, "a finite number")
    if abs(number) > FLOAT32_MAX:
        raise Refused("bad_value", f"value {shown(value)} is larger than a model takes (±3.4e38)")
    return number


def read_boolean(value: Any) -> bool:
    """true or false (numpy's too); 0 and 1 are numbers, not booleans."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    raise _bad("boolean", value)


def read_string(value: Any) -> str:
    """Text; a number or a boolean is its text (a category written 10007 is the category "10007")."""
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) or type(value).__name__ == "bool_":
        return str(value.item() if hasattr(value, "item") else value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    raise _bad("string", value)


def read_datetime(value: Any) -> Any:
    """A date/time: text (read by the model's pipeline; text no parser reads is a missing value there,
    imputed like a null), a finite epoch number (seconds; milliseconds above 1e11), or a datetime."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise _bad("datetime", value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise _bad("datetime", value)
        return number
    if hasattr(value, "year") and hasattr(value, "month"):  # datetime, date, pandas.Timestamp
        return value
    raise _bad("datetime", value)


READERS = {"number": read_number, "integer": read_number, "boolean": read_boolean, "string": read_string,
           "datetime": read_datetime}


def read_text(kind: str, text: str) -> Any:
    """A CSV cell as the typed value `ColumnRule.read` judges, as pandas.read_csv reads a file's cells: its
    missing markers are null, then as `read_cell`."""
    return None if text in NA_TEXTS else read_cell(kind, text)


def read_cell(kind: str, text: str) -> Any:
    """Text from a file (a CSV cell, a parquet string): a number in a numeric column, true/false in a boolean
    one; any other text stays text, for `ColumnRule.read` to judge."""
    if kind in NUMERIC:
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(text.strip().lower(), text)
    return text


def unexpected(columns: Sequence[str]) -> Refused:
    """The refusal of a column that is neither one of the model's input `columns` nor one it ignores."""
    listed = ", ".join(columns[:8]) + (f", ... ({len(columns)} columns)" if len(columns) > 8 else "")
    return Refused("unexpected_column", f"not a column of the model's training data (it reads {listed})")


@dataclass(frozen=True)
class ColumnRule:
    """One input column: its kind, whether it had missing values in training, whether the model imputes
    a missing value, and whether the online store supplies it (features_from_store)."""

    name: str
    kind: str
    nullable: bool = False
    imputed: bool = False
    supplied: bool = False

    @property
    def may_be_null(self) -> bool:
        """A null here is imputed: the model imputes the column, or had missing values there in training (and
        was fitted with them), or the online store fills it."""
        return self.imputed or self.nullable or self.supplied

    @property
    def may_be_missing(self) -> bool:
        """The column may be left out (imputed as a null): it had missing values in training, or the store fills it."""
        return self.nullable or self.supplied

    @property
    def null(self) -> Any:
        """A missing value as the model reads it: NaN, which its imputers fill (None, in a column of text,
        would be a category of its own); None where the online store fills it."""
        return None if self.supplied else math.nan

    def read(self, value: Any) -> Any:
        """The model's value for a typed value (JSON, a DataFrame's cell); Refused with the message otherwise."""
        if is_null(value):
            if self.may_be_null:
                return self.null
            raise Refused("missing_value", MISSING_VALUE)
        return READERS.get(self.kind, read_string)(value)

    def missing(self) -> Refused:
        """The refusal of a row or batch that leaves this column out (only asked where it may not be)."""
        if self.imputed:
            return Refused("missing_column", "column is missing: it had no missing values in training, so it "
                                             "must be sent (a null is accepted and imputed)")
        return Refused("missing_column", "column is missing: the model needs it and does not impute it")

    def describe(self) -> str:
        """What the column takes, in words (/docs, the docs' table)."""
        if self.may_be_missing:
            return f"{WHAT[self.kind]}; null or left out: filled by the model's imputation"
        if self.may_be_null:
            return f"{WHAT[self.kind]}; null: filled by the model's imputation (the column must be sent)"
        return WHAT[self.kind]


@dataclass(frozen=True)
class CellProblem:
    """A refused cell (row and column) or column (row None), with the contract's message."""

    kind: str
    column: str
    row: Optional[int]
    message: str

    def text(self) -> str:
        """`row 3, column sqft: value 'big' is not a number` (rows count from 0, as online)."""
        where = f"row {self.row}, column {self.column}" if self.row is not None else f"column {self.column}"
        return f"{where}: {self.message}"


@dataclass
class Judged:
    """A frame judged by the contract: the rows with each input column read (missing imputable columns
    added as nulls), the refused cells and columns, and the columns imputed because they were missing."""

    frame: Any
    cells: list[CellProblem] = field(default_factory=list)
    columns: list[CellProblem] = field(default_factory=list)
    imputed_columns: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InputContract:
    """The rules for a model's input columns, and the other columns accepted and ignored."""

    rules: tuple[ColumnRule, ...]
    ignored: tuple[str, ...] = ()

    @classmethod
    def of(cls, input_schema: Sequence[dict[str, Any]], imputed: Sequence[str], ignored: Sequence[Optional[str]] = (),
           supplied: Sequence[str] = ()) -> "InputContract":
        """From the recorded input schema, the columns the model imputes and the columns accepted and ignored
        (id, target, entity keys, the model's ignored_columns)."""
        rules = tuple(ColumnRule(c["name"], c["type"], bool(c.get("nullable")), c["name"] in imputed, c["name"] in supplied)
                      for c in input_schema)
        inputs = {r.name for r in rules}
        return cls(rules, tuple(dict.fromkeys(c for c in ignored if c and c not in inputs)))

    @property
    def columns(self) -> list[str]:
        """The input columns, in the model's order."""
        return [r.name for r in self.rules]

    def read_row(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Refused]]]:
        """A request's row ({column: typed value}) with each input column read, and every refused column
        (missing, a bad value, unknown) with its refusal. The hot path of every online route: values the
        kind takes as they are skip the call."""
        out, problems = dict(row), []
        for name, rule, taken in self.fast:
            value = row.get(name, row)  # the row itself: the column is missing
            kind = type(value)
            if kind is taken and (kind is str or -FLOAT32_MAX <= value <= FLOAT32_MAX):
                continue  # taken as it is (NaN and inf fail the range test: read names them)
            if value is row:
                if not rule.may_be_missing:
                    problems.append((name, rule.missing()))
                elif not rule.supplied:  # imputed; a column the store supplies stays absent, for it to fill
                    out[name] = math.nan
                continue
            try:
                out[name] = rule.read(value)
            except Refused as exc:
                problems.append((name, exc))
        known = self.known
        problems += [(name, self.unexpected(name)) for name in row if name not in known]
        return out, problems

    @functools.cached_property
    def fast(self) -> list[tuple[str, ColumnRule, type]]:
        """(column, rule, the Python type its values may arrive as and be taken unread): read_row's table."""
        return [(r.name, r, float if r.kind in NUMERIC else str if r.kind in ("string", "datetime") else bool)
                for r in self.rules]

    @functools.cached_property
    def known(self) -> frozenset[str]:
        """Every column a row may carry: the inputs and the columns accepted and ignored."""
        return frozenset(self.columns) | frozenset(self.ignored)

    def unexpected(self, name: str) -> Refused:
        """The refusal of a column that is neither an input nor a column the model ignores."""
        return unexpected(self.columns)

    def judge(self, frame: Any) -> Judged:
        """Every input column of `frame` read, every refused cell and column named (rows by position)."""
        import pandas as pd

        judged = Judged(frame)
        known = set(self.columns) | set(self.ignored)
        judged.columns = [CellProblem("unexpected_column", str(c), None, self.unexpected(str(c)).message)
                          for c in frame.columns if c not in known]
        read: dict[str, Any] = {}
        for rule in self.rules:
            if rule.name not in frame.columns:
                if rule.may_be_missing:
                    read[rule.name] = pd.Series([rule.null] * len(frame), index=frame.index, dtype=object)
                    judged.imputed_columns.append(rule.name)
                else:
                    judged.columns.append(CellProblem("missing_column", rule.name, None, rule.missing().message))
                continue
            read[rule.name], problems = read_column(rule, frame[rule.name])
            judged.cells.extend(problems)
        order = {name: i for i, name in enumerate(self.columns)}
        judged.cells.sort(key=lambda p: (p.row, order[p.column]))
        others = [c for c in frame.columns if c not in read]
        judged.frame = pd.concat([frame[others], pd.DataFrame(read, index=frame.index)], axis=1) if read else frame
        return judged


# Per kind, the dtypes (as pandas.api.types.infer_dtype names them) whose every present value the kind takes.
TAKEN_WHOLE = {"boolean": ("boolean",), "string": ("string",),
               "datetime": ("string", "datetime", "datetime64", "date", "integer", "floating", "mixed-integer-float")}


def read_column(rule: ColumnRule, series: Any) -> tuple[Any, list[CellProblem]]:
    """A frame's column read by `rule`: whole-column checks for the common dtypes, cell by cell otherwise
    (each cell as `ColumnRule.read` reads it, text as `read_cell` first), so a frame and a request agree."""
    import numpy as np
    import pandas as pd

    types = pd.api.types
    nulls = series.isna().to_numpy()
    if rule.kind in NUMERIC and types.is_numeric_dtype(series) and not types.is_bool_dtype(series):
        # As they are (an integer category stays 10007, as in training), pandas' nullable dtypes as floats.
        values = series if isinstance(series.dtype, np.dtype) else series.astype(np.float64)
        present = values.to_numpy(dtype=np.float64)
        suspects = ~nulls & (~np.isfinite(present) | (np.abs(present) > FLOAT32_MAX))
        return values, _problems(rule, series, np.flatnonzero(suspects | (nulls & (not rule.may_be_null))))
    inferred = types.infer_dtype(series, skipna=True)
    if inferred == "empty" or inferred in TAKEN_WHOLE.get(rule.kind, ()):
        suspects = nulls & (not rule.may_be_null)
        if rule.kind == "datetime" and inferred in ("floating", "mixed-integer-float"):
            suspects |= ~nulls & ~np.isfinite(series.to_numpy(dtype=np.float64, na_value=np.nan))
        if nulls.any() and series.dtype == object:  # None (a parquet file's, a frame's) as NaN, as read_csv gives
            series = series.where(~nulls, rule.null)
        return series, _problems(rule, series, np.flatnonzero(suspects))
    values, problems = [], []
    for position, value in enumerate(series.tolist()):
        try:
            values.append(rule.read(read_cell(rule.kind, value) if isinstance(value, str) else value))
        except Refused as exc:
            values.append(rule.null)
            problems.append(CellProblem(exc.kind, rule.name, position, exc.message))
    dtype = np.float64 if rule.kind in NUMERIC else object
    return pd.Series(values, index=series.index, dtype=dtype), problems


def _problems(rule: ColumnRule, series: Any, positions: Any) -> list[CellProblem]:
    """The refusals of the cells at `positions`, each in the words of `ColumnRule.read`."""
    out = []
    for position in positions:
        try:
            rule.read(series.iloc[int(position)])
        except Refused as exc:
            out.append(CellProblem(exc.kind, rule.name, int(position), exc.message))
    return out
