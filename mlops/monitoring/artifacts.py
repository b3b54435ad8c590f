"""Monitoring artifacts kept in the model bundle (monitoring/): the data profile, the drift reference
sample, the validation config applied at train time and the fitted outlier detector.

They are written before the bundle is hashed, so `load_bundle`'s sha256 check covers them too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DIR = "monitoring"


@dataclass
class Encoder:
    """Raw input frame -> float matrix for the detectors: numeric as-is (NaN -> reference median),
    categorical as codes of the reference's categories (unseen -> one extra code)."""

    numeric: list[str]
    categorical: list[str]
    medians: dict[str, float] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fit(cls, reference: Any, inputs: list[str], categorical: list[str]) -> "Encoder":
        numeric = [c for c in inputs if c not in categorical]
        medians = {c: float(np.nan_to_num(reference[c].astype(float).median())) for c in numeric}
        cats = {c: sorted(reference[c].dropna().astype(str).unique().tolist()) for c in categorical if c in inputs}
        return cls(numeric, [c for c in inputs if c in categorical], medians, cats)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([False] * len(self.numeric) + [True] * len(self.categorical))

    def encode(self, frame: Any) -> np.ndarray:
        import pandas as pd

        out = np.empty((len(frame), len(self.columns)), dtype=np.float32)
        for j, name in enumerate(self.numeric):
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            out[:, j] = np.where(np.isnan(values), self.medians[name], values)
        for k, name in enumerate(self.categorical):
            known = self.categories[name]
            codes = pd.Categorical(frame[name].astype(str).where(frame[name].notna(), None), categories=known).codes
            out[:, len(self.numeric) + k] = np.where(codes < 0, len(known), codes)  # unseen and null share a code
        return out


@dataclass
class OutlierModel:
    """A fitted outlier detector with the score threshold from the training rows."""

    detector: str
    scorer: Any
    threshold: float
    encoder: Encoder

    def score(self, frame: Any) -> tuple[np.ndarray, np.ndarray]:
        """(scores, is_outlier) for each row of a raw input frame."""
        scores = self.scorer.score(self.encoder.encode(frame))
        return scores, scores > self.threshold


def fit_outliers(reference: Any, inputs: list[str], categorical: list[str], cfg: dict[str, Any], seed: int) -> OutlierModel:
    """Fit the configured detector on the reference rows; the threshold is their score percentile."""
    from mlops.plugins import detectors

    encoder = Encoder.fit(reference, inputs, categorical)
    X = encoder.encode(reference)
    scorer = detectors.get(cfg["detector"]).load()(X, encoder.categorical_mask, seed)
    threshold = float(np.percentile(scorer.score(X), cfg["threshold_percentile"]))
    return OutlierModel(cfg["detector"], scorer, threshold, encoder)


@dataclass
class MonitoringArtifacts:
    profile: dict[str, Any]
    reference: Any
    config: dict[str, Any]
    outliers: OutlierModel | None = None

    def encoder(self) -> Encoder:
        inputs = [c["name"] for c in self.profile["columns"]]
        categorical = [c["name"] for c in self.profile["columns"] if c.get("categorical")]
        return Encoder.fit(self.reference, inputs, categorical)


def save(monitoring: Any, bundle_dir: Path) -> None:
    """Write the artifacts into the bundle directory (before it is hashed)."""
    import joblib

    out = Path(bundle_dir) / DIR
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps(monitoring.profile, indent=1, default=str))
    (out / "config.json").write_text(json.dumps(monitoring.config, indent=1, default=str))
    monitoring.reference.to_parquet(out / "reference.parquet", index=False)
    if monitoring.outliers is not None:
        # A pickle, like the model itself: only ever loaded after the bundle's sha256 check.
        joblib.dump(monitoring.outliers, out / "outliers.pkl")


def load(bundle_dir: Path) -> MonitoringArtifacts | None:
    """The artifacts of a (hash-verified) bundle, or None for bundles trained without them."""
    import pandas as pd

    src = Path(bundle_dir) / DIR
    if not (src / "profile.json").is_file():
        return None
    outliers = None
    if (src / "outliers.pkl").is_file():
        import joblib

        outliers = joblib.load(src / "outliers.pkl")
    return MonitoringArtifacts(json.loads((src / "profile.json").read_text()), pd.read_parquet(src / "reference.parquet"),
                               json.loads((src / "config.json").read_text()), outliers)
