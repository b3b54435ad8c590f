"""Check a batch of new data against the training profile, with pandera doing the column checks.

Each anomaly names its kind, the column and how many values (or rows) it affects; the spec's
`validation.on_violation` gives each kind a severity, and any 'error' fails the check.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

NUMERIC = ("number", "integer")


@dataclass
class Anomaly:
    kind: str
    column: str | None
    count: int
    detail: str
    severity: str = "warn"


@dataclass
class CheckReport:
    rows: int
    anomalies: list[Anomaly] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No anomaly of severity 'error'."""
        return not any(a.severity == "error" for a in self.anomalies)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: row count, the verdict and every anomaly."""
        return {"rows": self.rows, "ok": self.ok, "anomalies": [asdict(a) for a in self.anomalies]}


def _type_ok(series: Any, expected: str) -> Any:
    """Mask of present values that fit the expected type (numbers may arrive as strings in CSVs: not OK)."""
    import pandas as pd

    present = series.notna()
    if expected in NUMERIC:
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            return present | True
        return ~present | pd.to_numeric(series, errors="coerce").notna()
    if expected == "boolean":
        return ~present | series.isin([True, False])
    return present | True  # anything can be read as a string category


def _limits(col: dict[str, Any], margin: float, tolerance: float) -> dict[str, Any]:
    """Range, domain and null limit for one column: explicit rules exactly, inferred ones with slack."""
    rule = col.get("rule", {})
    limits: dict[str, Any] = {}
    if "min" in rule or "max" in rule:
        limits["range"] = (rule.get("min", float("-inf")), rule.get("max", float("inf")))
    elif col["type"] in NUMERIC and not col.get("categorical") and col.get("min") is not None:
        slack = margin * (col["max"] - col["min"])
        limits["range"] = (col["min"] - slack, col["max"] + slack)
    if rule.get("categories") is not None or (col.get("categorical") and col.get("categories")):
        limits["domain"] = frozenset(map(str, rule.get("categories", col.get("categories"))))
    if "max_null_fraction" in rule:
        limits["null_fraction"] = rule["max_null_fraction"]
    elif rule.get("nullable") is False:
        limits["null_fraction"] = 0.0
    else:
        limits["null_fraction"] = min(1.0, col["null_fraction"] + tolerance)
    return limits


def _pandera_schema(limits: dict[str, dict[str, Any]]) -> Any:
    import pandera.pandas as pa

    columns = {}
    for name, lim in limits.items():
        checks = []
        if "range" in lim:
            lo, hi = lim["range"]
            checks.append(pa.Check(lambda s, lo=lo, hi=hi: s.between(lo, hi), name="out_of_range"))
        if "domain" in lim:
            checks.append(pa.Check(lambda s, d=lim["domain"]: s.astype(str).isin(d), name="unseen_category"))
        checks.append(pa.Check(lambda s, m=lim["null_fraction"]: s.isna().mean() <= m, element_wise=False,
                               ignore_na=False, name="null_fraction"))
        columns[name] = pa.Column(nullable=True, checks=checks, required=False)
    return pa.DataFrameSchema(columns, strict=False)


def _beyond_chance(outside: Any, col: dict[str, Any], train_rows: int, n: int, tolerance: float) -> bool:
    """Whether values past an inferred range are more than chance: any value a whole span away, or more of
    them than a same-distribution batch would show (a sample of N rows misses ~2/(N+1) of its tails)."""
    import numpy as np

    span = col["max"] - col["min"]
    values = outside.astype(float)
    if ((values < col["min"] - span) | (values > col["max"] + span)).any():
        return True
    expected = n * max(tolerance, 2 / (train_rows + 1))
    return len(values) > expected + 3 * np.sqrt(expected) + 1


def check_batch(frame: Any, profile: dict[str, Any], severities: dict[str, str], *, null_tolerance: float = 0.05,
                range_margin: float = 0.05, range_tolerance: float = 0.001, allowed_extra: tuple[str, ...] = ()) -> CheckReport:
    """Every anomaly in `frame` relative to the training `profile`.

    Inferred ranges are widened by `range_margin` of their span and flagged only when values fall far
    outside or more often than chance (see `_beyond_chance`), so a clean batch from the training
    distribution passes; explicit `validation.schema` limits are exact.
    """
    from pandera.errors import SchemaErrors

    report = CheckReport(rows=int(len(frame)))
    add = lambda kind, column, count, detail: report.anomalies.append(  # noqa: E731
        Anomaly(kind, column, int(count), detail, severities.get(kind, "warn")))
    expected = {c["name"]: c for c in profile["columns"]}
    if len(frame) == 0:
        add("empty_batch", None, 0, "the batch has no rows")
    for name in expected:
        if name not in frame.columns:
            add("missing_column", name, len(frame), "column is in the training data but not in this batch")
    for name in frame.columns:
        if name not in expected and name not in allowed_extra:
            add("unexpected_column", str(name), len(frame), "column was not in the training data")
    present = [n for n in expected if n in frame.columns]
    typed = {}
    for name in present:
        fits = _type_ok(frame[name], expected[name]["type"])
        bad = int((~fits).sum())
        if bad:
            sample = frame[name][~fits].astype(str).unique()[:3].tolist()
            add("type_mismatch", name, bad, f"{bad} values are not {expected[name]['type']} (e.g. {sample})")
            typed[name] = None  # range checks on a mistyped column would only repeat the same values
        elif expected[name]["type"] in NUMERIC and not expected[name].get("categorical"):
            typed[name] = frame[name].astype(float)
        else:
            typed[name] = frame[name]
    if len(frame) == 0:
        return report
    import pandas as pd

    checked = pd.DataFrame({n: s for n, s in typed.items() if s is not None})
    limits = {n: _limits(expected[n], range_margin, null_tolerance) for n in checked.columns}
    try:
        _pandera_schema(limits).validate(checked, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=True):
            kind = str(check)
            if kind == "null_fraction":
                fraction = float(checked[column].isna().mean())
                add(kind, column, int(checked[column].isna().sum()),
                    f"null fraction {fraction:.3f} above the limit {limits[column]['null_fraction']:.3f}")
            elif kind == "out_of_range":
                lo, hi = limits[column]["range"]
                explicit = "min" in expected[column].get("rule", {}) or "max" in expected[column].get("rule", {})
                if explicit or _beyond_chance(group["failure_case"], expected[column], profile["rows"],
                                              int(checked[column].notna().sum()), range_tolerance):
                    add(kind, column, len(group), f"{len(group)} values outside [{lo:g}, {hi:g}]")
            elif kind == "unseen_category":
                values = sorted(map(str, group["failure_case"].unique()))[:5]
                add(kind, column, len(group), f"{len(group)} values in categories never seen in training: {values}")
            else:
                add(kind, column, len(group), str(check))
    return report
