"""Data drift: the reference sample kept at train time, its encoding, and the univariate (KS, chi-squared,
mixed tabular: alibi-detect's answers, computed by mlops.detectors.univariate) and multivariate (MMD,
alibi-detect) tests of new data against it."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd

DRIFT_DETECTORS = ("ks", "chi2", "tabular", "mmd")
MISSING, UNSEEN, OTHER = "(missing)", "(unseen)", "(other)"
# A category test over hundreds of near-empty cells flags clean batches (chi-squared needs expected counts
# of about 5 per cell). A column with more values than this is tested on its frequent ones (each at least
# MIN_TESTED_SHARE of the reference) plus one "(other)" cell that holds the rest, unseen values included.
MAX_TESTED_CATEGORIES = 20
MIN_TESTED_SHARE = 0.01
MMD_MAX_ROWS = 500  # per side: the permutation test builds a (n_ref + n_new)^2 kernel matrix
MMD_PERMUTATIONS = 100


@dataclass(eq=False)
class DriftReference:
    """A seeded random sample of the training inputs, and which columns are numeric or categorical."""

    frame: pd.DataFrame
    numeric: list[str]
    categorical: list[str]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, numeric: Optional[list[str]] = None,
                   categorical: Optional[list[str]] = None, reference_rows: int = 5000,
                   seed: int = 0) -> "DriftReference":
        """Sample at most `reference_rows` rows; column kinds are inferred from dtypes when not given."""
        if numeric is None and categorical is None:
            numeric = [c for c in frame.columns if _is_numeric(frame[c])]
            categorical = [c for c in frame.columns if c not in numeric and not _is_datetime(frame[c])]
        numeric, categorical = list(numeric or []), list(categorical or [])
        _require_columns(frame, numeric + categorical)
        if len(frame) > reference_rows:
            frame = frame.sample(n=reference_rows, random_state=seed)
        return cls(frame[numeric + categorical].reset_index(drop=True), numeric, categorical)

    @property
    def columns(self) -> list[str]:
        """The reference's columns: numeric ones first, then categorical ones."""
        return [*self.numeric, *self.categorical]

    @cached_property
    def medians(self) -> np.ndarray:
        """Per numeric column: the value that stands in for a missing one (0 for an all-missing column)."""
        values = numeric_matrix(self.frame, self.numeric)
        with np.errstate(all="ignore"):
            return np.nan_to_num(np.nanmedian(values, axis=0)) if values.size else np.zeros(len(self.numeric))

    @cached_property
    def categories(self) -> dict[str, list[Any]]:
        """Per categorical column: the values tested one by one, most frequent first (code 0, 1, ...): all
        of them, or for a high-cardinality column the frequent ones (see MAX_TESTED_CATEGORIES)."""
        out = {}
        for column in self.categorical:
            # Ties in the order the values first appear (a category's: its categories' order): pandas' own sort
            # leaves tied values in its hash table's order, which differs between pandas builds.
            counts = self.frame[column].value_counts(dropna=True, sort=False).sort_values(ascending=False, kind="stable")
            counts = counts[counts > 0]  # a 'category' dtype lists unused ones too
            if len(counts) > MAX_TESTED_CATEGORIES:
                shares = counts / max(1, len(self.frame))
                counts = counts[shares >= MIN_TESTED_SHARE].head(MAX_TESTED_CATEGORIES)
            out[column] = counts.index.tolist()
        return out

    @cached_property
    def grouped(self) -> set[str]:
        """The categorical columns tested on their frequent values plus "(other)"."""
        return {c for c in self.categorical if self.frame[c].nunique(dropna=True) > len(self.categories[c])}

    def labels(self, column: str) -> list[str]:
        """Display name of each code of a categorical column, including the missing and unseen (or other) codes."""
        return [str(v) for v in self.categories[column]] + [MISSING, OTHER if column in self.grouped else UNSEEN]

    @cached_property
    def matrix(self) -> np.ndarray:
        """The reference itself, encoded (computed once per reference)."""
        return encode(self, self.frame)

    def to_dir(self, path: str | Path) -> Path:
        """Write reference.parquet + reference.json (no pickle) into `path`."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.frame.to_parquet(path / "reference.parquet", index=False)
        meta = {"format": 1, "numeric": self.numeric, "categorical": self.categorical}
        (path / "reference.json").write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def from_dir(cls, path: str | Path) -> "DriftReference":
        """Read what `to_dir` wrote."""
        path = Path(path)
        meta = json.loads((path / "reference.json").read_text())
        return cls(pd.read_parquet(path / "reference.parquet"), meta["numeric"], meta["categorical"])


def encode(reference: DriftReference, frame: pd.DataFrame) -> np.ndarray:
    """Frame -> float matrix, numeric columns then categorical codes (missing -> k, unseen -> k + 1)."""
    _require_columns(frame, reference.columns)
    out = np.empty((len(frame), len(reference.columns)), dtype=np.float64)
    for j in range(len(reference.columns)):
        out[:, j] = encoded_column(reference, frame, j)
    return out


def encoded_column(reference: DriftReference, frame: pd.DataFrame, j: int) -> np.ndarray:
    """Column j of `encode(reference, frame)`, alone (a drift check never needs the whole matrix at once)."""
    n_num = len(reference.numeric)
    name = reference.columns[j]
    if j >= n_num:
        return category_codes(frame[name], reference.categories[name])
    values = numeric_values(frame[name])
    return np.where(np.isnan(values), reference.medians[j], values)


def category_codes(values: pd.Series, categories: list[Any]) -> np.ndarray:
    """Codes of `values` among `categories` (a hash lookup, no per-row Python); missing -> k, any other
    value (unseen, or not among a high-cardinality column's tested ones) -> k + 1."""
    k = len(categories)
    codes = pd.Categorical(values, categories=categories).codes.astype(np.int64)
    missing = values.isna().to_numpy()
    return np.where(codes >= 0, codes, np.where(missing, k, k + 1))


def dense(reference: DriftReference, encoded: np.ndarray) -> np.ndarray:
    """Encoded matrix -> standardized numeric + one-hot categorical (minus each most frequent value), float32."""
    n_num = len(reference.numeric)
    ref_num = reference.matrix[:, :n_num]
    std = ref_num.std(axis=0)
    parts = [(encoded[:, :n_num] - ref_num.mean(axis=0)) / np.where(std > 0, std, 1.0)]
    for j, name in enumerate(reference.categorical, start=n_num):
        # Dropping code 0 keeps the one-hot columns linearly independent (Mahalanobis inverts their covariance).
        width = len(reference.categories[name]) + 2
        parts.append(np.eye(width, dtype=np.float64)[encoded[:, j].astype(np.int64)][:, 1:])
    return np.hstack(parts).astype(np.float32)


@dataclass
class DriftReport:
    """Verdict of one drift check; `features` has one entry per tested feature (drifted first)."""

    detector: str
    p_val: float
    correction: str
    threshold: float
    is_drift: bool
    drift_share: float
    features: list[dict[str, Any]]
    n_reference: int
    n_new: int
    feature_threshold: Optional[float] = None  # what per-feature p-values are compared with (= threshold unless mmd)
    distance: Optional[float] = None  # MMD^2 (mmd only)
    batch_p_value: Optional[float] = None  # the permutation test's p-value (mmd only)
    notes: list[str] = field(default_factory=list)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features that drifted."""
        return [f["name"] for f in self.features if f["drifted"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: plain Python floats, ints, bools and strings."""
        return {
            "detector": self.detector, "p_val": float(self.p_val), "correction": self.correction,
            "threshold": float(self.threshold), "feature_threshold": _opt_float(self.feature_threshold),
            "is_drift": bool(self.is_drift), "drift_share": float(self.drift_share),
            "n_reference": int(self.n_reference), "n_new": int(self.n_new),
            "distance": _opt_float(self.distance), "batch_p_value": _opt_float(self.batch_p_value),
            "features": [{"name": str(f["name"]), "kind": f["kind"], "p_value": float(f["p_value"]),
                          "statistic": float(f["statistic"]), "drifted": bool(f["drifted"])} for f in self.features],
            "notes": list(self.notes),
        }


def detect_drift(reference: DriftReference, frame: pd.DataFrame, detector: str = "tabular", p_val: float = 0.05,
                 correction: str = "bonferroni", seed: int = 0) -> DriftReport:
    """Test `frame` against the reference with one of DRIFT_DETECTORS; `correction` applies across features."""
    if detector not in DRIFT_DETECTORS:
        raise ValueError(f"unknown drift detector {detector!r}; expected one of {list(DRIFT_DETECTORS)}")
    if correction not in ("bonferroni", "fdr"):
        raise ValueError(f"unknown correction {correction!r}; expected 'bonferroni' or 'fdr'")
    if len(frame) == 0:
        raise ValueError("cannot test an empty frame for drift")
    n_num = len(reference.numeric)
    if detector == "ks" and not n_num:
        raise ValueError("detector 'ks' tests numeric features and the reference has none; use 'chi2' or 'tabular'")
    if detector == "chi2" and not reference.categorical:
        raise ValueError("detector 'chi2' tests categorical features and the reference has none; use 'ks' or 'tabular'")
    _require_columns(frame, reference.columns)
    ref = reference.matrix
    if detector == "ks":
        return _univariate(reference, ref, frame, "ks", range(n_num), p_val, correction)
    if detector == "chi2":
        return _univariate(reference, ref, frame, "chi2", range(n_num, len(reference.columns)), p_val, correction)
    report = _univariate(reference, ref, frame, detector, range(len(reference.columns)), p_val, correction)
    if detector == "mmd":
        _mmd(reference, ref, frame, report, seed)
    return report


def quiet_alibi_detect() -> None:
    """Call before importing alibi_detect: it imports transformers, which prints "None of PyTorch,
    TensorFlow >= 2.0, or Flax have been found..." on installs without them; nothing here needs those."""
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def _univariate(reference: DriftReference, ref: np.ndarray, frame: pd.DataFrame, detector: str, columns: range,
                p_val: float, correction: str) -> DriftReport:
    from mlops.detectors.univariate import batch_verdict, feature_scores

    # alibi-detect's KSDrift / ChiSquareDrift / TabularDrift answers, computed column by column (see
    # mlops.detectors.univariate). The 'batch' verdict uses the corrected threshold (p_val / n for
    # bonferroni, the Benjamini-Hochberg cut-off for fdr), not the uncorrected p_val.
    cols = list(columns)
    n_num = len(reference.numeric)
    p_values, statistics = feature_scores(ref, lambda c: encoded_column(reference, frame, c), cols,
                                          {c for c in cols if c >= n_num})
    is_drift, raw_threshold = batch_verdict(p_values, p_val, correction)
    threshold = _scalar_threshold(raw_threshold)
    p_values = np.asarray(p_values, dtype=np.float64)
    features = [{"name": reference.columns[c], "kind": "numeric" if c < n_num else "categorical",
                 "p_value": float(p), "statistic": float(s), "drifted": bool(p < threshold)}
                for c, p, s in zip(cols, p_values, np.asarray(statistics, dtype=np.float64))]
    features.sort(key=lambda f: (not f["drifted"], f["p_value"]))
    return DriftReport(detector=detector, p_val=p_val, correction=correction, threshold=threshold,
                       is_drift=bool(is_drift), drift_share=float(np.mean([f["drifted"] for f in features])),
                       features=features, n_reference=len(ref), n_new=len(frame), feature_threshold=threshold)


def _scalar_threshold(threshold: Any) -> float:
    # alibi's fdr returns every candidate cut-off when nothing is significant; the smallest (q / n) flags none.
    return float(np.min(threshold))


def _mmd(reference: DriftReference, ref: np.ndarray, frame: pd.DataFrame, report: DriftReport, seed: int) -> None:
    """Replace the report's verdict by the MMD permutation test's (features keep their univariate tests)."""
    import torch

    quiet_alibi_detect()
    from alibi_detect.cd import MMDDrift

    rng = np.random.default_rng(seed)
    r = dense(reference, _subsample(ref, rng))
    rows = rng.choice(len(frame), MMD_MAX_ROWS, replace=False) if len(frame) > MMD_MAX_ROWS else slice(None)
    x = dense(reference, encode(reference, frame.iloc[rows]))  # encoding is row by row: only the sample
    # The pytorch backend: tensorflow and keops are not installed. Its permutations draw from torch's global
    # generator, so seed a forked copy to keep the verdict reproducible without touching the caller's state.
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        cd = MMDDrift(r, backend="pytorch", p_val=report.p_val, n_permutations=MMD_PERMUTATIONS, device="cpu")
        data = cd.predict(x, return_p_val=True, return_distance=True)["data"]
    report.is_drift = bool(data["is_drift"])
    report.threshold = float(data["threshold"])
    report.distance = float(data["distance"])
    report.batch_p_value = float(data["p_val"])
    report.notes.append(f"verdict from the MMD permutation test on {len(r)} reference and {len(x)} new rows; "
                        f"the feature table shows univariate tests ({report.correction}-corrected) to locate the shift")


def _subsample(rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rows[rng.choice(len(rows), MMD_MAX_ROWS, replace=False)] if len(rows) > MMD_MAX_ROWS else rows


def _opt_float(value: Optional[float]) -> Optional[float]:
    return None if value is None else float(value)


def numeric_matrix(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as float64, NaN where missing or not a number."""
    if not columns:
        return np.empty((len(frame), 0))
    block = frame[columns]
    if all(_is_numeric(block[c]) for c in columns):
        return block.to_numpy(dtype=np.float64, na_value=np.nan)
    # Text in a numeric column: numbers as people write them ('$1,200', '5.5%': the model reads them so too);
    # anything else counts as missing, like NaN.
    return np.column_stack([numeric_values(block[c]) for c in columns])


def numeric_values(series: pd.Series) -> np.ndarray:
    """One column as float64, NaN where missing or not a number (as `numeric_matrix` reads it)."""
    if not _is_numeric(series):
        from mlops.sources.text_values import parse_number_texts

        return parse_number_texts(series)
    return series.to_numpy(dtype=np.float64, na_value=np.nan)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _is_datetime(series: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(series)


def _require_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks column(s) {missing} of the drift reference; it has {list(frame.columns)[:20]}")
